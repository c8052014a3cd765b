"""The simulator's real-world additions: placements, heel impacts, ground vibration,
side-steps, mid-walk starts, cross-axis coupling and a board clock that runs fast."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from test_gaitsim import framed, stance_samples, still, strapdown

from retrostep.sim import gaitsim as gs

# a part with no random errors at all, so what a test sets is all there is
CLEAN = dict(accel_noise_ug_rthz=0.0, gyro_noise_mdps_rthz=0.0, gyro_bias_dps=(0, 0, 0),
             gyro_bias_walk_dps_rts=0.0, accel_bias_g=(0, 0, 0),
             accel_scale_error=(0, 0, 0), gyro_scale_error=(0, 0, 0), jitter_frac=0.0)


def _assert_strides_integrate(trace, lab, motion, rel_tol):
    """Strapdown from each stride's start (true attitude) to its flat stance recovers the
    labelled stride vector within rel_tol of its length."""
    for s in lab["strides"]:
        i0 = int(np.searchsorted(trace.t_s, s["t_start_s"])) - 2
        i1 = int(np.searchsorted(trace.t_s, s["t_flat_s"])) + 2
        _, R0 = motion.pose(trace.t_s[i0])
        p, _ = strapdown(trace.t_s, trace.accel_g, trace.gyro_dps, R0[0], i0, i1)
        assert np.linalg.norm(p - s["vector_m"]) < rel_tol * s["length_m"]


def clean_sensor(**kw):
    return gs.SensorModel(**dict(CLEAN, **kw))


def landing_peaks_g(trace, labels, before_s=0.02, after_s=0.05):
    norm = np.linalg.norm(trace.accel_g, axis=1)
    t = trace.t_s
    return np.array([norm[(t > s["t_land_s"] - before_s) & (t < s["t_land_s"] + after_s)].max()
                     for s in labels["strides"]])


# ---------------------------------------------------------------------------- placements


def test_heel_mount_reads_big_heel_strikes_where_the_laces_read_a_few_g():
    adult = gs.SUBJECTS["adult"]
    walk = framed(gs.Bout("walk", "forward", strides=6))
    heel = gs.mount_preset("heel", adult.foot, adult.foot_length_m)
    peaks = {}
    for name, mount in (("laces", gs.Mount()), ("heel", heel)):
        trace, lab = gs.simulate(gs.Scenario(walk, subject=adult, mount=mount, rate_hz=416),
                                 seed=1)
        peaks[name] = landing_peaks_g(trace, lab)
    assert np.all(peaks["heel"] > 10.0), peaks["heel"]
    assert np.all(peaks["heel"] <= 16.0 * math.sqrt(3))
    assert np.all((peaks["laces"] > 1.5) & (peaks["laces"] < 4.0)), peaks["laces"]
    # a strong walker's heel strike clips at the 16 g full scale
    athlete = gs.SUBJECTS["athlete"]
    trace, _ = gs.simulate(gs.Scenario(walk, subject=athlete, rate_hz=416,
                                       mount=gs.mount_preset("heel", athlete.foot)), seed=1)
    assert np.isclose(np.abs(trace.accel_g).max(), 16.0)


@pytest.mark.parametrize("placement,foot,up", [
    ("laces", "right", (0, 0, 1)), ("heel", "right", (1, 0, 0)), ("heel", "left", (1, 0, 0)),
    ("side", "right", (0, 1, 0)), ("side", "left", (0, -1, 0))])
def test_placements_see_gravity_on_their_documented_axis(placement, foot, up):
    """Flat and still, the specific force (+1 g) points up: device z on the laces, x
    on the heel counter, y on the side (x toward the toe and z outward make y point
    down on the left shoe)."""
    subject = gs.Subject(foot=foot)
    mount = gs.mount_preset(placement, foot)
    trace, _ = gs.simulate(gs.Scenario([still(2.0)], subject=subject, mount=mount,
                                       ideal=True), seed=0)
    up = np.array(up, float)
    assert np.allclose(trace.accel_g, up, atol=1e-9)
    # a crooked clip turns gravity away from that axis by its misalignment angle
    crooked = gs.mount_preset(placement, foot, misalign_rpy_deg=(6.0, -5.0, 4.0))
    trace, _ = gs.simulate(gs.Scenario([still(1.0)], subject=subject, mount=crooked,
                                       ideal=True), seed=0)
    tilt = math.degrees(math.acos(trace.accel_g[0] @ up))
    assert 3.0 < tilt < gs.MISALIGN_MAX_DEG


def test_side_mount_faces_outward_on_either_shoe():
    for foot, outward in (("right", -1.0), ("left", 1.0)):
        m = gs.mount_preset("side", foot)
        assert m.lever_arm_m[1] * outward > 0
        z_device_in_foot = m.rotation()[:, 2]
        assert np.allclose(z_device_in_foot, [0, outward, 0], atol=1e-12)
    heel = gs.mount_preset("heel").rotation()
    assert np.allclose(heel[:, 2], [-1, 0, 0], atol=1e-12)  # face points backward


@pytest.mark.parametrize("placement", ["heel", "side"])
def test_strapdown_recovers_strides_on_every_placement(placement):
    mount = gs.mount_preset(placement, misalign_rpy_deg=(4.0, -7.0, 9.0))
    mount.impact_gain = (1.0, 1.0)  # keep the ideal readings below the clip level
    sc = gs.Scenario(framed(gs.Bout("walk", "backward", strides=3)), mount=mount,
                     rate_hz=208, ideal=True)
    trace, lab = gs.simulate(sc, seed=5)
    motion = gs.build_motion(sc, seed=5)
    _assert_strides_integrate(trace, lab, motion, 0.02)


# ---------------------------------------------------------------------------- vibration


def _vibrating(g_rms, dps_rms, **kw):
    bouts = [gs.Bout("still", duration_s=4.0), gs.Bout("walk", "forward", strides=6),
             gs.Bout("still", duration_s=4.0)]
    for b in bouts:
        b.vibration_g_rms, b.vibration_dps_rms = g_rms, dps_rms
    return gs.Scenario(bouts, rate_hz=400, ideal=True, **kw)


def test_vibration_at_stance_has_the_asked_rms_and_zero_mean():
    shaken, lab = gs.simulate(_vibrating(0.2, 35.0), seed=3)
    calm, _ = gs.simulate(_vibrating(0.0, 0.0), seed=3)
    da = shaken.accel_g - calm.accel_g
    dg = shaken.gyro_dps - calm.gyro_dps
    t = shaken.t_s
    plateau = (t > 0.1) & (t < 3.9)  # inside the first standing bout, off its tapers
    assert abs(np.sqrt((da[plateau] ** 2).sum(1).mean()) - 0.2) < 0.02
    assert abs(np.sqrt((dg[plateau] ** 2).sum(1).mean()) - 35.0) < 3.5
    # zero-mean: each contact's vibration integrates to zero velocity and angle
    stance = (t > lab["bouts"][0]["t_start_s"]) & (t < lab["strides"][0]["t_lift_s"])
    dt = 1 / 400
    assert np.abs(da[stance].sum(0) * dt * gs.G).max() < 0.005  # m/s after 4 s of shaking
    assert np.abs(dg[stance].sum(0) * dt).max() < 0.05  # deg
    # the foot in the air is not shaken
    for s in lab["strides"]:
        swing = (t > s["t_lift_s"] + 0.005) & (t < s["t_land_s"] - 0.005)
        assert np.abs(da[swing]).max() < 1e-12 and np.abs(dg[swing]).max() < 1e-9
    # it sits in the 15-60 Hz band
    x = da[plateau, 2]
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freq = np.fft.rfftfreq(len(x), dt)
    assert power[(freq > 13) & (freq < 62)].sum() > 0.99 * power.sum()


def test_zupt_still_holds_on_a_vibrating_ground():
    sc = _vibrating(0.2, 35.0)
    trace, lab = gs.simulate(sc, seed=4)
    motion = gs.build_motion(sc, seed=4)
    idx = stance_samples(trace, lab)
    assert np.abs(trace.accel_g[idx] - [0, 0, 1]).max() > 0.2  # the stances really shake
    _assert_strides_integrate(trace, lab, motion, 0.03)


# ---------------------------------------------------------------------------- side-steps


@pytest.mark.parametrize("side", ["left", "right"])
def test_sidestep_travels_along_the_foots_y_axis(side):
    bout = gs.Bout("sidestep", side, strides=5)
    trace, lab = gs.simulate(framed(bout), seed=2)
    sign = 1.0 if side == "left" else -1.0
    for s in lab["strides"]:
        yaw = math.radians(s["heading_deg"])
        v = np.array(s["vector_m"][:2])
        along_x = v @ [math.cos(yaw), math.sin(yaw)]
        along_y = v @ [-math.sin(yaw), math.cos(yaw)]
        assert sign * along_y > 0.3 and abs(along_x) < 0.05, (along_x, along_y)
        assert s["direction"] == "sideways"
    assert lab["sideways_steps"] == lab["steps"] == 10
    assert lab["forward_steps"] == lab["backward_steps"] == 0
    assert lab["bouts"][1]["side"] == side and lab["bouts"][1]["direction"] == "sideways"
    assert np.abs(trace.gyro_dps).max() > 30  # the foot really moves


def test_sidestep_directions_are_checked():
    with pytest.raises(gs.RetrostepError, match="'left' or 'right'"):
        gs.simulate([gs.Bout("sidestep", "forward", strides=2)])


# ---------------------------------------------------------------------------- mid-walk


def test_mid_walk_start_has_no_lead_in_and_labels_only_inside_the_trace():
    bouts = framed(gs.Bout("walk", "backward", strides=12), lead=3.0)
    for seed in (7, 8, 9):
        _, full = gs.simulate(gs.Scenario(bouts), seed=seed)
        trace, lab = gs.simulate(gs.Scenario(bouts, start_mid_walk=True), seed=seed)
        t0 = lab["trace_start_s"]
        walk = full["bouts"][1]
        first_two = full["strides"][:2]
        assert first_two[0]["t_start_s"] <= t0 <= first_two[1]["t_start_s"] + 1e-6
        assert lab["bouts"][0]["kind"] == "walk" and lab["bouts"][0]["t_start_s"] == 0.0
        assert abs(lab["duration_s"] - (full["duration_s"] - t0)) < 1e-5
        # the trace begins inside the walk: a landing within one cycle
        cycle = 120.0 / walk["cadence_spm"]
        assert lab["strides"][0]["t_land_s"] < cycle
        lands = [s["t_land_s"] for s in lab["strides"]]
        assert all(0 <= x <= trace.t_s[-1] for x in lands)
        assert all(0 <= e["t_land_s"] <= trace.t_s[-1] for e in lab["step_events"])
        # the same strides as the full walk, shifted, minus those before the start
        expected = [s["t_land_s"] - t0 for s in full["strides"] if s["t_land_s"] >= t0]
        assert np.allclose(lands, expected, atol=2e-6)
        assert lab["steps"] == len(lab["step_events"]) == lab["backward_steps"]
        assert lab["bouts"][0]["strides"] == len(lab["strides"])
        assert lab["steps"] <= full["steps"]


# ---------------------------------------------------------------------------- sensor errors


def test_cross_axis_coupling_matrix_is_applied():
    C = ((0.0, 0.004, -0.003), (0.002, 0.0, 0.005), (-0.005, 0.001, 0.0))
    walk = framed(gs.Bout("walk", "forward", strides=3))
    coupled, lab = gs.simulate(gs.Scenario(walk, sensor=clean_sensor(
        accel_cross_axis=C, gyro_cross_axis=C)), seed=1)
    plain, _ = gs.simulate(gs.Scenario(walk, sensor=clean_sensor()), seed=1)
    A = np.eye(3) + np.array(C)
    assert np.allclose(coupled.accel_g, plain.accel_g @ A.T, atol=1e-12)
    assert np.allclose(coupled.gyro_dps, plain.gyro_dps @ A.T, atol=1e-9)
    assert np.allclose(coupled.accel_g[0], [-0.003, 0.005, 1.0], atol=1e-9)  # gravity leaks
    assert lab["sensor"]["accel_cross_axis"] == [list(r) for r in C]


def test_real_part_draws_every_error_within_its_range():
    for seed in range(5):
        _, lab = gs.simulate(gs.Scenario([still(1.0)], sensor=gs.SensorModel.real()), seed)
        sen = lab["sensor"]
        for key in ("accel_cross_axis", "gyro_cross_axis"):
            C = np.array(sen[key])
            assert np.all(np.diag(C) == 0) and np.abs(C).max() <= gs.CROSS_AXIS_MAX
            assert np.abs(C).max() > 0
        assert 0 < abs(sen["clock_error"]) <= gs.CLOCK_ERROR_MAX
        assert np.abs(sen["gyro_bias_dps"]).max() <= 1.0
        assert np.abs(sen["gyro_scale_error"]).max() <= gs.SCALE_ERROR_MAX
    # a plain part keeps the old model: no coupling, an exact clock
    _, lab = gs.simulate(gs.Scenario([still(1.0)]), seed=0)
    assert lab["sensor"]["clock_error"] == 0 and not np.any(lab["sensor"]["gyro_cross_axis"])


def test_a_fast_clock_stretches_the_trace_and_its_labels():
    e = 0.007
    walk = framed(gs.Bout("walk", "forward", strides=6))
    exact, lab0 = gs.simulate(gs.Scenario(walk, sensor=clean_sensor()), seed=5)
    fast, lab1 = gs.simulate(gs.Scenario(walk, sensor=clean_sensor(clock_error=e)), seed=5)
    # same stamps k / rate, but more samples for the same motion
    assert np.allclose(np.diff(fast.t_s), 1 / 104.0)
    assert abs(len(fast.t_s) / len(exact.t_s) - (1 + e)) < 2e-3
    # labels on the trace's time base: every time (1 + e) longer
    t0 = np.array([s["t_land_s"] for s in lab0["strides"]])
    t1 = np.array([s["t_land_s"] for s in lab1["strides"]])
    assert np.allclose(t1, t0 * (1 + e), atol=2e-6)
    assert abs(lab1["duration_s"] - lab0["duration_s"] * (1 + e)) < 1e-5
    # what the engine integrates over its own time base comes out (1 + e) too large
    turn = [np.abs(tr.gyro_dps[:, 1]).sum() / 104.0 for tr in (exact, fast)]
    assert abs(turn[1] / turn[0] - (1 + e)) < 1e-3
    # and the sample at stamp t (1 + e) is the motion at true time t
    i = np.argmax(np.abs(exact.gyro_dps[:, 1]))
    j = np.argmin(np.abs(fast.t_s - exact.t_s[i] * (1 + e)))
    assert abs(fast.gyro_dps[j, 1] - exact.gyro_dps[i, 1]) < 0.05 * abs(exact.gyro_dps[i, 1])


# ---------------------------------------------------------------------------- ranges


def test_backward_jog_at_three_strides_a_second_and_a_tenth_of_a_metre_shuffle():
    jog = gs.Bout("jog", "backward", strides=12, cadence_spm=360.0)
    trace, lab = gs.simulate(framed(jog), seed=3)
    lands = np.array([s["t_land_s"] for s in lab["strides"]])
    assert abs(np.median(np.diff(lands)) - 1 / 3) < 0.02
    for a, b in zip(lab["strides"], lab["strides"][1:]):
        assert a["t_flat_s"] < b["t_start_s"]  # a (short) flat stance is still there
    assert lab["backward_steps"] == 24
    shuffle = gs.Bout("shuffle", "forward", strides=10, stride_m=0.1)
    _, lab = gs.simulate(framed(shuffle), seed=3)
    assert all(0.07 < s["length_m"] < 0.13 for s in lab["strides"])


def test_cli_simulates_a_side_step_on_a_side_mount_mid_walk(tmp_path):
    out = tmp_path / "ss.csv"
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "simulate", "-o", str(out),
                        "--kind", "sidestep", "--direction", "left", "--strides", "8",
                        "--mount", "side", "--mid-walk", "--vibration", "0.1,20",
                        "--real-sensor", "--seed", "4"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lab = json.loads((tmp_path / "ss.labels.json").read_text())
    assert lab["sideways_steps"] == lab["steps"] > 0
    assert lab["mount"]["placement"] == "side" and lab["bouts"][0]["t_start_s"] == 0
    assert lab["sensor"]["clock_error"] != 0
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "simulate", "-o", str(out),
                        "--vibration", "0.1"], capture_output=True, text=True)
    assert p.returncode == 2 and "--vibration" in p.stderr


def test_drift_is_measured_from_the_walking_line():
    """The true offset is from the line the walker set off along (not a line fitted to
    a few noisy strides), so a straight walk stays well inside 0.1 m."""
    for seed in range(4):
        _, lab = gs.simulate(framed(gs.Bout("walk", "backward", strides=40)), seed=seed)
        offsets = [o for _, o in lab["drift"]["lateral_offset_m"]]
        assert offsets[0] == 0.0 and max(map(abs, offsets)) < 0.1, seed
    bout = gs.Bout("walk", "backward", strides=20, heading_deg=90.0)  # sets off to +y
    _, lab = gs.simulate(framed(bout), seed=0)
    assert max(abs(o) for _, o in lab["drift"]["lateral_offset_m"]) < 0.1
