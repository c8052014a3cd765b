"""Vibration patterns (firmware/rstep/haptics.py): timing per table, priorities, timeline."""

import pytest

from retrostep.vm import mpvm
from retrostep.firmware import haptics as hp

FULL = hp.DUTY_MAX


class Clock:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


class FakePWM:
    """Behaves like machine.PWM; records every duty change with the clock's time."""

    def __init__(self, pin, clock, **kw):
        self.pin = pin
        self.clock = clock
        self.kw = kw
        self.freq_hz = None
        self.duty = None
        self.changes = []
        self.deinited = False

    def freq(self, f=None):
        if f is None:
            return self.freq_hz
        self.freq_hz = f

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        assert 0 <= d <= 65535
        self.duty = d
        self.changes.append((self.clock(), d))

    def deinit(self):
        self.deinited = True


def make(t0=0, **kw):
    """A Haptics on a fake PWM; returns (haptics, clock, pwm, timeline)."""
    clock = Clock(t0)
    made = []

    def factory(pin, **pkw):
        made.append(FakePWM(pin, clock, **pkw))
        return made[-1]

    timeline = []
    kw.setdefault("kick_ms", 0)
    h = hp.Haptics("motor-pin", factory, on_change=lambda t, d: timeline.append((t, d)),
                   now_ms=clock, **kw)
    pwm = made[0]
    pwm.changes.clear()
    return h, clock, pwm, timeline


def run_until(h, clock, end, step=1):
    while hp.ticks_diff(end, clock.t) > 0:
        clock.t = hp.ticks_add(clock.t, step)
        h.update(clock.t)


def run_idle(h, clock, step=1, limit=20000):
    n = 0
    while h.busy():
        clock.t = hp.ticks_add(clock.t, step)
        h.update(clock.t)
        n += 1
        assert n < limit


def expected(pattern, t0, strength=100):
    """The timeline a pattern's table prescribes when it starts at t0 (no kick)."""
    out = []
    t = t0
    duty = 0
    for ms, pct in hp.steps(pattern):
        d = pct * strength * FULL // 10000
        if d != duty:
            out.append((t, d))
            duty = d
        t += ms
    if duty:
        out.append((t, 0))
    return out


def duty(pct):
    return pct * FULL // 100


# ---------------------------------------------------------------------------- the table
def test_table_is_as_documented():
    assert hp.steps(hp.START) == [(80, 60), (120, 0), (320, 100)]
    assert hp.steps(hp.STOP) == [(320, 100), (120, 0), (80, 60)]
    assert hp.steps(hp.DRIFT) == [(120, 100), (100, 0)] * 2 + [(120, 100)]
    assert hp.steps(hp.ON_LINE) == [(70, 50)]
    assert hp.steps(hp.GOAL) == [(400, 100), (150, 0), (120, 100), (150, 0), (400, 100)]
    assert hp.steps(hp.LOW_BATTERY) == [(700, 50), (500, 0), (700, 50)]
    assert hp.steps(hp.ERROR) == [(60, 100), (60, 0)] * 4 + [(60, 100)]
    assert hp.steps(hp.CAL_STILL) == [(250, 80)]
    assert hp.steps(hp.CAL_WALK) == [(250, 80), (250, 0), (250, 80)]
    assert hp.steps(hp.CAL_DONE) == [(250, 80), (250, 0)] * 2 + [(250, 80)]
    assert hp.steps(hp.DRIFT_LEFT) == [(160, 100), (60, 0), (60, 100), (160, 0), (60, 100)]
    assert hp.steps(hp.DRIFT_RIGHT) == [(60, 100), (160, 0), (60, 100), (160, 0), (160, 100)]
    assert hp.steps(hp.LOG_OFF) == [(150, 50), (150, 0)] * 3 + [(150, 50)]
    assert hp.duration_ms(hp.DRIFT) == 560 and hp.duration_ms(hp.ON_LINE) == 70


def test_patterns_differ_and_calibration_counts_its_pulses():
    tables = [tuple(hp.steps(p)) for p in range(1, hp.COUNT + 1)]
    assert len(set(tables)) == hp.COUNT
    for p, pulses in ((hp.CAL_STILL, 1), (hp.CAL_WALK, 2), (hp.CAL_DONE, 3)):
        assert sum(1 for _, pct in hp.steps(p) if pct) == pulses
    # start rises (weak then strong), stop falls; the drift alert pulses are all full
    assert hp.steps(hp.START)[0][1] < hp.steps(hp.START)[-1][1]
    assert hp.steps(hp.STOP)[0][1] > hp.steps(hp.STOP)[-1][1]
    assert all(pct in (0, 100) for _, pct in hp.steps(hp.DRIFT))
    for p in range(1, hp.COUNT + 1):  # every pattern starts and ends with the motor on
        st = hp.steps(p)
        assert st[0][1] and st[-1][1] and len(hp.NAMES) == hp.COUNT + 1


def pulse_starts(p):
    """(start ms, length ms) of each pulse of a pattern."""
    out, t = [], 0
    for ms, pct in hp.steps(p):
        if pct:
            out.append((t, ms))
        t += ms
    return out


def test_left_and_right_drift_alerts_are_the_drift_rhythm_with_the_long_pulse_first_or_last():
    base = pulse_starts(hp.DRIFT)
    left, right = pulse_starts(hp.DRIFT_LEFT), pulse_starts(hp.DRIFT_RIGHT)
    # three full pulses, one every 220 ms, as the plain alert: felt as the drift alert
    for pat in (hp.DRIFT_LEFT, hp.DRIFT_RIGHT):
        assert [pct for _, pct in hp.steps(pat) if pct] == [100, 100, 100]
        assert hp.duration_ms(pat) <= 600
        assert hp.PRIORITY[pat] == hp.PRIORITY[hp.DRIFT]
    assert [t for t, _ in left] == [t for t, _ in right] == [t for t, _ in base] == [0, 220, 440]
    # one pulse long (at least twice the others): first = left, last = right
    assert left[0][1] >= 2 * max(left[1][1], left[2][1])
    assert right[2][1] >= 2 * max(right[0][1], right[1][1])
    # each off time is long enough for a coin motor to stop (>= 60 ms)
    for pat in (hp.DRIFT_LEFT, hp.DRIFT_RIGHT):
        assert min(ms for ms, pct in hp.steps(pat) if not pct) >= 60


def test_the_drift_pattern_follows_the_side_of_the_line():
    assert hp.drift_pattern(650) == hp.DRIFT_LEFT  # + = the walker is left of the line
    assert hp.drift_pattern(-1) == hp.DRIFT_RIGHT
    assert hp.drift_pattern(0) == hp.DRIFT
    assert hp.NAMES[hp.DRIFT_LEFT] == "drift_left" and hp.NAMES[hp.DRIFT_RIGHT] == "drift_right"


def test_priorities_error_over_drift_over_actions_over_information_over_on_line():
    P = hp.PRIORITY
    assert P[hp.ERROR] > P[hp.DRIFT] > P[hp.START] > P[hp.GOAL] > P[hp.ON_LINE]
    assert P[hp.START] == P[hp.STOP] == P[hp.CAL_STILL] == P[hp.CAL_WALK] == P[hp.CAL_DONE]
    assert P[hp.GOAL] == P[hp.LOW_BATTERY]


def test_unknown_pattern_is_refused():
    h, clock, pwm, tl = make()
    for bad in (0, hp.COUNT + 1, -1):
        with pytest.raises(ValueError):
            h.play(bad)
        with pytest.raises(ValueError):
            hp.steps(bad)
    assert not h.busy() and tl == []


# ---------------------------------------------------------------------------- timing
def test_pwm_is_set_up_silent_at_the_motor_frequency_and_released_by_deinit():
    clock = Clock()
    made = []
    h = hp.Haptics(7, lambda pin, **kw: made.append(FakePWM(pin, clock, **kw)) or made[-1],
                   freq_hz=25000, now_ms=clock)
    pwm = made[0]
    assert pwm.pin == 7 and pwm.freq_hz == 25000 and pwm.duty == 0
    assert pwm.kw == {"freq": 25000, "duty_u16": 0}  # machine.PWM gets them at creation
    h.play(hp.DRIFT)
    h.deinit()
    assert pwm.duty == 0 and pwm.deinited


def test_factory_taking_only_the_pin_works_too():
    clock = Clock()

    class Bare(FakePWM):
        def __init__(self, pin):
            super().__init__(pin, clock)

    h = hp.Haptics(3, Bare, now_ms=clock)
    h.play(hp.ON_LINE)
    assert h._pwm.freq_hz == hp.FREQ_HZ and h._pwm.duty > 0


@pytest.mark.parametrize("pattern", range(1, hp.COUNT + 1), ids=lambda p: hp.NAMES[p])
def test_each_pattern_plays_exactly_its_table(pattern):
    h, clock, pwm, tl = make(t0=5000)
    h.play(pattern)
    run_idle(h, clock)
    want = expected(pattern, 5000)
    assert tl == want
    assert pwm.changes == want  # the pin saw the same changes at the same times
    assert clock.t == 5000 + hp.duration_ms(pattern)


def test_late_updates_do_not_stretch_the_pattern():
    h, clock, pwm, tl = make(t0=0)
    h.play(hp.ERROR)
    run_idle(h, clock, step=7)
    want = expected(hp.ERROR, 0)
    assert [d for _, d in tl] == [d for _, d in want]
    for (t, _), (tw, _) in zip(tl, want):
        assert tw <= t < tw + 7  # each change at the first update after its time
    # steps are scheduled from the table, not from the late update: no drift
    assert tl[-1][0] < hp.duration_ms(hp.ERROR) + 7


def test_an_update_missing_whole_steps_lands_on_the_current_one():
    h, clock, pwm, tl = make(t0=0)
    h.play(hp.GOAL)  # on 0..400, off ..550, on ..670, off ..820, on ..1220
    h.update(600)  # in the second pulse: the pin stays on
    h.update(900)  # in the last pulse
    assert tl == [(0, FULL)] and h.busy()
    h.update(1300)  # over
    assert tl == [(0, FULL), (1300, 0)] and not h.busy()
    h.play(hp.GOAL, 5000)
    h.update(5500)  # in a pause
    h.update(6300)  # over: nothing more to change
    assert tl[2:] == [(5000, FULL), (5500, 0)] and not h.busy()


def test_ticks_wrap_around_is_handled():
    t0 = (1 << 30) - 300  # MicroPython's ticks wrap at 2**30
    h, clock, pwm, tl = make(t0=t0)
    h.play(hp.GOAL)
    run_idle(h, clock)
    rel = [(hp.ticks_diff(t, t0), d) for t, d in tl]
    assert rel == expected(hp.GOAL, 0)
    assert tl[-1][0] < t0  # it did wrap


def test_strength_scales_every_step():
    h, clock, pwm, tl = make(strength_pct=50)
    h.play(hp.START)
    run_idle(h, clock)
    assert tl == expected(hp.START, 0, strength=50)
    assert max(d for _, d in tl) == 50 * FULL // 100


def test_weak_pulses_from_standstill_start_with_a_full_kick():
    h, clock, pwm, tl = make(kick_ms=20)
    h.play(hp.ON_LINE)
    run_idle(h, clock)
    assert tl == [(0, FULL), (20, duty(50)), (70, 0)]
    tl.clear()
    clock.t = 1000
    h.play(hp.LOW_BATTERY)  # both weak pulses start from standstill
    run_idle(h, clock)
    assert tl == [(1000, FULL), (1020, duty(50)), (1700, 0),
                  (2200, FULL), (2220, duty(50)), (2900, 0)]
    tl.clear()
    clock.t = 5000
    h.play(hp.DRIFT)  # full-strength pulses need no kick
    run_idle(h, clock)
    assert tl == expected(hp.DRIFT, 5000)


# ---------------------------------------------------------------------------- priorities
def test_alert_preempts_a_lower_pattern_after_a_gap_and_the_cut_one_plays_again():
    h, clock, pwm, tl = make()
    h.play(hp.GOAL)
    run_until(h, clock, 200)  # inside the first long pulse
    h.play(hp.DRIFT)
    assert h.playing() == hp.DRIFT and pwm.duty == 0  # cut off at once
    run_idle(h, clock)
    drift_at = 200 + hp.GAP_MS
    goal_at = drift_at + hp.duration_ms(hp.DRIFT) + hp.GAP_MS
    assert tl == ([(0, FULL), (200, 0)] + expected(hp.DRIFT, drift_at)
                  + expected(hp.GOAL, goal_at))


def test_lower_priority_waits_for_the_current_pattern():
    h, clock, pwm, tl = make()
    h.play(hp.DRIFT)
    run_until(h, clock, 50)
    h.play(hp.ON_LINE)
    assert h.playing() == hp.DRIFT
    run_idle(h, clock)
    assert tl == expected(hp.DRIFT, 0) + expected(hp.ON_LINE, 560 + hp.GAP_MS)


def test_same_priority_replaces_and_the_replaced_one_is_dropped():
    h, clock, pwm, tl = make()
    h.play(hp.START)
    run_until(h, clock, 100)  # in the pause after the short pulse
    h.play(hp.STOP)
    run_idle(h, clock)
    assert tl == [(0, duty(60)), (80, 0)] + expected(hp.STOP, 100 + hp.GAP_MS)


def test_back_on_line_is_not_replayed_after_a_drift_alert_cut_it():
    h, clock, pwm, tl = make()
    h.play(hp.ON_LINE)
    run_until(h, clock, 30)
    h.play(hp.DRIFT)
    run_idle(h, clock)
    assert tl == [(0, duty(50)), (30, 0)] + expected(hp.DRIFT, 30 + hp.GAP_MS)


def test_one_pattern_waits_the_higher_priority_keeps_the_place():
    h, clock, pwm, tl = make()
    h.play(hp.ERROR)
    h.play(hp.ON_LINE)
    h.play(hp.LOW_BATTERY)  # displaces ON_LINE
    h.play(hp.ON_LINE)  # lower than the waiting one: dropped
    run_idle(h, clock)
    assert tl == expected(hp.ERROR, 0) + expected(hp.LOW_BATTERY, 540 + hp.GAP_MS)


def test_a_request_during_the_lead_in_takes_its_place_without_extending_it():
    h, clock, pwm, tl = make()
    h.play(hp.GOAL)
    run_until(h, clock, 100)
    h.play(hp.DRIFT)  # GOAL cut: DRIFT at 500, GOAL waits
    run_until(h, clock, 300)
    h.play(hp.ERROR)  # DRIFT not felt yet: ERROR takes the lead-in, ends at 500
    run_idle(h, clock)
    drift_at = 500 + 540 + hp.GAP_MS
    goal_at = drift_at + 560 + hp.GAP_MS  # DRIFT displaced GOAL from the waiting place
    assert tl[:2] == [(0, FULL), (100, 0)]
    assert tl[2:] == expected(hp.ERROR, 500) + expected(hp.DRIFT, drift_at)
    assert not any(t >= goal_at for t, _ in tl)


def test_a_new_pattern_right_after_one_ended_still_gets_the_gap():
    h, clock, pwm, tl = make()
    h.play(hp.ON_LINE)
    run_until(h, clock, 170)
    assert not h.busy()
    h.play(hp.ON_LINE)
    run_idle(h, clock)
    assert tl == expected(hp.ON_LINE, 0) + expected(hp.ON_LINE, 70 + hp.GAP_MS)
    clock.t = 5000
    tl.clear()
    h.update(5000)
    h.play(hp.ON_LINE)  # long after: at once
    assert tl == [(5000, duty(50))]


def test_stop_silences_and_forgets_the_waiting_pattern():
    h, clock, pwm, tl = make()
    h.play(hp.DRIFT)
    h.play(hp.GOAL)
    run_until(h, clock, 60)
    h.stop()
    assert not h.busy() and pwm.duty == 0 and tl == [(0, FULL), (60, 0)]
    run_until(h, clock, 3000)
    assert tl == [(0, FULL), (60, 0)]


def test_due_ms_says_when_to_update_next():
    h, clock, pwm, tl = make(kick_ms=20)
    assert h.due_ms(0) == -1
    h.play(hp.LOW_BATTERY)
    assert h.due_ms(0) == 20  # the kick ends first
    h.update(20)
    assert h.due_ms(20) == 680
    assert h.due_ms(800) == 0  # overdue


def test_play_without_a_time_reads_the_injected_clock():
    h, clock, pwm, tl = make(t0=123456)
    h.play(hp.CAL_STILL)
    assert tl == [(123456, duty(80))]


# ---------------------------------------------------------------------------- MicroPython
SCENARIO = """
from array import array
import {mod} as hp

class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.n = 0
        self.d = array("i", [0] * 256)
    def freq(self, f):
        pass
    def duty_u16(self, d):
        self.d[self.n] = d
        self.n += 1
    def deinit(self):
        pass

class Rec:
    def __init__(self):
        self.n = 0
        self.t = array("i", [0] * 256)
        self.d = array("i", [0] * 256)
    def change(self, t, d):
        self.t[self.n] = t
        self.d[self.n] = d
        self.n += 1

# (ms after the start, pattern): pre-emption, waiting, dropping, same priority
PLAYS = array("i", [0, hp.GOAL, 150, hp.DRIFT, 200, hp.ON_LINE, 1400, hp.LOW_BATTERY,
                    1500, hp.ERROR, 5200, hp.START, 5300, hp.STOP, 7000, hp.CAL_DONE,
                    7100, hp.ON_LINE])

def scenario(lock, unlock, t0, kick):
    rec = Rec()
    h = hp.Haptics(1, PWM, kick_ms=kick, on_change=rec.change, now_ms=hp.ticks_ms)
    pwm = h._pwm
    pwm.n = 0
    lock()
    try:
        i = 0
        ms = 0
        t = t0
        while ms < 12000:
            while i < len(PLAYS) and PLAYS[i] == ms:
                h.play(PLAYS[i + 1], t)
                i += 2
            h.update(t)
            ms += 1
            t = hp.ticks_add(t, 1)
    finally:
        unlock()
    out = []
    for k in range(rec.n):
        out.append("%d %d" % (rec.t[k], rec.d[k]))
    out.append("pwm " + " ".join([str(pwm.d[k]) for k in range(pwm.n)]))
    return out
"""

VM_MAIN = """
import micropython
for kick in (0, 20):
    for line in scenario(micropython.heap_lock, micropython.heap_unlock, {t0}, kick):
        print(line)
"""


@pytest.mark.vm
def test_micropython_vm_plays_the_same_timeline_without_allocating():
    t0 = (1 << 30) - 4000  # through the ticks wrap
    res = mpvm.run(SCENARIO.format(mod="rstep.haptics") + VM_MAIN.format(t0=t0), timeout_s=60)
    ns = {}
    exec(SCENARIO.format(mod="retrostep.firmware.haptics"), ns)
    want = []
    for kick in (0, 20):
        want += ns["scenario"](lambda: None, lambda: None, t0, kick)
    got = res.stdout.strip().splitlines()
    assert got == want
    assert len(want) > 40  # something happened
