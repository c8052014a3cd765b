"""Files the laptop writes: names that come from a board or a log made safe before
they reach the disk or a spreadsheet (a board or a damaged log can say anything), and
output paths whose problems are one-line errors."""

import json
import os
import re
import stat

from retrostep.errors import RetrostepError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 64
# a spreadsheet runs a cell that starts with one of these as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_stem(text, fallback="board"):
    """`text` as one file-name component: letters, digits, '.', '_' and '-' only, no
    leading dot (so never '.', '..' or a hidden file), at most MAX_STEM characters;
    `fallback` when nothing is left. '../../x' gives 'x', '/etc/passwd' 'etc_passwd'."""
    stem = _UNSAFE.sub("_", str(text)).strip("._")[:MAX_STEM].rstrip(".")
    return stem or fallback


def csv_cell(value):
    """A value for a CSV cell that a spreadsheet shows as text, never runs: a string
    starting like a formula gets a leading apostrophe. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# ---------------------------------------------------------------------------- outputs
# A laptop-side problem with an output path (no permission, a file where a folder
# should be, a full disk) is a user's one-line error, never a traceback.


def _why(exc):
    return exc.strerror or str(exc)


def output_dir(path):
    """Create the folder `path` (and its parents) for outputs; returns it."""
    path = str(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise RetrostepError(f"{path}: is a file, not a folder; give a folder for the "
                             "outputs")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise RetrostepError(f"{path}: cannot create this folder ({_why(exc)}); choose "
                             "another place for the outputs") from None
    return path


def output_file(path):
    """Check that the file `path` can be written (its folder is created); returns it."""
    path = str(path)
    if os.path.isdir(path):
        raise RetrostepError(f"{path}: is a folder; give a file name, e.g. "
                             f"{os.path.join(path, 'out.csv')}")
    output_dir(os.path.dirname(os.path.abspath(path)))
    return path


def check_output_file(path):
    """Whether the file `path` could be written, without creating anything: not a
    folder, and the nearest existing folder above it is a writable folder."""
    path = str(path)
    if os.path.isdir(path):
        raise RetrostepError(f"{path}: is a folder; give a file name, e.g. "
                             f"{os.path.join(path, 'out.csv')}")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise RetrostepError(f"{path}: cannot be written ({parent} is not a writable "
                             "folder); choose another place for the output")
    return path


def write_output(path, data):
    """Write bytes or text to `path`; an OSError becomes a one-line RetrostepError."""
    output_file(path)
    try:
        if isinstance(data, str):
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)
    except OSError as exc:
        raise RetrostepError(f"{path}: cannot be written ({_why(exc)}); check the "
                             "folder's permissions and free space") from None
    return path


# ---------------------------------------------------------------------------- inputs


def load_json(path, what):
    """A JSON file's object; any problem reading it is a one-line RetrostepError."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RetrostepError(f"{path}: no such {what} file; check the path") from None
    except OSError as exc:
        raise RetrostepError(f"{path}: cannot be read ({exc.strerror or exc}); check the "
                             "path") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise RetrostepError(f"{path}: {kind}, not a {what} JSON file; give the file's "
                             "path")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise RetrostepError(f"{path}: cannot be read ({exc.strerror or exc}); check the "
                             "file's permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RetrostepError(
            f"{path}: not a valid {what} JSON file ({why}); regenerate it"
        ) from None
