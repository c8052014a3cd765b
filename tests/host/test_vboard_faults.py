"""The real firmware (firmware/main.py, rstep.app) on the virtual board when the edges
fail: an I2C bus that goes down or fails in bursts (VirtualBoard(i2c_faults=...), the
emulated bus of retrostep.sim.lsm6ds_emu), a full flash, a /logs that is a file, a
loop that raises, a /config.json nested too deep. The device must keep counting, and
count what replay counts of the samples it got."""

import json
from pathlib import Path

import numpy as np
import pytest

from retrostep.engine.run import run_engine
from retrostep.firmware import haptics, logbook
from retrostep.formats import logdecode
from retrostep.formats.trace import write_trace
from retrostep.sim import corpus
from retrostep.vm.vboard import VirtualBoard, deploy_sources

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def walk_csv(tmp_path_factory):
    """52 s of forward walking (the corpus' walk_fwd_normal) as a trace file."""
    trace, _ = corpus.make_case("walk_fwd_normal")
    path = tmp_path_factory.mktemp("trace") / "walk.csv"
    write_trace(path, trace)
    return path


@pytest.fixture(scope="module")
def curve_csv(tmp_path_factory):
    """A backward walk that drifts off its line (one drift alert)."""
    trace, _ = corpus.make_case("bwd_curve_left")
    path = tmp_path_factory.mktemp("trace") / "curve.csv"
    write_trace(path, trace)
    return path


def flash(tmp_path, config=None):
    fs = tmp_path / "fs"
    fs.mkdir()
    deploy_sources(fs)
    (fs / "config.json").write_text(config if config is not None else '{"board": "pico"}')
    return fs


def run(fs, trace, **kw):
    vb = VirtualBoard(fs, trace=trace, **kw)
    vb.start()
    try:
        rep = vb.report(timeout=180)
    finally:
        vb.stop()
    return vb, rep


def session_presses(vb_trace_s):
    return [(1.0, "short"), (vb_trace_s, "short")]


def trace_seconds(path):
    from retrostep.formats.trace import read_trace

    return read_trace(path).duration_s


def the_log(fs):
    logs = sorted((fs / "logs").glob("s*.rsl"))
    assert len(logs) == 1
    return logdecode.decode_file(str(logs[0]))


def pattern_starts(rep, pattern):
    """Board ms at which the motor played pattern: each of its steps' duty within 25 ms
    of its time (the loop wakes a little late; a weak pulse starts with a kick)."""
    steps = haptics.steps(pattern)
    tl = [(m["board_ms"], m["duty_u16"]) for m in rep["motor"]]
    out = []
    for i in range(len(tl)):
        if i and tl[i - 1][1] != 0:
            continue
        t = tl[i][0]
        for ms, pct in steps:
            duty = pct * 65535 // 100
            if not any(abs(tj - t) <= 25 and d == duty for tj, d in tl[i:]):
                break
            t += ms
        else:
            out.append(tl[i][0])
    return out


def test_steps_are_counted_through_a_2_s_i2c_outage_as_replay_minus_the_lost_samples(
        tmp_path, walk_csv):
    fs = flash(tmp_path)
    end = trace_seconds(walk_csv)
    vb, rep = run(fs, walk_csv, deploy=False, presses=session_presses(end),
                  i2c_faults={"outages": [[20.3, 22.3]]})
    assert rep["reason"] == "trace_end" and rep["resets"] == [] and rep["main"] is None
    st = rep["firmware_status"]
    assert st["crashes"] == 0 and st["imu_errors"] == 1 and st["imu_resets"] == 1
    assert rep["imu"]["i2c_errors"] > 4  # the read, its retries, set-ups tried again
    log = the_log(fs)
    assert not log.problems
    gaps = [r.fields for r in log.records if r.type == logbook.REC_GAP]
    assert len(gaps) == 1  # the log marks the outage as a gap ...
    t_gap, lost = gaps[0]["t"], gaps[0]["lost_samples"]
    b = vb.samples
    first = st["session_first"]
    assert abs((first + t_gap) / b.odr_hz - 20.3) < 0.6  # ... where it was
    # what the IMU really lost: the trace's samples the firmware never read
    read = st["samples"] - st["lost"]
    truth = len(b) - read
    assert abs(lost - truth) <= 1 and 2.0 * b.odr_hz <= truth <= 2.6 * b.odr_hz
    # replay of the trace without those samples, the gap where the log has it
    summary = [r.fields for r in log.records if r.type == logbook.REC_SUMMARY][0]
    after = summary["samples"] - t_gap - lost  # samples of the session after the gap
    a = first + t_gap + truth
    seen = np.concatenate([b.samples[first:first + t_gap], b.samples[a:a + after]])
    eng, want = run_engine(seen, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb,
                           gaps=[(t_gap, lost)])
    board = [r.event() for r in log.records if r.event() is not None]
    assert board == want  # event for event
    assert st["steps"] == eng.steps == summary["steps"]
    full, _ = run_engine(b.samples[first:], b.odr_hz, b.accel_ug_per_lsb,
                         b.gyro_udps_per_lsb)
    assert full.steps - 8 <= st["steps"] < full.steps  # the outage's strides are lost
    print("outage: steps %d (replay without the gap %d), lost %d logged %d"
          % (st["steps"], full.steps, truth, lost))


def test_an_i2c_bus_failing_in_bursts_of_1_to_50_transfers_never_stops_the_device(
        tmp_path, walk_csv):
    fs = flash(tmp_path)
    end = trace_seconds(walk_csv)
    vb, rep = run(fs, walk_csv, presses=session_presses(end),
                  i2c_faults={"bursts": {"min_len": 1, "max_len": 50, "min_gap": 5,
                                         "max_gap": 60, "seed": 11}})
    assert rep["reason"] == "trace_end" and rep["resets"] == [] and rep["main"] is None
    st = rep["firmware_status"]
    bus = rep["imu"]
    assert bus["i2c_bursts"] > 10 and bus["i2c_longest_burst"] >= 40
    assert st["crashes"] == 0 and st["imu_errors"] > 5
    assert st["imu_resets"] >= st["imu_errors"] - 1  # each failure ends with the IMU back
    assert st["sessions"] == 1 and st["state"] == "idle"  # both presses were heard
    log = the_log(fs)
    summary = [r.fields for r in log.records if r.type == logbook.REC_SUMMARY][0]
    assert summary["steps"] == st["steps"] > 0
    assert summary["lost_samples"] == sum(r.fields["lost_samples"] for r in log.records
                                          if r.type == logbook.REC_GAP) > 0
    print("bursts: %d bursts, longest %d, steps %d, IMU errors %d, samples lost %d of %d"
          % (bus["i2c_bursts"], bus["i2c_longest_burst"], st["steps"], st["imu_errors"],
             st["lost"], st["samples"]))


def fill_flash(fs, kb):
    """Fill the board's flash (littlefs-like blocks of 4 KB, as the virtual board
    counts them) with one file, leaving no block free."""
    cap = kb * 1024 // 4096
    used = 2  # the superblock
    for p in fs.rglob("*"):
        used += 1 if p.is_dir() else max(1, -(-p.stat().st_size // 4096))
    (fs / "filler.bin").write_bytes(b"\0" * ((cap - used - 1) * 4096))


@pytest.mark.parametrize("how", ["full_flash", "logs_blocked"])
def test_steps_and_alerts_go_on_when_the_log_cannot_be_written(tmp_path, curve_csv, how):
    fs = flash(tmp_path)
    if how == "full_flash":
        fill_flash(fs, 1408)
    else:
        (fs / "logs").write_text("a file where the log folder should be")
    end = trace_seconds(curve_csv)
    vb, rep = run(fs, curve_csv, presses=session_presses(end))
    assert rep["reason"] == "trace_end" and rep["resets"] == [] and rep["main"] is None
    st = rep["firmware_status"]
    assert st["log_off"] == 1 and st["log_failures"] == 1 and st["crashes"] == 0
    b = vb.samples
    eng, events = run_engine(b.samples[st["session_first"]:st["samples"]], b.odr_hz,
                             b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert (st["steps"], st["alerts"]) == (eng.steps, eng.alerts) and eng.alerts == 1
    assert pattern_starts(rep, haptics.LOG_OFF)  # the warning was felt ...
    assert pattern_starts(rep, haptics.DRIFT_RIGHT)  # ... and the drift alert too
    if how == "logs_blocked":
        assert (fs / "logs").is_file()
    print("%s: steps %d = replay %d, alerts %d" % (how, st["steps"], eng.steps, st["alerts"]))


BREAK_ONCE = """\
# test: the loop's 40th round raises once (boot.py runs before main.py)
import rstep.app as _a
_real = _a.App._timers
_n = [0]
def _timers(self, now_ms):
    _n[0] += 1
    if _n[0] == 40:
        raise ZeroDivisionError("a bug, once")
    return _real(self, now_ms)
_a.App._timers = _timers
"""

BREAK_ALWAYS = """\
# test: every round of the loop raises
import rstep.app as _a
def _timers(self, now_ms):
    raise ZeroDivisionError("a bug, for ever")
_a.App._timers = _timers
"""


def test_an_exception_in_the_loop_is_written_down_and_counting_goes_on(tmp_path, walk_csv):
    fs = flash(tmp_path)
    (fs / "boot.py").write_text(BREAK_ONCE)
    end = trace_seconds(walk_csv)
    vb, rep = run(fs, walk_csv, presses=session_presses(end))
    assert rep["reason"] == "trace_end" and rep["resets"] == [] and rep["main"] is None
    st = rep["firmware_status"]
    assert st["crashes"] == 1
    crash = (fs / "crash.txt").read_text()
    assert "crash 1 at" in crash and "ZeroDivisionError: a bug, once" in crash
    b = vb.samples
    eng, _ = run_engine(b.samples[st["session_first"]:st["samples"]], b.odr_hz,
                        b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert st["steps"] == eng.steps and st["lost"] == 0  # nothing was lost


def test_a_loop_that_keeps_failing_is_reset_by_the_watchdog(tmp_path):
    n = 104 * 30
    path = tmp_path / "still.csv"
    from retrostep.formats.trace import Trace

    write_trace(path, Trace(np.arange(n) / 104, np.tile([0.0, 0.0, 1.0], (n, 1)),
                            np.zeros((n, 3))))
    fs = flash(tmp_path)
    (fs / "boot.py").write_text(BREAK_ALWAYS)
    vb, rep = run(fs, path)
    kinds = [r.get("kind") for r in rep["resets"]]
    assert "watchdog" in kinds, rep["resets"]  # the dead loop was not kept alive
    crash = (fs / "crash.txt").read_text()
    assert "ZeroDivisionError: a bug, for ever" in crash
    assert (fs / "crash.txt").stat().st_size <= 4096 + 1024
    assert b"the loop keeps failing" in vb.console


def test_a_config_nested_too_deep_is_refused_and_the_defaults_count(tmp_path, walk_csv):
    fs = flash(tmp_path, config="[" * 20000 + "]" * 20000)
    end = trace_seconds(walk_csv)
    vb, rep = run(fs, walk_csv, presses=session_presses(end))
    assert rep["reason"] == "trace_end" and rep["resets"] == [] and rep["main"] is None
    assert b"/config.json" in vb.console and b"running with the defaults" in vb.console
    st = rep["firmware_status"]
    b = vb.samples
    eng, _ = run_engine(b.samples[st["session_first"]:st["samples"]], b.odr_hz,
                        b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert st["steps"] == eng.steps > 50
