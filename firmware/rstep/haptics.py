"""Vibration patterns on the motor's PWM pin, played without blocking.

The motor (a coin ERM motor switched by a transistor) is driven by PWM; its duty sets
the strength. ``play(ID)`` starts a pattern, ``update(now_ms)`` advances it from the
main loop: nothing here sleeps, and ``play``/``update`` allocate nothing, so both may
run under ``micropython.heap_lock()``. Every change of the motor's duty is reported to
``on_change(now_ms, duty_u16)`` (the virtual board records the motor's timeline with it).

Example (RP2040, motor transistor on GP15)::

    from machine import Pin, PWM
    import time
    from rstep.haptics import Haptics, DRIFT

    hap = Haptics(Pin(15), PWM)
    hap.play(DRIFT)
    while hap.busy():
        hap.update(time.ticks_ms())
        time.sleep_ms(5)

Patterns: steps of "ms@strength%", 0% = motor off. They differ in rhythm, length and
strength so that they can be told apart through a shoe:

    id name         priority  steps
    1  START        3  80@60  120@0  320@100                      short-long (rising)
    2  STOP         3  320@100  120@0  80@60                      long-short (falling)
    3  DRIFT        4  120@100 100@0 120@100 100@0 120@100        three strong short
    4  ON_LINE      1  70@50                                      one soft short
    5  GOAL         2  400@100 150@0 120@100 150@0 400@100        long-short-long
    6  LOW_BATTERY  2  700@50  500@0  700@50                      two long weak
    7  ERROR        5  five of 60@100 with 60@0 between           fast rattle
    8  CAL_STILL    3  250@80                                     calibration: stand still
    9  CAL_WALK     3  250@80 250@0 250@80                        calibration: walk now
    10 CAL_DONE     3  250@80 250@0 250@80 250@0 250@80           calibration: done
    11 DRIFT_LEFT   4  160@100 60@0 60@100 160@0 60@100           long-short-short
    12 DRIFT_RIGHT  4  60@100 160@0 60@100 160@0 160@100          short-short-long
    13 LOG_OFF      2  four of 150@50 with 150@0 between          four soft: log stopped

(The calibration pulses are twice as long and slow as the drift alert's, and they come
only after the user asked for a calibration.)

The drift alert says which way to correct (rstep.app picks the pattern from the
alert's lateral offset: + = the walker is left of the line, - = right). Both are the
drift alert's three strong pulses, one every 220 ms, with one of them long; read the
three like a line of text, left to right:

    DRIFT_LEFT   long-short-short  the long one first (left):  you are LEFT of the
                 line: step to your RIGHT
    DRIFT_RIGHT  short-short-long  the long one last (right):  you are RIGHT of the
                 line: step to your LEFT

DRIFT (three equal pulses) is the alert when the side is not known (offset 0).
LOG_OFF: the session log cannot be written (folder blocked, flash full, write error):
logging is off for this session; steps, alerts and the session go on.

Priorities: 5 error > 4 drift alert > 3 answers to the user's own action (start, stop,
calibration) > 2 information (goal, low battery) > 1 back on the line.
- A pattern of the same or a higher priority than the one playing replaces it at once
  (the same priority: the newer news wins). A pattern cut short by a strictly higher
  one is played again from its start afterwards, unless its priority is 1.
- A lower-priority pattern waits and plays when the current one is over.
- One pattern can wait: of two, the one with the higher priority (equal: the newer)
  keeps the place; the other is dropped.
- Two patterns are always separated by GAP_MS of stillness (also when one cuts another
  short), so each is felt as a whole: an alert starts at most GAP_MS late.

Motor start: a coin motor does not spin up from rest at a low duty, so a pulse weaker
than 100% that starts from standstill begins with ``kick_ms`` at full duty (the
timeline shows it as its own change). ``strength_pct`` scales every step (a weak or a
strong motor, a user's preference).
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython: the same wrap-around arithmetic as MicroPython's ticks
    import time as _time

    _TICKS_MASK = (1 << 30) - 1
    _TICKS_HALF = 1 << 29

    def ticks_ms():
        return (_time.monotonic_ns() // 1000000) & _TICKS_MASK

    def ticks_add(t, delta):
        return (t + delta) & _TICKS_MASK

    def ticks_diff(a, b):
        return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


# pattern ids
START = const(1)
STOP = const(2)
DRIFT = const(3)
ON_LINE = const(4)
GOAL = const(5)
LOW_BATTERY = const(6)
ERROR = const(7)
CAL_STILL = const(8)
CAL_WALK = const(9)
CAL_DONE = const(10)
DRIFT_LEFT = const(11)  # the walker is left of the line: step right
DRIFT_RIGHT = const(12)  # the walker is right of the line: step left
LOG_OFF = const(13)
NAMES = ("", "start", "stop", "drift", "on_line", "goal", "low_battery", "error",
         "cal_still", "cal_walk", "cal_done", "drift_left", "drift_right", "log_off")

FREQ_HZ = const(20000)  # PWM frequency: above hearing, so the motor does not whine
GAP_MS = const(400)  # stillness between two patterns
KICK_MS = const(20)  # full duty at the start of a weak pulse, so the motor spins up
DUTY_MAX = const(65535)

# (priority, ms, %, ms, %, ...) per pattern, in id order; flattened below at import
_DEFS = (
    (3, 80, 60, 120, 0, 320, 100),  # START
    (3, 320, 100, 120, 0, 80, 60),  # STOP
    (4, 120, 100, 100, 0, 120, 100, 100, 0, 120, 100),  # DRIFT
    (1, 70, 50),  # ON_LINE
    (2, 400, 100, 150, 0, 120, 100, 150, 0, 400, 100),  # GOAL
    (2, 700, 50, 500, 0, 700, 50),  # LOW_BATTERY
    (5, 60, 100, 60, 0, 60, 100, 60, 0, 60, 100, 60, 0, 60, 100, 60, 0, 60, 100),  # ERROR
    (3, 250, 80),  # CAL_STILL
    (3, 250, 80, 250, 0, 250, 80),  # CAL_WALK
    (3, 250, 80, 250, 0, 250, 80, 250, 0, 250, 80),  # CAL_DONE
    (4, 160, 100, 60, 0, 60, 100, 160, 0, 60, 100),  # DRIFT_LEFT
    (4, 60, 100, 160, 0, 60, 100, 160, 0, 160, 100),  # DRIFT_RIGHT
    (2, 150, 50, 150, 0, 150, 50, 150, 0, 150, 50, 150, 0, 150, 50),  # LOG_OFF
)
COUNT = const(13)  # pattern ids are 1..COUNT


def _tables():
    n = 0
    for d in _DEFS:
        n += (len(d) - 1) // 2
    ms = array("H", [0] * n)
    pct = bytearray(n)
    first = bytearray(COUNT + 2)  # first step of pattern p: first[p]; its end: first[p + 1]
    prio = bytearray(COUNT + 1)
    k = 0
    for p in range(1, COUNT + 1):
        d = _DEFS[p - 1]
        prio[p] = d[0]
        first[p] = k
        for i in range(1, len(d), 2):
            ms[k] = d[i]
            pct[k] = d[i + 1]
            k += 1
    first[COUNT + 1] = k
    return ms, pct, first, prio


_MS, _PCT, _FIRST, PRIORITY = _tables()  # PRIORITY[id]: the priority of a pattern
del _DEFS


def drift_pattern(lateral_mm):
    """The drift alert for a lateral offset (mm, + = the walker is left of the line)."""
    if lateral_mm > 0:
        return DRIFT_LEFT
    if lateral_mm < 0:
        return DRIFT_RIGHT
    return DRIFT


def steps(pattern):
    """The pattern's steps as a list of (ms, strength %) pairs (0 % = off)."""
    _check(pattern)
    return [(_MS[k], _PCT[k]) for k in range(_FIRST[pattern], _FIRST[pattern + 1])]


def duration_ms(pattern):
    """How long the pattern lasts from its first step to its last."""
    _check(pattern)
    t = 0
    for k in range(_FIRST[pattern], _FIRST[pattern + 1]):
        t += _MS[k]
    return t


def _check(pattern):
    if not 1 <= pattern <= COUNT:
        raise ValueError("no haptic pattern %r (ids 1..%d)" % (pattern, COUNT))


class Haptics:
    """Plays the patterns on one PWM pin (see the module docstring).

    pin: the motor's pin object. pwm: the PWM class (machine.PWM) or any factory
    called as pwm(pin) that returns an object with duty_u16(), freq() and deinit().
    on_change(now_ms, duty_u16): called at every change of the motor's duty.
    now_ms: the clock play() reads when no time is given (default time.ticks_ms).
    """

    def __init__(self, pin, pwm, freq_hz=FREQ_HZ, strength_pct=100, kick_ms=KICK_MS,
                 on_change=None, now_ms=None):
        if not 1 <= strength_pct <= 100:
            raise ValueError("strength_pct must be 1..100")
        try:  # machine.PWM takes the settings at once (ESP32 would start at 50 % duty)
            self._pwm = pwm(pin, freq=freq_hz, duty_u16=0)
        except TypeError:
            self._pwm = pwm(pin)
        self._pwm.freq(freq_hz)
        self._pwm.duty_u16(0)
        self._strength = strength_pct
        self._kick = kick_ms
        self._on_change = on_change
        self._now = now_ms if now_ms is not None else ticks_ms
        self._duty = 0
        self._cur = 0  # pattern playing (0: none)
        self._idx = 0  # its step (-1: the stillness before its first step)
        self._end = 0  # when that step (or the stillness after a pattern) ends
        self._kick_end = 0
        self._kicking = 0
        self._wait = 0  # the pattern waiting for its turn (0: none)
        self._tail = 0  # 1: a pattern ended and the gap after it lasts until _end

    # ------------------------------------------------------------------ requests
    def play(self, pattern, now_ms=None):
        """Start the pattern now, or let it wait its turn (see the priorities)."""
        if not 1 <= pattern <= COUNT:
            raise ValueError("no haptic pattern")
        now = self._now() if now_ms is None else now_ms
        cur = self._cur
        if not cur:
            if self._tail and ticks_diff(self._end, now) > 0:
                self._begin(pattern, now, ticks_diff(self._end, now))
            else:
                self._begin(pattern, now, 0)
        elif PRIORITY[pattern] >= PRIORITY[cur]:
            if PRIORITY[pattern] > PRIORITY[cur] and PRIORITY[cur] > 1:
                self._queue(cur)
            if self._idx < 0:  # cur has not begun: take over its lead-in
                lead = ticks_diff(self._end, now)
                self._begin(pattern, now, lead if lead > 0 else 0)
            else:  # cur was felt: cut it off, then the gap
                self._set(now, 0)
                self._begin(pattern, now, GAP_MS)
        else:
            self._queue(pattern)
        self.update(now)

    def stop(self, now_ms=None):
        """Silence the motor now and forget the waiting pattern."""
        now = self._now() if now_ms is None else now_ms
        self._cur = 0
        self._wait = 0
        self._tail = 0
        self._kicking = 0
        self._set(now, 0)

    def busy(self):
        """True while a pattern plays or waits."""
        return self._cur != 0 or self._wait != 0

    def playing(self):
        """The id of the pattern playing (0: none)."""
        return self._cur

    def due_ms(self, now_ms):
        """Milliseconds until update() has something to do; -1 when idle."""
        if not self._cur:
            return -1
        d = ticks_diff(self._end, now_ms)
        if self._kicking:
            k = ticks_diff(self._kick_end, now_ms)
            if k < d:
                d = k
        return d if d > 0 else 0

    def deinit(self):
        self.stop()
        self._pwm.deinit()

    # ------------------------------------------------------------------ time
    def update(self, now_ms):
        """Advance the pattern to now_ms; call it often (every few ms while busy())."""
        while self._cur and ticks_diff(now_ms, self._end) >= 0:
            t = self._end  # when the step ended: the next one starts there, not late
            idx = self._idx + 1
            k = _FIRST[self._cur] + idx
            if k < _FIRST[self._cur + 1]:
                self._idx = idx
                self._end = ticks_add(t, _MS[k])
                self._kicking = 0
                p = _PCT[k]
                if 0 < p < 100 and self._kick and _MS[k] > self._kick:
                    if idx == 0 or _PCT[k - 1] == 0:
                        self._kicking = 1
                        self._kick_end = ticks_add(t, self._kick)
            else:  # pattern over: the gap, then the waiting pattern
                self._cur = 0
                self._kicking = 0
                self._end = ticks_add(t, GAP_MS)
                if self._wait:
                    w = self._wait
                    self._wait = 0
                    self._cur = w
                    self._idx = -1
                    self._tail = 0
                else:
                    self._tail = 1
        if self._tail and ticks_diff(now_ms, self._end) >= 0:
            self._tail = 0
        duty = 0
        if self._cur and self._idx >= 0:
            k = _FIRST[self._cur] + self._idx
            if self._kicking and ticks_diff(now_ms, self._kick_end) < 0:
                duty = DUTY_MAX
            else:
                self._kicking = 0
                duty = _PCT[k] * self._strength * DUTY_MAX // 10000
        self._set(now_ms, duty)

    # ------------------------------------------------------------------ internals
    def _begin(self, pattern, now, lead_ms):
        self._cur = pattern
        self._tail = 0
        self._kicking = 0
        self._idx = -1  # update() enters step 0 when the lead-in stillness is over
        self._end = ticks_add(now, lead_ms)

    def _queue(self, pattern):
        w = self._wait
        if not w or PRIORITY[pattern] >= PRIORITY[w]:
            self._wait = pattern

    def _set(self, now, duty):
        if duty != self._duty:
            self._duty = duty
            self._pwm.duty_u16(duty)
            if self._on_change is not None:
                self._on_change(now, duty)
