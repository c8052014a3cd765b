"""Real treadmill recordings -> labelled retrostep traces, converted at run time.

The recordings (../shared/realdata/urigott/, see its README) are not the project's data:
nothing read from them, and nothing derived from them, may enter the repository. This
script only converts them into a folder you name (or a temporary one) each time it runs.

    python bench/realdata.py --out DIR     convert, print one line per trace
    python bench/realdata.py --score       convert into a temporary folder and score the
                                           engine on the traces (retrostep eval)

What the conversion does, per recording (fw: forward, bw: backward) and per sensor (RH
right heel, LH left heel, RT right toe, LT left toe):

- Rotation into the device frame (x toward the toe, y to the wearer's left, z up). Stance
  is found from the IMU alone: between two swings, the window of least angular rate and
  least |a| - 1 g. The mean specific force over those windows is z. The swing's main
  rotation axis (principal axis of the low-passed angular rate during swings, in the plane
  perpendicular to z) is +-y; x = y cross z, so the matrix is a rotation (det +1), never
  a mirror, for the right and the left foot alike.
- The sign of y. Forward file: a short strapdown between consecutive stances (gyro
  attitude from the stance, gravity removed, velocity forced to zero at both stances)
  gives each stride's displacement; forward walking moves the foot toward its toe, so y
  is chosen to make the median stride point along +x. Backward file: y is chosen to lie
  on the same side as the forward file's y of the same sensor (both are in that sensor's
  own axes). That does not assume the walking direction, which the labels test, and it
  survives the moved toe sensor (its stance gravity turns by more than 15 deg between
  the files, yet far less than the 90 deg at which the match would become ambiguous; the
  dot product is printed, and flagged when weak). The backward strapdown and a strapdown-free cue (the toe-down excursion of the swing is
  the larger one, forward and backward alike) are printed as independent checks.
- Labels from the markers as the recordings' authors define contacts: forward, heel
  strike at the maxima of the heel marker's antero-posterior position; backward, toe
  contact at the minima of the toe marker's; lift at the toe minima (forward) and heel
  maxima (backward). Markers are low-passed first (8 Hz, zero phase).
- Sanity figure: the impact peak of the same sensor's acceleration after each contact;
  the lag should be 30-65 ms if the two systems share a clock.
"""

import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np
from scipy.signal import butter, filtfilt, find_peaks

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "host"))

from retrostep.sim.gaitsim import labels_path, write_case  # noqa: E402
from retrostep.formats.trace import Trace  # noqa: E402

RECORDINGS = ("fw", "bw")
SENSORS = ("rh", "lh", "rt", "lt")
DIRECTION = {"fw": "forward", "bw": "backward"}
FOOT = {"r": "right", "l": "left"}
PLACE = {"h": "heel", "t": "toe"}
MARKER = {("r", "heel"): "RHeel", ("r", "toe"): "RTOE", ("l", "heel"): "LHeel",
          ("l", "toe"): "LTOE"}
G = 9.80665

MARKER_CUTOFF_HZ = 8.0  # the authors low-pass the markers at 6-10 Hz
MIN_STRIDE_S = 0.7  # find_peaks distance between two contacts of one foot
GYRO_CUTOFF_HZ = 8.0  # for the swing axis: keeps the swing, drops impact ringing
STANCE_WINDOW_S = 0.12  # the quietest window of this length between swings is a stance
MIN_SWING_S = 0.6  # two swing peaks of one foot are at least this far apart
IMPACT_SEARCH_S = (-0.05, 0.15)  # where to look for the impact after a contact


# ---------------------------------------------------------------------------- finding


def find_realdata():
    """The realdata folder (holding urigott/), or None when it is not there.

    RETROSTEP_REALDATA if set, else <repo>/../shared/realdata.
    """
    env = os.environ.get("RETROSTEP_REALDATA")
    path = env if env else os.path.join(REPO, "..", "shared", "realdata")
    path = os.path.abspath(path)
    if os.path.isfile(os.path.join(path, "urigott", "fw_imu_data.csv")):
        return path
    return None


def _read_csv(path):
    """(column names, (n, k) float array) of a CSV with one header line."""
    with open(path, encoding="utf-8-sig") as f:
        names = [c.strip() for c in f.readline().split(",")]
        data = np.loadtxt(f, delimiter=",", ndmin=2)
    return names, data


def load_recording(src, rec):
    """IMU and marker data of one recording.

    Returns dict: t (IMU time, s), sensors {name: (accel_g (n,3), gyro_dps (n,3))} in the
    sensor's own axes, kt (marker time, s), markers {name: (m,) AP position, m}.
    """
    folder = os.path.join(src, "urigott")
    names, imu = _read_csv(os.path.join(folder, f"{rec}_imu_data.csv"))
    col = {n: i for i, n in enumerate(names)}
    sensors = {}
    for s in SENSORS:
        p = s.upper()
        acc = imu[:, [col[f"{p}.ACC.{a}"] for a in "XYZ"]]
        gyr = imu[:, [col[f"{p}.GY.{a}"] for a in "XYZ"]]
        sensors[s] = (acc, gyr)
    knames, kin = _read_csv(os.path.join(folder, f"{rec}_kinematic_data.csv"))
    kcol = {n: i for i, n in enumerate(knames)}
    markers = {m: kin[:, kcol[m]] for m in ("LHeel", "LTOE", "RHeel", "RTOE")}
    return {"t": imu[:, col["Time"]], "sensors": sensors, "kt": kin[:, kcol["Time"]],
            "markers": markers}


# ---------------------------------------------------------------------------- signal


def lowpass(x, cutoff_hz, fs_hz, order=2):
    b, a = butter(order, cutoff_hz / (fs_hz / 2))
    return filtfilt(b, a, x, axis=0)


def moving_mean(x, n):
    k = np.ones(n) / n
    return np.convolve(x, k, mode="same")


def segment(t, acc, gyr):
    """Stances and swings of one sensor, from the IMU alone.

    Returns (stance windows [(i0, i1)], swing peak indices). The swing peaks are the
    maxima of the low-passed angular rate magnitude, at least MIN_SWING_S apart; between
    two of them, the stance is the STANCE_WINDOW_S window with the least angular rate
    and the least departure of |a| from 1 g (a SHOE-like energy, relative to this
    recording: no absolute threshold).
    """
    fs = 1.0 / np.median(np.diff(t))
    gm = np.linalg.norm(lowpass(gyr, GYRO_CUTOFF_HZ, fs), axis=1)
    peaks, _ = find_peaks(gm, distance=int(MIN_SWING_S * fs),
                          prominence=0.3 * np.percentile(gm, 95))
    w = max(3, int(round(STANCE_WINDOW_S * fs)))
    energy = (moving_mean(np.linalg.norm(gyr, axis=1), w) / 100.0
              + moving_mean(np.abs(np.linalg.norm(acc, axis=1) - 1.0), w) / 0.1)
    stances = []
    for a, b in zip(peaks[:-1], peaks[1:]):
        lo, hi = a + w // 2, b - w // 2
        if hi <= lo:
            continue
        c = lo + int(np.argmin(energy[lo:hi]))
        stances.append((c - w // 2, c - w // 2 + w, energy[c]))
    if stances:  # drop the few that are not quiet at all (e.g. a missed swing peak)
        e = np.array([s[2] for s in stances])
        keep = e <= 3.0 * np.median(e)
        stances = [s[:2] for s, k in zip(stances, keep) if k]
    return stances, peaks


def stance_mask(n, stances):
    m = np.zeros(n, bool)
    for i0, i1 in stances:
        m[i0:i1] = True
    return m


def swing_mask(t, gyr, stances):
    """Samples between stances whose low-passed angular rate is at least a third of
    that swing's peak."""
    fs = 1.0 / np.median(np.diff(t))
    gm = np.linalg.norm(lowpass(gyr, GYRO_CUTOFF_HZ, fs), axis=1)
    m = np.zeros(len(t), bool)
    for (_, a), (b, _) in zip(stances[:-1], stances[1:]):
        if b > a:
            seg = gm[a:b]
            m[a:b] = seg >= seg.max() / 3.0
    return m


def _unit(v):
    return v / np.linalg.norm(v)


def swing_axis(t, gyr, swing, z):
    """Main rotation axis of the swings, in the plane perpendicular to z (unit vector,
    sign arbitrary), and the share of the in-plane rotation energy about it."""
    fs = 1.0 / np.median(np.diff(t))
    w = lowpass(gyr, GYRO_CUTOFF_HZ, fs)[swing]
    w = w - np.outer(w @ z, z)  # in the plane perpendicular to z
    vals, vecs = np.linalg.eigh(w.T @ w)
    axis = vecs[:, -1]
    return _unit(axis - (axis @ z) * z), float(vals[-1] / vals.sum())


def frame_from(z, y):
    """Rotation matrix R (device = R @ sensor): rows x, y, z with x = y cross z."""
    z = _unit(z)
    y = _unit(y - (y @ z) * z)
    x = np.cross(y, z)
    return np.vstack([x, y, z])


def _rotvec(w_rad_s, dt):
    """Rotation matrix of the body rotation w * dt (Rodrigues)."""
    th = np.linalg.norm(w_rad_s) * dt
    if th < 1e-12:
        return np.eye(3)
    k = w_rad_s / np.linalg.norm(w_rad_s)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(th) * K + (1 - math.cos(th)) * (K @ K)


def strapdown_strides(t, acc, gyr, stances, R):
    """Each stride's displacement (m) from stance to stance, in the device frame of the
    first stance (x toe, y left, z up), by a plain strapdown with a zero-velocity update
    at both ends. The gyro bias is the median rate over the stances."""
    dt = float(np.median(np.diff(t)))
    bias = np.median(gyr[stance_mask(len(t), stances)], axis=0)
    out = []
    for (a0, a1), (b0, b1) in zip(stances[:-1], stances[1:]):
        i0, i1 = (a0 + a1) // 2, (b0 + b1) // 2
        if i1 - i0 < 10 or (t[i1] - t[i0]) > 2.5:
            continue
        # stance attitude: tilt from that stance's own gravity, heading from R
        g0 = _unit(acc[a0:a1].mean(axis=0))
        C = frame_from(g0, R[1])  # sensor -> level frame, x along the device toe
        v = np.zeros(3)
        vs = np.zeros((i1 - i0 + 1, 3))
        for k in range(i0, i1):
            C = C @ _rotvec(np.radians(gyr[k] - bias), dt)
            f = C @ acc[k] - np.array([0.0, 0.0, 1.0])
            v = v + f * G * dt
            vs[k - i0 + 1] = v
        vs -= np.outer(np.linspace(0, 1, len(vs)), vs[-1])  # zero velocity at both ends
        out.append(vs[1:].sum(axis=0) * dt)
    return np.array(out).reshape(-1, 3)


def _swing_pitches(t, gyr_dev, stances):
    """The integrated pitch rate (about device y; + = toe down) through each swing,
    from the stance before it (bias: the stances' median rate)."""
    dt = float(np.median(np.diff(t)))
    bias = np.median(gyr_dev[stance_mask(len(t), stances), 1])
    for (_, a1), (b0, _) in zip(stances[:-1], stances[1:]):
        if b0 - a1 >= 10:
            yield np.cumsum(gyr_dev[a1:b0, 1] - bias) * dt


def _median_or_nan(vals):
    return float(np.median(vals)) if vals else float("nan")


def pitch_excursion(t, gyr_dev, stances):
    """Strapdown-free cue: the median of (largest toe-down excursion - largest toe-up
    excursion) of the swings, in degrees: positive when the toe-down excursion
    (push-off forward, toe landing backward) dominates, as it should."""
    # toe-down peak minus toe-up peak (min is < 0)
    return _median_or_nan([p.max() + p.min() for p in _swing_pitches(t, gyr_dev, stances)])


def pitch_timing(t, gyr_dev, stances):
    """Strapdown-free direction cue: where in the swing (0 = lift, 1 = land) the
    largest toe-down pitch is reached, median over swings. Forward walking pitches the
    toe down at push-off (early); backward walking lands on the toe (late)."""
    return _median_or_nan([np.argmax(p) / len(p) for p in _swing_pitches(t, gyr_dev, stances)])


def euler_zyx_deg(R):
    """Yaw, pitch, roll (deg, z-y'-x'') of the device frame in the sensor's axes:
    sensor = Rz(yaw) Ry(pitch) Rx(roll) device, i.e. R.T."""
    M = R.T
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -M[2, 0]))))
    yaw = math.degrees(math.atan2(M[1, 0], M[0, 0]))
    roll = math.degrees(math.atan2(M[2, 1], M[2, 2]))
    return yaw, pitch, roll


# ---------------------------------------------------------------------------- labels


def contacts(kt, markers, rec, foot):
    """(contact times, lift times) of one foot from its markers, s."""
    fs = 1.0 / np.median(np.diff(kt))
    heel = lowpass(markers[MARKER[(foot, "heel")]], MARKER_CUTOFF_HZ, fs)
    toe = lowpass(markers[MARKER[(foot, "toe")]], MARKER_CUTOFF_HZ, fs)
    dist = int(MIN_STRIDE_S * fs)

    def extrema(x, sign):
        prom = 0.3 * (np.percentile(x, 95) - np.percentile(x, 5))
        idx, _ = find_peaks(sign * x, distance=dist, prominence=prom)
        return kt[idx]

    if rec == "fw":  # heel strike at the heel's foremost point, toe-off at the toe's last
        return extrema(heel, +1), extrema(toe, -1)
    return extrema(toe, -1), extrema(heel, +1)  # toe contact at the toe's last point


def impact_lags(t, acc, t_contacts):
    """Time from each contact to the largest |a| of the sensor just after it, s."""
    am = np.linalg.norm(acc, axis=1)
    lags = []
    for tc in t_contacts:
        m = (t >= tc + IMPACT_SEARCH_S[0]) & (t <= tc + IMPACT_SEARCH_S[1])
        if m.sum() < 3:
            continue
        i = np.flatnonzero(m)[np.argmax(am[m])]
        lags.append(t[i] - tc)
    return np.array(lags)


def make_labels(name, rec, t, t_land, t_lift):
    direction = DIRECTION[rec]
    strides = []
    for k, tl in enumerate(t_land):
        s = {"t_land_s": round(float(tl), 4), "direction": direction}
        prev = t_land[k - 1] if k > 0 else tl - 2.0
        lifts = [x for x in t_lift if prev < x < tl]
        if lifts and lifts[-1] >= t[0]:
            s["t_lift_s"] = round(float(lifts[-1]), 4)
        strides.append(s)
    n = len(strides)
    return {
        "kind": "walk",
        "name": name,
        "treadmill": True,
        "source": "urigott (Gottlieb et al., Sensors 2020), converted at run time",
        "rate_hz": round(float((len(t) - 1) / (t[-1] - t[0])), 3),
        "duration_s": round(float(t[-1] - t[0]), 4),
        "steps": 2 * n,
        "forward_steps": 2 * n if direction == "forward" else 0,
        "backward_steps": 2 * n if direction == "backward" else 0,
        "sideways_steps": 0,
        "in_place_steps": 0,
        "strides": strides,
        "drift": {"lateral_offset_m": [], "leaves_line_t_s": None, "limit_m": 0.5},
    }


# ---------------------------------------------------------------------------- convert


def uniform_time(t, *arrays):
    """The recordings' stamps are evenly spaced up to rounding, which the trace reader
    accepts today, so they are kept as they are. Should a file ever jitter beyond
    1 % of its step, resample onto a uniform grid (linear interpolation) so the reader
    of today takes it; the reader is being taught to accept jitter itself."""
    dt = np.diff(t)
    step = float(np.median(dt))
    if np.all(dt > 0) and np.max(np.abs(dt - step)) <= 0.01 * step:
        return (t,) + arrays
    grid = t[0] + np.arange(int((t[-1] - t[0]) / step) + 1) * step
    out = [np.column_stack([np.interp(grid, t, a[:, j]) for j in range(a.shape[1])])
           for a in arrays]
    return (grid,) + tuple(out)


def solve_sensor(t, acc, gyr):
    """Everything the rotation needs, with y of arbitrary sign. Returns a dict."""
    stances, peaks = segment(t, acc, gyr)
    st = stance_mask(len(t), stances)
    gvec = acc[st].mean(axis=0)
    z = _unit(gvec)
    swing = swing_mask(t, gyr, stances)
    y, share = swing_axis(t, gyr, swing, z)
    return {"stances": stances, "z": z, "g_norm": float(np.linalg.norm(gvec)),
            "y_axis": y, "axis_share": share, "stance": st, "swing": swing}


def analyse(src):
    """Solve every sensor of both recordings; returns {(rec, sensor): info}."""
    data = {rec: load_recording(src, rec) for rec in RECORDINGS}
    info = {}
    for s in SENSORS:
        for rec in RECORDINGS:
            d = data[rec]
            t = d["t"]
            acc, gyr = d["sensors"][s]
            t, acc, gyr = uniform_time(t, acc, gyr)
            sol = solve_sensor(t, acc, gyr)
            y = sol["y_axis"]
            R = frame_from(sol["z"], y)
            steps = strapdown_strides(t, acc, gyr, sol["stances"], R)
            travel = float(np.median(steps[:, 0])) if len(steps) else float("nan")
            if rec == "fw":
                sign = 1.0 if travel >= 0 else -1.0
                how = "fw strapdown: foot travels toward +x"
                match = None
            else:
                y_fw = info[("fw", s)]["R"][1]
                match = float(y @ y_fw)
                sign = 1.0 if match >= 0 else -1.0
                match = abs(match)  # after the sign is chosen
                how = "matched to fw y of this sensor"
                if abs(match) < 0.5:  # not the case in these files; say so if it happens
                    how += " (WEAK match: check the sign)"
            y = sign * y
            R = frame_from(sol["z"], y)
            travel *= sign
            steps = steps * np.array([sign, sign, 1.0])
            gyr_dev = gyr @ R.T
            acc_dev = acc @ R.T
            foot = s[0]
            t_land, t_lift = contacts(d["kt"], d["markers"], rec, foot)
            inside = (t_land >= t[0]) & (t_land <= t[-1])
            t_land = t_land[inside]
            lags = impact_lags(t, acc, t_land)
            z_fw = info[("fw", s)]["R"][2] if rec == "bw" else None
            info[(rec, s)] = dict(
                sol, t=t, acc=acc, gyr=gyr, acc_dev=acc_dev, gyr_dev=gyr_dev, R=R, how=how,
                y_match=match, travel_m=travel, stride_vectors=steps,
                pitch_excursion_deg=pitch_excursion(t, gyr_dev, sol["stances"]),
                pitch_timing=pitch_timing(t, gyr_dev, sol["stances"]),
                gravity_turn_deg=(math.degrees(math.acos(min(1.0, float(sol["z"] @ z_fw))))
                                  if z_fw is not None else 0.0),
                t_land=t_land, t_lift=t_lift, lags=lags,
                stance_mean_dev=acc_dev[sol["stance"]].mean(axis=0),
                stance_rms_g=float(np.sqrt(np.mean(np.sum(
                    (acc[sol["stance"]] - sol["z"] * sol["g_norm"]) ** 2, axis=1)))),
            )
    return info


def trace_name(rec, sensor):
    return f"urigott_{rec}_{sensor}"


def convert(out_dir, src=None, info=None):
    """Write urigott_{fw|bw}_{rh|lh|rt|lt}.csv (+ .labels.json) into out_dir.

    Returns the list of trace paths written. `src` is the realdata folder (default:
    find_realdata()); `info` a result of analyse(src), to skip solving again.
    """
    src = src or find_realdata()
    if src is None:
        raise FileNotFoundError("no realdata folder: set RETROSTEP_REALDATA or put it "
                                "at ../shared/realdata")
    if info is None:
        info = analyse(src)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for rec in RECORDINGS:
        for s in SENSORS:
            r = info[(rec, s)]
            name = trace_name(rec, s)
            yaw, pitch, roll = euler_zyx_deg(r["R"])
            meta = {
                "name": name,
                "source": "urigott treadmill recording (Gottlieb et al., Sensors 2020), "
                          "converted at run time; do not redistribute",
                "recording": f"{rec} ({DIRECTION[rec]} walking)",
                "sensor": f"{s.upper()} ({FOOT[s[0]]} {PLACE[s[1]]})",
                "foot": FOOT[s[0]],
                "rotation": f"device = R sensor; sensor axes from device by yaw {yaw:.1f}, "
                            f"pitch {pitch:.1f}, roll {roll:.1f} deg (z-y-x)",
                "rotation_sign": r["how"],
            }
            trace = Trace(t_s=r["t"], accel_g=np.ascontiguousarray(r["acc_dev"]),
                          gyro_dps=np.ascontiguousarray(r["gyr_dev"]), meta=meta)
            labels = make_labels(name, rec, r["t"], r["t_land"], r["t_lift"])
            path = os.path.join(out_dir, name + ".csv")
            write_case(path, trace, labels)
            paths.append(path)
    return paths


# ---------------------------------------------------------------------------- command


def print_table(info):
    print(f"{'trace':16} {'samples':>7} {'rate':>7} {'dur s':>6} {'strides':>7} "
          f"{'yaw':>7} {'pitch':>6} {'roll':>7} {'axis%':>5} {'g':>5} {'st rms':>6} "
          f"{'lag ms':>6} {'travel':>6} {'pitch+':>6} {'pk@':>4}  sign")
    for rec in RECORDINGS:
        for s in SENSORS:
            r = info[(rec, s)]
            yaw, pitch, roll = euler_zyx_deg(r["R"])
            t = r["t"]
            lag = 1000 * float(np.median(r["lags"])) if len(r["lags"]) else float("nan")
            sign = r["how"]
            if r["y_match"] is not None:
                sign += f" (y.y_fw {r['y_match']:+.2f}, gravity turned " \
                        f"{r['gravity_turn_deg']:.0f} deg)"
            print(f"{trace_name(rec, s):16} {len(t):7d} {(len(t) - 1) / (t[-1] - t[0]):7.2f} "
                  f"{t[-1] - t[0]:6.2f} {len(r['t_land']):7d} {yaw:7.1f} {pitch:6.1f} "
                  f"{roll:7.1f} {100 * r['axis_share']:5.0f} {r['g_norm']:5.3f} "
                  f"{r['stance_rms_g']:6.3f} {lag:6.0f} {r['travel_m']:+6.2f} "
                  f"{r['pitch_excursion_deg']:+6.0f} {r['pitch_timing']:4.2f}  {sign}")
    print("\nyaw/pitch/roll: the device frame seen in the sensor's axes; axis%: share of "
          "the swing rotation about y;\ng: |stance specific force|; st rms: stance scatter "
          "(g); lag: median contact-to-impact (ms);\ntravel: median strapdown stride along "
          "x (m, + toe); pitch+: toe-down minus toe-up swing excursion (deg);\npk@: where in "
          "the swing the toe-down peak falls (0 lift, 1 land)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="folder to write the traces and labels into")
    ap.add_argument("--score", action="store_true",
                    help="convert into a temporary folder and score the engine on it")
    ap.add_argument("--src", help="realdata folder (default: RETROSTEP_REALDATA or "
                                  "../shared/realdata)")
    args = ap.parse_args(argv)
    if not args.out and not args.score:
        ap.error("give --out DIR and/or --score")
    src = args.src or find_realdata()
    if src is None:
        print("realdata: no recordings found (set RETROSTEP_REALDATA)", file=sys.stderr)
        return 2
    info = analyse(src)
    if args.out:
        paths = convert(args.out, src, info)
        print(f"wrote {len(paths)} traces and labels into {args.out}\n")
        print_table(info)
    if args.score:
        from retrostep.analysis.evaluate import evaluate_directory, print_scores

        with tempfile.TemporaryDirectory(prefix="retrostep-realdata-") as tmp:
            convert(tmp, src, info)
            if not args.out:
                print_table(info)
                print()
            failed = []

            def replay_or_nothing(path):
                # the engine and the reader are being reworked by others: a replay that
                # fails scores as "found nothing" and is reported, the others still run
                from retrostep.analysis.replay import replay_file

                try:
                    return replay_file(path)
                except Exception as exc:  # noqa: BLE001 - report and go on
                    failed.append(os.path.basename(path))
                    print(f"replay failed on {os.path.basename(path)}: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr)
                    return {"steps": 0, "strides": 0, "events": []}

            scores, summary = evaluate_directory(tmp, replay_fn=replay_or_nothing)
            from rich.console import Console

            print_scores(scores, summary, console=Console(width=150))
            if failed:
                print(f"{len(failed)} replay(s) failed (scored as nothing found)",
                      file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
