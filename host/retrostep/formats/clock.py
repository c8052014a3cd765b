"""The board's clock: RTC seconds in a session header, as dates on the laptop.

MicroPython's embedded ports count from 2000-01-01 and some (and the unix port) from
1970-01-01; a value of 946684800 or more can only be a 1970-based count (a 2000-based
one would be after 2029), smaller values are 2000-based. The RTC holds local time, so
these are naive local datetimes. A start before 2024 means the board's clock was not set
(`retrostep deploy` and `retrostep sync` set it from the laptop).

A session from an unset clock is dated from its sync: at each sync the board's clock is
read before it is set, and kept with the laptop's time in SYNC_CLOCK_FILE; the session
began (board clock at the sync - board clock at its start) before the sync. That holds
while the board was not switched off between the session and the sync (its clock then
restarts), so such dates are marked as dated from the sync.
"""

import json
import os

from datetime import datetime, timedelta

EPOCH_2000 = datetime(2000, 1, 1)
EPOCH_1970 = datetime(1970, 1, 1)
EPOCH_SWITCH_S = 946684800  # 2000-01-01 counted from 1970: larger RTC values are 1970-based
# earlier session starts mean the RTC was not set: the ports power on at 2000-01-01
# (esp32) or 2021-01-01 (rp2), and this firmware was written in 2026
CLOCK_SET_AFTER = datetime(2024, 1, 1)
SYNC_CLOCK_FILE = ".sync-clock.json"  # beside a board's logs in the library


def rtc_datetime(start_s):
    """The board's RTC seconds as a naive local datetime (see the module docstring)."""
    if start_s >= EPOCH_SWITCH_S:
        return EPOCH_1970 + timedelta(seconds=start_s)
    return EPOCH_2000 + timedelta(seconds=start_s)


def rtc_seconds(when: datetime) -> int:
    """The RTC seconds (2000-based, as the ESP32 and RP2040 ports count) of a datetime."""
    return int((when - EPOCH_2000).total_seconds())


def clock_was_set(when):
    return when is not None and when >= CLOCK_SET_AFTER


def record_sync(folder, names, board_now_s, laptop_now):
    """Keep, for the logs `names` just synced into `folder`, the board's clock and the
    laptop's at that sync (to date sessions recorded while the board's clock was unset)."""
    if not names:
        return
    path = os.path.join(folder, SYNC_CLOCK_FILE)
    records = _read_records(path)
    for name in names:
        records[name] = {"board_s": int(board_now_s),
                         "laptop": laptop_now.isoformat(timespec="seconds")}
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _read_records(path):
    try:
        with open(path, encoding="utf-8") as f:
            records = json.load(f)
        return records if isinstance(records, dict) else {}
    except (OSError, ValueError):
        return {}


def dated_from_sync(log_path, start_s):
    """The session's start from its sync, or None if no sync record says: the laptop's
    time at the sync minus how long before the sync the board's clock says it began."""
    folder, name = os.path.split(str(log_path))
    rec = _read_records(os.path.join(folder, SYNC_CLOCK_FILE)).get(name)
    try:
        age = int(rec["board_s"]) - int(start_s)
        synced = datetime.fromisoformat(rec["laptop"])
    except (TypeError, KeyError, ValueError):
        return None
    if age < 0:  # the board restarted its clock after the session: no honest date
        return None
    return synced - timedelta(seconds=age)
