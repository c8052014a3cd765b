"""Gait simulator: a rigid shoe with an IMU clipped to it, walking forward, backward and
sideways.

The simulator turns a scenario (a list of bouts: walks, jogs, shuffles, side-steps,
pauses, seated foot tapping, seated leg swinging, turning in place, treadmill walks)
into the trace an IMU on the shoe would record (`retrostep.formats.trace.Trace`, DESIGN.md section 6) and a
labels dict that says what really happened (strides, steps, directions, the walked
path and how far a backward walk strayed from its line).

Frames and signs
----------------
World: x along the initial walking heading, y to the left, z up; gravity is
``G_VEC = (0, 0, -9.81) m/s^2``. Foot: x toward the toe, y to the wearer's left, z up
(the device frame of DESIGN.md section 4 when the mount is perfect). The foot's
attitude is ``R = Rz(yaw) @ Ry(pitch - alpha) @ Rx(roll)`` (foot-to-world); the
device's is ``R @ M`` with ``M`` the mount misalignment (device-to-foot).

**Pitch is positive nose-down**: a positive rotation about the foot's +y axis (the
wearer's left) turns the toe toward the ground, so gyro_y > 0 while the toe goes down
and gyro_y < 0 while the toe comes up. Forward walking: heel rise on push-off
(pitch 0 -> +50 deg, gyro_y > 0), swing (the foot swings toe-up, gyro_y < 0), heel
strike with the toe up (pitch about -22 deg), foot slap (gyro_y > 0). Backward
walking mirrors it: the toe rises first while the heel stays down (lift about the
heel, gyro_y < 0), swing (gyro_y > 0), toe strike with the toe down, heel lowering
about the ball (gyro_y < 0).

Placements (`mount_preset`): "laces" (the documented mount, device axes = foot axes),
"heel" (on the heel counter, face pointing backward, device x up, y left, z backward)
and "side" (on the outer side at mid-foot, face pointing outward, x toward the toe, y
up on the right shoe and down on the left). ``M = rpy(Mount.base_rpy_deg) @ rpy(Mount.misalign_rpy_deg)``: the placement's
orientation, then how crooked the clip sits (real clips: up to 10 deg).

The foot model
--------------
The shoe is a rigid body with a heel contact point (the foot-frame origin) and a
ball/toe pivot ``foot_length_m`` ahead of it on the sole; the IMU sits at
``Mount.lever_arm_m`` from the heel (on the laces: 12 cm forward, 6.5 cm up; on the
heel counter 2.5 cm behind, 4.5 cm up; on the side 10 cm forward, 5 cm out, 4 cm up). The pose
is described by eight smooth channels: a contact reference point ``c`` (world), the
position ``u`` of that point along the sole (0 = heel, 1 = ball), pitch, yaw, roll and
a shank angle ``alpha`` used for a hanging leg swinging about the knee. The heel is at
``c - R @ (u L, 0, 0) + Rz(yaw) @ l (sin alpha, 0, 1 - cos alpha)`` and the sensor at
``heel + R @ lever_arm``. Each stride is:

1. flat stance (foot flat and still),
2. departure pivot: the contact point is fixed (the ball going forward, the heel going
   backward) and only the pitch changes, so the heel (or toe) rises and the IMU,
   sitting at a lever arm from the pivot, really moves,
3. swing: the contact point travels the stride (minimum-jerk) with a clearance bump,
   ``u`` slides from one end of the sole to the other, pitch and yaw blend,
4. arrival pivot about the landing point (heel forward, ball backward) back to flat.

Timing: ``stance_frac`` is ground contact as gait labs define it (heel strike to
toe-off: 0.62 of the cycle walking forward), and includes both pivots; the foot is
flat and still for ``stance_frac - lift_frac - land_frac`` of the cycle (0.34 walking
forward, 0.40 backward, 0.23-0.28 jogging). That flat part is what a stance detector
finds and what ZUPT uses.

A side-step (kind "sidestep", direction left or right) lifts the heel about the ball
with little pitch, carries the foot across itself along its own y axis and lands on
the ball, then the heel lowers; its label direction is "sideways" and it counts as a
step.

Every channel is a piecewise polynomial of degree <= 6 in time with matching value,
rate and acceleration at every knot (pitch uses quintic Hermite pieces with a nonzero
rate at lift-off and contact, the others minimum-jerk blends and a s^3 (1-s)^3 lift
bump), so position is C2 and acceleration continuous. Sensor readings come from the
pose by exact (analytic) differentiation: specific force ``f = R_d^T (p'' - G_VEC)``
in g, angular rate ``omega = vee(R_d^T R_d')`` in deg/s. Contacts add a short damped
oscillation (``Bout.impact_g``, as seen on the laces) whose velocity and displacement
integrate to zero, so strapdown integration from one stance to the next still recovers
the stride. The shock is local: it decays with the distance from the struck point
(`impact_gain_at`), so a heel-counter mount reads 12-15 g at a forward heel strike
where the laces read 2-4 g. Ground vibration (``Bout.vibration_g_rms`` /
``vibration_dps_rms``, 15-60 Hz, see `Vibration`) shakes the foot while it is on the
ground; it is a displacement and a small angle that vanish with their rates at the
ends of each contact, so it is zero-mean and ZUPT still holds. Each output sample is
the mean of the motion over its sample period (evaluated at about 1 kHz), a simple
stand-in for the IMU's anti-aliasing filter; then the sensor model adds cross-axis
coupling, scale error, bias (with a slow random walk), white noise, saturation,
optional quantisation and timestamp jitter, all from the seed.

Clock and crop
--------------
``SensorModel.clock_error`` e: the board's sample clock runs fast by e, so sample k is
taken at true time k / (rate (1 + e)) but stamped k / rate; every time in the labels is
on the trace's time base (what the engine sees), i.e. true time times (1 + e).
``Scenario.start_mid_walk`` starts the recording at a random phase of one of the first
two strides of the first walking bout (no still lead-in); labels keep only strides and
steps that land inside the trace. A plain ``SensorModel()`` has no coupling and no
clock error (older scenarios keep their numbers); ``SensorModel.real()`` draws them too.

Time reversal
-------------
A backward stride is built by the same machinery as a forward stride with the roles of
departure and arrival swapped. With ``reverse_bout`` (lift <-> land pitch, duration
fraction and rate factor swapped) and impacts off, a backward stride is *exactly* the
time reversal of the forward one: for a stride spanning ``[0, T]``,
``accel_b(t) = accel_f(T - t)`` (acceleration is even under t -> -t, and gravity does
not care) and ``gyro_b(t) = -gyro_f(T - t)`` on all three axes (angular velocity is
odd). This is why time-symmetric features cannot tell the directions apart; the
stride vector, the sign of the pitch at contact and the contact impact can.

Treadmill
---------
The belt is an inertial frame moving at constant speed. The foot walks normally
relative to the belt; in the room frame the belt carries it back at belt speed (a
smooth speed ramp at the start and end of the bout), so the room-frame path stays near
the origin, the stance foot moves at constant velocity with zero acceleration and zero
rate, and the IMU signals equal overground walking. Stride labels (`vector_m`) are
relative to the surface under the foot (the belt), which is what ZUPT integration
measures; `room_vector_m` is the room-frame displacement.

Steps
-----
The instrumented foot makes ``N`` strides per bout; the other foot's steps interleave:
by default (``Bout.other_steps = None``) one after each of ours (it lands half a
cycle after us, the last one bringing the feet together), so a bout counts ``2 N``
steps. ``other_steps = N - 1`` (we end with our foot, e.g. 9 backward steps from
N = 5) or ``N + 1`` (the other foot also leads the bout) give odd counts.

Command
-------
``retrostep simulate -o walk.csv --kind walk --direction backward --strides 30`` writes
``walk.csv`` and ``walk.labels.json``; ``retrostep simulate --plot
docs/stride_forward_backward.png`` draws one forward and one backward stride.
"""

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

import numpy as np

from retrostep.errors import RetrostepError
from retrostep.formats.trace import Trace

G = 9.81  # m/s^2 per g, used both ways so a still, flat device reads exactly 1 g
G_VEC = np.array([0.0, 0.0, -G])
ACCEL_RANGE_G = 16.0
GYRO_RANGE_DPS = 2000.0
MIN_RATE_HZ = 50.0

WALKING_KINDS = ("walk", "jog", "shuffle", "turn", "sidestep")
KINDS = WALKING_KINDS + ("still", "tap", "leg_swing")
DIRECTIONS = ("forward", "backward")
SIDE_DIRECTIONS = ("left", "right")  # kind "sidestep": which way the foot travels
LEAVE_LINE_M = 0.5  # lateral offset that counts as leaving the line

# ---------------------------------------------------------------------------- parameters


@dataclass
class Subject:
    """A walker: gait habits of one person (all per instrumented foot)."""

    name: str = "adult"
    foot: str = "right"  # which shoe carries the device
    foot_length_m: float = 0.19  # heel contact to ball/toe pivot
    shank_length_m: float = 0.45  # knee to heel, for a hanging leg swinging
    toe_out_deg: float = 5.0  # foot yaw outward of the walking direction
    # forward walking at a normal pace
    stride_m: float = 1.35  # one stride of this foot = two steps
    cadence_spm: float = 110.0  # steps per minute, both feet
    clearance_m: float = 0.12  # peak lift of the contact point in swing
    pushoff_pitch_deg: float = 50.0  # heel rise at toe-off (toe down)
    heel_strike_pitch_deg: float = 22.0  # toe up at heel strike
    swing_roll_deg: float = 4.0  # small roll in mid-swing
    impact_g: float = 2.5  # heel-strike transient, forward walking
    # backward walking, relative to forward
    backward_stride_ratio: float = 0.5
    backward_cadence_ratio: float = 0.85
    backward_lift_pitch_deg: float = 14.0  # toe up while the heel lifts last
    backward_land_pitch_deg: float = 25.0  # toe down at the toe strike
    jog_cadence_spm: float = 160.0
    # stride-to-stride randomness: 1 = typical, 0 = identical strides
    variability: float = 1.0


# Real parts and clips (DESIGN.md section 4): the widest errors the simulator is asked for
SCALE_ERROR_MAX = 0.01  # +-1 % per axis
CROSS_AXIS_MAX = 0.005  # +-0.5 % coupling between axes
CLOCK_ERROR_MAX = 0.007  # +-0.7 % sample clock
MISALIGN_MAX_DEG = 10.0  # a clip sitting crooked on its placement
LACES_LEVER_ARM_M = (0.12, 0.0, 0.065)


@dataclass
class Mount:
    """How the device sits on the shoe.

    ``M = rpy(base_rpy_deg) @ rpy(misalign_rpy_deg)`` is the device-to-foot rotation:
    the base orientation of the placement (none on the laces), then how crooked the
    clip sits. ``impact_gain`` scales the contact transient at the device relative to
    the laces, for contacts at the heel and at the ball; `mount_preset` sets it from
    where the device sits (a plain Mount is treated like the laces).
    """

    lever_arm_m: tuple = LACES_LEVER_ARM_M  # device origin in the foot frame, from the heel
    misalign_rpy_deg: tuple = (0.0, 0.0, 0.0)  # device-to-foot roll, pitch, yaw
    placement: str = "laces"
    base_rpy_deg: tuple = (0.0, 0.0, 0.0)
    impact_gain: tuple = (1.0, 1.0)  # (contact at the heel, contact at the ball)

    def rotation(self):
        """The device-to-foot rotation M (3, 3)."""
        M = rpy_matrix(*self.misalign_rpy_deg)
        if any(self.base_rpy_deg):
            M = rpy_matrix(*self.base_rpy_deg) @ M
        return M


# where a clip can hold the device: lever arm (right shoe, foot frame from the heel contact)
# and the device-to-foot base orientation. heel: on the heel counter, face pointing
# backward, device x up (Ry(-90): device x -> foot +z, device z -> foot -x, y unchanged).
# side: on the outer side at mid-foot, face pointing outward, x toward the toe
# (right shoe Rx(+90): device z -> foot -y, device y -> foot +z; left shoe Rx(-90):
# z -> foot +y, so y points down).
PLACEMENTS = {
    "laces": (LACES_LEVER_ARM_M, (0.0, 0.0, 0.0)),
    "heel": ((-0.025, 0.0, 0.045), (0.0, -90.0, 0.0)),
    "side": ((0.10, -0.05, 0.04), (90.0, 0.0, 0.0)),
}
IMPACT_DECAY_M = 0.035  # a contact shock falls by e over this distance through the shoe
IMPACT_GAIN_RANGE = (0.3, 12.0)


def impact_gain_at(lever_arm_m, foot_length_m=0.19):
    """(heel-contact, ball-contact) shock gains at a device position, relative to the laces.

    The shoe is rigid for the slow motion, but a contact shock is local: it decays with
    the distance from the struck point, exp(-d / IMPACT_DECAY_M), normalised so a device
    on the laces sees the walker's impact_g; gains stay within IMPACT_GAIN_RANGE.
    The heel counter, 5 cm from the heel, gets about 11x the laces' shock at a heel
    strike: the transient peaks near 28 g for a 2.5 g walker, which the sample
    averaging (the IMU's anti-aliasing) reads as 12-15 g at 208-416 Hz and less at
    104 Hz; strong walkers clip at 16 g. A toe strike hardly reaches the heel.
    """
    lever = np.asarray(lever_arm_m, float)
    laces = np.asarray(LACES_LEVER_ARM_M, float)
    gains = []
    for contact in (np.zeros(3), np.array([foot_length_m, 0.0, 0.0])):
        d_ref = np.linalg.norm(laces - contact)
        d = np.linalg.norm(lever - contact)
        gains.append(float(np.clip(math.exp((d_ref - d) / IMPACT_DECAY_M), *IMPACT_GAIN_RANGE)))
    return tuple(gains)


def mount_preset(placement="laces", foot="right", foot_length_m=0.19,
                 misalign_rpy_deg=(0.0, 0.0, 0.0), lever_shift_m=(0.0, 0.0, 0.0)):
    """A Mount for a placement ("laces", "heel" or "side") on the given shoe.

    misalign_rpy_deg: how crooked the clip sits on top of the placement's orientation
    (real clips: up to MISALIGN_MAX_DEG); lever_shift_m moves it from the nominal spot.
    """
    if placement not in PLACEMENTS:
        raise RetrostepError(f"placement {placement!r}: use one of {', '.join(PLACEMENTS)}")
    lever, base = PLACEMENTS[placement]
    lever = np.asarray(lever, float) + np.asarray(lever_shift_m, float)
    if foot == "left":  # mirror the outer side across the foot's x-z plane
        lever[1] = -lever[1]
        base = (-base[0], base[1], base[2])
    lever = tuple(float(v) for v in lever)
    return Mount(lever_arm_m=lever, misalign_rpy_deg=tuple(misalign_rpy_deg),
                 placement=placement, base_rpy_deg=tuple(float(v) for v in base),
                 impact_gain=impact_gain_at(lever, foot_length_m))


@dataclass
class SensorModel:
    """IMU errors. Anything left None is drawn from the seed within the stated range."""

    accel_noise_ug_rthz: float = 90.0  # white noise density
    gyro_noise_mdps_rthz: float = 3.8
    gyro_noise_factor: float = 2.0  # real boards are noisier than the datasheet
    gyro_bias_dps: Optional[tuple] = None  # zero-rate level per axis
    gyro_bias_max_dps: float = 1.0
    gyro_bias_walk_dps_rts: float = 0.003  # bias random walk, deg/s per sqrt(s)
    accel_bias_g: Optional[tuple] = None
    accel_bias_max_g: float = 0.004
    accel_scale_error: Optional[tuple] = None  # per axis, e.g. 0.004 = +0.4 %
    gyro_scale_error: Optional[tuple] = None
    scale_error_max: float = SCALE_ERROR_MAX
    # cross-axis coupling: reading = (I + C) @ true, C a 3x3 with a zero diagonal
    accel_cross_axis: Optional[tuple] = None  # 3x3 (rows: device axis read)
    gyro_cross_axis: Optional[tuple] = None
    cross_axis_max: float = 0.0  # draw range when None: 0 = an ideal part, see real()
    # the board's sample clock runs fast by clock_error (0.007 = +0.7 %): sample k is
    # taken at true time k / (rate (1 + e)) but stamped k / rate
    clock_error: Optional[float] = None
    clock_error_max: float = 0.0  # draw range when None, see real()
    accel_range_g: float = ACCEL_RANGE_G
    gyro_range_dps: float = GYRO_RANGE_DPS
    quantise: bool = False  # round to the LSB of the firmware's full scale
    jitter_frac: float = 0.003  # timestamp jitter (std) as a fraction of dt, capped at 1 %
    oversample: int = 0  # sub-samples averaged per output sample (0: about 1 kHz)

    @classmethod
    def real(cls, **fields):
        """A part with every error of DESIGN.md section 4 drawn from the seed: bias,
        scale, cross-axis coupling and clock error at their full ranges."""
        fields.setdefault("cross_axis_max", CROSS_AXIS_MAX)
        fields.setdefault("clock_error_max", CLOCK_ERROR_MAX)
        return cls(**fields)


@dataclass
class Bout:
    """One activity. Gait parameters left None come from the subject and the kind.

    kind: walk | jog | shuffle | turn | sidestep (strides), still | tap | leg_swing
    (duration_s). direction: forward | backward; for a sidestep left | right (the way
    the foot travels, along its own y axis).

    vibration_g_rms / vibration_dps_rms: the ground shakes the foot while it is on it
    (gravel, grass, a treadmill deck; up to 0.2 g and 35 deg/s rms), see `Vibration`.
    """

    kind: str = "walk"
    direction: str = "forward"
    strides: int = 10
    duration_s: float = 0.0
    other_steps: Optional[int] = None  # steps of the other foot (N - 1, N or N + 1)
    stride_m: Optional[float] = None
    cadence_spm: Optional[float] = None
    stance_frac: Optional[float] = None  # ground contact, heel strike to toe-off
    lift_frac: Optional[float] = None  # departure pivot, fraction of the cycle
    land_frac: Optional[float] = None  # arrival pivot, fraction of the cycle
    lift_rate: Optional[float] = None  # pitch rate at lift-off / (lift pitch / lift time)
    land_rate: Optional[float] = None  # pitch rate at contact / (land pitch / land time)
    clearance_m: Optional[float] = None
    lift_pitch_deg: Optional[float] = None  # |pitch| at lift-off
    land_pitch_deg: Optional[float] = None  # |pitch| at contact
    swing_roll_deg: Optional[float] = None
    impact_g: Optional[float] = None
    curve_deg_per_m: float = 0.0  # heading change per metre walked (+ = to the left)
    curve_from_stride: int = 0  # the curve starts with this stride (0 = the first)
    heading_deg: Optional[float] = None  # walking heading the bout turns to (world)
    turn_deg: float = 180.0  # kind "turn": total turn (+ = to the left)
    treadmill: bool = False
    amplitude_deg: Optional[float] = None  # tap: toe lift; leg_swing: shank swing
    frequency_hz: Optional[float] = None  # tap / leg_swing rhythm
    vibration_g_rms: float = 0.0  # ground vibration during contact, |accel| rms
    vibration_dps_rms: float = 0.0  # ... and |angular rate| rms


@dataclass
class Scenario:
    bouts: list
    subject: Subject = field(default_factory=Subject)
    mount: Mount = field(default_factory=Mount)
    sensor: SensorModel = field(default_factory=SensorModel)
    rate_hz: float = 104.0
    ideal: bool = False  # no noise, bias, scale error, jitter or clipping
    name: str = ""
    kind: str = ""  # label kind; derived from the bouts when empty
    start_heading_deg: float = 0.0
    # the recording starts mid-walk: cropped at a random phase of one of the first
    # strides of the first walking bout (no still lead-in; labels only from there on)
    start_mid_walk: bool = False


SUBJECTS = {
    "rehab": Subject(
        name="rehab", foot="left", foot_length_m=0.18, toe_out_deg=8.0,
        stride_m=1.0, cadence_spm=96.0, clearance_m=0.09,
        pushoff_pitch_deg=38.0, heel_strike_pitch_deg=15.0, swing_roll_deg=5.0,
        impact_g=1.8, backward_stride_ratio=0.45, backward_cadence_ratio=0.8,
        backward_lift_pitch_deg=10.0, backward_land_pitch_deg=18.0,
        jog_cadence_spm=140.0,
    ),
    "adult": Subject(),
    "athlete": Subject(
        name="athlete", foot="right", foot_length_m=0.20, toe_out_deg=3.0,
        stride_m=1.55, cadence_spm=118.0, clearance_m=0.14,
        pushoff_pitch_deg=58.0, heel_strike_pitch_deg=26.0, swing_roll_deg=3.0,
        impact_g=3.0, backward_stride_ratio=0.52, backward_cadence_ratio=0.9,
        backward_lift_pitch_deg=16.0, backward_land_pitch_deg=30.0,
        jog_cadence_spm=170.0,
    ),
}


@dataclass
class Gait:
    """Resolved stride parameters of a walking bout (see `resolve_gait`)."""

    stride_m: float
    cadence_spm: float
    stance_frac: float
    lift_frac: float
    land_frac: float
    lift_rate: float
    land_rate: float
    clearance_m: float
    lift_pitch_deg: float
    land_pitch_deg: float
    swing_roll_deg: float
    impact_g: float

    @property
    def cycle_s(self):
        return 120.0 / self.cadence_spm

    @property
    def flat_frac(self):
        return self.stance_frac - self.lift_frac - self.land_frac


def _kind_defaults(kind, direction, s):
    """Default gait of a kind for subject s."""
    fwd = direction == "forward"
    if kind == "walk":
        if fwd:
            return dict(stride_m=s.stride_m, cadence_spm=s.cadence_spm, stance_frac=0.62,
                        lift_frac=0.18, land_frac=0.10, lift_rate=0.5, land_rate=0.4,
                        clearance_m=s.clearance_m, lift_pitch_deg=s.pushoff_pitch_deg,
                        land_pitch_deg=s.heel_strike_pitch_deg, impact_g=s.impact_g)
        return dict(stride_m=s.stride_m * s.backward_stride_ratio,
                    cadence_spm=s.cadence_spm * s.backward_cadence_ratio, stance_frac=0.66,
                    lift_frac=0.10, land_frac=0.16, lift_rate=0.4, land_rate=0.5,
                    clearance_m=0.7 * s.clearance_m, lift_pitch_deg=s.backward_lift_pitch_deg,
                    land_pitch_deg=s.backward_land_pitch_deg, impact_g=0.5 * s.impact_g)
    if kind == "jog":
        if fwd:
            return dict(stride_m=1.7 * s.stride_m, cadence_spm=s.jog_cadence_spm,
                        stance_frac=0.40, lift_frac=0.12, land_frac=0.05, lift_rate=0.5,
                        land_rate=0.4, clearance_m=1.3 * s.clearance_m,
                        lift_pitch_deg=1.1 * s.pushoff_pitch_deg,
                        land_pitch_deg=0.7 * s.heel_strike_pitch_deg, impact_g=2.0 * s.impact_g)
        return dict(stride_m=0.65 * s.stride_m, cadence_spm=s.jog_cadence_spm, stance_frac=0.45,
                    lift_frac=0.07, land_frac=0.10, lift_rate=0.4, land_rate=0.5,
                    clearance_m=0.8 * s.clearance_m, lift_pitch_deg=0.9 * s.backward_lift_pitch_deg,
                    land_pitch_deg=1.2 * s.backward_land_pitch_deg, impact_g=1.6 * s.impact_g)
    if kind == "shuffle":
        return dict(stride_m=0.18, cadence_spm=0.9 * s.cadence_spm, stance_frac=0.70,
                    lift_frac=0.10, land_frac=0.10, lift_rate=0.4, land_rate=0.4,
                    clearance_m=0.015, lift_pitch_deg=6.0, land_pitch_deg=5.0,
                    impact_g=0.3 * s.impact_g)
    if kind == "sidestep":
        # lateral stepping: the foot lifts with little pitch (heel first), travels
        # across itself and lands on the ball, then the heel lowers
        return dict(stride_m=0.45, cadence_spm=0.8 * s.cadence_spm, stance_frac=0.66,
                    lift_frac=0.12, land_frac=0.10, lift_rate=0.4, land_rate=0.4,
                    clearance_m=0.5 * s.clearance_m, lift_pitch_deg=10.0, land_pitch_deg=8.0,
                    impact_g=0.6 * s.impact_g)
    if kind == "turn":
        return dict(stride_m=0.06, cadence_spm=0.75 * s.cadence_spm, stance_frac=0.65,
                    lift_frac=0.10, land_frac=0.10, lift_rate=0.4, land_rate=0.4,
                    clearance_m=0.04, lift_pitch_deg=12.0, land_pitch_deg=8.0,
                    impact_g=0.4 * s.impact_g)
    raise RetrostepError(f"bout kind {kind!r} has no strides")


def resolve_gait(bout, subject):
    """The stride parameters a walking bout will use (its own, else the defaults)."""
    d = _kind_defaults(bout.kind, bout.direction, subject)
    d["swing_roll_deg"] = subject.swing_roll_deg
    for name in d:
        value = getattr(bout, name)
        if value is not None:
            d[name] = float(value)
    gait = Gait(**d)
    _check_gait(gait)
    return gait


def _check_gait(g):
    if not (g.stride_m >= 0 and g.cadence_spm > 0 and g.clearance_m >= 0):
        raise RetrostepError(
            f"stride {g.stride_m} m, cadence {g.cadence_spm} steps/min, clearance "
            f"{g.clearance_m} m: stride and clearance must be >= 0 and cadence > 0"
        )
    if not (0 < g.stance_frac < 1 and g.lift_frac > 0 and g.land_frac > 0
            and g.flat_frac > 0.02):
        raise RetrostepError(
            f"stance fraction {g.stance_frac} must exceed lift + land fractions "
            f"({g.lift_frac} + {g.land_frac}) by at least 0.02 and be below 1"
        )


def reverse_bout(bout, subject):
    """The bout walked in the other direction as the exact time reversal of this one.

    Departure and arrival swap their pitch, duration fraction and rate factor; stride,
    cadence, stance and clearance stay. Impacts and curvature break the symmetry, so
    they are carried over unchanged (set them to 0 for an exact mirror).
    """
    g = resolve_gait(bout, subject)
    other = "backward" if bout.direction == "forward" else "forward"
    return replace(
        bout, direction=other, stride_m=g.stride_m, cadence_spm=g.cadence_spm,
        stance_frac=g.stance_frac, lift_frac=g.land_frac, land_frac=g.lift_frac,
        lift_rate=g.land_rate, land_rate=g.lift_rate, clearance_m=g.clearance_m,
        lift_pitch_deg=g.land_pitch_deg, land_pitch_deg=g.lift_pitch_deg,
        swing_roll_deg=g.swing_roll_deg, impact_g=g.impact_g,
    )


# ---------------------------------------------------------------------------- polynomials

_DEG = 7  # coefficients per channel piece: polynomials in s of degree <= 6
_CH = ("cx", "cy", "cz", "u", "pitch", "yaw", "roll", "alpha")
_I = {name: i for i, name in enumerate(_CH)}
_MJ = np.array([0, 0, 0, 10, -15, 6, 0], float)  # minimum-jerk 0 -> 1
_BUMP = 64.0 * np.array([0, 0, 0, 1, -3, 3, -1], float)  # 0 -> 1 -> 0, flat ends
# quintic Hermite basis on s in [0, 1]: p0, v0 T, a0 T^2, a1 T^2, v1 T, p1
_H0 = np.array([1, 0, 0, -10, 15, -6, 0], float)
_H1 = np.array([0, 1, 0, -6, 8, -3, 0], float)
_H2 = np.array([0, 0, 0.5, -1.5, 1.5, -0.5, 0], float)
_H3 = np.array([0, 0, 0, 0.5, -1, 0.5, 0], float)
_H4 = np.array([0, 0, 0, -4, 7, -3, 0], float)
_H5 = _MJ


def _hermite(p0, v0, a0, p1, v1, a1, T):
    return (p0 * _H0 + v0 * T * _H1 + a0 * T * T * _H2 + a1 * T * T * _H3
            + v1 * T * _H4 + p1 * _H5)


class _Pieces:
    """Piecewise polynomials in s = (t - t0) / T for several channels at once."""

    def __init__(self, t0, dur, coef):
        self.t0 = np.asarray(t0, float)
        self.dur = np.asarray(dur, float)
        self.c0 = np.asarray(coef, float)  # (m, channels, _DEG)
        k = np.arange(1, _DEG)
        self.c1 = self.c0[:, :, 1:] * k
        self.c2 = self.c1[:, :, 1:] * k[:-1]

    def __call__(self, t):
        """Values, first and second time derivatives at t: three (n, channels) arrays."""
        t = np.asarray(t, float)
        idx = np.clip(np.searchsorted(self.t0, t, side="right") - 1, 0, len(self.t0) - 1)
        dur = self.dur[idx]
        s = np.clip((t - self.t0[idx]) / dur, 0.0, 1.0)
        pw = s[:, None] ** np.arange(_DEG)
        val = np.einsum("nck,nk->nc", self.c0[idx], pw)
        d1 = np.einsum("nck,nk->nc", self.c1[idx], pw[:, : _DEG - 1]) / dur[:, None]
        d2 = np.einsum("nck,nk->nc", self.c2[idx], pw[:, : _DEG - 2]) / (dur * dur)[:, None]
        return val, d1, d2


class _Timeline:
    """Builds the channel pieces, segment by segment, from the current state."""

    def __init__(self, state, foot_length):
        self.t = 0.0
        self.state = np.array(state, float)
        self.L = foot_length
        self.t0, self.dur, self.coef = [], [], []

    def add(self, T, targets=None, hermite=None, bumps=None):
        """A segment of T s: min-jerk blends to `targets`, quintic Hermite pieces
        ``hermite[ch] = (v0, a0, p1, v1, a1)`` from the current value, bumps added."""
        if T <= 0:
            raise RetrostepError(f"a motion segment of {T:.4g} s is too short")
        coef = np.zeros((len(_CH), _DEG))
        coef[:, 0] = self.state
        end = self.state.copy()
        for ch, value in (targets or {}).items():
            i = _I[ch]
            coef[i] = (value - self.state[i]) * _MJ
            coef[i, 0] += self.state[i]
            end[i] = value
        for ch, (v0, a0, p1, v1, a1) in (hermite or {}).items():
            i = _I[ch]
            coef[i] = _hermite(self.state[i], v0, a0, p1, v1, a1, T)
            end[i] = p1
        for ch, height in (bumps or {}).items():
            coef[_I[ch]] += height * _BUMP
        self.t0.append(self.t)
        self.dur.append(T)
        self.coef.append(coef)
        self.t += T
        self.state = end

    def hold(self, T):
        if T > 0:
            self.add(T)

    def heel(self):
        """Heel position while the foot is flat (pitch, roll, alpha all zero)."""
        c = self.state[:3]
        yaw = self.state[_I["yaw"]]
        return c - self.state[_I["u"]] * self.L * np.array([math.cos(yaw), math.sin(yaw), 0.0])

    def rebase(self, u):
        """Move the contact reference along the flat sole; the pose does not change."""
        yaw = self.state[_I["yaw"]]
        h = self.heel()
        self.state[:3] = h + u * self.L * np.array([math.cos(yaw), math.sin(yaw), 0.0])
        self.state[_I["u"]] = u

    def pieces(self):
        self.add(1.0)  # hold the last pose beyond the end
        return _Pieces(self.t0, self.dur, np.array(self.coef))


# ---------------------------------------------------------------------------- rotations


def _rot(axis, a):
    """(n, 3, 3) rotations about a coordinate axis by angles a (n,)."""
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[:, axis, axis] = 1.0
    R[:, i, i] = c
    R[:, j, j] = c
    R[:, i, j] = -s
    R[:, j, i] = s
    return R


def _skew_axis(axis):
    K = np.zeros((3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    K[j, i] = 1.0
    K[i, j] = -1.0
    return K


def _rot_d(axis, a, a1, a2):
    """A rotation about a fixed axis and its first two time derivatives."""
    R = _rot(axis, a)
    K = _skew_axis(axis)
    K2 = K @ K
    R1 = (R @ K) * a1[:, None, None]
    R2 = R @ (K2 * (a1 * a1)[:, None, None] + K * a2[:, None, None])
    return R, R1, R2


def rpy_matrix(roll_deg, pitch_deg, yaw_deg):
    """Rz(yaw) @ Ry(pitch) @ Rx(roll) for angles in degrees (3, 3)."""
    r, p, y = (np.array([math.radians(v)]) for v in (roll_deg, pitch_deg, yaw_deg))
    return (_rot(2, y) @ _rot(1, p) @ _rot(0, r))[0]


def _vee(W):
    return np.stack([W[:, 2, 1] - W[:, 1, 2], W[:, 0, 2] - W[:, 2, 0],
                     W[:, 1, 0] - W[:, 0, 1]], axis=1) / 2.0


# ---------------------------------------------------------------------------- impacts


def _impact_shape(tau, freq):
    """d''(t) of d(t) = (t/tau)^2 exp(-t/tau) cos(w t), scaled to a peak of 1."""
    w = 2.0 * math.pi * freq

    def dd(t):
        e = np.exp(-t / tau)
        g = (t / tau) ** 2 * e
        g1 = (2 * t / tau**2 - t**2 / tau**3) * e
        g2 = (2 / tau**2 - 4 * t / tau**3 + t**2 / tau**4) * e
        return g2 * np.cos(w * t) - 2 * w * g1 * np.sin(w * t) - w * w * g * np.cos(w * t)

    grid = np.linspace(0.0, 20 * tau, 4001)
    peak = np.max(np.abs(dd(grid)))
    return lambda t: dd(t) / peak


IMPACT_TAU_S = 0.006
IMPACT_FREQ_HZ = 32.0
IMPACT_SPAN_TAUS = 18.0
_UNIT_IMPACT = _impact_shape(IMPACT_TAU_S, IMPACT_FREQ_HZ)


# ---------------------------------------------------------------------------- the motion


class Motion:
    """Ground truth of a scenario: poses in continuous time and the labels.

    ``pose(t)`` gives the IMU's world position and device-to-world rotation,
    ``imu(t)`` the ideal (error-free) specific force in g and angular rate in deg/s.
    """

    def __init__(self, pieces, mount, subject, belts, impacts, labels, duration_s,
                 vibration=None):
        self.pieces = pieces
        self.M = mount.rotation()
        self.lever = np.asarray(mount.lever_arm_m, float)
        self.impact_gain = tuple(float(v) for v in mount.impact_gain)
        self.vibration = vibration  # a Vibration, or None
        self.L = subject.foot_length_m
        self.shank = subject.shank_length_m
        self.belts = belts  # (t_start, t_end, ramp_s, velocity (3,))
        self.impacts = impacts  # (t, amplitude m/s^2, world unit vector (3,))
        self.labels = labels
        self.duration_s = duration_s

    def _kinematics(self, t, order=2, belt=True):
        v, d1, d2 = self.pieces(t)
        col = lambda name, a: a[:, _I[name]]  # noqa: E731
        theta = [col("pitch", a) - col("alpha", a) for a in (v, d1, d2)]
        Z = _rot_d(2, col("yaw", v), col("yaw", d1), col("yaw", d2))
        Y = _rot_d(1, *theta)
        X = _rot_d(0, col("roll", v), col("roll", d1), col("roll", d2))
        R = Z[0] @ Y[0] @ X[0]
        # pendulum offset of a hanging leg: knee above the heel, shank angle alpha
        al, al1, al2 = col("alpha", v), col("alpha", d1), col("alpha", d2)
        sa, ca = np.sin(al), np.cos(al)
        zero = np.zeros_like(al)
        P = self.shank * np.stack([sa, zero, 1.0 - ca], 1)
        P1 = self.shank * np.stack([ca, zero, sa], 1) * al1[:, None]
        P2 = self.shank * (np.stack([-sa, zero, ca], 1) * (al1 * al1)[:, None]
                           + np.stack([ca, zero, sa], 1) * al2[:, None])
        ex = np.array([1.0, 0.0, 0.0])
        q = self.lever[None, :] - (self.L * col("u", v))[:, None] * ex
        p = v[:, :3] + np.einsum("nij,nj->ni", Z[0], P) + np.einsum("nij,nj->ni", R, q)
        out = {"p": p, "R": R}
        if belt:
            out["p"] = p + self._belt(t, 0)
        if order == 0:
            return out
        R1 = Z[1] @ Y[0] @ X[0] + Z[0] @ Y[1] @ X[0] + Z[0] @ Y[0] @ X[1]
        R2 = (Z[2] @ Y[0] @ X[0] + Z[0] @ Y[2] @ X[0] + Z[0] @ Y[0] @ X[2]
              + 2 * (Z[1] @ Y[1] @ X[0] + Z[1] @ Y[0] @ X[1] + Z[0] @ Y[1] @ X[1]))
        q1 = -(self.L * col("u", d1))[:, None] * ex
        q2 = -(self.L * col("u", d2))[:, None] * ex
        mv = lambda A, b: np.einsum("nij,nj->ni", A, b)  # noqa: E731
        acc = (d2[:, :3] + mv(Z[2], P) + 2 * mv(Z[1], P1) + mv(Z[0], P2)
               + mv(R2, q) + 2 * mv(R1, q1) + mv(R, q2))
        if belt:
            acc = acc + self._belt(t, 2)
        acc = acc + self._impact_acc(t)
        out["acc"] = acc
        out["omega_foot"] = _vee(np.swapaxes(R, 1, 2) @ R1)
        return out

    def _belt(self, t, order):
        """Room-frame displacement (order 0) or acceleration (order 2) the belts add."""
        out = np.zeros((len(t), 3))
        for t0, t1, ramp, vel in self.belts:
            # speed: min-jerk ramp up over `ramp` s from t0, steady, ramp down to t1
            u = np.clip((t - t0) / ramp, 0, 1)
            d = np.clip((t1 - t) / ramp, 0, 1)
            if order == 0:
                out += _belt_distance(t, t0, t1, ramp)[:, None] * vel
            else:
                mjd = lambda s: 30 * s**2 * (1 - s) ** 2  # noqa: E731
                a = (np.where((u > 0) & (u < 1), mjd(u), 0.0)
                     - np.where((d > 0) & (d < 1), mjd(d), 0.0)) / ramp
                out += a[:, None] * vel
        return out

    def _impact_acc(self, t):
        out = np.zeros((len(t), 3))
        span = IMPACT_SPAN_TAUS * IMPACT_TAU_S
        order = None
        if len(t) > 1 and not np.all(np.diff(t) >= 0):
            order = np.argsort(t, kind="stable")
            t = t[order]
        for tc, amp, direction, contact in self.impacts:
            amp = amp * self.impact_gain[contact]
            if amp == 0:
                continue
            i0, i1 = np.searchsorted(t, [tc, tc + span])
            if i1 > i0:
                out[i0:i1] += amp * _UNIT_IMPACT(t[i0:i1] - tc)[:, None] * direction
        if order is not None:
            unsorted = np.empty_like(out)
            unsorted[order] = out
            out = unsorted
        return out

    def pose(self, t, surface=False):
        """IMU position (n, 3), world frame, and device-to-world rotation (n, 3, 3).

        surface=True leaves out treadmill belt motion (positions relative to the belt)."""
        t = np.atleast_1d(np.asarray(t, float))
        k = self._kinematics(t, order=0, belt=not surface)
        return k["p"], k["R"] @ self.M

    def imu(self, t, oversample=1, dt=None):
        """Ideal readings at times t: specific force (n, 3) in g, rate (n, 3) in deg/s.

        With oversample > 1 each reading is the mean over `oversample` instants spread
        evenly over one sample period `dt` centred on t (a simple anti-aliasing filter).
        """
        t = np.atleast_1d(np.asarray(t, float))
        K = max(1, int(oversample))
        if K > 1:
            if dt is None:
                raise ValueError("oversample needs dt")
            offs = ((np.arange(K) + 0.5) / K - 0.5) * dt
        else:
            offs = np.zeros(1)
        acc_sum = np.zeros((len(t), 3))
        gyr_sum = np.zeros((len(t), 3))
        chunk = 20000
        for off in offs:
            for a in range(0, len(t), chunk):
                tt = t[a : a + chunk] + off
                k = self._kinematics(tt)
                if self.vibration is None:
                    Rd = k["R"] @ self.M
                    sf = np.einsum("nji,nj->ni", Rd, k["acc"] - G_VEC) / G
                    om = k["omega_foot"] @ self.M  # M^T omega, row-wise
                else:
                    sf, om = self._shaken(tt, k)
                acc_sum[a : a + chunk] += sf
                gyr_sum[a : a + chunk] += np.degrees(om)
        return acc_sum / len(offs), gyr_sum / len(offs)


    def _shaken(self, t, k):
        """Specific force (g) and rate (rad/s, device frame) with ground vibration.

        The foot is displaced by d(t) and turned by a small angle theta(t) (foot frame);
        both are zero, with zero rate, at the edges of each contact, so velocity and
        attitude come back: ZUPT still holds. To first order in theta (< 0.5 deg) the
        foot-frame specific force turns by -theta x f and the rate gains theta'.
        """
        acc_w, theta, rate = self.vibration(t)
        f = np.einsum("nji,nj->ni", k["R"], k["acc"] + acc_w - G_VEC)
        f = f - np.cross(theta, f)
        sf = f @ self.M / G
        om = (k["omega_foot"] + rate) @ self.M
        return sf, om


class Vibration:
    """Band-limited random ground vibration during contact, deterministic from a seed.

    windows: (t0, t1, accel_g_rms, rate_dps_rms) contact intervals. Each axis carries a
    sum of sinusoids with frequencies spread over `band_hz` (flat acceleration
    spectrum), scaled so the vector's rms is the asked level (a third of the power on
    each axis), times an envelope that rises and falls smoothly over `TAPER_S` at the
    window's ends. The vibration is a displacement and an angle, so its acceleration and
    rate are their exact derivatives and integrate to zero over each window.
    """

    TAPER_S = 0.03
    TONES = 24

    def __init__(self, windows, rng, band_hz=(15.0, 60.0)):
        self.windows = [w for w in windows if w[1] > w[0] and (w[2] > 0 or w[3] > 0)]
        lo, hi = band_hz
        n = self.TONES
        self.w = 2 * math.pi * rng.uniform(lo, hi, (2, 3, n))  # rad/s: [accel|angle][axis]
        self.phase = rng.uniform(0, 2 * math.pi, (2, 3, n))
        weights = rng.uniform(0.5, 1.0, (2, 3, n))
        # unit rms of the observed derivative per axis (accel: 2nd, angle: 1st)
        amp = weights / self.w ** np.array([2, 1])[:, None, None]
        obs = amp * self.w ** np.array([2, 1])[:, None, None]
        self.amp = amp / np.sqrt((obs ** 2).sum(-1, keepdims=True) / 2) / math.sqrt(3)

    def _envelope(self, t):
        """Per-sample level (accel m/s^2, rate rad/s) shape e, e', e'' of the windows."""
        e = np.zeros((3, len(t)))
        lev = np.zeros((2, len(t)))
        for t0, t1, a_g, r_dps in self.windows:
            inside = (t > t0) & (t < t1)
            if not inside.any():
                continue
            ramp = min(self.TAPER_S, 0.25 * (t1 - t0))
            tt = t[inside]
            up, down = np.clip((tt - t0) / ramp, 0, 1), np.clip((t1 - tt) / ramp, 0, 1)
            mu, md = _mj3(up), _mj3(down)
            e[0, inside] = mu[0] * md[0]
            e[1, inside] = (mu[1] * md[0] - mu[0] * md[1]) / ramp
            e[2, inside] = (mu[2] * md[0] - 2 * mu[1] * md[1] + mu[0] * md[2]) / ramp**2
            lev[0, inside] = a_g * G
            lev[1, inside] = math.radians(r_dps)
        return e, lev

    def __call__(self, t):
        """World acceleration (n, 3) m/s^2, foot-frame angle (n, 3) rad and rate rad/s."""
        t = np.asarray(t, float)
        acc, theta, rate = (np.zeros((len(t), 3)) for _ in range(3))
        e, lev = self._envelope(t)
        on = np.flatnonzero(e[0] != 0)
        if len(on) == 0:
            return acc, theta, rate
        ph = self.w[:, :, None, :] * t[on][None, None, :, None] + self.phase[:, :, None, :]
        a = self.amp[:, :, None, :]
        s0 = (a * np.sin(ph)).sum(-1)  # (2, 3, m)
        s1 = (a * self.w[:, :, None, :] * np.cos(ph)).sum(-1)
        s2 = -(a * self.w[:, :, None, :] ** 2 * np.sin(ph)).sum(-1)
        e0, e1, e2 = e[:, on]
        acc[on] = (lev[0, on] * (e2 * s0[0] + 2 * e1 * s1[0] + e0 * s2[0])).T
        theta[on] = (lev[1, on] * e0 * s0[1]).T
        rate[on] = (lev[1, on] * (e1 * s0[1] + e0 * s1[1])).T
        return acc, theta, rate


def _mj3(s):
    """Minimum-jerk ramp 0 -> 1 and its first two derivatives in s."""
    return (s**3 * (10 - 15 * s + 6 * s * s), 30 * s * s * (1 - s) ** 2,
            60 * s * (1 - s) * (1 - 2 * s))


def _belt_distance(t, t0, t1, ramp):
    """How far a belt running from t0 to t1 has moved by time t, in units of its steady
    speed times 1 s. Speed: min-jerk ramp up over `ramp` s, steady, ramp down."""
    t = np.asarray(t, float)
    I = lambda s: 2.5 * s**4 - 3 * s**5 + s**6  # noqa: E731  (integral of min-jerk)
    u = np.clip((t - t0) / ramp, 0, 1)
    d = np.clip((t1 - t) / ramp, 0, 1)
    run = np.clip(t - t0, 0, t1 - t0)
    return (ramp * I(u) + np.clip(run - ramp, 0, None)
            - np.where(t > t1 - ramp, ramp * (0.5 - d + I(d)), 0.0))


def _side(subject):
    if subject.foot not in ("left", "right"):
        raise RetrostepError(f"foot {subject.foot!r} must be 'left' or 'right'")
    return 1.0 if subject.foot == "left" else -1.0


def _check_bout(b, i):
    where = f"bout {i + 1} ({b.kind})"
    if b.kind not in KINDS:
        raise RetrostepError(f"{where}: unknown kind; use one of {', '.join(KINDS)}")
    if b.kind in WALKING_KINDS:
        allowed = SIDE_DIRECTIONS if b.kind == "sidestep" else DIRECTIONS
        if b.direction not in allowed:
            raise RetrostepError(f"{where}: direction must be '{allowed[0]}' or '{allowed[1]}'")
        if not (isinstance(b.strides, (int, np.integer)) and b.strides >= 1):
            raise RetrostepError(f"{where}: strides must be a whole number >= 1")
        if b.other_steps is not None and abs(b.other_steps - b.strides) > 1:
            raise RetrostepError(
                f"{where}: the other foot takes {b.other_steps} steps for {b.strides} "
                "strides; feet alternate, so use strides - 1, strides or strides + 1"
            )
    elif not (b.duration_s > 0):
        raise RetrostepError(f"{where}: needs a duration_s > 0")


def _scenario(scenario):
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Bout):
        return Scenario(bouts=[scenario])
    if isinstance(scenario, (list, tuple)) and all(isinstance(b, Bout) for b in scenario):
        return Scenario(bouts=list(scenario))
    raise RetrostepError("a scenario is a Scenario or a list of Bout objects")


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _stride_plan(kind, direction):
    """How a stride of this kind departs, travels and arrives.

    dep: (contact point u of the departure pivot, sign of its pitch), arr: the same for
    the arrival, travel: +1 / -1 along the walking path or, for side-steps, along the
    foot's own y axis (+ = left); impact: (foot-frame x, y of the braking shock,
    contact 0 = heel, 1 = ball).
    """
    if kind == "sidestep":
        ls = 1.0 if direction == "left" else -1.0
        return {"dep": (1.0, 1.0), "arr": (1.0, 1.0), "travel": ls, "sideways": True,
                "impact": (0.0, -0.35 * ls, 1)}
    sgn = 1.0 if direction == "forward" else -1.0
    fwd = sgn > 0
    return {"dep": (1.0 if fwd else 0.0, sgn), "arr": (0.0 if fwd else 1.0, -sgn),
            "travel": sgn, "sideways": False, "impact": (-0.35 * sgn, 0.0, 0 if fwd else 1)}


def build_motion(scenario, seed=0):
    """The ground-truth motion and labels of a scenario (no sensor errors yet)."""
    sc = _checked_scenario(scenario)
    mb = _MotionBuilder(sc, seed)
    for bi, b in enumerate(sc.bouts):
        mb.add_bout(bi, b)
    return mb.motion(seed)


def _checked_scenario(scenario):
    sc = _scenario(scenario)
    if not sc.bouts:
        raise RetrostepError("the scenario has no bouts")
    for i, b in enumerate(sc.bouts):
        _check_bout(b, i)
    return sc


def _stride_turn(b, k, S, chi):
    """How far stride k (of length S) of walking bout b turns the walking heading chi."""
    if b.kind == "turn":
        return math.radians(b.turn_deg) / b.strides
    dchi = math.radians(b.curve_deg_per_m) * S if k >= b.curve_from_stride else 0.0
    if k == 0 and b.heading_deg is not None:
        dchi = _wrap(math.radians(b.heading_deg) - chi)
    return dchi


def _landing_heel(plan, h0, S, lat, chim, toe_out):
    """Where the heel lands: S along the travel (on the mean heading chim), lat across."""
    sgn = plan["travel"]
    along = np.array([math.cos(chim), math.sin(chim), 0.0])
    left = np.array([-math.sin(chim), math.cos(chim), 0.0])
    if plan["sideways"]:  # across the foot: along its own y axis
        psi = chim + toe_out
        toe = np.array([math.cos(psi), math.sin(psi), 0.0])
        h1 = h0 + sgn * S * np.array([-toe[1], toe[0], 0.0]) + lat * toe
    else:
        h1 = h0 + sgn * S * along + lat * left
    h1[2] = 0.0
    return h1


def _other_foot_times(mine, n_other, t_bout, t_now):
    """When the other foot lands during a bout whose strides are `mine`: midway between
    this foot's landings, one fewer or one more (leading the bout) as asked."""
    n = len(mine)
    times = [s["t_land_s"] + 0.5 * s["_cycle"] for s in mine]
    if n_other == n - 1:
        times = times[:-1]
    elif n_other == n + 1:
        times = [max(t_bout, mine[0]["t_land_s"] - 0.5 * mine[0]["_cycle"])] + times
    return [min(t, t_now) for t in times]


def _treadmill_belt(b, g, cycles, lengths, t_bout, chi, sgn):
    """The belt of a treadmill bout, (t_start, t_end, ramp, velocity), and its speed.

    The belt runs from the bout's start to its end with a speed ramp at each end; the
    walker matches each stride to the belt's travel during that cycle, and gently
    corrects drift, so they stay in place: `lengths` are changed to those strides.
    """
    if b.kind == "turn":
        raise RetrostepError("turning in place on a treadmill is not simulated")
    speed = g.stride_m / g.cycle_s
    ends = t_bout + np.cumsum(cycles)
    t_end = ends[-1] + g.flat_frac * g.cycle_s
    ramp = min(2.0, 0.25 * (t_end - t_bout))
    travel = speed * np.diff(_belt_distance(np.concatenate([[t_bout], ends]),
                                            t_bout, t_end, ramp))
    room = 0.0
    for k in range(len(lengths)):
        step = travel[k] + (lengths[k] - g.stride_m) - 0.3 * room
        room += step - travel[k]
        lengths[k] = max(step, 0.0)
    vel = np.array([math.cos(chi), math.sin(chi), 0.0]) * (-sgn * speed)
    return (t_bout, t_end, ramp, vel), speed


class _MotionBuilder:
    """What build_motion carries from bout to bout: the timeline of the foot, the
    walking (path) heading, the gait's random draws, and what happened so far."""

    def __init__(self, sc, seed):
        self.sc = sc
        self.subj = subj = sc.subject
        self.side = _side(subj)
        gait_seed = np.random.SeedSequence(seed).spawn(2)[0]
        self.rng = np.random.default_rng(gait_seed)
        self.var = float(subj.variability)
        self.L = subj.foot_length_m
        self.chi = math.radians(sc.start_heading_deg)  # walking (path) heading
        self.toe_out = self.side * math.radians(subj.toe_out_deg)
        state = np.zeros(len(_CH))
        state[_I["yaw"]] = self.chi + self.toe_out
        self.tl = _Timeline(state, self.L)
        self.strides, self.bouts_out, self.belts, self.impacts, self.other_steps = \
            [], [], [], [], []

    def motion(self, seed):
        """The Motion of the bouts added, with its labels."""
        sc, tl = self.sc, self.tl
        duration = tl.t
        vibration = None
        windows = _contact_windows(sc.bouts, self.bouts_out, self.strides)
        if windows:
            vib_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))
            vibration = Vibration(windows, vib_rng)
        motion = Motion(tl.pieces(), sc.mount, self.subj, self.belts, self.impacts, None,
                        duration, vibration)
        motion.labels = _labels(sc, motion, self.strides, self.bouts_out, self.other_steps,
                                seed)
        return motion

    def impact(self, amp_g, foot_dir_x, foot_dir_y=0.0, contact=0):
        """A contact shock now, toward the foot's (x, y) direction and up."""
        tl = self.tl
        yaw = tl.state[_I["yaw"]]
        c, s_ = math.cos(yaw), math.sin(yaw)
        if foot_dir_y == 0.0:
            d = np.array([foot_dir_x * c, foot_dir_x * s_, 1.0])
        else:
            d = np.array([foot_dir_x * c - foot_dir_y * s_, foot_dir_x * s_ + foot_dir_y * c, 1.0])
        self.impacts.append((tl.t, amp_g * G, _unit(d), contact))

    def add_bout(self, bi, b):
        """Bout number bi: its motion on the timeline, its entry in the bout labels."""
        t_bout = self.tl.t
        entry = {"kind": b.kind, "t_start_s": t_bout}
        if b.kind in WALKING_KINDS:
            self._walking_bout(bi, b, t_bout, entry)
        elif b.kind == "still":
            self.tl.hold(b.duration_s)
        elif b.kind == "tap":
            entry["taps"] = self._tapping(b, t_bout)
        elif b.kind == "leg_swing":
            entry["swings"] = self._leg_swinging(b, t_bout)
        entry["t_end_s"] = self.tl.t
        self.bouts_out.append(entry)

    def _walking_bout(self, bi, b, t_bout, entry):
        g = resolve_gait(b, self.subj)
        plan = _stride_plan(b.kind, b.direction)
        label_dir = ("in_place" if b.kind == "turn" else
                     "sideways" if plan["sideways"] else b.direction)
        first_index = len(self.strides)
        line = math.radians(b.heading_deg) if b.heading_deg is not None else self.chi
        roll_amp = math.radians(g.swing_roll_deg) * (-self.side)  # roll outward in swing
        n = b.strides
        var, rng = self.var, self.rng
        cycles = g.cycle_s * (1.0 + 0.02 * var * rng.standard_normal(n))
        lengths = g.stride_m * (1.0 + 0.03 * var * rng.standard_normal(n))
        lateral = 0.006 * var * rng.standard_normal(n)  # foot placement, m
        yaw_jitter = math.radians(1.5) * var * rng.standard_normal(n)
        if b.treadmill:
            belt, entry["belt_speed_mps"] = _treadmill_belt(b, g, cycles, lengths, t_bout,
                                                            self.chi, plan["travel"])
            self.belts.append(belt)
        for k in range(n):
            self._stride(bi, b, k, g, plan, label_dir, roll_amp,
                         cycles[k], lengths[k], lateral[k], yaw_jitter[k])
        self.tl.hold(g.flat_frac * g.cycle_s)  # closing stance
        n_other = n if b.other_steps is None else int(b.other_steps)
        times = _other_foot_times(self.strides[first_index:], n_other, t_bout, self.tl.t)
        self.other_steps += [{"t_land_s": t, "direction": label_dir} for t in times]
        entry.update({
            "direction": label_dir, "strides": n, "steps": n + n_other,
            "treadmill": bool(b.treadmill), "stride_m": g.stride_m,
            "cadence_spm": g.cadence_spm, "curve_deg_per_m": b.curve_deg_per_m,
            "curve_from_stride": b.curve_from_stride,
            "_first": first_index, "_line": line, "_turned": b.heading_deg is not None,
        })
        if plan["sideways"]:
            entry["side"] = b.direction

    def _stride(self, bi, b, k, g, plan, label_dir, roll_amp, T, S, lat, yaw_jitter):
        """Stride k of walking bout bi (cycle T s, length S m): flat stance, the
        departure pivot, the swing to the landing, the impact, the arrival pivot."""
        tl = self.tl
        T_dep, T_sw, T_arr = g.lift_frac * T, (1 - g.stance_frac) * T, g.land_frac * T
        T_flat = g.flat_frac * T
        chi1 = self.chi + _stride_turn(b, k, S, self.chi)
        chim = 0.5 * (self.chi + chi1)
        tl.hold(T_flat)
        h0 = tl.heel()
        t_start = tl.t
        w_dep = self._depart(g, plan, T_dep)
        t_lift = tl.t
        h1 = _landing_heel(plan, h0, S, lat, chim, self.toe_out)
        yaw1 = chi1 + self.toe_out + yaw_jitter
        w_arr = self._swing(g, plan, T_sw, T_arr, h1, yaw1, w_dep, roll_amp)
        t_land = tl.t
        # impact: braking toward the heel on a heel strike, toward the toe on a
        # toe strike (the ground stops the foot's backward motion), against
        # the travel on a side-step
        self.impact(g.impact_g, *plan["impact"])
        tl.add(T_arr, hermite={"pitch": (w_arr, 0.0, 0.0, 0.0, 0.0)})
        t_flat = tl.t
        self.chi = chi1
        self.strides.append({
            "t_start_s": t_start, "t_lift_s": t_lift, "t_land_s": t_land,
            "t_flat_s": t_flat, "direction": label_dir, "bout": bi,
            "heading_deg": math.degrees(tl.state[_I["yaw"]]),
            "_cycle": T,
        })

    def _depart(self, g, plan, T_dep):
        """The departure pivot: forward about the ball (heel rises, toe down), backward
        about the heel (toe rises); side-steps about the ball. Returns the pitch rate
        at lift-off."""
        u_dep, dep_sign = plan["dep"]
        th_dep = math.radians(g.lift_pitch_deg) * dep_sign
        w_dep = g.lift_rate * th_dep / T_dep
        self.tl.rebase(u_dep)
        self.tl.add(T_dep, hermite={"pitch": (0.0, 0.0, th_dep, w_dep, 0.0)})
        return w_dep

    def _swing(self, g, plan, T_sw, T_arr, h1, yaw1, w_dep, roll_amp):
        """The swing until the arrival pivot touches down with the heel to land at h1,
        the foot at yaw1. Returns the pitch rate at contact."""
        tl = self.tl
        u_arr, arr_sign = plan["arr"]
        c_arr = h1 + u_arr * self.L * np.array([math.cos(yaw1), math.sin(yaw1), 0.0])
        th_arr = math.radians(g.land_pitch_deg) * arr_sign
        w_arr = -g.land_rate * th_arr / T_arr  # rotating toward flat
        tl.add(
            T_sw,
            targets={"cx": c_arr[0], "cy": c_arr[1], "cz": 0.0, "u": u_arr,
                     "yaw": tl.state[_I["yaw"]] + _wrap(yaw1 - tl.state[_I["yaw"]])},
            hermite={"pitch": (w_dep, 0.0, th_arr, w_arr, 0.0)},
            bumps={"cz": g.clearance_m, "roll": roll_amp},
        )
        return w_arr

    def _tapping(self, b, t_bout):
        """Seated, heel on the floor, the toe taps: lift about the heel, slap down.
        Returns the number of taps."""
        tl, rng, var = self.tl, self.rng, self.var
        amp = math.radians(b.amplitude_deg if b.amplitude_deg is not None else 20.0)
        f = b.frequency_hz if b.frequency_hz is not None else 2.0
        imp = b.impact_g if b.impact_g is not None else 0.6 * self.subj.impact_g
        tl.hold(min(0.5, 0.2 * b.duration_s))
        tl.rebase(0.0)
        end = t_bout + b.duration_s
        taps = 0
        while True:
            P = (1.0 / f) * (1.0 + 0.05 * var * rng.standard_normal())
            if tl.t + P > end - 0.2:
                break
            a = amp * (1.0 + 0.1 * var * rng.standard_normal())
            tl.add(0.4 * P, hermite={"pitch": (0.0, 0.0, -a, 0.0, 0.0)})
            tl.add(0.25 * P, hermite={"pitch": (0.0, 0.0, 0.0, 0.0, 0.0)})
            self.impact(imp, 0.0, 0.0, 1)
            tl.hold(0.35 * P)
            taps += 1
        tl.hold(end - tl.t)
        return taps

    def _leg_swinging(self, b, t_bout):
        """Seated on a high seat: the foot leaves the floor, the shank swings about the
        knee like a pendulum, the foot comes back down. Returns the half swings."""
        tl, rng, var = self.tl, self.rng, self.var
        amp = math.radians(b.amplitude_deg if b.amplitude_deg is not None else 25.0)
        f = b.frequency_hz if b.frequency_hz is not None else 1.0
        w = 2 * math.pi * f
        hang, rest = 0.12, math.radians(10.0)
        T_move = 0.8
        tl.hold(min(0.5, 0.1 * b.duration_s))
        tl.rebase(0.0)
        tl.add(T_move, targets={"cz": hang, "pitch": rest})
        n_half = max(2, int((b.duration_s - 2 * T_move - 1.5) * 2 * f))
        ramp_half = 4
        sign = 1.0
        for k in range(n_half):
            env = min(1.0, (k + 1) / ramp_half, (n_half - 1 - k) / ramp_half)
            a_k = amp * env * (1.0 + 0.05 * var * rng.standard_normal()) * sign
            if k == n_half - 1:
                a_k = 0.0
            tl.add(0.5 / f, hermite={"alpha": (0.0, -tl.state[_I["alpha"]] * w * w,
                                               a_k, 0.0, -a_k * w * w)})
            sign = -sign
        tl.add(T_move, targets={"cz": 0.0, "pitch": 0.0})
        tl.hold(t_bout + b.duration_s - tl.t)
        return n_half


def _contact_windows(bouts, entries, strides):
    """(t0, t1, g_rms, dps_rms) of every interval the foot is on a vibrating ground.

    Walking bouts: from the bout's start to the first lift-off, each landing to the next
    lift-off, the last landing to the bout's end; still and tap bouts: all of it; a
    swinging leg is off the floor. Touching windows of the same ground are merged.
    """
    out = []
    for bi, (b, entry) in enumerate(zip(bouts, entries)):
        level = (float(b.vibration_g_rms), float(b.vibration_dps_rms))
        if not (level[0] > 0 or level[1] > 0) or b.kind == "leg_swing":
            continue
        edges = [entry["t_start_s"]]
        for st in strides:
            if st["bout"] == bi:
                edges += [st["t_lift_s"], st["t_land_s"]]
        edges.append(entry["t_end_s"])
        for t0, t1 in zip(edges[::2], edges[1::2]):
            if out and abs(out[-1][1] - t0) < 1e-12 and out[-1][2:] == level:
                out[-1] = (out[-1][0], t1) + level
            else:
                out.append((t0, t1) + level)
    return out


def _wrap(a):
    return (a + math.pi) % (2 * math.pi) - math.pi


def _labels(sc, motion, strides, bouts, other_steps, seed):
    """The labels dict (see `simulate`)."""
    if strides:
        t_before = np.array([s["t_start_s"] for s in strides])
        t_after = np.array([s["t_flat_s"] for s in strides])
        p0s, _ = motion.pose(t_before, surface=True)
        p1s, _ = motion.pose(t_after, surface=True)
        r0s, _ = motion.pose(t_before)
        r1s, _ = motion.pose(t_after)
    out_strides = []
    for i, s in enumerate(strides):
        vec = p1s[i] - p0s[i]
        out = {k: v for k, v in s.items() if not k.startswith("_")}
        out["vector_m"] = vec.tolist()
        out["length_m"] = float(np.hypot(vec[0], vec[1]))
        out["position_m"] = r1s[i].tolist()
        if sc.bouts[s["bout"]].treadmill:
            out["room_vector_m"] = (r1s[i] - r0s[i]).tolist()
        out_strides.append(out)

    offsets, leaves = [], None
    for entry in bouts:
        first = entry.pop("_first", None)
        line = entry.pop("_line", None)
        turned = entry.pop("_turned", False)
        if first is None or entry.get("direction") != "backward":
            continue
        mine = list(range(first, first + entry["strides"]))
        start, t0 = p0s[mine[0]], strides[mine[0]]["t_start_s"]
        if turned and len(mine) > 1:  # the first stride turns onto the line: start after it
            start, t0 = p1s[mine[0]], strides[mine[0]]["t_land_s"]
            mine = mine[1:]
        ends = p1s[mine]
        d = np.array([-math.cos(line), -math.sin(line)])  # backward along the path
        rel = np.vstack([start, ends])[:, :2] - start[:2]
        # + = the walker's left (who faces away from the walking direction)
        off = d[1] * rel[:, 0] - d[0] * rel[:, 1]
        times = [t0] + [strides[j]["t_land_s"] for j in mine]
        series = [[float(t), float(o)] for t, o in zip(times, off)]
        offsets += series
        over = [t for t, o in series if abs(o) > LEAVE_LINE_M]
        entry["max_offset_m"] = float(np.max(np.abs(off)))
        entry["leaves_line_t_s"] = over[0] if over else None
        if over and leaves is None:
            leaves = over[0]

    steps = [{"t_land_s": s["t_land_s"], "foot": "instrumented", "direction": s["direction"]}
             for s in strides]
    steps += [dict(o, foot="other") for o in other_steps]
    steps.sort(key=lambda e: e["t_land_s"])
    count = lambda d: sum(1 for e in steps if e["direction"] == d)  # noqa: E731
    kinds = sorted({b.kind for b in sc.bouts if b.kind != "still"} or {"still"})
    kind = sc.kind or (kinds[0] if len(kinds) == 1 else "mixed")
    return {
        "kind": kind,
        "name": sc.name,
        "seed": seed,
        "rate_hz": sc.rate_hz,
        "duration_s": motion.duration_s,
        "subject": asdict(sc.subject),
        "mount": asdict(sc.mount),
        "steps": len(steps),
        "forward_steps": count("forward"),
        "backward_steps": count("backward"),
        "sideways_steps": count("sideways"),
        "in_place_steps": count("in_place"),
        "strides": out_strides,
        "step_events": steps,
        "drift": {"lateral_offset_m": offsets, "leaves_line_t_s": leaves,
                  "limit_m": LEAVE_LINE_M, "reference": "walking line"},
        "bouts": bouts,
    }


# ---------------------------------------------------------------------------- sensor


def _draw(rng, given, limit, n=3):
    """A per-axis value: the given one, else uniform in +-limit (always consumes rng)."""
    drawn = rng.uniform(-limit, limit, n)
    return np.asarray(given, float) if given is not None else drawn


def simulate(scenario, seed=0, *, ideal=None):
    """Simulate a scenario: returns (Trace, labels).

    `scenario` is a Scenario or a list of Bout objects (default subject, mount, sensor
    and 104 Hz). The same scenario and seed always give the same numbers. ideal=True
    (or Scenario.ideal) gives noise-free, bias-free, unscaled, unclipped readings on an
    exact time grid (gait variability and impacts still apply; set
    Subject.variability / Bout.impact_g to 0 to remove them). Every reading is the
    mean of the motion over its sample period (SensorModel.oversample instants, about
    1 kHz by default), a simple anti-aliasing filter like the IMU's own; use
    `Motion.imu` for point values.

    Labels (JSON-able; every time on the trace's time base: clock error and a mid-walk
    start applied, only what lands inside the trace)::

        kind, name, seed, rate_hz, duration_s, subject, mount, sensor
        strides: [{t_start_s (heel/toe starts rising), t_lift_s (foot leaves the
                   ground), t_land_s (initial contact), t_flat_s (flat again),
                   direction: forward|backward|sideways|in_place, vector_m: IMU
                   displacement stance to stance, world frame (treadmill: relative to
                   the belt), length_m (horizontal), position_m (IMU at the following
                   stance, room frame), heading_deg (foot yaw), bout, room_vector_m
                   (treadmill only: room-frame displacement over the same interval)}]
        steps: steps of both feet; forward_steps, backward_steps, sideways_steps,
               in_place_steps
        step_events: [{t_land_s, foot: instrumented|other, direction}]
        drift: {lateral_offset_m: [[t_s, offset_m], ...] (per backward stride, + =
                the walker's left of the walking line: through the IMU at the bout's
                start, along the
                direction the walker set off in, i.e. the line a straight walk keeps; a
                bout with heading_deg starts it after its first, turning stride),
                leaves_line_t_s: first time |offset| > 0.5 m or None, limit_m}
        bouts: [{kind, t_start_s, t_end_s, direction, strides, steps, treadmill, ...}]
    """
    sc = _scenario(scenario)
    if not (isinstance(sc.rate_hz, (int, float)) and sc.rate_hz >= MIN_RATE_HZ):
        raise RetrostepError(f"rate {sc.rate_hz!r} Hz: use a sample rate of at least 50 Hz")
    ideal = sc.ideal if ideal is None else bool(ideal)
    motion = build_motion(sc, seed)
    rate = float(sc.rate_hz)
    dt = 1.0 / rate
    sm = sc.sensor
    # the newer errors and the crop draw from their own stream, so scenarios without
    # them give the same numbers as before they existed
    extra = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    acc_cross = _draw_cross(extra, sm.accel_cross_axis, sm.cross_axis_max)
    gyr_cross = _draw_cross(extra, sm.gyro_cross_axis, sm.cross_axis_max)
    given_clock = None if sm.clock_error is None else [sm.clock_error]
    clock = 0.0 if ideal else float(_draw(extra, given_clock, sm.clock_error_max, 1)[0])
    crop_u = extra.uniform(0.0, 1.0, 2)
    t0 = _mid_walk_start(motion.labels, crop_u) if sc.start_mid_walk else 0.0
    n = int(math.floor((motion.duration_s - t0) * rate * (1 + clock) + 1e-9)) + 1
    t = np.arange(n) * dt  # the board's stamps
    t_true = t0 + t / (1 + clock)  # when the samples really were taken
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    # draw every random number in a fixed order, whether used or not
    gyro_bias = _draw(rng, sm.gyro_bias_dps, sm.gyro_bias_max_dps)
    accel_bias = _draw(rng, sm.accel_bias_g, sm.accel_bias_max_g)
    accel_scale = _draw(rng, sm.accel_scale_error, sm.scale_error_max)
    gyro_scale = _draw(rng, sm.gyro_scale_error, sm.scale_error_max)
    walk = np.cumsum(rng.standard_normal((n, 3)), axis=0) * (sm.gyro_bias_walk_dps_rts
                                                              * math.sqrt(dt))
    walk -= walk[0]
    acc_noise = rng.standard_normal((n, 3)) * (sm.accel_noise_ug_rthz * 1e-6
                                              * math.sqrt(rate / 2))
    gyr_noise = rng.standard_normal((n, 3)) * (sm.gyro_noise_mdps_rthz * 1e-3
                                              * sm.gyro_noise_factor * math.sqrt(rate / 2))
    jitter = np.clip(rng.standard_normal(n) * sm.jitter_frac, -0.01, 0.01) * dt

    K = sm.oversample or max(1, int(math.ceil(1000.0 / rate)))
    accel, gyro = motion.imu(t_true, oversample=K, dt=dt / (1 + clock))
    if ideal:
        t_out = t
    else:
        if acc_cross.any():
            accel = accel @ (np.eye(3) + acc_cross).T
        if gyr_cross.any():
            gyro = gyro @ (np.eye(3) + gyr_cross).T
        accel = accel * (1 + accel_scale) + accel_bias + acc_noise
        gyro = gyro * (1 + gyro_scale) + gyro_bias + walk + gyr_noise
        accel = np.clip(accel, -sm.accel_range_g, sm.accel_range_g)
        gyro = np.clip(gyro, -sm.gyro_range_dps, sm.gyro_range_dps)
        if sm.quantise:
            from retrostep.firmware import sensor as fw

            a_lsb = fw.ACCEL_UG_PER_LSB.get(int(sm.accel_range_g), 488) * 1e-6
            g_lsb = fw.GYRO_UDPS_PER_LSB.get(int(sm.gyro_range_dps), 70000) * 1e-6
            # int16 codes, as the IMU delivers them
            accel = np.clip(np.round(accel / a_lsb), -32768, 32767) * a_lsb
            gyro = np.clip(np.round(gyro / g_lsb), -32768, 32767) * g_lsb
        t_out = t + jitter
    labels = motion.labels
    if t0 != 0.0 or clock != 0.0:
        labels = to_trace_time(labels, t0, 1 + clock, t[-1])
    if sc.start_mid_walk:
        labels["trace_start_s"] = t0  # motion time of the first sample
    labels["ideal"] = ideal
    labels["samples"] = n
    if ideal:
        labels["sensor"] = {"ideal": True}
    else:
        labels["sensor"] = dict(
            asdict(sm),
            gyro_bias_dps=gyro_bias.tolist(),
            gyro_bias_end_dps=(gyro_bias + walk[-1]).tolist(),
            accel_bias_g=accel_bias.tolist(),
            accel_scale_error=accel_scale.tolist(),
            gyro_scale_error=gyro_scale.tolist(),
            accel_cross_axis=acc_cross.tolist(),
            gyro_cross_axis=gyr_cross.tolist(),
            clock_error=clock,
            accel_noise_g_rms=sm.accel_noise_ug_rthz * 1e-6 * math.sqrt(rate / 2),
            gyro_noise_dps_rms=sm.gyro_noise_mdps_rthz * 1e-3 * sm.gyro_noise_factor
            * math.sqrt(rate / 2),
        )
    labels = _jsonable(labels)
    meta = {
        "source": "retrostep gaitsim",
        "kind": labels["kind"],
        "seed": str(seed),
        "rate_hz": f"{rate:g}",
        "subject": sc.subject.name,
        "foot": sc.subject.foot,
        "ideal": str(ideal).lower(),
    }
    if sc.name:
        meta = {"name": sc.name, **meta}
    trace = Trace(t_s=t_out, accel_g=np.ascontiguousarray(accel),
                  gyro_dps=np.ascontiguousarray(gyro), meta=meta)
    return trace, labels


def _draw_cross(rng, given, limit):
    """A 3x3 cross-axis coupling with a zero diagonal: given, else off-diagonals uniform
    in +-limit (always consumes rng)."""
    drawn = np.zeros((3, 3))
    drawn[~np.eye(3, dtype=bool)] = rng.uniform(-limit, limit, 6)
    if given is None:
        return drawn
    C = np.array(given, float)
    if C.shape != (3, 3):
        raise RetrostepError("a cross-axis coupling is a 3x3 matrix (rows: axis read)")
    np.fill_diagonal(C, 0.0)
    return C


def _mid_walk_start(labels, u):
    """Where a mid-walk recording starts: a phase u[1] of one of the first two strides
    (u[0] picks which) of the first walking bout, in motion time."""
    strides = labels["strides"]
    if not strides:
        raise RetrostepError("start_mid_walk needs a bout with strides")
    first = [s for s in strides if s["bout"] == strides[0]["bout"]]
    k = min(int(u[0] * min(2, len(first))), len(first) - 1)
    start = first[k]["t_start_s"]
    end = first[k + 1]["t_start_s"] if k + 1 < len(first) else first[k]["t_flat_s"]
    return start + u[1] * (end - start)


def _count_steps(labels):
    events = labels["step_events"]
    labels["steps"] = len(events)
    for d in ("forward", "backward", "sideways", "in_place"):
        labels[f"{d}_steps"] = sum(1 for e in events if e["direction"] == d)


def to_trace_time(labels, t0, factor, t_last):
    """Labels moved onto a trace's time base: t -> (t - t0) * factor, then only what
    lies inside [0, t_last] (strides and steps by their landing).

    t0: where the recording starts (motion time); factor: 1 + the clock error (a fast
    clock stamps more time than passed). Bouts cut by the start are clipped and their
    counts redone; bouts wholly before it are dropped.
    """
    tt = lambda x: (x - t0) * factor  # noqa: E731
    inside = lambda x: 0.0 <= x <= t_last + 1e-9  # noqa: E731
    out = dict(labels)
    out["duration_s"] = tt(labels["duration_s"])
    kept, index = [], {}
    for i, b in enumerate(labels["bouts"]):
        b = dict(b, t_start_s=tt(b["t_start_s"]), t_end_s=tt(b["t_end_s"]))
        if b["t_end_s"] <= 0.0:
            continue
        if b.get("leaves_line_t_s") is not None:
            b["leaves_line_t_s"] = tt(b["leaves_line_t_s"])
        b["_cut"] = b["t_start_s"] < 0.0 or b["t_end_s"] > t_last
        b["t_start_s"], b["t_end_s"] = max(b["t_start_s"], 0.0), min(b["t_end_s"], t_last)
        index[i] = len(kept)
        kept.append(b)
    strides = []
    for s in labels["strides"]:
        s = dict(s, **{k: tt(s[k]) for k in ("t_start_s", "t_lift_s", "t_land_s", "t_flat_s")})
        if inside(s["t_land_s"]) and s["bout"] in index:
            s["bout"] = index[s["bout"]]
            strides.append(s)
    out["strides"] = strides
    out["step_events"] = [dict(e, t_land_s=tt(e["t_land_s"])) for e in labels["step_events"]]
    out["step_events"] = [e for e in out["step_events"] if inside(e["t_land_s"])]
    _count_steps(out)
    for i, b in enumerate(kept):
        if b.pop("_cut") and "strides" in b:
            b["strides"] = sum(1 for s in strides if s["bout"] == i)
            b["steps"] = sum(1 for e in out["step_events"]
                             if b["t_start_s"] <= e["t_land_s"] <= b["t_end_s"])
    out["bouts"] = kept
    drift = dict(labels["drift"])
    series = [[tt(t), o] for t, o in drift["lateral_offset_m"]]
    drift["lateral_offset_m"] = [p for p in series if inside(p[0])]
    over = [t for t, o in drift["lateral_offset_m"] if abs(o) > drift["limit_m"]]
    drift["leaves_line_t_s"] = over[0] if over else None
    out["drift"] = drift
    return out


def _jsonable(x, digits=6):
    """Plain Python types, floats rounded, so labels are JSON and deterministic."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v, digits) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = round(float(x), digits)
        return 0.0 if v == 0 else v
    return x


# ---------------------------------------------------------------------------- files


def labels_path(trace_path):
    """NAME.csv -> NAME.labels.json (beside it)."""
    base = os.fspath(trace_path)
    if base.lower().endswith(".csv"):
        base = base[:-4]
    return base + ".labels.json"


def labels_text(labels):
    """The exact text of a NAME.labels.json file."""
    return json.dumps(labels, indent=1, sort_keys=False) + "\n"


def write_case(trace_path, trace, labels):
    """Write TRACE.csv and TRACE.labels.json."""
    from retrostep.formats.trace import write_trace

    write_trace(trace_path, trace)
    with open(labels_path(trace_path), "w", encoding="utf-8", newline="\n") as f:
        f.write(labels_text(labels))


# ---------------------------------------------------------------------------- figure


def plot_stride_pair(path, rate_hz=208.0, subject="adult", seed=0):
    """Draw one forward and one backward stride (accel and gyro, two columns).

    Both columns use the same subject, sensor model and rate; time is relative to the
    moment of contact. Made by ``retrostep simulate --plot PNG``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subj = SUBJECTS[subject]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True, sharey="row")
    colors = ("tab:red", "tab:green", "tab:blue")
    phases = {"forward": ("heel rise\n(about the ball)", "swing", "heel strike,\nfoot slap"),
              "backward": ("toe rise\n(about the heel)", "swing", "toe strike,\nheel lowers")}
    for col, direction in enumerate(DIRECTIONS):
        sc = Scenario(bouts=[Bout("still", duration_s=0.3),
                             Bout("walk", direction, strides=1),
                             Bout("still", duration_s=0.3)],
                      subject=subj, rate_hz=rate_hz, name=f"one {direction} stride")
        trace, lab = simulate(sc, seed)
        s = lab["strides"][0]
        t0 = s["t_land_s"]
        t = trace.t_s - t0
        for row, (data, unit) in enumerate(((trace.accel_g, "specific force (g)"),
                                            (trace.gyro_dps, "angular rate (deg/s)"))):
            ax = axes[row, col]
            ax.axvspan(s["t_start_s"] - t0, s["t_lift_s"] - t0, color="0.88", lw=0)
            ax.axvspan(0, s["t_flat_s"] - t0, color="0.88", lw=0)
            ax.axvline(0, color="k", ls="--", lw=0.8)
            for j, axis in enumerate("xyz"):
                name = ("a" if row == 0 else "g") + axis
                ax.plot(t, data[:, j], color=colors[j], lw=1.3, label=name)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(unit)
            ax.legend(loc="upper left", fontsize=8, ncol=3)
        ax = axes[1, col]
        y = ax.get_ylim()[0] * 0.85
        mids = (0.5 * (s["t_start_s"] + s["t_lift_s"]), 0.5 * (s["t_lift_s"] + s["t_land_s"]),
                0.5 * (s["t_land_s"] + s["t_flat_s"]))
        for x, text in zip(mids, phases[direction]):
            ax.text(x - t0, y, text, ha="center", va="bottom", fontsize=8)
        axes[0, col].set_title(f"{direction}: {s['length_m']:.2f} m stride, "
                               f"{lab['bouts'][1]['cadence_spm']:.0f} steps/min")
        axes[1, col].set_xlabel("time from contact (s)")
    axes[0, 0].set_xlim(-1.0, 0.6)
    fig.suptitle(
        f"Simulated IMU on the laces ({subj.name}, {rate_hz:g} Hz, noise and bias on). "
        "Device x toe, y left, z up; gy > 0 while the toe goes down.\n"
        "Shaded: pivots on the ground; dashed: contact. The backward stride is close to "
        "the forward one played backward (accel same, gyro negated).",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = [
    "Bout", "Gait", "Motion", "Mount", "PLACEMENTS", "Scenario", "SensorModel", "Subject",
    "SUBJECTS", "Vibration", "build_motion", "impact_gain_at", "labels_path", "labels_text",
    "mount_preset", "plot_stride_pair", "resolve_gait", "reverse_bout", "rpy_matrix",
    "simulate", "to_trace_time", "write_case",
]
