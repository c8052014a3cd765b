"""The board's clock: RTC seconds in a session header, as dates on the laptop.

MicroPython's embedded ports count from 2000-01-01 and some (and the unix port) from
1970-01-01; a value of 946684800 or more can only be a 1970-based count (a 2000-based
one would be after 2029), smaller values are 2000-based. The RTC holds local time, so
these are naive local datetimes. A start before 2020 means the board's clock was not set.
"""

from datetime import datetime, timedelta

EPOCH_2000 = datetime(2000, 1, 1)
EPOCH_1970 = datetime(1970, 1, 1)
EPOCH_SWITCH_S = 946684800  # 2000-01-01 counted from 1970: larger RTC values are 1970-based
CLOCK_SET_AFTER = datetime(2020, 1, 1)  # earlier session starts mean the RTC was not set


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
