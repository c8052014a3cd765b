"""What the library knows of a board besides its logs, kept beside them in board.json:

- its name ("Left shoe"): given at `retrostep deploy --name`, kept on the board in
  /board.json, copied by `retrostep sync`, shown in sync and reports. The hex id
  (machine.unique_id) stays the board's key.
- its daily goal of backward minutes (goals.backward_min of the board's /config.json),
  copied by `retrostep sync`, which `retrostep history` judges the days against.
"""

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


def goal_minutes(config_text):
    """goals.backward_min of a board's /config.json text, or None (absent, damaged, 0)."""
    try:
        goal = json.loads(config_text)["goals"]["backward_min"]
    except Exception:  # noqa: BLE001 - the defaults then
        return None
    if isinstance(goal, int) and not isinstance(goal, bool) and 0 < goal <= 240:
        return goal
    return None


def write_library_facts(folder, name=None, goal=None):
    """Keep the board's name and goal in the library's board.json (only what is known)."""
    facts = {k: v for k, v in (("name", name), ("goal_minutes", goal)) if v is not None}
    path = os.path.join(folder, BOARD_FILE)
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(facts, f)
    os.replace(tmp, path)


def library_goals(lib):
    """{board folder name: goal minutes} of the boards in a library that have one."""
    out = {}
    try:
        folders = sorted(os.listdir(lib))
    except OSError:
        return out
    for d in folders:
        try:
            with open(os.path.join(lib, d, BOARD_FILE), encoding="utf-8") as f:
                goal = json.loads(f.read(4096)).get("goal_minutes")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(goal, int) and 0 < goal <= 240:
            out[d] = goal
    return out


def name_in_library(log_path):
    """The name of the board whose log this is, from the library's board.json, or None."""
    path = os.path.join(os.path.dirname(str(log_path)), BOARD_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return parse_board_json(f.read(4096))
    except OSError:
        return None
