"""bench/realdata.py: the public treadmill recordings, converted at run time into
labelled traces. Skipped where the recordings are absent (they are never in the repo).
"""

import json
import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench"))

import realdata  # noqa: E402

from retrostep.sim.gaitsim import labels_path  # noqa: E402
from retrostep.formats.trace import read_trace  # noqa: E402

if realdata.find_realdata() is None:
    pytest.skip("real recordings not found (../shared/realdata or RETROSTEP_REALDATA)",
                allow_module_level=True)

NAMES = [f"urigott_{rec}_{s}" for rec in ("fw", "bw") for s in ("rh", "lh", "rt", "lt")]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """{name: (Trace read back, labels, stances)} of one conversion."""
    out = tmp_path_factory.mktemp("realdata")
    paths = realdata.convert(str(out))
    assert sorted(os.path.basename(p) for p in paths) == sorted(n + ".csv" for n in NAMES)
    # only the traces and their labels, nothing else
    assert sorted(os.listdir(out)) == sorted(
        [n + ".csv" for n in NAMES] + [n + ".labels.json" for n in NAMES])
    cases = {}
    for p in paths:
        name = os.path.basename(p)[:-4]
        trace = read_trace(p)
        with open(labels_path(p), encoding="utf-8") as f:
            labels = json.load(f)
        stances, _ = realdata.segment(trace.t_s, trace.accel_g, trace.gyro_dps)
        cases[name] = (trace, labels, stances)
    return cases


def test_find_realdata_follows_the_environment(monkeypatch, tmp_path):
    found = realdata.find_realdata()
    monkeypatch.setenv("RETROSTEP_REALDATA", str(tmp_path))
    assert realdata.find_realdata() is None
    monkeypatch.setenv("RETROSTEP_REALDATA", found)
    assert realdata.find_realdata() == os.path.abspath(found)


def test_every_trace_reads_back_with_its_description(converted):
    for name, (trace, labels, _) in converted.items():
        rec, sensor = name.split("_")[1:]
        assert len(trace.t_s) > 10000, name
        assert 360 < trace.rate_hz < 380, name
        assert trace.duration_s > 29, name
        assert trace.meta["source"].startswith("urigott"), name
        assert trace.meta["sensor"].lower().startswith(sensor), name
        assert trace.meta["recording"].startswith(rec), name
        assert "rotation" in trace.meta, name
        # a short description only: no line carries more than a few numbers
        for value in trace.meta.values():
            assert len(value) < 120, (name, value)
        assert labels["name"] == name


def test_rotations_are_rotations_not_mirrors():
    info = realdata.analyse(realdata.find_realdata())
    for key, r in info.items():
        R = r["R"]
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-9), key
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-9), key
    # the one toe sensor that moved between the recordings, and only that one
    turned = {s for (rec, s), r in info.items() if rec == "bw" and r["gravity_turn_deg"] > 15}
    assert turned == {"rt"}


def test_stance_specific_force_is_up(converted):
    for name, (trace, _, stances) in converted.items():
        assert len(stances) >= 20, name
        mean = trace.accel_g[realdata.stance_mask(len(trace.t_s), stances)].mean(axis=0)
        assert np.linalg.norm(mean - [0.0, 0.0, 1.0]) < 0.1, (name, mean)


def test_swing_rotation_is_mostly_about_y(converted):
    for name, (trace, _, stances) in converted.items():
        swing = realdata.swing_mask(trace.t_s, trace.gyro_dps, stances)
        w = realdata.lowpass(trace.gyro_dps, 8.0, trace.rate_hz)[swing]
        share = (w ** 2).sum(axis=0) / (w ** 2).sum()
        assert share[1] > 0.6, (name, share)
        assert share[1] > 3 * max(share[0], share[2]), (name, share)


def test_heel_and_toe_of_one_foot_pitch_together(converted):
    """Each sensor's y sign is found on its own; the two sensors of one foot must then
    agree on the pitch rate (the moved toe sensor included)."""
    for rec in ("fw", "bw"):
        for foot in "rl":
            heel, toe = (converted[f"urigott_{rec}_{foot}{p}"][0] for p in "ht")
            n = min(len(heel.t_s), len(toe.t_s))
            gh = realdata.lowpass(heel.gyro_dps[:n, 1], 8.0, heel.rate_hz)
            gt = realdata.lowpass(toe.gyro_dps[:n, 1], 8.0, toe.rate_hz)
            assert np.corrcoef(gh, gt)[0, 1] > 0.8, (rec, foot)


def test_direction_cues_agree_with_the_recording(converted):
    """The sign came from the forward file's strapdown travel (+x) and, backward, from
    the forward file's axis. The strapdown-free cue: the toe-down peak of the swing comes
    early (push-off) walking forward and late (landing on the toe) walking backward.
    The strapdown on the written traces must point toe-ward forward, heel-ward backward."""
    for name, (trace, _, stances) in converted.items():
        forward = "_fw_" in name
        early = realdata.pitch_timing(trace.t_s, trace.gyro_dps, stances)
        assert (early < 0.45) if forward else (early > 0.52), (name, early)
        vec = realdata.strapdown_strides(trace.t_s, trace.accel_g, trace.gyro_dps,
                                         stances, np.eye(3))
        travel = np.median(vec[:, 0])
        assert (travel > 0.3) if forward else (travel < -0.2), (name, travel)
        # the stride goes mostly along x, not across the foot
        assert abs(travel) > 2 * abs(np.median(vec[:, 1])), (name, vec[:, :2])


def test_labels(converted):
    for name, (trace, labels, _) in converted.items():
        direction = "forward" if "_fw_" in name else "backward"
        strides = labels["strides"]
        n = len(strides)
        assert n >= 20, name
        t_land = np.array([s["t_land_s"] for s in strides])
        assert np.all(np.diff(t_land) >= 0.7) and np.all(np.diff(t_land) <= 1.6), name
        assert t_land[0] >= trace.t_s[0] and t_land[-1] <= trace.t_s[-1], name
        assert all(s["direction"] == direction for s in strides), name
        for s in strides:
            if "t_lift_s" in s:
                assert 0.2 < s["t_land_s"] - s["t_lift_s"] < 0.6, (name, s)
        assert labels["steps"] == 2 * n
        assert labels[f"{direction}_steps"] == 2 * n
        other = "backward" if direction == "forward" else "forward"
        assert labels[f"{other}_steps"] == 0
        assert labels["sideways_steps"] == 0 and labels["in_place_steps"] == 0
        assert labels["drift"] == {"lateral_offset_m": [], "leaves_line_t_s": None,
                                   "limit_m": 0.5}
        assert labels["kind"] == "walk" and labels["treadmill"] is True
    # the two sensors of one foot share its contacts
    for rec in ("fw", "bw"):
        for foot in "rl":
            a, b = (converted[f"urigott_{rec}_{foot}{p}"][1]["strides"] for p in "ht")
            assert a == b


def test_impact_follows_the_marker_contact(converted):
    """IMU and markers share a clock: the impact follows each contact by tens of ms."""
    for name, (trace, labels, _) in converted.items():
        t_land = [s["t_land_s"] for s in labels["strides"]]
        lags = realdata.impact_lags(trace.t_s, trace.accel_g, t_land)
        assert len(lags) >= 0.9 * len(t_land), name
        assert 0.0 <= np.median(lags) <= 0.100, (name, np.median(lags))


def test_the_engine_on_the_real_recordings(converted):
    """The board's engine on real heel and toe sensors walking from the first sample:
    strides found and classified, and no drift alert on these straight treadmill walks.
    Their gyros disagree with gravity by 5-20 deg at each landing (simulated parts: under
    3), so the heading is not trusted and the alert stays silent instead of false."""
    from retrostep.analysis.evaluate import score, summarise
    from retrostep.analysis.replay import replay_trace
    from retrostep.engine.run import run_engine
    from retrostep.firmware import gait
    from retrostep.formats.trace import quantise

    per = {}
    for name, (trace, labels, _) in converted.items():
        res = replay_trace(trace)
        per[name] = score(res, labels)
        assert res["drift_alerts"] == 0, name
        assert not [e for e in res["events"] if e["type"] == "back_on_line"], name
        assert res["heading_trusted"] is False and res["landing_tilt_deg"] > 4, name
        board = quantise(trace)
        eng, _ = run_engine(board.samples, board.odr_hz, board.accel_ug_per_lsb,
                            board.gyro_udps_per_lsb)
        assert eng.landing_tilt_q14() > gait._deg_to_q14_sine(4), name
        assert not eng.heading_trusted(), name
    s = summarise(per)
    assert s["recall"] >= 0.98 and s["precision"] >= 0.98, s
    assert s["forward_accuracy"] >= 0.98 and s["backward_accuracy"] >= 0.98, s
    assert s["timing_error_ms_median"] <= 60, s
