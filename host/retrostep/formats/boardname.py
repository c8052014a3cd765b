"""A board's name ("Left shoe"): given at `retrostep deploy --name`, kept on the board
in /board.json, copied by `retrostep sync` beside the board's logs in the library, shown
in sync, reports and history. The hex id (machine.unique_id) stays the board's key."""

import json
import os

BOARD_FILE = "board.json"  # on the board at /, in the library beside the logs
MAX_NAME = 32


def check_name(name):
    """The name, stripped; a RetrostepError saying what is wrong otherwise."""
    from retrostep.errors import RetrostepError

    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise RetrostepError(f"board name {name[:40]!r}: give 1 to {MAX_NAME} printable "
                             "characters, e.g. --name \"Left shoe\"")
    return name


def board_json(name):
    return json.dumps({"name": check_name(name)}).encode()


def parse_board_json(text):
    """The name in a board.json's text, or None (missing, damaged, or not a name)."""
    try:
        name = json.loads(text).get("name")
        return check_name(name)
    except Exception:  # noqa: BLE001 - a board's file can say anything: no name then
        return None


def name_in_library(log_path):
    """The name of the board whose log this is, from the library's board.json, or None."""
    path = os.path.join(os.path.dirname(str(log_path)), BOARD_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return parse_board_json(f.read(4096))
    except OSError:
        return None
