"""The gait simulator: physics of the readings, time reversal, labels, files."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from retrostep.sim import gaitsim as gs
from retrostep.errors import RetrostepError

STEADY = gs.Subject(variability=0.0)


def still(seconds):
    return gs.Bout("still", duration_s=seconds)


def framed(*bouts, lead=1.0):
    return [still(lead), *bouts, still(lead)]


# ---------------------------------------------------------------------------- helpers


def _expm(w):
    """Rotation matrix of the rotation vector w (rad)."""
    th = np.linalg.norm(w)
    K = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    if th < 1e-12:
        return np.eye(3) + K
    return np.eye(3) + math.sin(th) / th * K + (1 - math.cos(th)) / th**2 * (K @ K)


def strapdown(t, accel_g, gyro_dps, R0, i0, i1):
    """Integrate attitude, then gravity-compensated acceleration twice (trapezoid)."""
    w = np.radians(gyro_dps)
    g_vec = np.array([0.0, 0.0, -gs.G])
    R, v, p = R0.copy(), np.zeros(3), np.zeros(3)
    a_prev = R @ accel_g[i0] * gs.G + g_vec
    for k in range(i0, i1):
        dt = t[k + 1] - t[k]
        R = R @ _expm(0.5 * (w[k] + w[k + 1]) * dt)
        a = R @ accel_g[k + 1] * gs.G + g_vec
        v_new = v + 0.5 * (a_prev + a) * dt
        p += 0.5 * (v + v_new) * dt
        v, a_prev = v_new, a
    return p, v


def stance_samples(trace, labels, margin_s=0.03):
    """Indices of samples inside the flat stances between strides of the first bout."""
    t = trace.t_s
    s = labels["strides"]
    mask = np.zeros(len(t), bool)
    for a, b in zip(s, s[1:]):
        mask |= (t > a["t_flat_s"] + margin_s) & (t < b["t_start_s"] - margin_s)
    return np.flatnonzero(mask)


# ---------------------------------------------------------------------------- stance


def test_standing_still_reads_one_g_and_gyro_bias_plus_noise():
    sensor = gs.SensorModel(gyro_bias_dps=(0.7, -0.4, 0.9), accel_bias_g=(0, 0, 0),
                            accel_scale_error=(0, 0, 0), gyro_scale_error=(0, 0, 0))
    rate = 104.0
    trace, lab = gs.simulate(gs.Scenario([still(20.0)], sensor=sensor, rate_hz=rate), seed=3)
    n = len(trace.t_s)
    acc_sigma = sensor.accel_noise_ug_rthz * 1e-6 * math.sqrt(rate / 2)
    gyr_sigma = (sensor.gyro_noise_mdps_rthz * 1e-3 * sensor.gyro_noise_factor
                 * math.sqrt(rate / 2))
    mean_a = trace.accel_g.mean(0)
    assert np.allclose(mean_a, [0, 0, 1], atol=5 * acc_sigma / math.sqrt(n))
    assert np.allclose(trace.accel_g.std(0), acc_sigma, rtol=0.1)
    assert abs(np.linalg.norm(trace.accel_g, axis=1).mean() - 1.0) < 1e-3
    # gyro: bias (with its slow random walk) + white noise of the stated density
    assert np.allclose(trace.gyro_dps.mean(0), sensor.gyro_bias_dps, atol=0.05)
    detrended = trace.gyro_dps - np.array(lab["sensor"]["gyro_bias_dps"])
    assert np.allclose(np.diff(detrended, axis=0).std(0) / math.sqrt(2), gyr_sigma, rtol=0.1)
    assert lab["steps"] == 0 and lab["strides"] == []


def test_stance_during_a_walk_is_one_g_and_bias_only():
    rate = 104.0
    sc = gs.Scenario(framed(gs.Bout("walk", "forward", strides=8)), rate_hz=rate)
    trace, lab = gs.simulate(sc, seed=11)
    idx = stance_samples(trace, lab)
    assert len(idx) > 100
    sen = lab["sensor"]
    f = trace.accel_g[idx]
    # flat mount: az ~ +1 g; |f| within bias + scale error + noise of 1 g
    tol = 0.009 + math.sqrt(3) * 0.004 + 5 * sen["accel_noise_g_rms"]
    assert np.all(np.abs(np.linalg.norm(f, axis=1) - 1.0) < tol)
    assert np.all(f[:, 2] > 0.97)
    g = trace.gyro_dps[idx] - np.array(sen["gyro_bias_dps"])
    assert np.all(np.abs(g) < 6 * sen["gyro_noise_dps_rms"] + 0.05)
    assert np.allclose(g.std(0), sen["gyro_noise_dps_rms"], rtol=0.25)


def test_ideal_stance_is_exact_and_treadmill_stance_is_still_too():
    sc = gs.Scenario(framed(gs.Bout("walk", "backward", strides=10, treadmill=True)),
                     rate_hz=200, ideal=True)
    trace, lab = gs.simulate(sc, seed=1)
    idx = stance_samples(trace, lab)
    # between the belt's speed ramps (2 s each end): zero acceleration, zero rate
    t_idx = trace.t_s[idx]
    bout = lab["bouts"][1]
    late = idx[(t_idx > bout["t_start_s"] + 2) & (t_idx < bout["t_end_s"] - 2)]
    assert len(late) > 50
    assert np.allclose(trace.accel_g[late], [0, 0, 1], atol=1e-9)
    assert np.allclose(trace.gyro_dps[late], 0, atol=1e-9)


# ---------------------------------------------------------------------------- ZUPT physics


@pytest.mark.parametrize("bout,mount", [
    (gs.Bout("walk", "forward", strides=3), gs.Mount()),
    (gs.Bout("walk", "backward", strides=3), gs.Mount()),
    (gs.Bout("jog", "backward", strides=3), gs.Mount()),
    (gs.Bout("walk", "forward", strides=2, curve_deg_per_m=20), gs.Mount((0.09, 0.02, 0.07),
                                                                     (10.0, -15.0, 25.0))),
    (gs.Bout("walk", "backward", strides=2, curve_deg_per_m=-20),
     gs.Mount(misalign_rpy_deg=(-5.0, 12.0, 180.0))),
    (gs.Bout("walk", "backward", strides=8, treadmill=True), gs.Mount()),
], ids=["walk-fwd", "walk-bwd", "jog-bwd", "curve-fwd-misaligned", "curve-bwd-reversed",
        "treadmill-bwd"])
def test_strapdown_from_stance_to_stance_recovers_the_stride_vector(bout, mount):
    rate = 208.0
    sc = gs.Scenario(framed(bout), mount=mount, rate_hz=rate, ideal=True)
    trace, lab = gs.simulate(sc, seed=5)
    motion = gs.build_motion(sc, seed=5)
    t = trace.t_s
    strides = lab["strides"]
    if bout.treadmill:  # only while the belt runs at a constant speed
        b = lab["bouts"][1]
        strides = [s for s in strides if s["t_start_s"] > b["t_start_s"] + 2.0
                   and s["t_flat_s"] < b["t_end_s"] - 2.0]
        assert strides
    for s in strides:
        i0 = int(np.searchsorted(t, s["t_start_s"])) - 2  # in the stance before
        i1 = int(np.searchsorted(t, s["t_flat_s"])) + 2  # in the stance after
        _, R0 = motion.pose(t[i0])
        # gravity alone fixes roll and pitch of the stance attitude
        f0 = trace.accel_g[i0]
        assert np.allclose(R0[0] @ f0, [0, 0, 1], atol=1e-9)
        p, v = strapdown(t, trace.accel_g, trace.gyro_dps, R0[0], i0, i1)
        vec = np.array(s["vector_m"])
        assert np.linalg.norm(v) < 0.05  # back at rest (relative to the surface)
        assert np.linalg.norm(p - vec) < 0.02 * s["length_m"], (p, vec)
        # the label is the real displacement of the device
        direction = np.dot(vec[:2], [math.cos(math.radians(s["heading_deg"])),
                                     math.sin(math.radians(s["heading_deg"]))])
        assert (direction > 0) == (s["direction"] == "forward")


# ---------------------------------------------------------------------------- symmetry


@pytest.mark.parametrize("misalign", [(0.0, 0.0, 0.0), (7.0, -11.0, 33.0)])
def test_backward_stride_is_the_time_reversal_of_the_forward_stride(misalign):
    """Derivation: the backward stride's channels are c_b(t) = c_f(T - t) + const, same
    for u, pitch, roll, yaw (the Hermite/min-jerk pieces map onto each other when lift
    and land parameters swap). Then p_b'' (t) = p_f''(T - t) and R_b(t) = R_f(T - t),
    so accel_b(t) = accel_f(T - t) and omega_b(t) = -omega_f(T - t), all axes."""
    fwd = gs.Bout("walk", "forward", strides=1, impact_g=0.0)
    bwd = gs.reverse_bout(fwd, STEADY)
    assert bwd.direction == "backward"
    mount = gs.Mount(misalign_rpy_deg=misalign)
    motions = [gs.build_motion(gs.Scenario(framed(b, lead=0.5), subject=STEADY, mount=mount),
                               seed=2) for b in (fwd, bwd)]
    T = motions[0].duration_s
    assert abs(motions[1].duration_s - T) < 1e-12
    t = np.linspace(0.0, T, 2001)
    af, gf = motions[0].imu(t)
    ab, gb = motions[1].imu(T - t)
    assert np.abs(gf).max() > 200  # a real stride, not a still trace
    assert np.allclose(af, ab, atol=1e-9)
    assert np.allclose(gf, -gb, atol=1e-7)
    # the stride vectors are opposite
    lf, lb = (m.labels["strides"][0]["vector_m"] for m in motions)
    assert np.allclose(lf, -np.array(lb), atol=1e-6)


def test_contact_impact_and_landing_pitch_break_the_symmetry():
    fwd = gs.Bout("walk", "forward", strides=1)  # default impacts on
    bwd = gs.reverse_bout(fwd, STEADY)
    motions = [gs.build_motion(gs.Scenario(framed(b, lead=0.5), subject=STEADY), seed=2)
               for b in (fwd, bwd)]
    T = motions[0].duration_s
    t = np.linspace(0.0, T, 8001)
    af, _ = motions[0].imu(t)
    ab, _ = motions[1].imu(T - t)
    assert np.abs(af - ab).max() > 0.5  # g: the impact only happens at a contact
    for m, sign in zip(motions, (1, -1)):
        s = m.labels["strides"][0]
        _, R = m.pose([s["t_land_s"], s["t_lift_s"]])
        toe_z = R[:, 2, 0]  # world z of the device x axis (toward the toe)
        # forward: toe up at contact, toe down at lift-off; backward: the reverse
        assert sign * toe_z[0] > 0.2 and sign * toe_z[1] < -0.2


def test_pitch_rate_signs_of_a_forward_and_a_backward_stride():
    """gyro_y > 0 while the toe goes down: forward heel rise is +, swing -, foot slap +;
    backward toe rise -, swing +, heel lowering -."""
    for direction, signs in (("forward", (1, -1, 1)), ("backward", (-1, 1, -1))):
        m = gs.build_motion(gs.Scenario(framed(gs.Bout("walk", direction, strides=1)),
                                        subject=STEADY), seed=0)
        s = m.labels["strides"][0]
        mids = [0.5 * (s["t_start_s"] + s["t_lift_s"]), 0.5 * (s["t_lift_s"] + s["t_land_s"]),
                0.5 * (s["t_land_s"] + s["t_flat_s"])]
        _, gyro = m.imu(np.array(mids))
        assert list(np.sign(gyro[:, 1])) == list(signs), direction
        assert np.all(np.abs(gyro[:, 1]) > 50)


@pytest.mark.parametrize("kind", ["walk", "jog", "shuffle", "turn"])
def test_the_sole_never_goes_through_the_floor(kind):
    for name, subject in gs.SUBJECTS.items():
        for direction in gs.DIRECTIONS:
            m = gs.build_motion(gs.Scenario([gs.Bout(kind, direction, strides=3)],
                                            subject=subject), seed=4)
            t = np.arange(0.0, m.duration_s, 0.002)
            p, Rd = m.pose(t)
            R = Rd @ m.M.T  # foot attitude
            heel = p - R @ m.lever
            ball = heel + R[:, :, 0] * m.L
            assert min(heel[:, 2].min(), ball[:, 2].min()) > -1e-9, (name, direction)


def test_seated_kinds_move_but_take_no_steps():
    for kind in ("tap", "leg_swing"):
        trace, lab = gs.simulate(gs.Scenario([gs.Bout(kind, duration_s=12.0)]), seed=1)
        assert lab["steps"] == 0 and not lab["strides"]
        assert np.abs(trace.gyro_dps[:, 1]).max() > 80, kind
    m = gs.build_motion(gs.Scenario([gs.Bout("leg_swing", duration_s=12.0)]), seed=1)
    p, _ = m.pose(np.arange(0.0, 12.0, 0.01))
    assert p[:, 2].max() > 0.2  # the foot is off the floor


# ---------------------------------------------------------------------------- labels


def test_labels_count_strides_and_steps_per_direction():
    bouts = framed(
        gs.Bout("walk", "forward", strides=5),  # other foot closes: 10 steps
        still(2.0),
        gs.Bout("walk", "backward", strides=5, other_steps=4),  # 9 steps
        still(2.0),
        gs.Bout("shuffle", "backward", strides=3, other_steps=4),  # other leads: 7 steps
        gs.Bout("turn", strides=4, turn_deg=180),  # 8 steps in place
    )
    trace, lab = gs.simulate(gs.Scenario(bouts, rate_hz=100), seed=9)
    dirs = [s["direction"] for s in lab["strides"]]
    assert dirs == ["forward"] * 5 + ["backward"] * 8 + ["in_place"] * 4
    assert lab["forward_steps"] == 10
    assert lab["backward_steps"] == 9 + 7
    assert lab["in_place_steps"] == 8
    assert lab["steps"] == 10 + 16 + 8 == len(lab["step_events"])
    assert [b["steps"] for b in lab["bouts"] if "steps" in b] == [10, 9, 7, 8]
    # event times are in order and inside the trace
    times = [s["t_land_s"] for s in lab["strides"]]
    assert times == sorted(times)
    for s in lab["strides"]:
        assert s["t_start_s"] < s["t_lift_s"] < s["t_land_s"] < s["t_flat_s"] < trace.t_s[-1]
    # the other foot lands between two of ours
    other = [e["t_land_s"] for e in lab["step_events"] if e["foot"] == "other"]
    assert all(times[0] < t < times[1] for t in other[:1])
    # half a turn in place
    turn = lab["strides"][-4:]
    assert abs(turn[-1]["heading_deg"] - turn[0]["heading_deg"] - 135) < 10
    assert all(s["length_m"] < 0.15 for s in turn)
    json.dumps(lab)  # JSON-able


def test_backward_stride_lengths_and_directions():
    _, lab = gs.simulate(framed(gs.Bout("walk", "backward", strides=10)), seed=2)
    lengths = [s["length_m"] for s in lab["strides"]]
    assert all(0.4 <= x <= 0.8 for x in lengths)
    assert all(s["vector_m"][0] < 0 for s in lab["strides"])  # heading +x, walking -x


def test_curving_backward_walk_leaves_the_line_and_straight_does_not():
    straight = gs.Bout("walk", "backward", strides=30)
    curve = gs.Bout("walk", "backward", strides=30, curve_deg_per_m=6.0, curve_from_stride=6)
    _, lab_s = gs.simulate(framed(straight), seed=4)
    _, lab_c = gs.simulate(framed(curve), seed=4)
    assert lab_s["drift"]["leaves_line_t_s"] is None
    assert max(abs(o) for _, o in lab_s["drift"]["lateral_offset_m"]) < 0.3
    leaves = lab_c["drift"]["leaves_line_t_s"]
    assert leaves is not None
    offsets = lab_c["drift"]["lateral_offset_m"]
    assert len(offsets) == 31  # the start plus one per stride
    first_over = next(t for t, o in offsets if abs(o) > 0.5)
    assert first_over == leaves
    # the heading curves left (+): walking heel first, the walker drifts to their right,
    # and + is the walker's left
    assert offsets[-1][1] < -1.0
    assert lab_c["strides"][6]["t_land_s"] < leaves
    # forward bouts are not watched for drift
    _, lab_f = gs.simulate(framed(gs.Bout("walk", "forward", strides=10,
                                          curve_deg_per_m=10)), seed=4)
    assert lab_f["drift"]["lateral_offset_m"] == [] and lab_f["drift"]["leaves_line_t_s"] is None


def test_treadmill_path_stays_near_the_origin_while_strides_are_full_length():
    sc = gs.Scenario(framed(gs.Bout("walk", "forward", strides=20, treadmill=True)))
    _, lab = gs.simulate(sc, seed=6)
    pos = np.array([s["position_m"] for s in lab["strides"]])
    assert np.abs(pos[:, :2]).max() < 0.6  # the walker stays on the belt
    steady = lab["strides"][3:-3]  # the belt speeds up and slows down over 2 s
    assert all(1.1 < s["length_m"] < 1.6 for s in steady)  # relative to the belt
    # in the room, the foot only gains during the stride what the belt takes back
    # during the following stance
    assert all(np.linalg.norm(s["room_vector_m"]) < 0.5 * s["length_m"] for s in steady)
    assert lab["bouts"][1]["treadmill"] and lab["bouts"][1]["belt_speed_mps"] > 1.0


# ---------------------------------------------------------------------------- sensor model


def test_same_seed_same_trace_other_seed_other_noise():
    sc = gs.Scenario(framed(gs.Bout("walk", "backward", strides=3)), rate_hz=104)
    a, la = gs.simulate(sc, seed=21)
    b, lb = gs.simulate(sc, seed=21)
    c, _ = gs.simulate(sc, seed=22)
    assert np.array_equal(a.accel_g, b.accel_g) and np.array_equal(a.t_s, b.t_s)
    assert json.dumps(la) == json.dumps(lb)
    assert not np.array_equal(a.gyro_dps, c.gyro_dps)


def test_saturation_quantisation_and_jitter():
    sensor = gs.SensorModel(quantise=True)
    sc = gs.Scenario(framed(gs.Bout("jog", "backward", strides=3, impact_g=40.0)),
                     sensor=sensor, rate_hz=416)
    trace, _ = gs.simulate(sc, seed=1)
    assert np.abs(trace.accel_g).max() <= 16.0 + 1e-12
    assert np.isclose(np.abs(trace.accel_g).max(), 16.0, atol=0.02)  # clipped
    lsb = 488e-6
    assert np.allclose(trace.accel_g / lsb, np.round(trace.accel_g / lsb), atol=1e-6)
    dt = np.diff(trace.t_s)
    assert np.all(dt > 0) and np.all(np.abs(dt * 416 - 1) < 0.021)
    assert dt.std() > 0  # jittered
    ideal, _ = gs.simulate(sc, seed=1, ideal=True)
    assert np.allclose(np.diff(ideal.t_s), 1 / 416)


def test_bad_scenarios_are_user_errors():
    with pytest.raises(RetrostepError, match="kind"):
        gs.simulate([gs.Bout("moonwalk")])
    with pytest.raises(RetrostepError, match="other foot"):
        gs.simulate([gs.Bout("walk", strides=4, other_steps=6)])
    with pytest.raises(RetrostepError, match="50 Hz"):
        gs.simulate(gs.Scenario([still(1.0)], rate_hz=20))
    with pytest.raises(RetrostepError, match="stance fraction"):
        gs.simulate([gs.Bout("walk", stance_frac=0.2)])


# ---------------------------------------------------------------------------- command


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "retrostep.cli", *args],
                          capture_output=True, text=True)


def test_cli_writes_trace_and_labels(tmp_path):
    from retrostep.formats.trace import read_trace

    out = tmp_path / "bw.csv"
    p = run_cli("simulate", "-o", str(out), "--kind", "walk", "--direction", "backward",
                "--strides", "6", "--rate", "100", "--seed", "3", "--curve-deg-per-m", "5",
                "--misalign", "5,-10,15", "--lead-in", "2")
    assert p.returncode == 0, p.stderr
    trace = read_trace(out)
    lab = json.loads((tmp_path / "bw.labels.json").read_text())
    assert abs(trace.rate_hz - 100) < 0.01
    assert lab["backward_steps"] == 12 and len(lab["strides"]) == 6
    assert lab["mount"]["misalign_rpy_deg"] == [5.0, -10.0, 15.0]
    assert trace.meta["source"] == "retrostep gaitsim"
    p = run_cli("simulate")
    assert p.returncode == 2 and "nothing to do" in p.stderr and "Traceback" not in p.stderr
    p = run_cli("simulate", "-o", str(out), "--misalign", "1,2")
    assert p.returncode == 2 and "--misalign" in p.stderr


def test_plot_of_a_forward_and_a_backward_stride(tmp_path):
    path = gs.plot_stride_pair(tmp_path / "pair.png", rate_hz=104)
    data = (tmp_path / "pair.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    assert path == tmp_path / "pair.png"
