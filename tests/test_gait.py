"""The gait engine on CPython: accuracy on the corpus, invariances, integer ranges."""

import json
import os
import subprocess
import sys
from array import array

import numpy as np
import pytest
from conftest import adversarial_samples
from smallint import load_checked

from retrostep import corpus
from retrostep.evaluate import evaluate_directory
from retrostep.firmware import gait
from retrostep.replay import replay_trace, run_engine
from retrostep.trace import quantise

NON_WALKING = ("still_standing", "seated_tapping", "seated_leg_swing", "turning_in_place")


@pytest.fixture(scope="module")
def scores(corpus_dir):
    return evaluate_directory(str(corpus_dir))


def test_step_count_error_meets_targets(scores):
    per, summary = scores
    assert summary["step_error_pct_median"] <= 1.0
    walking = {n: s for n, s in per.items() if s["true_steps"] and n != "balance_10f_9b"}
    worst = max(abs(s["step_error_pct"]) for s in walking.values())
    assert worst <= 3.0, {n: s["step_error_pct"] for n, s in walking.items()}
    # one shoe cannot see whether the other foot closes the 9 backward steps: +-1 step
    assert abs(per["balance_10f_9b"]["step_error"]) <= 1


def test_stride_recall_precision_and_direction(scores):
    per, summary = scores
    assert summary["recall"] >= 0.99 and summary["precision"] >= 0.99
    assert summary["forward_accuracy"] >= 0.99
    assert summary["backward_accuracy"] >= 0.99
    for name in ("shuffle_bwd", "jog_bwd", "treadmill_bwd", "mount_reversed"):
        assert per[name]["backward_accuracy"] == 1.0, name


def test_no_steps_when_not_walking(scores):
    per, _ = scores
    for name in NON_WALKING:
        assert per[name]["steps"] == 0 and per[name]["strides"] == 0, name


def test_drift_alerts_caught_before_one_metre_and_none_on_straight_walks(scores):
    per, summary = scores
    curves = [n for n, s in per.items() if s["drift_expected"]]
    assert sorted(curves) == ["bwd_curve_left", "bwd_curve_right_slow"]
    for name in curves:
        assert per[name]["drift_caught"] and per[name]["offset_at_alert_m"] < 1.0, name
    for name in ("bwd_straight_long", "walk_bwd_normal", "walk_bwd_slow", "jog_bwd",
                 "shuffle_bwd", "treadmill_bwd"):
        assert per[name]["alerts"] == 0, name
    assert summary["false_alerts"] == 0


def _board(name):
    trace, _ = corpus.make_case(name)
    return trace, quantise(trace)


def test_results_do_not_depend_on_how_samples_are_batched():
    _, b = _board("mixed_pauses")
    _, whole = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    eng = gait.Gait(b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    flat = array("h", b.samples.astype("<i2").tobytes())
    ev, events, k = array("i", [0] * gait.EV_FIELDS), [], 0
    rng = np.random.default_rng(1)
    while k < len(b.samples):
        k = eng.feed(flat, k, min(len(b.samples), k + int(rng.integers(1, 40))))
        while eng.pop(ev):
            events.append(tuple(ev))
    assert events == whole and len(whole) > 40


def test_every_intermediate_stays_a_small_int_on_adversarial_input():
    checked = load_checked(gait.__file__, "gait_checked",
                           skip_functions=("__init__", "_sine_table", "_atan_table"))
    for odr in (104, 208, 416):
        eng = checked.Gait(odr, 488, 70000)
        flat = array("h", adversarial_samples(odr).astype("<i2").tobytes())
        ev, k, n = array("i", [0] * gait.EV_FIELDS), 0, len(flat) // 6
        while k < n:
            k = eng.feed(flat, k, n)  # raises SmallIntOverflow naming the line
            while eng.pop(ev):
                pass
        assert eng.n == n


def test_checker_catches_a_big_intermediate():
    """The checker itself must be able to fail."""
    import smallint

    with pytest.raises(smallint.SmallIntOverflow):
        smallint._chk((1 << 30), 1)


def test_standing_still_gives_no_events_and_learns_the_gyro_bias():
    eng = gait.Gait(104, 488, 70000)
    flat = array("h", [3, -2, 2049, 14, -7, 3] * 1040)  # bias ~ +1, -0.5, +0.2 deg/s
    assert eng.feed(flat, 0, 1040) == 1040
    assert eng.pending == 0 and eng.steps == 0
    assert (eng._bx, eng._by, eng._bz) == (14 * 16, -7 * 16, 3 * 16)


def test_unknown_or_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown gait setting"):
        gait.Gait(104, 488, 70000, alert_offset=3)
    with pytest.raises(ValueError, match="odr_hz"):
        gait.Gait(52, 488, 70000)


def test_reversed_mount_needs_the_calibration_walk():
    trace, _ = corpus.make_case("mount_reversed")
    calibrated = replay_trace(trace)
    assert calibrated["forward_steps"] == 24 and calibrated["backward_steps"] == 24
    assert any(e["type"] == "calibrated" and abs(e["mount_yaw_deg"] - 180) < 10
               for e in calibrated["events"])
    trace.meta.pop("calibrate_forward_strides")
    raw = replay_trace(trace)
    assert raw["forward_steps"] == 24 and raw["backward_steps"] == 24 or \
        raw["forward_steps"] == calibrated["backward_steps"]


def test_replay_json_has_the_interface_fields(corpus_dir):
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "replay",
                        str(corpus_dir / "balance_10f_9b.csv"), "--json"],
                       capture_output=True, text=True, check=True)
    out = json.loads(p.stdout)
    for key in ("steps", "strides", "forward_steps", "backward_steps", "events"):
        assert key in out
    strides = [e for e in out["events"] if e["type"] == "stride"]
    assert len(strides) == out["strides"] == 10
    assert [e["direction"] for e in strides] == ["forward"] * 5 + ["backward"] * 5
    assert all(set(e) >= {"t_s", "type", "direction"} for e in strides)
    assert out["steps"] == out["forward_steps"] + out["backward_steps"]


def test_replay_of_a_bad_trace_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,ax_g\n0,1\n")
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "replay", str(bad)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert os.path.basename(str(bad)) in p.stderr


def test_replay_of_a_session_log_reruns_its_raw_samples(tmp_path):
    """A board log recorded with raw samples replays to the events the board logged."""
    from retrostep.firmware import logbook
    from retrostep.replay import replay_file

    trace, _ = corpus.make_case("walk_bwd_slow")
    b = quantise(trace)
    eng = gait.Gait(b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    log = logbook.Logbook(str(tmp_path))
    n = log.open_session(raw=True)
    flat = array("h", b.samples.astype("<i2").tobytes())
    ev = array("i", [0] * gait.EV_FIELDS)
    for k in range(0, len(b.samples), 52):  # FIFO batches, as the board does
        end = min(len(b.samples), k + 52)
        done = k
        while done < end:
            done = eng.feed(flat, done, end)
            while eng.pop(ev):
                log.append_event(ev)
        log.append_raw(flat[6 * k: 6 * end], end - k)
    log.close_session(logbook.engine_summary(eng))
    result = replay_file(log.file_name(n))
    assert result["matches_board"] is True
    assert result["steps"] == eng.steps == 60
