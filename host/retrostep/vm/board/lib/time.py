# `time` of the retrostep virtual board: the board's simulated clock (see _vb).
# ticks_* wrap at 2**30 as on MicroPython's ports; time() counts seconds from
# 2000-01-01 as on rp2 and esp32, from the virtual RTC.

import _vb

# ticks arithmetic needs no clock: MicroPython's own (C) functions, taken from the
# VM's time module before this one replaced it
ticks_add = _vb.TICKS_ADD
ticks_diff = _vb.TICKS_DIFF
ticks_ms = _vb.ticks_ms
ticks_us = _vb.ticks_us
ticks_cpu = _vb.ticks_us
sleep_ms = _vb.sleep_ms
sleep_us = _vb.sleep_us
time = _vb.time
time_ns = _vb.time_ns
gmtime = _vb.gmtime
localtime = _vb.gmtime
mktime = _vb.mktime


def sleep(seconds):
    _vb.sleep_us(int(seconds * 1000000))
