"""The device loop (firmware/rstep/app.py) on CPython with the hardware emulated: the
LSM6DS register file fed from a trace, a motor PWM that records its duty, a button
pin pressed on a script, a simulated clock."""

import numpy as np
import pytest

from retrostep.sim import corpus
from retrostep.formats import logdecode
from retrostep.firmware import app as appmod
from retrostep.firmware import config, gait, haptics, logbook
from retrostep.firmware.button import Button
from retrostep.firmware.imu import IMU
from retrostep.sim.lsm6ds_emu import EmuI2C, LSM6DSEmu
from retrostep.engine.run import run_engine
from retrostep.formats.trace import quantise


class FakePin:
    """machine.Pin at the boundary: a level, and the IRQ a level change fires."""
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, value=1):
        self.level = value
        self.handler = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def irq(self, handler=None, trigger=0):
        self.handler = handler

    def set(self, level):
        if level != self.level:
            self.level = level
            if self.handler:
                self.handler(self)


class FakePWM:
    """machine.PWM at the boundary: records (ms, duty) on the motor timeline."""
    timeline = None

    def __init__(self, pin, freq=0, duty_u16=0):
        self.duty = duty_u16

    def freq(self, f=None):
        return 20000

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        self.duty = d

    def deinit(self):
        pass


class Rig:
    """The device on the bench: board parts emulated, time simulated."""

    def __init__(self, tmp_path, samples, personality="LSM6DSOX", cfg=None, presses=(),
                 log=None):
        it = iter(samples.tolist())
        self.emu = LSM6DSEmu(personality, source=lambda i: next(it, None))
        self.bus = EmuI2C(self.emu)
        self.imu = IMU(self.bus)
        self.now = 0
        self.timeline = []
        self.motor = haptics.Haptics(FakePin(), FakePWM, on_change=self._motor,
                                     now_ms=lambda: self.now)
        self.pin = FakePin(1)
        self.button = Button(self.pin, irq=True, now_ms=lambda: self.now)  # as main() does
        self.log = log or logbook.Logbook(str(tmp_path / "logs"))
        self.crash_path = str(tmp_path / "crash.txt")
        self.app = appmod.App(self.imu, self.motor, self.button, self.log, cfg,
                              clock_s=lambda: 1_700_000_000 + self.now // 1000,
                              board_id="rig", config_path=str(tmp_path / "config.json"),
                              clock_ms=lambda: self.now, crash_path=self.crash_path)
        self.presses = sorted(presses)  # (t_ms, hold_ms)
        self.awake_steps = 0

    def _motor(self, t, duty):
        self.timeline.append((t, duty))

    def run(self, until_ms):
        while self.now < until_ms:
            for t, hold in self.presses:
                if t <= self.now < t + hold:
                    self.pin.set(0)
                elif self.now == t + hold:
                    self.pin.set(1)
            ms = self.app.run_step(self.now)  # as main() runs it
            self.awake_steps += 1
            # the button is a wire to a pin: the loop sees it when it next wakes, so
            # wake for the press and release edges (a real board's IRQ does the same)
            for t, hold in self.presses:
                for edge in (t, t + hold):
                    if self.now < edge < self.now + ms:
                        ms = edge - self.now
            ms = max(1, ms)
            self.emu.advance_us(ms * 1000)
            self.now += ms


def board_samples(name):
    trace, _ = corpus.make_case(name)
    return quantise(trace)


def test_a_session_logs_exactly_what_replay_finds(tmp_path):
    b = board_samples("mixed_pauses")
    rig = Rig(tmp_path, b.samples, presses=[(500, 100)])
    end_ms = len(b.samples) * 1000 // b.odr_hz
    rig.run(end_ms + 1000)
    rig.presses = [(rig.now, 100)]  # stop the session: a short press
    rig.run(rig.now + 1200)
    assert rig.app.state == appmod.IDLE and rig.app.sessions == 1
    files = sorted((tmp_path / "logs").glob("*.rsl"))
    assert len(files) == 1
    log = logdecode.decode_file(str(files[0]))
    assert not log.problems
    logged = [r.event() for r in log.records if r.event() is not None]
    first = rig.app.session_first
    eng, events = run_engine(b.samples[first:], b.odr_hz, b.accel_ug_per_lsb,
                             b.gyro_udps_per_lsb)
    assert logged == events  # the board's own event list, event for event
    result = logdecode.to_result(log)
    assert result["steps"] == eng.steps == 80
    assert rig.imu.overrun == 0 and rig.app.lost == 0
    # the start and stop patterns were felt: start at the press + debounce + window
    assert rig.timeline[0][0] >= 500 and rig.timeline[0][1] > 0


def test_a_drift_alert_buzzes_the_drift_pattern(tmp_path):
    b = board_samples("bwd_curve_left")
    rig = Rig(tmp_path, b.samples, presses=[(200, 80)])
    rig.run(len(b.samples) * 1000 // b.odr_hz)
    rig.app.stop_session(rig.now)
    log = logdecode.decode_file(str(sorted((tmp_path / "logs").glob("*.rsl"))[0]))
    alerts = [r.event() for r in log.records
              if r.event() is not None and r.event()[0] == gait.EV_DRIFT]
    assert len(alerts) == 1
    # the alert's time on the board's clock: session start + its sample index
    t_alert = (rig.app.session_first + alerts[0][1]) * 1000 / b.odr_hz
    on = [t for t, d in rig.timeline if d > 0]
    drift_on = [t for t in on if 0 <= t - t_alert <= 1000]
    assert drift_on, (t_alert, on[-10:])
    # three strong pulses: DRIFT's steps
    pulses = [t for t, d in rig.timeline if d == 65535 and t >= drift_on[0]]
    assert len(pulses) >= 3


@pytest.mark.parametrize("case, lateral_sign, pattern", [
    ("bwd_curve_left", -1, haptics.DRIFT_RIGHT),  # heading turns left, backward: right of it
    ("bwd_curve_right_slow", 1, haptics.DRIFT_LEFT),
])
def test_the_drift_buzz_says_which_side_of_the_line(tmp_path, case, lateral_sign, pattern):
    b = board_samples(case)
    rig = Rig(tmp_path, b.samples, presses=[(200, 80)])
    rig.run(len(b.samples) * 1000 // b.odr_hz)
    rig.app.stop_session(rig.now)
    log = logdecode.decode_file(str(sorted((tmp_path / "logs").glob("*.rsl"))[0]))
    alerts = [r.event() for r in log.records
              if r.event() is not None and r.event()[0] == gait.EV_DRIFT]
    assert len(alerts) == 1 and alerts[0][4] * lateral_sign > 0
    t_alert = (rig.app.session_first + alerts[0][1]) * 1000 / b.odr_hz
    # the motor's timeline after the alert: the pattern's steps exactly (full strength)
    after = [(t, d) for t, d in rig.timeline if t >= t_alert]
    start = next(i for i, (t, d) in enumerate(after) if d == 65535)
    got = after[start:start + 6]
    t0 = got[0][0]
    want, t = [], 0
    for ms, pct in haptics.steps(pattern):
        want.append((t, pct * 65535 // 100))
        t += ms
    want.append((t, 0))
    assert [(t - t0, d) for t, d in got] == want


def test_calibration_walk_saves_the_mount_yaw(tmp_path):
    b = board_samples("mount_reversed")  # arrow to the heel, forward walk first
    rig = Rig(tmp_path, b.samples, presses=[(100, 1800)])  # a long press
    rig.run(len(b.samples) * 1000 // b.odr_hz)
    saved = config.load(str(tmp_path / "config.json"))
    assert abs(abs(saved["mount"]["yaw_deg"]) - 180) <= 10
    assert rig.app.state == appmod.IDLE  # the calibration session ended itself


def test_idle_device_logs_nothing_and_sleeps_half_a_second(tmp_path):
    b = board_samples("still_standing")
    rig = Rig(tmp_path, b.samples[: 104 * 10])
    rig.run(10_000)
    assert not list((tmp_path / "logs").glob("*.rsl")) if (tmp_path / "logs").exists() else True
    assert rig.awake_steps <= 10_000 // 480 + 2  # woken about twice a second


@pytest.mark.parametrize("personality", ["LSM6DSOX", "LSM6DS3TR-C"])
def test_both_imu_families_give_the_same_events(tmp_path, personality):
    b = board_samples("walk_bwd_slow")
    rig = Rig(tmp_path, b.samples[: 104 * 20], personality, presses=[(100, 80)])
    rig.run(20_000)
    rig.app.stop_session(rig.now)
    log = logdecode.decode_file(str(sorted((tmp_path / "logs").glob("*.rsl"))[0]))
    logged = [r.event() for r in log.records if r.event() is not None]
    first = rig.app.session_first
    _, events = run_engine(b.samples[first: rig.app.samples], b.odr_hz, b.accel_ug_per_lsb,
                           b.gyro_udps_per_lsb)
    assert logged == events and len(events) > 5


def balance_stride_samples(b):
    """Sample index (on the trace) of each stride's initial contact and its direction."""
    _, events = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    return [(e[1], e[2]) for e in events if e[0] == gait.EV_STRIDE]


def test_balance_check_by_double_press_is_logged_and_felt(tmp_path):
    b = board_samples("balance_10f_9b")  # 10 steps forward, then 9 backward
    strides = balance_stride_samples(b)
    # this foot: 5 forward strides (10 steps), then 5 backward (9 steps: 5 of this foot,
    # 4 of the other; the engine counts 2 per stride of this foot)
    assert [d for _, d in strides] == [gait.FORWARD] * 5 + [gait.BACKWARD] * 5
    rig = Rig(tmp_path, b.samples, presses=[(200, 100), (370, 100)])  # a double press
    rig.run(len(b.samples) * 1000 // b.odr_hz + 1000)
    assert rig.app.state == appmod.IDLE  # the check ended itself
    fwd, bwd, passed = rig.app.balance
    assert (fwd, bwd, passed) == (10, 10, True)
    log = logdecode.decode_file(str(sorted((tmp_path / "logs").glob("*.rsl"))[0]))
    rec = [r for r in log.records if r.type == logbook.REC_BALANCE]
    assert len(rec) == 1 and rec[0].fields["passed"] == 1
    assert rec[0].fields["forward_steps"] == 10 and rec[0].fields["backward_steps"] == 10
    assert (rec[0].fields["target_forward"], rec[0].fields["target_backward"]) == (10, 9)
    # the check ended with the 5th backward stride, not before it
    t_end = rig.app.session_first + rec[0].fields["t"]
    assert t_end >= strides[-1][0]
    assert [p for _, p in rig.timeline if p > 0]  # felt


def test_balance_check_is_not_passed_by_8_backward_steps(tmp_path):
    # the walk cut after the 4th backward stride of this foot: 8 backward steps counted
    # (7 or 8 taken), one short of the check's 9
    b = board_samples("balance_10f_9b")
    strides = balance_stride_samples(b)
    cut = (strides[-2][0] + strides[-1][0]) // 2  # between the 4th and 5th backward stride
    samples = np.concatenate([b.samples[:cut], np.repeat(b.samples[cut - 1:cut], 104 * 3, 0)])
    rig = Rig(tmp_path, samples, presses=[(200, 100), (370, 100)])
    rig.run(len(samples) * 1000 // b.odr_hz + 1000)
    assert rig.app.state == appmod.BALANCE  # still waiting for the 9th step
    assert rig.app.balance is None
    assert (rig.app.engine.forward_steps, rig.app.engine.backward_steps) == (10, 8)
    rig.app.step(rig.now + appmod.BALANCE_TIMEOUT_MS)  # the check times out: failed
    rig.app.step(rig.now + appmod.BALANCE_TIMEOUT_MS + 1)
    assert rig.app.balance == (10, 8, False) and rig.app.state == appmod.IDLE


def test_balance_check_counts_backward_steps_only_after_the_forward_ones(tmp_path):
    # backward first, then forward: 10 and 10 steps, in the wrong order: not passed
    b = board_samples("balance_10f_9b")
    strides = balance_stride_samples(b)
    lo = strides[4][0] + (strides[5][0] - strides[4][0]) // 2  # the pause between the two
    pre = 104  # quiet lead-in
    samples = np.concatenate([b.samples[:pre], b.samples[lo:], b.samples[pre:lo]])
    rig = Rig(tmp_path, samples, presses=[(200, 100), (370, 100)])
    rig.run(len(samples) * 1000 // b.odr_hz + 1000)
    eng = rig.app.engine
    assert eng.backward_steps >= 8 and eng.forward_steps == 10
    assert rig.app.balance is None and rig.app.state == appmod.BALANCE


def test_a_late_loop_loses_samples_as_a_logged_gap_not_silently(tmp_path):
    b = board_samples("walk_fwd_normal")
    rig = Rig(tmp_path, b.samples, presses=[(100, 80)])
    rig.run(10_000)
    n_before = rig.app.engine.n
    rig.emu.advance_us(4_000_000)  # the loop stalls 4 s: the 2.5 s FIFO overflows
    rig.now += 4000
    rig.run(rig.now + 5000)
    rig.app.stop_session(rig.now)
    assert rig.imu.overrun >= 1 and rig.app.lost > 0
    log = logdecode.decode_file(str(sorted((tmp_path / "logs").glob("*.rsl"))[0]))
    gaps = [r for r in log.records if r.type == logbook.REC_GAP]
    assert len(gaps) == 1 and gaps[0].fields["lost_samples"] == rig.app.lost
    # the engine's clock kept the lost time: its sample count is all that was delivered
    assert rig.app.engine.n == rig.app.samples - rig.app.session_first
    assert rig.app.engine.n > n_before


def test_no_sample_dropped_at_208_hz(tmp_path):
    b = board_samples("jog_bwd")  # a 208 Hz trace, quantised at 208 Hz below
    trace, _ = corpus.make_case("jog_bwd")
    b = quantise(trace, odr_hz=208)
    it = iter(b.samples.tolist())
    emu = LSM6DSEmu("LSM6DSOX", source=lambda i: next(it, None))
    imu = IMU(EmuI2C(emu), odr_hz=208)
    now = [0]
    app = appmod.App(imu, haptics.Haptics(FakePin(), FakePWM, now_ms=lambda: now[0]),
                     Button(FakePin(1), now_ms=lambda: now[0]),
                     logbook.Logbook(str(tmp_path / "logs")), odr_hz=208,
                     clock_s=lambda: 0)
    app.start_session(0)
    while now[0] < len(b.samples) * 1000 // 208 + 500:
        ms = app.step(now[0])
        emu.advance_us(ms * 1000)
        now[0] += ms
    assert app.samples == len(b.samples) and imu.overrun == 0 and app.lost == 0
    eng, _ = run_engine(b.samples, 208, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert app.engine.strides == eng.strides == 40


# ---------------------------------------------------------------------------- failures
def logged_events(tmp_path):
    files = sorted((tmp_path / "logs").glob("*.rsl"))
    log = logdecode.decode_file(str(files[-1]))
    return log, [r.event() for r in log.records if r.event() is not None]


def motor_patterns(rig, pattern):
    """Times at which the motor began pattern's first step (its duty, from off)."""
    steps = haptics.steps(pattern)
    duty = steps[0][1] * 65535 // 100
    tl = rig.timeline
    out = []
    for i in range(1, len(tl)):
        if tl[i - 1][1] == 0 and tl[i][1] in (duty, 65535):
            # the next change ends the first step after its length (a kick comes first)
            j = i + 1 if tl[i][1] == 65535 and duty != 65535 else i
            if j < len(tl) and j + 1 < len(tl) and tl[j][1] == duty and \
                    tl[j + 1][0] - tl[i][0] == steps[0][0]:
                out.append(tl[i][0])
    return out


def test_an_i2c_outage_resets_the_imu_and_the_count_is_replay_minus_the_lost_samples(tmp_path):
    b = board_samples("walk_fwd_normal")
    rig = Rig(tmp_path, b.samples, presses=[(100, 80)])
    rig.bus.set_faults(outages=[(10_300_000, 12_300_000)])  # the bus down for 2 s
    rig.run(len(b.samples) * 1000 // b.odr_hz + 500)
    rig.app.stop_session(rig.now)
    app = rig.app
    assert app.imu_errors == 1 and app.imu_resets == 1 and app.crashes == 0
    assert rig.bus.errors_injected > 4  # the read, its retries, the set-up tried again
    log, events = logged_events(tmp_path)
    gaps = [r.fields for r in log.records if r.type == logbook.REC_GAP]
    assert len(gaps) == 1
    t_gap, lost = gaps[0]["t"], gaps[0]["lost_samples"]
    first = app.session_first
    # what the IMU really lost: the trace samples it took but never delivered
    delivered = app.samples - app.lost  # samples the loop read
    truth = rig.emu.sample_index - delivered
    assert abs(lost - truth) <= 1 and 200 <= truth <= 216 + 52  # 2 s (+ a FIFO's read)
    assert lost == app.lost
    # replay: the trace without the samples lost, the gap given to the engine where it was
    seen = np.concatenate([b.samples[first:first + t_gap],
                           b.samples[first + t_gap + truth:rig.emu.sample_index]])
    eng, want = run_engine(seen, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb,
                           gaps=[(t_gap, lost)])
    assert events == want  # event for event
    assert app.engine.steps == eng.steps == logdecode.to_result(log)["steps"]
    full, _ = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert full.steps - 8 <= eng.steps < full.steps  # the strides in the outage are lost


def test_an_i2c_bus_failing_in_bursts_never_stops_the_device(tmp_path):
    b = board_samples("walk_bwd_slow")
    rig = Rig(tmp_path, b.samples, presses=[(100, 80)])
    rig.bus.set_faults(bursts={"min_len": 1, "max_len": 50, "min_gap": 5, "max_gap": 60,
                               "seed": 7, "t0_us": 1_000_000})
    rig.run(len(b.samples) * 1000 // b.odr_hz + 500)
    app = rig.app
    assert app.state == appmod.SESSION and app.crashes == 0
    assert rig.bus.bursts_done > 10 and rig.bus.longest_burst >= 30
    assert app.imu_errors > 5 and app.imu_resets == app.imu_errors
    assert app.engine.n == app.samples - app.session_first  # the time base kept
    full, _ = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert 0 < app.engine.steps <= full.steps
    rig.app.stop_session(rig.now)
    log, _ = logged_events(tmp_path)
    assert logdecode.to_result(log)["steps"] == app.engine.steps


@pytest.mark.parametrize("how", ["blocked", "enospc_create", "enospc_write", "full"])
def test_a_log_that_cannot_be_written_is_turned_off_and_the_session_goes_on(
        tmp_path, monkeypatch, how):
    b = board_samples("bwd_curve_left")
    log = None
    if how == "blocked":
        (tmp_path / "logs").write_text("a file where the folder should be")
    elif how == "full":  # a flash with 4 KB free: records are dropped, the log is off
        log = logbook.Logbook(str(tmp_path / "logs"), fs_free_fn=lambda: 4096)
    else:
        real_open = open

        class Full:
            def __init__(self, f, room):
                self.f, self.room = f, room

            def write(self, data):
                if len(data) > self.room:
                    raise OSError(28, "ENOSPC")
                self.room -= len(data)
                return self.f.write(data)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.f.close()

        def fake_open(name, mode="r", *a, **kw):
            if str(name).endswith(".rsl"):
                if how == "enospc_create":
                    raise OSError(28, "ENOSPC")
                return Full(real_open(name, mode, *a, **kw), 600)  # the header and a bit
            return real_open(name, mode, *a, **kw)

        monkeypatch.setattr(logbook, "open", fake_open, raising=False)
    rig = Rig(tmp_path, b.samples, presses=[(200, 80)], log=log)
    rig.run(len(b.samples) * 1000 // b.odr_hz)
    app = rig.app
    assert app.state == appmod.SESSION and app.log_off == 1 and app.log_failures == 1
    assert app.crashes == 0
    eng, _ = run_engine(b.samples[app.session_first:app.samples], b.odr_hz,
                        b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert (app.engine.steps, app.engine.alerts) == (eng.steps, eng.alerts) and eng.alerts == 1
    assert motor_patterns(rig, haptics.LOG_OFF)  # felt
    assert motor_patterns(rig, haptics.DRIFT_RIGHT)  # and the alert still buzzes
    app.stop_session(rig.now)
    assert app.state == appmod.IDLE


def test_an_exception_in_the_loop_is_written_down_and_the_loop_goes_on(tmp_path, monkeypatch):
    b = board_samples("walk_fwd_normal")
    rig = Rig(tmp_path, b.samples, presses=[(100, 80)])
    eng = rig.app.engine
    real_feed = eng.feed
    calls = [0]

    def feed(buf, start, end):  # the 30th batch breaks the engine half-way
        calls[0] += 1
        if calls[0] == 30:
            real_feed(buf, start, (start + end) // 2)
            raise IndexError("an engine bug")
        return real_feed(buf, start, end)

    monkeypatch.setattr(eng, "feed", feed)
    rig.run(len(b.samples) * 1000 // b.odr_hz + 500)
    app = rig.app
    assert app.crashes == 1 and app.state == appmod.SESSION
    text = open(rig.crash_path).read()
    assert "crash 1 at" in text and "IndexError: an engine bug" in text and "feed" in text
    assert app.engine.n == app.samples - app.session_first  # the lost batch: a gap
    rig.app.stop_session(rig.now)
    log, events = logged_events(tmp_path)
    gaps = [r.fields for r in log.records if r.type == logbook.REC_GAP]
    assert len(gaps) == 1 and 0 < gaps[0]["lost_samples"] <= appmod.BATCH
    full, _ = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert full.steps - 4 <= app.engine.steps <= full.steps


def test_a_loop_that_keeps_failing_gives_up_for_the_watchdog(tmp_path, monkeypatch):
    b = board_samples("walk_fwd_normal")
    rig = Rig(tmp_path, b.samples[:104 * 30], presses=[(100, 80)])
    rig.run(3000)

    def broken(now_ms):
        raise ZeroDivisionError("for ever")

    monkeypatch.setattr(rig.app, "_timers", broken)
    for k in range(appmod.CRASH_LIMIT - 1):
        assert rig.app.run_step(rig.now + k) == appmod.CRASH_RETRY_MS
    with pytest.raises(ZeroDivisionError):
        rig.app.run_step(rig.now + 10)
    assert rig.app.crashes == appmod.CRASH_LIMIT
    # the crash file stays small: past CRASH_MAX it moves to .old (one kept)
    for k in range(40):
        appmod.write_crash(rig.crash_path, "x" * 500 + "\n")
    import os
    assert os.path.getsize(rig.crash_path) <= appmod.CRASH_MAX
    assert os.path.getsize(rig.crash_path + ".old") <= appmod.CRASH_MAX
    assert len(appmod.crash_report(ValueError("y" * 5000), "head")) <= appmod.CRASH_ENTRY_MAX


def test_crashes_far_apart_do_not_add_up(tmp_path, monkeypatch):
    b = board_samples("walk_fwd_normal")
    rig = Rig(tmp_path, b.samples[:104 * 30], presses=[(100, 80)])
    rig.run(1000)
    real = rig.app._timers
    state = {"fail": False}

    def timers(now_ms):
        if state["fail"]:
            state["fail"] = False
            raise ZeroDivisionError("once")
        return real(now_ms)

    monkeypatch.setattr(rig.app, "_timers", timers)
    for k in range(2 * appmod.CRASH_LIMIT):
        state["fail"] = True
        rig.run(rig.now + appmod.CRASH_WINDOW_MS // 2)
    assert rig.app.crashes == 2 * appmod.CRASH_LIMIT  # and none was raised
