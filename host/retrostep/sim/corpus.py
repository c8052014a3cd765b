"""Labelled corpora of simulated traces: a TUNING set and a FROZEN TEST set.

``retrostep corpus OUT_DIR [--set tune|dev|test]`` writes, for every case of the set,
``NAME.csv`` (a trace, README.md "Trace format") and ``NAME.labels.json`` (see
`retrostep.sim.gaitsim.simulate`), plus ``index.json`` listing the cases with their tags.
Every case has its own fixed seed, so the files are the same on every run (same numpy,
same bytes).

The tuning set (`CASES`, the default) is what the engine may be tuned on. Its core
(`CORE_NAMES`, 20 cases) covers forward walking (slow, normal, fast), backward walking
(slow, normal, straight and long, curving off the line both ways), backward jogging, a
backward shuffle with tiny strides, mixed bouts with pauses, the 10-forward /
9-backward balance check, standing still, seated foot tapping, seated leg swinging,
turning in place, treadmill walking both ways, a misaligned and a reversed mount;
three subjects (an older person in rehab, an adult, an athlete) each with their own
device (bias, scale), at 100, 104, 208 and 400 Hz. The added cases bring what real
walks and real parts do: ground and treadmill-deck vibration at stance, recordings
that start mid-walk, heel and side mounts (12-15 g heel strikes on the heel counter),
side-steps, full sensor errors (cross-axis coupling, 1 % scale), a sample clock 0.7 %
fast or slow, backward jogging at 3 strides/s and a 0.1 m shuffle. About half an hour
of motion; a few seconds to generate.

The test set (`FROZEN_CASES`, ``--set test``) is for judging, never for tuning: nobody
tunes the engine, its thresholds or its defaults on it, and nobody looks at it to pick
them. It is made from its own seed range and wider, randomised ranges: each trace has
its own walker (stride, cadence, pitch angles, impact, toe-out, foot), placement
(laces, heel, side) with a crooked clip, part (bias, scale, coupling, clock), ground
vibration and rate (52-400 Hz); many start mid-walk. It holds forward walks, straight
and drifting backward walks, mixes, jogs, shuffles, side-steps, treadmills and
non-walking traces (standing, tapping, seated leg swinging, turning on the spot). The
manifest is code (`_frozen_manifest`), and `FROZEN_SHA256` pins a SHA-256 over its
label files (`frozen_fingerprint`), so it cannot change silently: a change to the
simulator that moves it must say so and update the pin in the same commit.

The development set (`DEV_CASES`, ``--set dev``) is drawn by the same generator from
other seeds: it is what the engine is developed on when the tuning cases are not
enough, so the test set keeps measuring walkers nobody has seen.

Tags: the activity (walk, jog, shuffle, sidestep, still, tapping, swinging, turning,
mixed, balance), the direction(s) (forward, backward, sideways), straight / curve for
backward walks, treadmill, misaligned, the placement (heel_mount, side_mount),
vibration, midwalk, sensor_errors, clock, and the subject. `kind` in the labels is the
main activity.
"""

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from retrostep.errors import RetrostepError
from retrostep.sim.gaitsim import (CLOCK_ERROR_MAX, CROSS_AXIS_MAX, MISALIGN_MAX_DEG, SCALE_ERROR_MAX,
                      SUBJECTS, Bout, Mount, Scenario, SensorModel, Subject, labels_text,
                      mount_preset, simulate, write_case)

# one device per subject: the same board on every session of that person
DEVICES = {
    "rehab": SensorModel(gyro_bias_dps=(0.62, -0.85, 0.41), accel_bias_g=(0.003, -0.002, 0.004),
                         accel_scale_error=(0.004, -0.003, 0.006),
                         gyro_scale_error=(-0.005, 0.002, 0.007)),
    "adult": SensorModel(gyro_bias_dps=(-0.35, 0.28, -0.93), accel_bias_g=(-0.002, 0.001, -0.003),
                         accel_scale_error=(-0.002, 0.005, -0.004),
                         gyro_scale_error=(0.003, -0.006, 0.001)),
    "athlete": SensorModel(gyro_bias_dps=(0.95, 0.51, 0.22), accel_bias_g=(0.001, 0.004, 0.002),
                           accel_scale_error=(0.006, 0.001, -0.002),
                           gyro_scale_error=(0.004, 0.004, -0.003)),
}

LEAD_IN_S = 3.0  # standing still before a walk: the firmware learns the gyro bias
LEAD_OUT_S = 2.0


@dataclass(frozen=True)
class Case:
    """One corpus trace: who, what, at which rate, with which seed."""

    name: str
    kind: str  # main activity, copied to labels["kind"]
    tags: tuple
    subject: str
    rate_hz: float
    seed: int
    bouts: tuple
    description: str
    mount: Mount = field(default_factory=Mount)
    meta: tuple = ()  # extra '# key: value' lines of the trace, as (key, value) pairs
    walker: Optional[Subject] = None  # None: SUBJECTS[subject]
    sensor: Optional[SensorModel] = None  # None: DEVICES[subject]
    start_mid_walk: bool = False

    def scenario(self):
        return Scenario(bouts=[replace(b) for b in self.bouts],
                        subject=self.walker or SUBJECTS[self.subject], mount=self.mount,
                        sensor=self.sensor or DEVICES[self.subject], rate_hz=self.rate_hz,
                        name=self.name, kind=self.kind, start_mid_walk=self.start_mid_walk)


def _framed(*bouts):
    """Standing still before and after the bouts."""
    return (Bout("still", duration_s=LEAD_IN_S),) + bouts + (Bout("still", duration_s=LEAD_OUT_S),)


def _walk(direction, strides, **kw):
    return Bout("walk", direction, strides=strides, **kw)


def _shaken(bouts, g_rms, dps_rms, kinds=("walk", "jog", "shuffle", "sidestep", "turn")):
    """The bouts with the ground vibrating under the foot for the given kinds."""
    return tuple(replace(b, vibration_g_rms=g_rms, vibration_dps_rms=dps_rms)
                 if b.kind in kinds else b for b in bouts)


def _cases():
    """The core of the tuning set: the 20 cases the engine was first built on."""
    c = []

    def add(name, kind, tags, subject, rate, seed, bouts, description, mount=None, meta=()):
        c.append(Case(name, kind, tuple(tags) + (subject,), subject, float(rate), seed,
                      tuple(bouts), description, mount or Mount(), tuple(meta)))

    add("walk_fwd_slow", "walk", ["walk", "forward", "straight"], "rehab", 104, 101,
        _framed(_walk("forward", 30, stride_m=0.9, cadence_spm=88)),
        "slow forward walk of an older person in rehab")
    add("walk_fwd_normal", "walk", ["walk", "forward", "straight"], "adult", 104, 102,
        _framed(_walk("forward", 40)), "forward walk at a normal pace")
    add("walk_fwd_fast", "walk", ["walk", "forward", "straight"], "athlete", 208, 103,
        _framed(_walk("forward", 40, stride_m=1.75, cadence_spm=126)), "brisk forward walk")
    add("walk_bwd_slow", "walk", ["walk", "backward", "straight"], "rehab", 104, 104,
        _framed(_walk("backward", 30)), "slow, short backward strides (about 0.45 m)")
    add("walk_bwd_normal", "walk", ["walk", "backward", "straight"], "adult", 104, 105,
        _framed(_walk("backward", 40)), "backward walk at a normal pace, straight")
    add("jog_bwd", "jog", ["jog", "backward", "straight"], "athlete", 208, 106,
        _framed(Bout("jog", "backward", strides=40)), "backward jogging (backpedalling)")
    add("shuffle_bwd", "shuffle", ["shuffle", "backward"], "rehab", 100, 107,
        _framed(Bout("shuffle", "backward", strides=30)),
        "backward shuffle: tiny strides (about 0.18 m), feet barely lifted")
    add("mixed_pauses", "mixed", ["mixed", "walk", "forward", "backward", "straight"], "adult",
        104, 108,
        _framed(_walk("forward", 12), Bout("still", duration_s=4.0), _walk("backward", 12),
                Bout("still", duration_s=5.0), _walk("forward", 8),
                Bout("still", duration_s=3.0), _walk("backward", 8)),
        "forward and backward bouts separated by pauses")
    add("balance_10f_9b", "balance", ["balance", "walk", "forward", "backward", "straight"],
        "rehab", 104, 109,
        _framed(_walk("forward", 5, other_steps=5), Bout("still", duration_s=2.0),
                _walk("backward", 5, other_steps=4)),
        "balance check: 10 steps forward, pause, 9 steps backward")
    add("still_standing", "still", ["still"], "adult", 100, 110,
        (Bout("still", duration_s=90.0),), "standing still for 90 s")
    add("seated_tapping", "tapping", ["tapping", "seated"], "rehab", 104, 111,
        _framed(Bout("tap", duration_s=60.0)), "seated, heel down, toe tapping at ~2 Hz")
    add("seated_leg_swing", "swinging", ["swinging", "seated"], "adult", 104, 112,
        _framed(Bout("leg_swing", duration_s=45.0)),
        "seated on a high seat, foot off the floor, shank swinging at ~1 Hz")
    add("turning_in_place", "turning", ["turning"], "athlete", 208, 113,
        _framed(Bout("turn", strides=4, turn_deg=180.0), Bout("still", duration_s=2.0),
                Bout("turn", strides=4, turn_deg=-180.0), Bout("still", duration_s=2.0),
                Bout("turn", strides=6, turn_deg=360.0)),
        "stepping around on the spot: half turn left, half turn right, full turn")
    add("bwd_straight_long", "walk", ["walk", "backward", "straight"], "adult", 208, 114,
        _framed(_walk("backward", 50)), "long straight backward walk (about 34 m)")
    add("bwd_curve_left", "walk", ["walk", "backward", "curve"], "adult", 104, 115,
        _framed(_walk("backward", 36, curve_deg_per_m=5.0, curve_from_stride=12)),
        "backward walk: 12 straight strides, then curving to the left at 5 deg per metre")
    add("bwd_curve_right_slow", "walk", ["walk", "backward", "curve"], "rehab", 100, 116,
        _framed(_walk("backward", 40, curve_deg_per_m=-6.0, curve_from_stride=8)),
        "slow backward walk: 8 straight strides, then curving to the right at 6 deg per metre")
    add("treadmill_fwd", "walk", ["walk", "forward", "treadmill", "straight"], "athlete", 400,
        117, _framed(_walk("forward", 40, treadmill=True, stride_m=1.4, cadence_spm=120)),
        "forward walking on a treadmill (belt ~1.4 m/s)")
    add("treadmill_bwd", "walk", ["walk", "backward", "treadmill", "straight"], "adult", 400,
        118, _framed(_walk("backward", 40, treadmill=True, stride_m=0.6, cadence_spm=90)),
        "backward walking on a treadmill (belt ~0.45 m/s), no rails")
    add("misaligned_mount", "mixed", ["walk", "forward", "backward", "misaligned", "straight"],
        "adult", 104, 119,
        _framed(_walk("forward", 15), Bout("still", duration_s=3.0), _walk("backward", 15)),
        "device clipped crooked: roll 8, pitch -12, yaw 20 degrees",
        mount=Mount(misalign_rpy_deg=(8.0, -12.0, 20.0), lever_arm_m=(0.10, 0.01, 0.07)),
        meta=[("calibrate_forward_strides", "4")])
    add("mount_reversed", "mixed", ["walk", "forward", "backward", "misaligned", "straight"],
        "athlete", 208, 120,
        _framed(_walk("forward", 12), Bout("still", duration_s=3.0), _walk("backward", 12)),
        "device clipped with the arrow toward the heel (yaw 180 degrees); the session "
        "starts with the forward calibration walk (its first 4 strides)",
        mount=Mount(misalign_rpy_deg=(0.0, 0.0, 180.0)),
        meta=[("calibrate_forward_strides", "4")])
    return {case.name: case for case in c}


# one worn part for the sensor-error cases: every error near the end of its range
WORN_PART = SensorModel(
    gyro_bias_dps=(0.97, -0.88, 0.93), accel_bias_g=(0.004, -0.004, 0.003),
    accel_scale_error=(0.009, -0.010, 0.008), gyro_scale_error=(-0.010, 0.009, 0.010),
    accel_cross_axis=((0.0, 0.005, -0.004), (-0.005, 0.0, 0.004), (0.005, -0.003, 0.0)),
    gyro_cross_axis=((0.0, -0.005, 0.005), (0.004, 0.0, -0.005), (-0.004, 0.005, 0.0)),
    gyro_bias_walk_dps_rts=0.006)


def _added_cases():
    """Tuning cases for what real walks and parts do (seeds 121-)."""
    c = []

    def add(name, kind, tags, subject, rate, seed, bouts, description, mount=None,
            sensor=None, mid_walk=False):
        c.append(Case(name, kind, tuple(tags) + (subject,), subject, float(rate), seed,
                      tuple(bouts), description, mount or Mount(), (), None, sensor,
                      mid_walk))

    def mount(place, subject, misalign=(0.0, 0.0, 0.0)):
        s = SUBJECTS[subject]
        return mount_preset(place, s.foot, s.foot_length_m, misalign)

    add("gravel_fwd_bwd", "mixed", ["mixed", "walk", "forward", "backward", "straight",
                                    "vibration"], "adult", 104, 121,
        _framed(*_shaken((_walk("forward", 15), Bout("still", duration_s=3.0),
                          _walk("backward", 15)), 0.15, 25.0)),
        "forward then backward on gravel: 0.15 g and 25 deg/s rms vibration at each contact")
    add("grass_bwd_rehab", "walk", ["walk", "backward", "straight", "vibration"], "rehab",
        104, 122, _framed(*_shaken((_walk("backward", 25),), 0.08, 12.0)),
        "slow backward walk on grass (0.08 g, 12 deg/s rms at contact)")
    add("treadmill_deck_shake", "mixed", ["mixed", "walk", "forward", "backward", "treadmill",
                                          "straight", "vibration"], "athlete", 208, 123,
        _shaken(_framed(_walk("forward", 30, treadmill=True, stride_m=1.4, cadence_spm=120),
                        Bout("still", duration_s=3.0),
                        _walk("backward", 30, treadmill=True, stride_m=0.6, cadence_spm=92)),
                0.2, 35.0, kinds=("walk", "still")),
        "treadmill with a shaking deck (0.2 g, 35 deg/s rms, also while standing on it)")
    add("midwalk_fwd", "walk", ["walk", "forward", "straight", "midwalk"], "adult", 104, 124,
        (_walk("forward", 30), Bout("still", duration_s=LEAD_OUT_S)),
        "the recording starts mid-stride of a forward walk: no rest to learn the bias",
        mid_walk=True)
    add("midwalk_bwd", "walk", ["walk", "backward", "straight", "midwalk"], "rehab", 104,
        125, (_walk("backward", 30), Bout("still", duration_s=LEAD_OUT_S)),
        "the recording starts mid-stride of a slow backward walk", mid_walk=True)
    add("heel_mount_mixed", "mixed", ["mixed", "walk", "forward", "backward", "straight",
                                      "heel_mount"], "adult", 208, 126,
        _framed(_walk("forward", 15), Bout("still", duration_s=3.0), _walk("backward", 15)),
        "device on the heel counter (face backward, x up): 12-15 g heel strikes",
        mount=mount("heel", "adult", (3.0, -4.0, 6.0)))
    add("heel_mount_athlete", "walk", ["walk", "forward", "straight", "heel_mount"],
        "athlete", 208, 127, _framed(_walk("forward", 30, stride_m=1.7, cadence_spm=124)),
        "brisk walk with the device on the heel counter: heel strikes clip at 16 g",
        mount=mount("heel", "athlete"))
    add("side_mount_mixed", "mixed", ["mixed", "walk", "forward", "backward", "straight",
                                      "side_mount"], "rehab", 104, 128,
        _framed(_walk("forward", 12), Bout("still", duration_s=3.0), _walk("backward", 12)),
        "device on the outer side of the left shoe (face outward, y down)",
        mount=mount("side", "rehab", (-5.0, 2.0, -7.0)))
    add("sidestep_left_right", "sidestep", ["sidestep", "sideways"], "adult", 104, 129,
        _framed(Bout("sidestep", "left", strides=8), Bout("still", duration_s=2.0),
                Bout("sidestep", "right", strides=8)),
        "side-steps: 8 strides to the left, pause, 8 to the right (rehab exercise)")
    add("sidestep_mixed", "mixed", ["mixed", "walk", "forward", "backward", "sidestep",
                                    "sideways", "straight"], "athlete", 208, 130,
        _framed(_walk("forward", 8), Bout("sidestep", "right", strides=6),
                Bout("still", duration_s=1.5), _walk("backward", 8)),
        "forward, side-steps to the right, backward")
    add("worn_part_mixed", "mixed", ["mixed", "walk", "forward", "backward", "straight",
                                     "sensor_errors"], "adult", 104, 131,
        _framed(_walk("forward", 15), Bout("still", duration_s=3.0), _walk("backward", 20)),
        "a part with every error near its limit: bias ~1 deg/s, scale 1 %, coupling 0.5 %",
        sensor=WORN_PART)
    add("clock_fast_bwd", "walk", ["walk", "backward", "straight", "clock"], "adult", 104,
        132, _framed(_walk("backward", 30)),
        "the board's clock runs 0.7 % fast: its time stamps stretch every stride",
        sensor=replace(DEVICES["adult"], clock_error=CLOCK_ERROR_MAX))
    add("clock_slow_fwd", "walk", ["walk", "forward", "straight", "clock"], "rehab", 100, 133,
        _framed(_walk("forward", 25)), "the board's clock runs 0.7 % slow",
        sensor=replace(DEVICES["rehab"], clock_error=-CLOCK_ERROR_MAX))
    add("jog_bwd_3hz", "jog", ["jog", "backward", "straight"], "athlete", 208, 134,
        _framed(Bout("jog", "backward", strides=40, cadence_spm=360.0)),
        "backpedalling at 3 strides per second (360 steps/min): very short stances")
    add("shuffle_bwd_10cm", "shuffle", ["shuffle", "backward"], "rehab", 104, 135,
        _framed(Bout("shuffle", "backward", strides=30, stride_m=0.1)),
        "older walker shuffling backward, 0.1 m strides")
    add("shuffle_fwd_10cm", "shuffle", ["shuffle", "forward"], "rehab", 104, 136,
        _framed(Bout("shuffle", "forward", strides=30, stride_m=0.1)),
        "older walker shuffling forward, 0.1 m strides")
    return {case.name: case for case in c}


_CORE = _cases()
CORE_NAMES = tuple(_CORE)  # the first 20 tuning cases (tests pin their names)
CASES = {**_CORE, **_added_cases()}  # the tuning set
RATES_HZ = tuple(sorted({case.rate_hz for case in CASES.values()}))


# ---------------------------------------------------------------------------- frozen test set

FROZEN_SEED_BASE = 7001  # simulation seeds of the test set (the tuning set uses 101-136)
FROZEN_MANIFEST_SEED = 424242  # draws each test trace's walker, part, placement, ...
FROZEN_RATES_HZ = (52.0, 60.0, 100.0, 104.0, 125.0, 200.0, 208.0, 400.0)
# what the test set holds: (kind, traces)
FROZEN_PLAN = (
    ("fwd_walk", 8), ("bwd_straight", 8), ("bwd_drift", 8), ("mixed", 4), ("bwd_jog", 3),
    ("fwd_jog", 2), ("shuffle", 3), ("sidestep", 3), ("treadmill", 3), ("standing", 2),
    ("tapping", 2), ("leg_swing", 2), ("turning", 2),
)
# per style of walker: (low, high) of each drawn habit
_WALKER_RANGES = {
    "older": dict(stride_m=(0.8, 1.15), cadence_spm=(85, 105), pushoff_pitch_deg=(25, 42),
                  heel_strike_pitch_deg=(8, 18), impact_g=(1.2, 2.2), bwd_stride_m=(0.4, 0.55),
                  backward_cadence_ratio=(0.7, 0.85), clearance_m=(0.06, 0.10),
                  variability=(1.0, 1.6), toe_out_deg=(5, 15), jog_cadence_spm=(130, 150)),
    "adult": dict(stride_m=(1.2, 1.5), cadence_spm=(100, 120), pushoff_pitch_deg=(40, 58),
                  heel_strike_pitch_deg=(15, 28), impact_g=(2.0, 3.2), bwd_stride_m=(0.5, 0.75),
                  backward_cadence_ratio=(0.8, 0.95), clearance_m=(0.09, 0.14),
                  variability=(0.7, 1.3), toe_out_deg=(0, 10), jog_cadence_spm=(150, 175)),
    "athlete": dict(stride_m=(1.45, 1.75), cadence_spm=(108, 128), pushoff_pitch_deg=(50, 65),
                    heel_strike_pitch_deg=(20, 32), impact_g=(2.5, 4.0),
                    bwd_stride_m=(0.6, 0.8), backward_cadence_ratio=(0.85, 1.0),
                    clearance_m=(0.12, 0.16), variability=(0.6, 1.1), toe_out_deg=(-2, 6),
                    jog_cadence_spm=(160, 185)),
}


def _u(rng, lo, hi):
    return round(float(rng.uniform(lo, hi)), 4)


def _draw_walker(rng, style):
    """A walker of a style with every habit drawn from its range."""
    r = {k: _u(rng, *v) for k, v in _WALKER_RANGES[style].items()}
    bwd_stride = r.pop("bwd_stride_m")
    return Subject(
        name=style, foot=str(rng.choice(["left", "right"])),
        foot_length_m=_u(rng, 0.17, 0.21), backward_stride_ratio=round(bwd_stride / r["stride_m"], 4),
        backward_lift_pitch_deg=_u(rng, 8, 20), backward_land_pitch_deg=_u(rng, 12, 35),
        swing_roll_deg=_u(rng, 1, 7), **r)


def _rpy_deg(R):
    """Roll, pitch, yaw (deg) of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return tuple(round(math.degrees(a), 4) for a in (
        math.atan2(R[2, 1], R[2, 2]), math.asin(-max(-1.0, min(1.0, R[2, 0]))),
        math.atan2(R[1, 0], R[0, 0])))


def _draw_mount(rng, walker):
    """A placement (half laces, a quarter each heel and side), a clip up to 10 deg
    crooked about a random axis, and up to 1.5 cm off its spot."""
    place = str(rng.choice(["laces", "laces", "heel", "side"]))
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = math.radians(rng.uniform(0.0, MISALIGN_MAX_DEG))
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    R = np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * (K @ K)
    shift = tuple(_u(rng, -0.015, 0.015) for _ in range(3))
    mount = mount_preset(place, walker.foot, walker.foot_length_m, _rpy_deg(R), shift)
    return mount, place


def _draw_part(rng):
    """A part: bias, scale, coupling and clock drawn by the simulator from the case's
    seed over their full ranges; noise, bias walk, accel bias and jitter drawn here."""
    return SensorModel.real(
        gyro_noise_factor=_u(rng, 1.5, 3.0), gyro_bias_walk_dps_rts=_u(rng, 0.002, 0.008),
        accel_bias_max_g=0.008, scale_error_max=SCALE_ERROR_MAX,
        cross_axis_max=CROSS_AXIS_MAX, clock_error_max=CLOCK_ERROR_MAX,
        jitter_frac=_u(rng, 0.0, 0.008))


def _lead(rng):
    return Bout("still", duration_s=_u(rng, 0.5, 3.0))


def _frozen_walk(kind, rng):
    """Bouts, label kind, tags and a description of a walking test trace."""
    n = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    if kind == "fwd_walk":
        pace = _u(rng, 0.85, 1.15)
        bouts = [Bout("walk", "forward", strides=n(20, 40), curve_deg_per_m=_u(rng, -3, 3))]
        return bouts, "walk", ["walk", "forward"], f"forward walk, pace x{pace}", pace
    if kind == "bwd_straight":
        return ([Bout("walk", "backward", strides=n(16, 30))], "walk",
                ["walk", "backward", "straight"], "straight backward walk", 1.0)
    if kind == "bwd_drift":
        curve = _u(rng, 2.5, 8.0) * float(rng.choice([-1.0, 1.0]))
        start = n(5, 10)
        bouts = [Bout("walk", "backward", strides=n(28, 40), curve_deg_per_m=curve,
                      curve_from_stride=start)]
        return (bouts, "walk", ["walk", "backward", "curve"],
                f"backward walk drifting {curve:+.1f} deg/m from stride {start}", 1.0)
    if kind == "mixed":
        bouts = [Bout("walk", "forward", strides=n(6, 15)), Bout("still", duration_s=_u(rng, 1, 4)),
                 Bout("walk", "backward", strides=n(8, 16)), Bout("still", duration_s=_u(rng, 1, 4)),
                 Bout("walk", "forward", strides=n(4, 10))]
        return (bouts, "mixed", ["mixed", "walk", "forward", "backward", "straight"],
                "forward, backward, forward with pauses", 1.0)
    if kind == "bwd_jog":
        cadence = _u(rng, 150, 360)
        return ([Bout("jog", "backward", strides=n(20, 40), cadence_spm=cadence)], "jog",
                ["jog", "backward", "straight"], f"backpedalling at {cadence / 120:.2f} strides/s",
                1.0)
    if kind == "fwd_jog":
        return [Bout("jog", "forward", strides=n(20, 40))], "jog", ["jog", "forward"], \
            "forward jog", 1.0
    if kind == "shuffle":
        d = str(rng.choice(["forward", "backward"]))
        stride = _u(rng, 0.1, 0.25)
        return ([Bout("shuffle", d, strides=n(20, 35), stride_m=stride)], "shuffle",
                ["shuffle", d], f"{d} shuffle, {stride:.2f} m strides", 1.0)
    if kind == "sidestep":
        first = str(rng.choice(["left", "right"]))
        other = "right" if first == "left" else "left"
        stride = _u(rng, 0.3, 0.55)
        bouts = [Bout("sidestep", first, strides=n(6, 12), stride_m=stride),
                 Bout("still", duration_s=_u(rng, 1, 3)),
                 Bout("sidestep", other, strides=n(6, 12), stride_m=stride)]
        return bouts, "sidestep", ["sidestep", "sideways"], f"side-steps {first}, then {other}", 1.0
    if kind == "treadmill":
        d = str(rng.choice(["forward", "backward"]))
        return ([Bout("walk", d, strides=n(25, 40), treadmill=True)], "walk",
                ["walk", d, "treadmill", "straight"], f"{d} on a treadmill", 1.0)
    raise ValueError(kind)


def _frozen_still(kind, rng):
    """Bouts, label kind, tags and description of a non-walking test trace."""
    if kind == "standing":
        return [Bout("still", duration_s=_u(rng, 30, 80))], "still", ["still"], "standing"
    if kind == "tapping":
        return ([Bout("tap", duration_s=_u(rng, 30, 60), frequency_hz=_u(rng, 1.2, 3.0),
                      amplitude_deg=_u(rng, 8, 30))], "tapping", ["tapping", "seated"],
                "seated toe tapping")
    if kind == "leg_swing":
        return ([Bout("leg_swing", duration_s=_u(rng, 30, 50), frequency_hz=_u(rng, 0.7, 1.4),
                      amplitude_deg=_u(rng, 15, 35))], "swinging", ["swinging", "seated"],
                "seated leg swinging")
    turns = []
    for _ in range(int(rng.integers(2, 4))):
        deg = _u(rng, 90, 360) * float(rng.choice([-1.0, 1.0]))
        turns += [Bout("turn", strides=max(2, int(abs(deg) // 60)), turn_deg=deg),
                  Bout("still", duration_s=_u(rng, 1, 3))]
    return turns, "turning", ["turning"], "turning on the spot"


def _frozen_case(i, kind, manifest_seed=FROZEN_MANIFEST_SEED, seed_base=FROZEN_SEED_BASE,
                 prefix="t"):
    """Test case number i (0-based) of a kind, drawn from its own generator."""
    rng = np.random.default_rng([manifest_seed, i])
    style = {"shuffle": "older", "bwd_jog": "athlete"}.get(
        kind, str(rng.choice(["older", "adult", "athlete"])))
    walker = _draw_walker(rng, style)
    mount, place = _draw_mount(rng, walker)
    part = _draw_part(rng)
    rate = float(rng.choice(FROZEN_RATES_HZ))
    mid_walk = False
    if kind in ("standing", "tapping", "leg_swing", "turning"):
        bouts, label_kind, tags, text = _frozen_still(kind, rng)
        bouts = [_lead(rng)] + bouts if kind != "standing" else bouts
    else:
        bouts, label_kind, tags, text, pace = _frozen_walk(kind, rng)
        if pace != 1.0:
            bouts = [replace(b, stride_m=walker.stride_m * pace,
                             cadence_spm=walker.cadence_spm * (0.5 + 0.5 * pace)) for b in bouts]
        if rng.uniform() < 0.5 or kind == "treadmill":
            g, dps = _u(rng, 0.03, 0.2), _u(rng, 5, 35)
            kinds = ("walk", "jog", "shuffle", "sidestep", "still") if kind == "treadmill" else \
                ("walk", "jog", "shuffle", "sidestep")
            bouts = list(_shaken(bouts, g, dps, kinds))
            tags = tags + ["vibration"]
            text += f" on a vibrating ground ({g:.2f} g, {dps:.0f} deg/s rms)"
        mid_walk = kind != "treadmill" and rng.uniform() < 0.4
        if mid_walk:
            tags = tags + ["midwalk"]
            bouts = bouts + [_lead(rng)]
        else:
            bouts = [_lead(rng)] + bouts + [_lead(rng)]
    if place != "laces":
        tags = tags + [f"{place}_mount"]
    tags = tags + ["misaligned", "sensor_errors", style]
    name = f"{prefix}{i + 1:02d}_{kind}"
    text = f"{text}; {style} walker, {place} mount, {rate:g} Hz"
    return Case(name, label_kind, tuple(tags), style, rate, seed_base + i,
                tuple(bouts), text, mount, (), walker, part, mid_walk)


def _frozen_manifest(**draw):
    kinds = [kind for kind, count in FROZEN_PLAN for _ in range(count)]
    return {c.name: c for c in (_frozen_case(i, k, **draw) for i, k in enumerate(kinds))}


FROZEN_CASES = _frozen_manifest()  # the test set: judge on it, never tune on it
# the development set: drawn exactly like the test set, from other seeds, so the engine
# can be developed on what the test set measures without ever seeing the test set
DEV_MANIFEST_SEED = 515151
DEV_SEED_BASE = 9001
DEV_CASES = _frozen_manifest(manifest_seed=DEV_MANIFEST_SEED, seed_base=DEV_SEED_BASE,
                             prefix="d")
SETS = {"tune": CASES, "test": FROZEN_CASES, "dev": DEV_CASES}


def development_draw(k):
    """Development draw k >= 1: 50 more cases drawn like the test set from other seeds
    (none is the test set's or the dev set's), for figures over more walkers."""
    return list(_frozen_manifest(manifest_seed=600000 + k * 1111, seed_base=20000 + k * 100,
                                 prefix=f"x{k}_").values())


def development_kind(kind, count):
    """`count` development cases of one kind of the test set (FROZEN_PLAN), each drawn
    from its own other seed."""
    if kind not in dict(FROZEN_PLAN):
        raise RetrostepError(f"kind {kind!r}: use one of {', '.join(k for k, _ in FROZEN_PLAN)}")
    return [_frozen_case(i, kind, manifest_seed=818181 + i, seed_base=40000, prefix=kind[:3])
            for i in range(count)]


def _find(name):
    for cases in SETS.values():
        if name in cases:
            return cases[name]
    raise RetrostepError(f"no corpus case {name!r}; see `retrostep corpus --list`")


def make_case(case):
    """(Trace, labels) of a case (a Case or its name, in either set), in memory."""
    if isinstance(case, str):
        case = _find(case)
    trace, labels = simulate(case.scenario(), case.seed)
    trace.meta.update(case.meta)
    labels["tags"] = list(case.tags)
    labels["description"] = case.description
    return trace, labels


def index_entry(case, trace, labels):
    return {
        "name": case.name,
        "trace": case.name + ".csv",
        "labels": case.name + ".labels.json",
        "kind": case.kind,
        "tags": list(case.tags),
        "subject": case.subject,
        "rate_hz": case.rate_hz,
        "seed": case.seed,
        "samples": len(trace.t_s),
        "duration_s": round(trace.duration_s, 3),
        "strides": len(labels["strides"]),
        "steps": labels["steps"],
        "forward_steps": labels["forward_steps"],
        "backward_steps": labels["backward_steps"],
        "leaves_line_t_s": labels["drift"]["leaves_line_t_s"],
        "description": case.description,
    }


def fingerprint(label_texts):
    """SHA-256 (hex) over (name, labels file text) pairs, in the given order."""
    h = hashlib.sha256()
    for name, text in label_texts:
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def frozen_fingerprint():
    """The fingerprint of the frozen test set, generated afresh in memory (~10 s)."""
    return fingerprint((name, labels_text(make_case(case)[1]))
                       for name, case in FROZEN_CASES.items())


# the frozen test set as it was frozen; see the module docstring before touching it.
# Re-pinned once, for a sign convention only: the labels' lateral offsets became + = the
# walker's left (they were + = right); with that sign flipped back, the labels give the
# first pin, 6f7eeb65cc796e7e26f97902b0d72cffb65284b00b88a7043cecdec4e0e9ea0e. The
# traces did not change.
FROZEN_SHA256 = "b76abbbc2414029818913c970b5a3cd684936ba19e86257efea82bc32411f34c"


def _cases_of(which, names):
    if which not in SETS:
        raise RetrostepError(f"set {which!r}: use 'tune' (tuning), 'dev' (development, "
                             "drawn like the test set) or 'test' (frozen test)")
    cases = SETS[which]
    names = list(cases) if not names else list(names)
    unknown = [n for n in names if n not in cases]
    if unknown:
        raise RetrostepError(
            f"no corpus case named {', '.join(unknown)} in the {which} set; "
            "see `retrostep corpus --list`"
        )
    return [cases[n] for n in names]


def write_cases(out_dir, cases, log=None):
    """Write each case's trace and labels into out_dir (created if need be); returns
    their index entries and (name, labels text) pairs."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise RetrostepError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None
    entries, texts = [], []
    for case in cases:
        trace, labels = make_case(case)
        path = os.path.join(out_dir, case.name + ".csv")
        write_case(path, trace, labels)
        texts.append((case.name, labels_text(labels)))
        entries.append(index_entry(case, trace, labels))
        if log:
            log(f"{path}: {entries[-1]['duration_s']:.0f} s at {case.rate_hz:g} Hz, "
                f"{entries[-1]['strides']} strides, {entries[-1]['steps']} steps")
    return entries, texts


def write_corpus(out_dir, names=None, log=None, which="tune"):
    """Write the cases of a set (all, or `names`) and index.json into out_dir.

    which: "tune" (the tuning set, `CASES`) or "test" (the frozen test set,
    `FROZEN_CASES`). Returns the index (for the whole test set it carries the
    fingerprint of the label files written).
    """
    cases = _cases_of(which, names)
    entries, texts = write_cases(out_dir, cases, log)
    index = {"generator": "retrostep corpus", "version": 1, "cases": entries}
    if which == "test":
        index = {"generator": "retrostep corpus", "version": 1, "set": "test",
                 "frozen": "judge on it, never tune on it", "cases": entries}
        if len(cases) == len(FROZEN_CASES):
            index["labels_sha256"] = fingerprint(texts)
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return index


def write_test_set(out_dir, log=None):
    """Write the frozen test set into out_dir; raises if it is not the frozen one."""
    index = write_corpus(out_dir, log=log, which="test")
    if index["labels_sha256"] != FROZEN_SHA256:
        raise RetrostepError(
            f"{out_dir}: the test set written ({index['labels_sha256'][:12]}) is not the "
            f"frozen one ({FROZEN_SHA256[:12]}): the simulator or numpy changed it"
        )
    return index
