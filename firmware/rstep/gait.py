"""retrostep gait engine: strides, their direction, steps and drift alerts, in integers.

The same file runs on the board (MicroPython) and on the laptop (CPython) with
bit-identical results. It does no I/O, reads no clock, uses no floats after
construction and allocates nothing per sample: every intermediate stays a MicroPython
small int (|x| < 2**30) for any input an int16 sensor can produce.

Usage (samples are int16 in sensor LSB, six per sample: ax, ay, az, gx, gy, gz):

    from array import array
    from rstep.gait import Gait, EV_FIELDS
    g = Gait(odr_hz=104, accel_ug_per_lsb=488, gyro_udps_per_lsb=70000)
    buf = array('h', [0, 0, 2049, 0, 0, 0] * 104)      # one second standing still
    ev = array('i', [0] * EV_FIELDS)
    done = 0
    while done < 104:
        done = g.feed(buf, done, 104)
        while g.pop(ev):
            print(ev[0], ev[1])                         # event type, sample index

How it works (docs/engine.md has the reasoning and the figures):
- Activity: every sample gets an energy e = |rate|^2 + 2 | |a|^2 - 1 g^2 | + |change
  of a|^2 / 4 (rate averaged over 4 samples, in ~0.28 deg/s units: ground vibration
  averages out, a swing's steady turn does not; a in 1/128 g, its term the smaller of
  the sample's and its 4-sample average's: shaking ground swings |a| about 1 g and
  averages out, a swing's push does not; the change of a counts only over 0.5 g a
  sample, an impact, not the ground shaking), summed over a ~30 ms window (E).
- Stance is the quietest phase of each gait cycle, relative to the walker's own recent
  cycles, not below a fixed level: the engine keeps, on a log2 scale, the floor (the
  lowest E of recent stances) and the peak (the highest E of recent swings) and calls a
  sample still when E is below floor + 35 % of the way to the peak (at least 1.5 and at
  most 5 octaves above the floor). Ground vibration, a treadmill deck or a heel sensor
  raise the floor and the level follows. When no stance is found for twice the last
  swing (1 to 2.5 s; 1.5 s before the first stride) the level is reset from the
  quietest window of the last half of that time, and a stance that holds more than
  4 octaves of activity lowers it: no rest at the start is needed, only walking.
- Gyro bias: refined in every stance with clamped residuals (a median-like estimate
  that vibration does not pull), fast at first, then over ~128 stance samples.
- Swing: from the stance attitude (the mean gravity of the stance), the attitude R
  (rows: the levelled frame's axes in device coordinates, Q14) is propagated with the
  gyro (to second order when it turns fast); the acceleration is rotated into the
  levelled frame, gravity removed, and integrated twice. At the next stance the
  velocity must be zero (ZUPT); the residual velocity is removed as a linear drift.
- Initial contact: the onset of the landing's impact (the first sample in the swing's
  second half whose change of acceleration reaches half the largest); stride events
  carry its sample index.
- Direction: the stride vector in the foot's frame. Travel mostly across the foot is a
  side-step (SIDEWAYS); otherwise the travel along the toe, with the landing pitch as a
  second vote, says FORWARD or BACKWARD.
- Mount: the levelled frame's x axis is the device x axis projected on the ground, or
  (when x points within 45 deg of vertical: a clip on the heel counter) the device -z
  axis. The toe's direction in that frame (the mount yaw) starts at the configured
  value and, with auto_mount, is learnt from the first swings: the foot pitches about
  its own left-right axis, so the dominant horizontal rotation axis of the swings is
  perpendicular to the toe (the sign nearest the configured yaw is kept). The
  calibration walk sets it from the travel of forward strides.
- Heading changes only through swings (zero angular rate update in stance): at each
  landing the toe's new azimuth is read off the propagated attitude. A backward bout's
  reference line is the trimmed mean heading of its first 6 strides (the gyro heading,
  not the noisier stride vectors); the walked path follows the heading, and its lateral
  offset from the line (while the last strides curve by 2 deg/m or more: a gyro drifts
  by a fraction of that) or a held heading deviation raise a drift alert (with
  hysteresis and a cool-down).
- Trust: the attitude the gyro carried through a stride's swing is checked against
  the gravity of the stance it landed in (its mean at lift-off, when vibration has
  averaged out). The heading's own error (about gravity) cannot be seen, but it is of
  the same order; while this tilt error, smoothed over strides, is above
  trust_tilt_deg (3 deg: simulated walks stay under it once the gyro bias is learnt,
  real heel and toe sensors on a treadmill show 5 to 20) the heading cannot tell a
  drift from its own error and no drift alert is raised. Steps and directions do not
  depend on it.

State: the one table of the engine's fields, their units and formats. feed() copies
the starred ones into locals (the same names without the underscore, m1x.. and m1a..
for _ma) and back (of an array starred in brackets, only the index); the rest, and the
arrays, it reads and writes in place.
    name              unit / format                                   range
  * n                 samples since reset()                           < 2**30
  * _ring, (_ri)      one sample's energy e (below); the ring's slot  0 .. _E_MAX
  * _esum             energy, sum of _ring over the window (_K_WN)    0 .. 16 * 2**24
  * _th               energy, the stance level                        _iexp(_lmin.._lmax)
  * _still            samples in a row at or below the level          0 .. n
  * _qmin, _qmax      energy, lowest and highest since _seg restarted 0 .. 16 * 2**24
  * _seg              samples since the level was last re-learnt      0 .. _K_ESC
  * _phase            _STANCE, _SWING or _ABORTED
    _fl, _pk          log2 of energy, 1/8 octave (floor, peak)        -1 (unset), 0 .. 230
  * _bx, _by, _bz     gyro bias, Q4 LSB (1/16 LSB)                    +-_bmax >> 8
    _ba               bias accumulators, Q12 LSB                      +-_bmax
  * _ma               per axis x, y, z: the last rate and the last    +-2**21
                      two pair sums of rates, Q4 LSB; then the same
                      for |a|^2 - 1 g^2 (m1a..), (a >> ash)^2         +-2**26
  * _pa               the previous acceleration sample, LSB           int16
    _gs, _gn          stance acceleration sums (LSB), their count     +-32767 * 255, < 256
    _r                attitude rows x, y, z (levelled frame's axes    |row| < 1.46
                      in device coordinates), Q14
    _td, _up          the toe, the up vector(s) in device coords, Q14 |v| <= 1
  * _ns               swing samples integrated                        0 .. _K_MAX_SWING
  * _vx, _vy, _vz     velocity, 4 LSB x samples (sums of a >> 2)      +-dv * _K_MAX_SWING
  * _px, _py, _pz     position, 32 LSB x samples^2 (sums of v >> 3)   < 2**30 (_K_MAX_SWING)
  * _gz0              |gravity| at lift-off, 4 LSB                    ~ g_lsb / 4
  * _el0, _lobe       toe elevation at lift-off, landing pitch lobe,  +-16384
                      Q14 sine
  * _jr, (_ji)        change of a since the last sample, squared, in  0 .. _JR_MAX
                      (2**jsh LSB)^2 / 64, for the last _JR samples
    _ax               toe axis: swing sums of squares of the ground   +-2**30
                      rotation axis (uu, vv, uv), strides' (c, s)
    heading           binary angle, 65536 = one turn, + = turned left signed, wrapped
    lateral_mm        mm, + = the walker is left of the line          +-1e6
    _hr, _hk          reference headings (bam16); last headings and   int16
                      lengths (bam16, mm)
    _pv               the pending stride (see _end_swing)
    _k                the constants derived from the settings (_K_*);
                      also _k[_K_ESC] (the escape, samples) and
                      _k[_K_TILT]: landings' tilt error, smoothed,    -1 (unset),
                      Q14 sine                                        0 .. 16384
                      _k[_K_LIFT]: sample of the last lift-off (a     < 2**30
                      swing started or not; long ago after reset)
                      _k[_K_LAND]: the stance began with an impact    0, 1
One sample's energy e, in the units _energy_units() sets (~0.28 deg/s and ~1/128 g):
|4-sample rate sum >> (gsh + 2)|^2 + 2 min(|d|, |4-sample sum of d| / 4, _E_TILT_MAX)
+ j / 4 when j > _J_IMPACT (d = |a >> ash|^2 - 1 g^2; j: the change of a, squared, in
2**jsh LSB), capped at _E_MAX.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# event types (ev[0])
EV_STRIDE = const(1)  # ev: type, sample of initial contact, direction (FORWARD, BACKWARD,
#                       SIDEWAYS), confidence %, length mm, heading bam16 (+ = turned
#                       left), lateral offset mm (+ = the walker's left), landing pitch
#                       (Q14 sine)
EV_DRIFT = const(2)  # ev: type, sample, 0, cause (1 offset, 2 heading), lateral mm,
#                      heading deviation (Q14 sine), strides in bout, 0
EV_ON_LINE = const(3)  # back on the line after an alert; fields as EV_DRIFT
EV_BOUT_START = const(4)  # ev: type, sample, 0, 0, 0, 0, 0, 0
EV_BOUT_END = const(5)  # ev: type, sample, 0, 0, strides in bout, fwd strides, bwd strides, 0
EV_CALIBRATED = const(6)  # ev: type, sample, 0, 0, mount yaw (bam16), strides used, 0, 0
EV_FIELDS = const(8)
_EVQ = const(12)  # queued events

FORWARD = const(1)
BACKWARD = const(-1)
SIDEWAYS = const(2)

_Q14 = const(16384)
_W2ND = const(3277)  # 0.05 rad a sample (Q16): faster turns get the second-order term
_HALF_Q14 = const(8192)  # 0.5 in Q14; added before a >> 14 it rounds
_STANCE = const(1)
_SWING = const(2)
_ABORTED = const(3)
_AXIS_STRIDES = const(6)  # swings that teach the toe axis (auto_mount)
_E_MAX = const(16777215)  # one sample's energy is capped here (2**24 - 1)
_E_TILT_MAX = const(4194303)  # and its | |a|^2 - 1 g^2 | term (2**22 - 1) before x2
_J_IMPACT = const(16384)  # change of a, squared, in 2**jsh LSB: (0.5 g)^2 (an impact)
_JR = const(128)  # swing samples whose change of acceleration is kept (a power of 2)
_JR_MAX = const(65535)  # _jr holds j >> 6 in 16 bits ...
_J_KEPT = const(4194303)  # ... for j up to this (65536 << 6 - 1); larger: _JR_MAX
_PV = const(8)  # the pending stride: contact, dx, dy, length, heading, pitch, turn, dh
_EV_PER_SAMPLE = const(6)  # the most events one sample can queue
_WN_MAX = const(16)  # the activity window's ring (samples)

# sample rates the engine takes (rstep.sensor.ODRS_HZ lists the board's: all in here).
# Below 100 Hz one sample's rotation at the gyro's full range (2300 deg/s, 0.7 rad at
# 52 Hz) leaves the small-int range in the attitude update (|w| Q16 x |row| Q14 must
# stay < 2**30: 0.4 rad at 100 Hz) and the first-order update r += r x w is no longer
# a rotation; above 420 Hz the contact search's 0.3 s no longer fits _JR samples.
_ODR_MIN_HZ = const(100)
_ODR_MAX_HZ = const(420)
# time limits, in ms (converted to samples at the ODR)
_WINDOW_MS = const(30)  # the activity window
_CONTACT_LAG_MS = const(300)  # initial contact: at most this long before the stance
_CONFIRM_MS = const(100)  # stance that confirms a stride (at least 3 samples)
_ESC_FIRST_MS = const(1500)  # no stance this long before the first stride: re-learn
_ESC_MIN_MS = const(1000)  # ... after a stride: twice its swing, within these bounds
_ESC_MAX_MS = const(2500)
_ORPHAN_MS = const(2500)  # a landing before the first stance, and the next stride
_ONSET_MIN_MS = const(60)  # ... whose impact began this long after the recording did
# gyro bias: the estimate is held within +-20 deg/s, and each stance sample's residual
# is clipped to +-4 deg/s (converted to LSB with the gyro's sensitivity)
_BIAS_MAX_MDPS = const(20000)
_BIAS_CLIP_MDPS = const(4000)
# the stance level: its bounds, as the window energy of a steady rotation; the level
# before the first stance; its distance above the floor, 1.5 to 5 octaves (1/8 octaves)
_LEVEL_MIN_DPS = const(6)
_LEVEL_MAX_DPS = const(250)
_LEVEL0_DPS = const(50)
_LVL_D_MIN = const(12)
_LVL_D_MAX = const(40)
# the energy units: the shifts that bring the reference sensitivities (16 g: 488 ug,
# 2000 deg/s: 70 mdps per LSB) to ~1/128 g (a >> 4) and ~0.28 deg/s (Q4 rate >> 6)
_E_REF_UG = const(488)
_E_REF_UDPS = const(70000)
_STRIDE_MAX_MM = const(3000)  # a longer one is not a stride
_PITCH_DB_DEG = const(8)  # landing pitch dead band

# the engine's constants, derived from the settings once (Gait._k)
_K_ASH = const(0)
_K_BCLIP = const(1)
_K_BMAX = const(2)
_K_CONTACT_LAG = const(3)
_K_COOL = const(4)
_K_COS_LAND = const(5)
_K_EMIN = const(6)
_K_ESC = const(7)
_K_G2 = const(8)
_K_G_LSB = const(9)
_K_GAP = const(10)
_K_GSH = const(11)
_K_JSH = const(12)
_K_KCONF = const(13)
_K_KM = const(14)
_K_KW = const(15)
_K_LMAX = const(16)
_K_LMIN = const(17)
_K_LVL = const(18)
_K_MAX_SWING = const(19)
_K_MIN_STRIDE = const(20)
_K_MIN_SWING = const(21)
_K_MOUNT0 = const(22)
_K_NST = const(23)
_K_ODR4 = const(24)
_K_ORPH_WIN = const(25)
_K_PITCH_DB = const(26)
_K_PMAX = const(27)
_K_SIDE_COS = const(28)
_K_SIDE_SIN = const(29)
_K_SIN_ALERT = const(30)
_K_TH0 = const(31)
_K_TURN_LIM = const(32)
_K_VMAX = const(33)
_K_WN = const(34)
_K_TURN_MIN_STRIDE_MM = const(35)
_K_PITCH_VOTE_MM = const(36)
_K_REF_STRIDES = const(37)
_K_ALERT_OFFSET_MM = const(38)
_K_ALERT_HEADING_STRIDES = const(39)
_K_REARM_OFFSET_MM = const(40)
_K_AUTO_MOUNT = const(41)
_K_CURVE = const(42)
_K_TRUST_TILT = const(43)
_K_TILT = const(44)  # state: the landings' tilt error (sine, Q14), smoothed; -1 unset
_K_TCHK = const(45)  # state: 1 when a stride ended the last swing (its stance is checked)
_K_LIFT = const(46)  # state: the sample of the last lift-off
_K_LAND = const(47)  # state: 1 when the stance began with an impact (a foot landing)
_KN = const(48)

# defaults; every one can be overridden in Gait(..., name=value)
DEFAULTS = {
    "still_ms": 20,  # this long below the stance level = stance
    "stance_level_pct": 35,  # the stance level, % of the way from floor to peak (log)
    "min_swing_ms": 120,  # shorter swings are not strides
    "max_swing_ms": 2500,  # longer ones neither (leg swinging, fidgeting)
    "min_stride_mm": 80,  # horizontal travel of a stride
    "land_tilt_deg": 35,  # a stance tilted further from the lift-off stance: no stride
    "side_deg": 50,  # travel further than this from the toe axis: a side-step
    "turn_deg": 25,  # a stride turning more than this ...
    "turn_min_stride_mm": 300,  # ... must travel at least this (turning in place)
    "pitch_vote_mm": 60,  # weight of the landing pitch vote, in mm of travel
    "bout_gap_s": 3,  # no stride for this long ends a bout
    "ref_strides": 6,  # backward strides whose heading is the reference line
    "alert_offset_mm": 500,  # lateral offset that raises a drift alert ...
    "alert_curve_deg_per_m": 2,  # ... while the last strides curve by this much
    "alert_heading_deg": 15,  # heading deviation that raises one ...
    "alert_heading_strides": 3,  # ... when held for this many strides
    "rearm_offset_mm": 300,  # back on the line below this offset
    "cooldown_s": 10,  # at least this long between two alerts
    "trust_tilt_deg": 3,  # drift alerts only while the gyro's attitude at landing
    #                       agrees with that stance's gravity this well (smoothed)
    "auto_mount": 1,  # learn the toe axis from the first swings (0: keep mount_yaw_deg)
    "mount_yaw_deg": 0,  # toe direction in the device's levelled frame, from the
    #                      calibration walk (180: clipped with the arrow to the heel)
}

# pi as a fraction, good to 2e-10: integer maths only, the same on every port
_PI_NUM = const(103993)
_PI_DEN = const(33102)


def isqrt(n):
    """Integer square root (floor) of a non-negative int."""
    if n <= 0:
        return 0
    # start above the root without squaring (x * x could leave the small-int range)
    x = 1
    s = n
    while s:
        s >>= 2
        x <<= 1
    y = (x + n // x) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def hypot(x, y):
    """sqrt(x*x + y*y) for |x|, |y| < 2**29, without leaving the small-int range."""
    s = 0
    while x > 16383 or x < -16383 or y > 16383 or y < -16383:
        x >>= 1
        y >>= 1
        s += 1
    return isqrt(x * x + y * y) << s


def _sine_table():
    """sin(k * 90 deg / 64) in Q14 for k = 0..64, by an integer Taylor series."""
    one = 1 << 40
    table = array("h", [0] * 65)
    for k in range(65):
        x = (_PI_NUM * k * one) // (_PI_DEN * 128)  # radians in Q40
        term, s, i = x, x, 1
        while term:
            term = -term * x // one * x // one // ((2 * i) * (2 * i + 1))
            s += term
            i += 1
        table[k] = (s * _Q14 + (one >> 1)) // one
    return table


_SIN = _sine_table()


def sin_bam(b):
    """Sine in Q14 of a binary angle (65536 = one turn), linearly interpolated."""
    b &= 0xFFFF
    q = b >> 14
    r = b & 0x3FFF
    if q & 1:
        r = 0x4000 - r
    i = r >> 8
    f = r & 0xFF
    s = _SIN[i]
    if i < 64:
        s += ((_SIN[i + 1] - s) * f) >> 8
    return -s if q & 2 else s


def cos_bam(b):
    return sin_bam(b + 0x4000)


def _atan_table():
    """atan(2**-i) as binary angles (65536 = one turn), by an integer Taylor series."""
    one = 1 << 40
    table = array("h", [0] * 14)
    for i in range(14):
        if i == 0:
            table[0] = 8192  # 45 degrees
            continue
        x = one >> i
        term, s, k = x, x, 1
        while term:
            term = -term * x // one * x // one
            s += term // (2 * k + 1)
            k += 1
        # radians (Q40) to binary angle: * 65536 / (2 pi)
        table[i] = (s * 65536 * _PI_DEN // (2 * _PI_NUM) + (one >> 1)) // one
    return table


_ATAN = _atan_table()


def atan2_bam(y, x):
    """Angle of (x, y) as a binary angle 0..65535, by CORDIC (|x|, |y| < 2**15)."""
    a = 0
    if x < 0:
        x = -x
        y = -y
        a = 32768
    for i in range(14):
        if y > 0:
            t = x + (y >> i)
            y -= x >> i
            x = t
            a += _ATAN[i]
        else:
            t = x - (y >> i)
            y += x >> i
            x = t
            a -= _ATAN[i]
    return a & 0xFFFF


def _deg_to_q14_sine(deg):
    return sin_bam((deg * 65536) // 360)



def _energy_units(ug_per_lsb, udps_per_lsb):
    """Shifts that bring accel to ~1/128 g and gyro (Q4) to ~0.28 deg/s units: 4 and 6
    at the reference sensitivities, one more for each halving (2 g, 125 deg/s at most)."""
    ash = 4
    u = ug_per_lsb
    while u < _E_REF_UG and ash < 8:
        u <<= 1
        ash += 1
    gsh = 6
    u = udps_per_lsb
    while u < _E_REF_UDPS and gsh < 11:
        u <<= 1
        gsh += 1
    return ash, gsh


def _zeros(typecode, n):
    """A zeroed array, built without a temporary list (it would linger on the heap)."""
    a = array(typecode, range(n))
    for i in range(n):
        a[i] = 0
    return a


class Gait:
    """The gait engine. Construct once; feed it samples; pop its events."""

    def __init__(self, odr_hz=104, accel_ug_per_lsb=488, gyro_udps_per_lsb=70000, **cfg):
        for k in cfg:
            if k not in DEFAULTS:
                raise ValueError("unknown gait setting %r" % k)
        c = {}
        for k in DEFAULTS:
            c[k] = int(cfg.get(k, DEFAULTS[k]))
        if not _ODR_MIN_HZ <= odr_hz <= _ODR_MAX_HZ:
            raise ValueError("odr_hz must be %d..%d (sensor ODR 104, 208 or 416)"
                             % (_ODR_MIN_HZ, _ODR_MAX_HZ))
        if not 1 <= c["ref_strides"] <= 8:
            raise ValueError("ref_strides must be 1..8")
        if not 5 <= c["stance_level_pct"] <= 95:
            raise ValueError("stance_level_pct must be 5..95")
        if not 20 <= c["side_deg"] <= 80:
            raise ValueError("side_deg must be 20..80")
        if c["bout_gap_s"] < 1:
            raise ValueError("bout_gap_s must be 1 or more")
        self.odr_hz = odr_hz
        self._k = _zeros("i", _KN)
        self._k[_K_TURN_MIN_STRIDE_MM] = c["turn_min_stride_mm"]
        self._k[_K_PITCH_VOTE_MM] = c["pitch_vote_mm"]
        self._k[_K_REF_STRIDES] = c["ref_strides"]
        self._k[_K_ALERT_OFFSET_MM] = c["alert_offset_mm"]
        self._k[_K_ALERT_HEADING_STRIDES] = c["alert_heading_strides"]
        self._k[_K_REARM_OFFSET_MM] = c["rearm_offset_mm"]
        self._k[_K_AUTO_MOUNT] = c["auto_mount"]
        self._k[_K_CURVE] = c["alert_curve_deg_per_m"] * 65536 // 360  # bam per metre
        self._k[_K_TRUST_TILT] = _deg_to_q14_sine(c["trust_tilt_deg"])
        self._cfg = tuple(c[k] for k in DEFAULTS)  # settings() gives them back
        # --- activity energy ---
        ash, gsh = _energy_units(accel_ug_per_lsb, gyro_udps_per_lsb)
        self._k[_K_ASH] = ash
        self._k[_K_JSH] = ash - 1
        self._k[_K_GSH] = gsh
        g_lsb = 1000000 // accel_ug_per_lsb  # 1 g in LSB
        self._k[_K_G_LSB] = g_lsb
        self._k[_K_G2] = (g_lsb * g_lsb) >> (2 * ash)
        self._k[_K_WN] = max(2, min(_WN_MAX, (odr_hz * _WINDOW_MS + 500) // 1000))
        self._k[_K_NST] = max(2, (odr_hz * c["still_ms"] + 500) // 1000)
        unit_mdps = gyro_udps_per_lsb * (1 << (gsh - 4)) // 1000  # one energy unit

        def level(dps):  # window energy of a steady rotation at dps
            s = dps * 1000 // unit_mdps
            return self._k[_K_WN] * s * s

        self._k[_K_LMIN] = _ilog(level(_LEVEL_MIN_DPS))
        self._k[_K_LMAX] = _ilog(level(_LEVEL_MAX_DPS))
        self._k[_K_EMIN] = _iexp(self._k[_K_LMIN])
        self._k[_K_TH0] = level(_LEVEL0_DPS)
        self._k[_K_LVL] = c["stance_level_pct"]
        # no stance for 1.5 s (reset()), or for twice the last stride's swing (1 to
        # 2.5 s): re-learn the level
        self._k[_K_CONTACT_LAG] = min(_JR - 1, odr_hz * _CONTACT_LAG_MS // 1000)
        self._k[_K_MIN_SWING] = odr_hz * c["min_swing_ms"] // 1000
        # --- gyro: Q4 LSB -> Q16 radians per sample; bias clamp and residual clip ---
        self._k[_K_KW] = (gyro_udps_per_lsb * _PI_NUM * (1 << 26) + _PI_DEN * 90000000 * odr_hz) // (
            _PI_DEN * 180000000 * odr_hz
        )
        # (Q12 and Q4 LSB at the configured gyro sensitivity: +-20 deg/s is 285 LSB at
        # 2000 deg/s full scale, 4571 at 125)
        self._k[_K_BMAX] = (_BIAS_MAX_MDPS * 1000 // gyro_udps_per_lsb) << 12
        self._k[_K_BCLIP] = (_BIAS_CLIP_MDPS * 1000 // gyro_udps_per_lsb) << 4
        # --- distance: p (32 LSB x samples^2) -> mm = p * km >> 16 ---
        self._k[_K_KM] = (32 * accel_ug_per_lsb * 980665 * 65536 + 50000000 * odr_hz * odr_hz) // (
            100000000 * odr_hz * odr_hz
        )
        self._k[_K_PMAX] = _STRIDE_MAX_MM * 65536 // self._k[_K_KM]
        # a residual velocity above 3 m/s at the next stance: not a stride (heel sensors
        # on a treadmill leave up to ~2 m/s after their 12-15 g impacts)
        # (v is in 4 LSB x samples: v mm/s = v * 4 * accel_ug * 1e-6 * 9806.65 / odr, so
        # 3000 mm/s is odr * 3000e7 / (392266 * accel_ug); the literal 3000e7 is made once,
        # at import: a product made here would leave a big int on the heap)
        self._k[_K_VMAX] = odr_hz * 30000000000 // (392266 * accel_ug_per_lsb)
        # the longest swing: the setting; the escape's longest wait (a swing cannot
        # outlast it); and what the integrators hold as small ints: in n samples p grows
        # by up to dv n (n + 1) / 16 (dv, the largest change of v in one sample: a row
        # (< 1.46, Q14 23921) times |a >> 2| (<= 8192 sqrt 3 LSB), plus gravity: half
        # the largest |g| _start_swing takes, 1 g + 40 %), and the ZUPT correction adds
        # up to vmax / 16 (n + 1). (2.15 s at 416 Hz and 16 g.)
        # (written to stay in small ints: a big int's digits could linger on the heap)
        gl = g_lsb >> 1
        dv = ((23921 * 14189) >> 14) + 1 + ((gl + gl * 2 // 5) >> 1)
        n = min(odr_hz * c["max_swing_ms"] // 1000, odr_hz * _ESC_MAX_MS // 1000)
        while (n * (n + 1) + 15) >> 4 > \
                (0x3FFFFFFF - n - (((self._k[_K_VMAX] >> 3) * (n + 1)) >> 1)) // dv:
            n -= 1
        self._k[_K_MAX_SWING] = n
        self._k[_K_MIN_STRIDE] = c["min_stride_mm"]
        self._k[_K_TURN_LIM] = c["turn_deg"] * 65536 // 360
        self._k[_K_SIDE_SIN] = _deg_to_q14_sine(c["side_deg"])
        self._k[_K_SIDE_COS] = _deg_to_q14_sine(90 - c["side_deg"])
        self._k[_K_GAP] = c["bout_gap_s"] * odr_hz
        self._k[_K_COOL] = c["cooldown_s"] * odr_hz
        self._k[_K_PITCH_DB] = _deg_to_q14_sine(_PITCH_DB_DEG)
        self._k[_K_COS_LAND] = _deg_to_q14_sine(90 - c["land_tilt_deg"])
        self._k[_K_KCONF] = max(3, odr_hz * _CONFIRM_MS // 1000)
        self._k[_K_ORPH_WIN] = odr_hz * _ORPHAN_MS // 1000
        self._k[_K_ODR4] = odr_hz >> 2  # a quarter second
        self._k[_K_SIN_ALERT] = _deg_to_q14_sine(c["alert_heading_deg"])
        self._k[_K_MOUNT0] = (c["mount_yaw_deg"] * 65536) // 360
        self._evq = _zeros("i", (_EVQ * EV_FIELDS))
        self._ring = _zeros("i", _WN_MAX)
        # (units and formats of every field: the State table in the module docstring)
        self._jr = _zeros("H", _JR)
        self._pa = _zeros("i", 3)
        self._ba = _zeros("i", 3)
        self._gs = _zeros("i", 3)
        self._r = _zeros("i", 9)
        self._td = _zeros("i", 3)
        # up: [0:3] of the last stance long enough to tell, [3:6] of the pending stride's
        # lift-off
        self._up = _zeros("i", 6)
        self._ma = _zeros("i", 12)
        self._hr = _zeros("h", 8)  # the reference strides (ref_strides <= 8)
        self._hk = _zeros("h", 16)  # the last 8 backward strides: heading, length
        self._pv = _zeros("i", _PV)
        self._ax = _zeros("i", 5)
        self.reset()

    def reset(self):
        """Forget everything but the settings (a new session)."""
        # counters readable at any time
        self.n = 0  # samples seen
        self.strides = 0
        self.forward_strides = 0
        self.backward_strides = 0
        self.sideways_strides = 0
        self.steps = 0
        self.forward_steps = 0
        self.backward_steps = 0
        self.sideways_steps = 0
        self.alerts = 0
        self.heading = 0  # binary angle (65536 = one turn) from the session start, signed
        self.lateral_mm = 0  # offset from the backward bout's reference line
        self.in_stance = 0
        self.set_mount(self._k[_K_MOUNT0])
        self._axis_left = _AXIS_STRIDES if self._k[_K_AUTO_MOUNT] else 0
        self._k[_K_ESC] = self.odr_hz * _ESC_FIRST_MS // 1000
        self._k[_K_TILT] = -1
        self._k[_K_TCHK] = 0
        self._k[_K_LIFT] = -(self.odr_hz << 3)  # (long ago)
        self._axn = 0
        for i in range(5):
            self._ax[i] = 0
        self._refz = -1  # levelled x from device x (0) or device -z (1); -1: not chosen
        for i in range(6):
            self._up[i] = 0
        for i in range(12):
            self._ma[i] = 0
        # activity and the adaptive stance level
        for i in range(_WN_MAX):
            self._ring[i] = 0
        self._ri = 0
        self._esum = 0
        self._th = self._k[_K_TH0]
        self._st0 = 0  # where the stance began
        self._resume = 0  # the last swing went nowhere: a lull after it resumes it
        self._fl = -1  # floor, log2 1/8 octaves; -1: not learnt yet
        self._pk = 0
        self._qmin = _E_MAX * 16
        self._qmax = 0
        self._smin = 0
        self._seg = 0
        self._still = 0
        self._pa[0] = self._pa[1] = self._pa[2] = 0
        self._phase = _ABORTED  # wait for a first stance before integrating
        # gyro bias and stance gravity
        self._bx = self._by = self._bz = 0
        self._ba[0] = self._ba[1] = self._ba[2] = 0
        self._bias_n = 0
        self._gs[0] = self._gs[1] = self._gs[2] = 0
        self._gn = 0
        # swing state
        self._ns = 0
        self._vx = self._vy = self._vz = 0
        self._px = self._py = self._pz = 0
        self._h0 = 0
        self._gz0 = 0
        self._tdyaw = 0
        self._el0 = 0
        self._lobe = 0
        self._t0 = 0
        self._pend = 0  # a stride waits for its stance to confirm it
        pv = self._pv  # ... and what it will be: see _end_swing
        for i in range(_PV):
            pv[i] = 0
        self._cal_left = self._cal_n = self._cal_x = self._cal_y = 0
        self._orph = 0  # a landing before any stance waits for the next stride
        self._o_n = 0
        self._stanced = 0  # a stance was seen in this session
        self._ji = 0
        for i in range(_JR):
            self._jr[i] = 0
        # bouts and the drift alert
        self._last_stride_n = 0
        self._in_bout = 0
        self._bout_n = self._bout_f = self._bout_b = 0
        self._bk = 0
        self._fux = self._fuy = 0
        self._dx = self._dy = 0
        self._lat_acc = 0
        self._dev_run = 0
        self._alerted = 0
        self._last_alert_n = -self._k[_K_COOL]  # (a far-off value leaves small ints)
        # event queue
        self._qh = self._qn = 0

    # ------------------------------------------------------------------ events
    @property
    def pending(self):
        return self._qn

    def pop(self, out):
        """Copy the oldest event into out (EV_FIELDS ints); False when there is none."""
        if not self._qn:
            return False
        q = self._evq
        i = self._qh * EV_FIELDS
        for k in range(EV_FIELDS):
            out[k] = q[i + k]
        self._qh = (self._qh + 1) % _EVQ
        self._qn -= 1
        return True

    def _emit(self, t, n, a, b, c, d, e, f):
        q = self._evq
        i = ((self._qh + self._qn) % _EVQ) * EV_FIELDS
        q[i] = t
        q[i + 1] = n
        q[i + 2] = a
        q[i + 3] = b
        q[i + 4] = c
        q[i + 5] = d
        q[i + 6] = e
        q[i + 7] = f
        self._qn += 1

    def heading_bam(self):
        """Heading as a binary angle 0..65535 (65536 = one turn) from the session start."""
        return self.heading & 0xFFFF

    def set_mount(self, yaw_bam):
        """Set the mount's yaw: the toe's direction in the device's levelled frame."""
        self.mount_bam = yaw_bam & 0xFFFF
        self._mcos = cos_bam(yaw_bam)
        self._msin = sin_bam(yaw_bam)

    def calibrate(self, strides=4):
        """Treat the next strides as a forward walk and learn the mount's yaw from them.

        They count as forward strides; then EV_CALIBRATED reports the yaw (bam16).
        """
        self._cal_left = strides
        self._cal_n = strides
        self._cal_x = self._cal_y = 0
        self._axis_left = 0  # the walk decides the toe, not the swing axis

    def settings(self):
        """The settings this engine runs with, as a dict (allocates: not per sample)."""
        return dict(zip(DEFAULTS, self._cfg))

    def gyro_bias_q4(self):
        """The gyro zero-rate estimate (x, y, z) in 1/16 LSB (allocates: not per sample)."""
        return self._bx, self._by, self._bz

    def landing_tilt_q14(self):
        """The landings' tilt error (sine, Q14; smoothed over strides; -1 before the
        first): drift alerts are raised only while it is below trust_tilt_deg."""
        return self._k[_K_TILT]

    def heading_trusted(self):
        """Whether the gyro's attitude agrees with gravity well enough to alert."""
        return 0 <= self._k[_K_TILT] < self._k[_K_TRUST_TILT]

    def stance_level(self):
        """The adaptive stance level (window energy; allocates: not per sample)."""
        return self._th

    def gap(self, lost):
        """Samples were lost (FIFO overrun): drop the stride in progress, keep time."""
        n = self.n + lost
        if self._in_bout and self.n <= self._last_stride_n + self._k[_K_GAP] <= n:
            self._end_bout()  # the bout's end fell inside the gap
        self.n = n
        self._pend = 0
        self._orph = 0
        self._phase = _ABORTED
        self._still = 0
        self._seg = 0

    # ------------------------------------------------------------------ samples
    def feed(self, buf, start, end):
        """Process samples buf[6*start : 6*end]; return the index reached.

        Stops early when the event queue is nearly full: pop the events and call again
        with the returned index.

        One function for speed: the fields of the per-sample state (the State table in
        the module docstring) are copied into locals here and back at the end. Each
        sample, after the activity energy, goes through the phase machine:

            _STANCE   still: a stance sample (gravity, gyro bias, confirm), next sample
                      not still: LIFT-OFF, to _SWING or _ABORTED, and the same sample
                      falls through into that branch (see the comment there)
            _SWING    integrate; still for nst samples: the swing ends, to _STANCE;
                      longer than max_swing: to _ABORTED
            _ABORTED  wait; still for nst samples: to _STANCE
            either of the last two: no stance for esc samples: re-learn the level, to
                      _ABORTED
        """
        # the starred fields of the State table (module docstring), into locals
        ring = self._ring
        ri = self._ri
        wn = self._k[_K_WN]
        esum = self._esum
        th = self._th
        ash = self._k[_K_ASH]
        jsh = self._k[_K_JSH]
        gsh = self._k[_K_GSH]
        g2 = self._k[_K_G2]
        pa = self._pa
        pax = pa[0]
        pay = pa[1]
        paz = pa[2]
        bx = self._bx
        by = self._by
        bz = self._bz
        still = self._still
        nst = self._k[_K_NST]
        qmin = self._qmin
        qmax = self._qmax
        seg = self._seg
        esc = self._k[_K_ESC]
        phase = self._phase
        kw = self._k[_K_KW]
        r = self._r
        td = self._td
        ns = self._ns
        ma = self._ma  # the averages' state: last value, last two pair sums (rate, |a|)
        m1x = ma[0]
        m2x = ma[1]
        m3x = ma[2]
        m1y = ma[3]
        m2y = ma[4]
        m3y = ma[5]
        m1z = ma[6]
        m2z = ma[7]
        m3z = ma[8]
        m1a = ma[9]
        m2a = ma[10]
        m3a = ma[11]
        vx = self._vx
        vy = self._vy
        vz = self._vz
        px = self._px
        py = self._py
        pz = self._pz
        gz0 = self._gz0
        pdb = self._k[_K_PITCH_DB]
        lobe = self._lobe
        el0 = self._el0
        jr = self._jr
        ji = self._ji
        axis = self._axis_left
        axs = self._ax
        bout_end = self._last_stride_n + self._k[_K_GAP] if self._in_bout else -1
        max_swing = self._k[_K_MAX_SWING]
        rotate = _rotate_rows
        renorm = _renorm_rows
        n = self.n
        k = start
        if n == 0 and start < end:  # no change of acceleration before the first sample
            pax = buf[start * 6]
            pay = buf[start * 6 + 1]
            paz = buf[start * 6 + 2]
        while k < end:
            if self._qn > _EVQ - _EV_PER_SAMPLE - 1:
                break
            i = k * 6
            ax = buf[i]
            ay = buf[i + 1]
            az = buf[i + 2]
            cx = (buf[i + 3] << 4) - bx
            cy = (buf[i + 4] << 4) - by
            cz = (buf[i + 5] << 4) - bz
            k += 1
            # ---- activity: rotation, |a| off 1 g, change of a; summed over the window;
            # the rate averaged over 4 samples (zeros at a quarter and half the rate:
            # ground vibration averages out; a swing's few hertz pass)
            u = cx + m1x  # pairs of rates; two pairs apart they make the 4-sample sum
            s = (u + m3x) >> (gsh + 2)
            m3x = m2x
            m2x = u
            m1x = cx
            e = s * s
            u = cy + m1y
            s = (u + m3y) >> (gsh + 2)
            m3y = m2y
            m2y = u
            m1y = cy
            e += s * s
            u = cz + m1z
            s = (u + m3z) >> (gsh + 2)
            m3z = m2z
            m2z = u
            m1z = cz
            e += s * s
            s = ax >> ash
            t = s * s
            s = ay >> ash
            t += s * s
            s = az >> ash
            t += s * s
            t -= g2
            # |a| off 1 g: the smaller of the sample's and its 4-sample average (shaking
            # ground swings |a| both ways about 1 g and averages out; a push does not)
            u = t + m1a
            m1a = t
            if t < 0:
                t = -t
            s = (u + m3a) >> 2
            m3a = m2a
            m2a = u
            if s < 0:
                s = -s
            if s < t:
                t = s
            if t > _E_TILT_MAX:
                t = _E_TILT_MAX
            e += t << 1
            s = (ax - pax) >> jsh
            j = s * s
            s = (ay - pay) >> jsh
            j += s * s
            s = (az - paz) >> jsh
            j += s * s
            if j > _J_IMPACT:  # over 0.5 g a sample: an impact, not ground shaking
                e += j >> 2
            if e > _E_MAX:
                e = _E_MAX
            pax = ax
            pay = ay
            paz = az
            esum += e - ring[ri]
            ring[ri] = e
            ri += 1
            if ri == wn:
                ri = 0
            if esum <= th or (phase == _STANCE and esum <= th << 1):
                still += 1  # a stance ends only an octave above its level (hysteresis)
            else:
                still = 0
            if esum < qmin:
                qmin = esum
            if esum > qmax:
                qmax = esum
                if qmax >> 7 > th:
                    # a stance is at least 7 octaves quieter than the swing before it
                    # (a first jog after standing is found at once)
                    th = qmax >> 7
            if phase == _STANCE:
                if still:
                    self._stance_sample(ax, ay, az, cx, cy, cz)
                    if self._pend and self._gn >= self._k[_K_KCONF]:
                        self._confirm()
                        if self._in_bout:
                            bout_end = self._last_stride_n + self._k[_K_GAP]
                    bx = self._bx
                    by = self._by
                    bz = self._bz
                    seg += 1
                    if seg >= esc:
                        seg = 0
                        # a stance that holds this much activity: the level is too high
                        if qmax > (qmin if qmin > self._k[_K_EMIN] else self._k[_K_EMIN]) << 4:
                            self._adapt(qmin, qmax, 1)
                            th = self._th
                        qmin = qmax = esum
                    if n >= bout_end >= 0:
                        self._end_bout()
                        bout_end = -1
                    n += 1
                    continue
                # LIFT-OFF. The foot leaves the ground: the phase becomes _SWING (a new
                # swing from the stance attitude, or one resumed) or _ABORTED, and this
                # same sample then falls through, deliberately, into that phase's branch
                # below: it is the swing's first integrated sample (or the first sample
                # of the wait for a stance), and counts towards the escape (seg = 1).
                if self._pend:
                    self._confirm()
                    if self._in_bout:
                        bout_end = self._last_stride_n + self._k[_K_GAP]
                self._smin = qmin
                if self._fl < 0:
                    # the first stance of the session sets the floor before its swing
                    # (the default level could cut a gentle first swing at a lull)
                    self._adapt(qmin, qmax, 1)
                    th = self._th
                qmin = qmax = esum
                seg = 0
                if self._resume and n - self._st0 < self._k[_K_KCONF] and \
                        ns < self._k[_K_ODR4] << 2:
                    # a lull just after a lift-off, within a swing that had not yet gone
                    # anywhere: the swing goes on from where it was (within its first
                    # second: taps at 3 Hz, each ending in a lull, chained into one long
                    # swing whose drift looked like a stride)
                    phase = _SWING
                    self._resume = 0
                elif self._start_swing(n):
                    gz0 = self._gz0
                    phase = _SWING
                    ns = vx = vy = vz = px = py = pz = 0
                    el0 = ((r[6] >> 1) * td[0] + (r[7] >> 1) * td[1] + (r[8] >> 1) * td[2]) >> 13
                    lobe = 0
                    axs[0] = axs[1] = axs[2] = 0
                else:
                    phase = _ABORTED  # (a stride pending may still be confirmed)
                # (no continue: fall through with the new phase)
            if phase == _SWING:
                # attitude: each row r += r x w (w in Q16 rad per sample)
                wx = (cx * kw + _HALF_Q14) >> 14
                wy = (cy * kw + _HALF_Q14) >> 14
                wz = (cz * kw + _HALF_Q14) >> 14
                rotate(r, wx, wy, wz)
                ns += 1
                if ns & 1 == 0:
                    renorm(r)  # every second sample: |row| < 1.46 for any int16 input
                    # landing pitch: the last lobe of the toe's elevation beyond a dead band
                    t = (((r[6] >> 1) * td[0] + (r[7] >> 1) * td[1] + (r[8] >> 1) * td[2])
                         >> 13) - el0
                    if t > pdb:
                        if lobe <= 0 or t > lobe:
                            lobe = t
                    elif t < -pdb:
                        if lobe >= 0 or t < lobe:
                            lobe = t
                if axis:
                    # the rotation axis on the ground (levelled frame), as squares
                    s = ((r[0] >> 4) * wx + (r[1] >> 4) * wy + (r[2] >> 4) * wz) >> 17
                    t = ((r[3] >> 4) * wx + (r[4] >> 4) * wy + (r[5] >> 4) * wz) >> 17
                    axs[0] += s * s
                    axs[1] += t * t
                    axs[2] += s * t
                # the change of acceleration, kept to find the impact's onset
                jr[ji] = j >> 6 if j <= _J_KEPT else _JR_MAX
                ji = (ji + 1) & (_JR - 1)
                # acceleration in the levelled frame, gravity removed, integrated twice
                ax >>= 2
                ay >>= 2
                az >>= 2
                vx += (r[0] * ax + r[1] * ay + r[2] * az) >> 14
                vy += (r[3] * ax + r[4] * ay + r[5] * az) >> 14
                vz += ((r[6] * ax + r[7] * ay + r[8] * az) >> 14) - gz0
                px += vx >> 3
                py += vy >> 3
                pz += vz >> 3
                if still >= nst:
                    # stance again: the stride ended at the impact before this still run
                    n_still = n - nst + 1
                    self._end_swing(self._contact(n, n_still, ji, ns), ns, vx, vy, px, py,
                                    lobe)
                    esc = self._k[_K_ESC]
                    self._adapt(self._smin, qmax, 0)
                    th = self._th
                    phase = _STANCE
                    if ns < self._k[_K_MIN_SWING] + nst and self._gn >= self._k[_K_KCONF]:
                        # a twitch after a long stance: that stance goes on, its
                        # gravity with it (a fresh stance of a few samples could not say);
                        # _st0 is where it resumed
                        self._st0 = n
                    else:
                        self._stance_begin(pax, pay, paz, n, ji)
                    qmin = qmax = esum
                    seg = 0
                elif ns >= max_swing:
                    phase = _ABORTED
                    self._pend = 0
            elif phase == _ABORTED:
                jr[ji] = j >> 6 if j <= _J_KEPT else _JR_MAX
                ji = (ji + 1) & (_JR - 1)
                if still >= nst:
                    orph = not self._stanced and qmax > th << 3
                    phase = _STANCE
                    self._stance_begin(ax, ay, az, n, ji)
                    if orph:
                        # the session began mid-swing: this stance may end a stride,
                        # when at least a quarter second of its swing was seen, or when
                        # it began with a landing's impact whose onset came 60 ms or
                        # more into the recording (not the tail of a landing before it)
                        o = self._contact(n, n - nst + 1, ji, n + 1)
                        if o < self._k[_K_ODR4]:
                            # (a swing of twice n samples: the search goes back to n = 0)
                            o = self._contact(n, n - nst + 1, ji, (n + 1) << 1)
                            if not self._k[_K_LAND] or \
                                    o < self.odr_hz * _ONSET_MIN_MS // 1000:
                                o = -1
                        self._o_n = o
                        self._orph = 1 if o >= 0 else 0
                    qmin = qmax = esum
                    seg = 0
            if phase != _STANCE:
                seg += 1
                if seg == esc >> 1:
                    qmin = qmax = esum  # the escape below looks at the last 0.5 s only
                elif seg >= esc:
                    # no stance for too long: the level is below this ground's quiet
                    self._adapt(qmin, qmax, 1)
                    th = self._th
                    qmin = qmax = esum
                    seg = 0
                    phase = _ABORTED
                    self._pend = 0
            if n >= bout_end >= 0:
                self._end_bout()
                bout_end = -1
            n += 1
        # ... and back
        self.n = n
        self._ri = ri
        self._esum = esum
        self._th = th
        pa[0] = pax
        pa[1] = pay
        pa[2] = paz
        self._still = still
        self._qmin = qmin
        self._qmax = qmax
        self._seg = seg
        self._phase = phase
        self.in_stance = 1 if phase == _STANCE else 0
        self._ns = ns
        ma[0] = m1x
        ma[1] = m2x
        ma[2] = m3x
        ma[3] = m1y
        ma[4] = m2y
        ma[5] = m3y
        ma[6] = m1z
        ma[7] = m2z
        ma[8] = m3z
        ma[9] = m1a
        ma[10] = m2a
        ma[11] = m3a
        self._vx = vx
        self._vy = vy
        self._vz = vz
        self._px = px
        self._py = py
        self._pz = pz
        self._lobe = lobe
        self._el0 = el0
        self._ji = ji
        return k

    def _jr_top(self, end, span):
        """The largest kept change of acceleration over the `span` samples before ring
        slot `end` (the newest of them at end - 1)."""
        jr = self._jr
        top = 0
        k = 0
        while k < span:
            j = jr[(end - 1 - k) & (_JR - 1)]
            if j > top:
                top = j
            k += 1
        return top

    def _contact(self, n, n_still, ji, ns):
        """Initial contact: the onset of the landing's impact.

        Among the samples of the swing's second half and of the last 0.3 s before the
        stance, the first whose
        change of acceleration reaches a quarter of the largest (half its amplitude);
        a soft landing with no impact ends where the stance begins.
        """
        jr = self._jr
        back = n - n_still  # samples since the stance began (the newest is at ji - 1)
        span = self._k[_K_CONTACT_LAG]
        if span > (ns >> 1) - back:  # the landing is in the second half of the swing
            span = (ns >> 1) - back
        if span > _JR - 1 - back:  # (at 416 Hz the lag and the still run fill the ring)
            span = _JR - 1 - back
        top = self._jr_top(ji - back, span)
        first = 0
        k = 0
        if top < 4:  # no impact to speak of: the landing ends where the stance begins
            return n_still
        lim = top >> 2
        while k < span:
            if jr[(ji - 1 - back - k) & (_JR - 1)] >= lim:
                first = k
            k += 1
        return n_still - first

    # ------------------------------------------------------------------ stance level
    def _adapt(self, lo, hi, fresh):
        """Move the stance level from a stance's lowest and a swing's highest energy.

        fresh: set floor and peak from these (no stance found, or a stance too busy);
        otherwise follow them with an IIR over ~4 strides.
        """
        lf = _ilog(lo)
        lp = _ilog(hi)
        if fresh or self._fl < 0:
            self._fl = lf
            self._pk = lp
        else:
            if lf < self._fl:  # the floor follows the quietest stances: down fast, up slowly
                self._fl += (lf - self._fl) >> 1
            else:
                self._fl += (lf - self._fl + 7) >> 3
            self._pk += (lp - self._pk + 2) >> 2
        d = ((self._pk - self._fl) * self._k[_K_LVL]) // 100
        if d < _LVL_D_MIN:
            d = _LVL_D_MIN
        elif d > _LVL_D_MAX:
            d = _LVL_D_MAX
        t = self._fl + d
        if t < self._k[_K_LMIN]:
            t = self._k[_K_LMIN]
        elif t > self._k[_K_LMAX]:
            t = self._k[_K_LMAX]
        self._th = _iexp(t)

    # ------------------------------------------------------------------ stance
    def _stance_begin(self, ax, ay, az, n, ji):
        # did a landing's impact (over 0.5 g in a sample) end the swing? the still run
        # and the activity window before it (the impact left the window first)
        top = self._jr_top(ji, self._k[_K_NST] + self._k[_K_WN] + 3)
        self._k[_K_LAND] = 1 if top >= _J_IMPACT >> 6 else 0
        self._stanced = 1
        self._st0 = n
        gs = self._gs
        gs[0] = ax
        gs[1] = ay
        gs[2] = az
        self._gn = 1

    def _stance_sample(self, ax, ay, az, cx, cy, cz):
        # gravity: the mean of the stance (the last 128..255 samples of a long one)
        gs = self._gs
        gn = self._gn
        if gn >= 255:
            gs[0] >>= 1
            gs[1] >>= 1
            gs[2] >>= 1
            gn >>= 1
        gs[0] += ax
        gs[1] += ay
        gs[2] += az
        self._gn = gn + 1
        if gn < 2:  # the landing's tail
            return
        # gyro bias: an IIR of residuals clipped to +-4 deg/s (vibration and a foot that
        # rolls a little cannot drag it far); over 16 samples at first, then 128
        bn = self._bias_n
        self._bias_n = bn + 1 if bn < 1000 else bn
        kb = 4 if bn < 32 else (5 if bn < 128 else 7)
        clip = self._k[_K_BCLIP]
        bmax = self._k[_K_BMAX]
        a = self._ba
        # (clamps written out: this runs for every stance sample)
        s = cx if -clip <= cx <= clip else (clip if cx > 0 else -clip)
        s = a[0] + ((s << 8) >> kb)
        if -bmax <= s <= bmax:
            a[0] = s
            self._bx = (s + 128) >> 8
        s = cy if -clip <= cy <= clip else (clip if cy > 0 else -clip)
        s = a[1] + ((s << 8) >> kb)
        if -bmax <= s <= bmax:
            a[1] = s
            self._by = (s + 128) >> 8
        s = cz if -clip <= cz <= clip else (clip if cz > 0 else -clip)
        s = a[2] + ((s << 8) >> kb)
        if -bmax <= s <= bmax:
            a[2] = s
            self._bz = (s + 128) >> 8

    def _start_swing(self, n):
        """Levelled frame from the stance gravity: rows x (toe side, horizontal), y, z (up)."""
        self._resume = 0  # a fresh swing: nothing before it to resume
        gn = self._gn
        if gn < 1:
            return False
        tchk = self._k[_K_TCHK]
        self._k[_K_TCHK] = 0
        last = self._k[_K_LIFT]
        self._k[_K_LIFT] = n
        gs = self._gs
        gx = (gs[0] // gn) >> 1
        gy = (gs[1] // gn) >> 1
        gz = (gs[2] // gn) >> 1
        g = isqrt(gx * gx + gy * gy + gz * gz)
        gl = self._k[_K_G_LSB] >> 1
        up = self._up
        if _near_1g(g, gl):
            if tchk:
                self._tilt_check(gx, gy, gz, g)
            zx = gx * _Q14 // g
            zy = gy * _Q14 // g
            zz = gz * _Q14 // g
        elif gn < self._k[_K_KCONF] and (up[0] or up[1] or up[2]) and \
                n - last < self._k[_K_ODR4] << 2 and (self._in_bout or self._k[_K_LAND]):
            # a stance too short to average out its landing, within a second of the
            # last lift-off, in a bout or just after an impact (a fast jog, counted or
            # not yet; a leg swinging from the knee turns back with no impact): the
            # foot is flat as in the last stance that could tell
            zx = up[0]
            zy = up[1]
            zz = up[2]
            g = gl
        else:
            return False  # not 1 g: not a foot at rest
        refz = self._refz
        if refz < 0:
            # a clip on the heel counter holds the device upright: use its -z axis
            # (decided once, by the first stance long enough to tell)
            refz = 1 if zx > 11585 or zx < -11585 else 0
            if gn >= self._k[_K_KCONF]:
                self._refz = refz
        if refz:
            xx = (zz * zx) >> 14
            xy = (zz * zy) >> 14
            xz = ((zz * zz) >> 14) - _Q14
        else:
            xx = _Q14 - ((zx * zx) >> 14)
            xy = -((zx * zy) >> 14)
            xz = -((zx * zz) >> 14)
        m = isqrt(xx * xx + xy * xy + xz * xz)
        if m < 2000:  # the reference axis points straight up or down
            return False
        r = self._r
        xx = xx * _Q14 // m
        xy = xy * _Q14 // m
        xz = xz * _Q14 // m
        r[0] = xx
        r[1] = xy
        r[2] = xz
        r[3] = (zy * xz - zz * xy) >> 14
        r[4] = (zz * xx - zx * xz) >> 14
        r[5] = (zx * xy - zy * xx) >> 14
        r[6] = zx
        r[7] = zy
        r[8] = zz
        if gn >= self._k[_K_KCONF] or not (up[0] or up[1] or up[2]):
            # the attitude a stride must come back to: of a stance long enough to say
            up[0] = zx
            up[1] = zy
            up[2] = zz
        # the toe in device coordinates: mount yaw within the levelled frame
        cm = self._mcos
        sm = self._msin
        td = self._td
        td[0] = (cm * xx + sm * r[3]) >> 14
        td[1] = (cm * xy + sm * r[4]) >> 14
        td[2] = (cm * xz + sm * r[5]) >> 14
        self._tdyaw = self.mount_bam
        self._gz0 = g >> 1  # |gravity| in the 4 LSB units of the swing integrator
        self._h0 = self.heading
        self._t0 = n
        return True

    def _end_swing(self, n_land, ns, vx, vy, px, py, lobe):
        self._resume = 0
        # the toe's azimuth now, in the frame levelled at lift-off (the toe stays on the
        # ground plane's heading whatever the foot's pitch: a device axis off the toe
        # would turn with every heel lowering)
        r = self._r
        td = self._td
        tx = ((r[0] >> 1) * td[0] + (r[1] >> 1) * td[1] + (r[2] >> 1) * td[2]) >> 13
        ty = ((r[3] >> 1) * td[0] + (r[4] >> 1) * td[1] + (r[5] >> 1) * td[2]) >> 13
        dh = _wrap(atan2_bam(ty, tx) - self._tdyaw)
        if ns < self._k[_K_MIN_SWING] + self._k[_K_NST]:
            return  # a twitch: part of a landing (a pending stride waits on)
        vmax = self._k[_K_VMAX]
        if vx > vmax or vx < -vmax or vy > vmax or vy < -vmax:
            self._pend = 0
            return
        # ZUPT: the velocity left at the stance grew linearly through the swing
        cx = ((vx >> 3) * (ns + 1)) >> 1
        cy = ((vy >> 3) * (ns + 1)) >> 1
        px -= cx
        py -= cy
        pmax = self._k[_K_PMAX]
        if px > pmax or px < -pmax or py > pmax or py < -pmax:
            self._pend = 0
            return
        km = self._k[_K_KM]
        dx = (px * km) >> 16
        dy = (py * km) >> 16
        length = hypot(dx, dy)
        # the heading turns with swings that go somewhere or turn on the spot (a
        # landing's pivots read as small turns: on a tilted clip they add up to degrees
        # per stride)
        tl = self._k[_K_TURN_LIM]
        if length >= self._k[_K_MIN_STRIDE] or dh > tl or dh < -tl:
            self.heading = _wrap(self._h0 + dh)
        if length < self._k[_K_MIN_STRIDE]:
            self._resume = 1  # a lull next may be part of this swing
            return  # no travel: a heel lowering after the toe touched (or a tap)
        if hypot((cx * km) >> 16, (cy * km) >> 16) > length << 1:
            # the de-drift would move the foot twice as far as the stride itself: the
            # foot was not at rest at both ends (a leg swinging from the knee turns
            # back: 5x; real treadmill strides: up to 1.7x)
            self._pend = 0
            return
        # the foot went somewhere: a stride before this swing was never confirmed
        self._pend = 0
        turn = dh > tl or dh < -tl
        if turn and length < self._k[_K_TURN_MIN_STRIDE_MM]:
            return
        # a stride candidate: confirmed once the new stance shows the foot at rest in
        # the attitude it left the ground in (a swinging leg turns back at another pitch)
        self._pend = 1
        esc = ns << 1  # the next escape waits for twice this swing (1 to 2.5 s)
        lo = self.odr_hz * _ESC_MIN_MS // 1000
        hi = self.odr_hz * _ESC_MAX_MS // 1000
        self._k[_K_ESC] = lo if esc < lo else (esc if esc < hi else hi)
        up = self._up
        up[3] = up[0]
        up[4] = up[1]
        up[5] = up[2]
        pv = self._pv
        pv[0] = n_land
        pv[1] = dx
        pv[2] = dy
        pv[3] = length
        pv[4] = _wrap(self._h0 + (dh >> 1))  # the heading mid-swing
        pv[5] = lobe
        pv[6] = 1 if turn else 0
        pv[7] = dh

    def flush(self):
        """The input ends (a session stops): decide a stride still waiting for its
        stance with the stance seen so far."""
        if self._pend and self._phase == _STANCE and self._gn >= 2:
            self._confirm(1)

    def _confirm(self, final=0):
        """Decide the pending stride: the stance's mean gravity against the lift-off's.

        A short stance in another attitude (a toe touching down before the heel
        lowers) leaves the stride pending until the next stance, unless a full swing
        comes first.
        """
        gn = self._gn
        gs = self._gs
        gx = (gs[0] // gn) >> 1
        gy = (gs[1] // gn) >> 1
        gz = (gs[2] // gn) >> 1
        g = isqrt(gx * gx + gy * gy + gz * gz)
        up = self._up
        # a stance whose mean specific force is far from 1 g (a jog's brief contact:
        # the foot still decelerating) cannot say where gravity is: the swing decides
        if g == 0 or (_near_1g(g, self._k[_K_G_LSB] >> 1) and
                      (gx * up[3] + gy * up[4] + gz * up[5]) // g < self._k[_K_COS_LAND]):
            if final or gn >= self._k[_K_KCONF]:
                self._pend = 0
            return
        self._pend = 0
        self._k[_K_TCHK] = 1  # the stance's gravity, at lift-off, checks the swing
        pv = self._pv
        n_land = pv[0]
        dx = pv[1]
        dy = pv[2]
        length = pv[3]
        hm = pv[4]
        lobe = pv[5]
        if self._cal_left:
            # calibration walk: forward by definition; learn where the toe points
            self._cal_x += dx
            self._cal_y += dy
            self._cal_left -= 1
            if not self._cal_left:
                self.set_mount(atan2_bam(self._cal_y, self._cal_x))
                self._emit(EV_CALIBRATED, n_land, 0, 0, self.mount_bam, self._cal_n, 0, 0)
            self._stride(n_land, FORWARD, 100, length, hm, lobe)
            return
        # into the foot's frame: undo the mount's yaw
        cm = self._mcos
        sm = self._msin
        t = (dx * cm + dy * sm) >> 14
        dy = (dy * cm - dx * sm) >> 14
        dx = t
        adx = dx if dx >= 0 else -dx
        ady = dy if dy >= 0 else -dy
        if ady * self._k[_K_SIDE_COS] > adx * self._k[_K_SIDE_SIN]:
            # travel mostly across the foot: a side-step
            self._stride(n_land, SIDEWAYS, 100, length, hm, 0)
            return
        if self._axis_left and not pv[6]:
            self._learn_toe_axis()
        # direction: travel along the toe, with the landing pitch as a second vote
        pw = self._k[_K_PITCH_VOTE_MM]
        vote = dx + (pw if lobe > 0 else (-pw if lobe < 0 else 0))
        direction = FORWARD if vote >= 0 else BACKWARD
        conf = (vote if vote >= 0 else -vote) * 100 // (adx + pw)
        if conf > 100:
            conf = 100
        self._stride(n_land, direction, conf, length, hm, lobe, pv[7])

    def _tilt_check(self, gx, gy, gz, g):
        """How far the attitude carried through the swing by the gyro is from the
        gravity of the stance it landed in (its mean at lift-off, when vibration has
        averaged out): the part of the swing's attitude error that can be seen. The
        heading's error (about gravity, unseen) is of the same order, so a sensor whose
        gyro disagrees with its accelerometer by degrees every stride (a real heel or toe
        sensor on a treadmill: 5 to 20 deg) cannot tell a drift from its own error.
        """
        r = self._r
        ux = gx * _Q14 // g
        uy = gy * _Q14 // g
        uz = gz * _Q14 // g
        # |u x r_z|: the sine of the angle between them, Q14
        cx = (uy * r[8] - uz * r[7]) >> 14
        cy = (uz * r[6] - ux * r[8]) >> 14
        cz = (ux * r[7] - uy * r[6]) >> 14
        e = hypot(hypot(cx, cy), cz)
        if ux * r[6] + uy * r[7] + uz * r[8] < 0:
            e = _Q14  # more than a quarter turn off
        t = self._k[_K_TILT]
        self._k[_K_TILT] = e if t < 0 else t + ((e - t) >> 2)

    def _learn_toe_axis(self):
        """Add this swing's rotation axis; after enough swings, set the mount's yaw."""
        a = self._ax
        c2 = (a[0] - a[1]) >> 1  # the axis as a doubled angle (halved): sign-free
        s2 = a[2]
        m = hypot(c2, s2)
        if m < 64:
            return
        m = (m >> 11) + 1
        a[3] += c2 // m
        a[4] += s2 // m
        self._axn += 1
        self._axis_left -= 1
        if self._axis_left:
            return
        if hypot(a[3], a[4]) * 10 < 2048 * 6 * self._axn:
            # the swings disagree: try again with the next ones
            self._axis_left = _AXIS_STRIDES
            self._axn = 0
            a[3] = a[4] = 0
            return
        # the foot's left-right axis (+-), and the toe a quarter turn clockwise from it
        toe = ((atan2_bam(a[4], a[3]) >> 1) - 16384) & 0xFFFF
        if _wrap(toe - self._k[_K_MOUNT0]) > 16384 or _wrap(toe - self._k[_K_MOUNT0]) < -16384:
            toe = (toe + 32768) & 0xFFFF
        self.set_mount(toe)

    def _stride(self, n_land, direction, conf, length, hm, lobe, dh=0):
        if self._orph:
            # the landing that ended a swing begun before the recording: a stride
            # of the same walk as the one that follows it
            self._orph = 0
            if n_land - self._o_n <= self._k[_K_ORPH_WIN]:
                self._stride(self._o_n, direction, conf, length, hm, 0)
        if not self._in_bout:
            self._in_bout = 1
            self._bout_n = self._bout_f = self._bout_b = 0
            self._emit(EV_BOUT_START, self._t0 if self._t0 < n_land else n_land,
                       0, 0, 0, 0, 0, 0)
        self._last_stride_n = n_land
        self._bout_n += 1
        self.strides += 1
        self.steps += 2
        lat = 0
        if direction == FORWARD:
            self.forward_strides += 1
            self.forward_steps += 2
            self._bout_f += 1
            self._bk = 0
            self._alerted = 0
            self._dev_run = 0
            self.lateral_mm = 0
        elif direction == BACKWARD:
            self.backward_strides += 1
            self.backward_steps += 2
            self._bout_b += 1
            lat = self._backward_stride(n_land, length, hm, dh)
        else:
            self.sideways_strides += 1
            self.sideways_steps += 2
        self._emit(EV_STRIDE, n_land, direction, conf, length, self.heading_bam(), lat, lobe)

    def _backward_stride(self, n_land, length, hm, dh):
        """Track the lateral offset of a backward bout and raise drift alerts."""
        ch = cos_bam(hm)
        sh = sin_bam(hm)
        if dh > self._k[_K_TURN_LIM] or dh < -self._k[_K_TURN_LIM]:
            self._bk = 0  # the walker turned: a new line starts here
        self._bk += 1
        bk = self._bk
        nref = self._k[_K_REF_STRIDES]
        if bk == 1:
            self._dx = self._dy = 0
            self._lat_acc = 0
            self._dev_run = 0
            self._alerted = 0
        if bk <= nref:
            # the reference line: the heading of the first strides (a trimmed mean,
            # so one odd stride does not tilt it), through the bout's start; the path
            # follows the heading stride by stride
            hr = self._hr
            hr[bk - 1] = _wrap(hm - hr[0]) if bk > 1 else hm
            self._dx += (length * ch) >> 14
            self._dy += (length * sh) >> 14
            if bk < nref:
                return 0
            tot = 0
            lo = hi = 0
            for i in range(1, nref):
                d = hr[i]
                tot += d
                if d < lo:
                    lo = d
                if d > hi:
                    hi = d
            if nref >= 4:
                tot = (tot - lo - hi) // (nref - 2)
            else:
                tot //= nref
            href = hr[0] + tot
            self._fux = cos_bam(href)
            self._fuy = sin_bam(href)
            # + = the walker's left, as headings (+ = a left turn) and the path's y: the
            # walker travels heel first, against the toe vector summed in (dx, dy)
            self._lat_acc = (self._fuy * self._dx - self._fux * self._dy) >> 14
        else:
            # sine of this stride's heading off the line, times its length
            d = (self._fuy * ch - self._fux * sh) >> 14
            self._lat_acc = _clamp(self._lat_acc + ((length * d) >> 14), 1000000)
        lat = self._lat_acc
        self.lateral_mm = lat
        # the walk's curvature: heading change over its last strides per metre (a
        # drifting walker curves by degrees a metre; a gyro drifts by a fraction)
        hk = self._hk
        i = bk & 7
        hk[i] = hm
        hk[8 + i] = length
        m = 6 if bk > 6 else bk - 1
        turn = _wrap(hm - hk[(bk - m) & 7]) if m else 0
        dist = 0
        for j in range(m):
            dist += hk[8 + ((bk - j) & 7)]
        curving = (turn if turn >= 0 else -turn) * 1000 > self._k[_K_CURVE] * dist
        hb = self.heading_bam()
        ch = cos_bam(hb)
        sh = sin_bam(hb)
        dev = (self._fux * sh - self._fuy * ch) >> 14  # sine of the heading deviation
        cosdev = (self._fux * ch + self._fuy * sh) >> 14
        if dev > self._k[_K_SIN_ALERT] or dev < -self._k[_K_SIN_ALERT] or cosdev < 0:
            self._dev_run += 1
        else:
            self._dev_run = 0
        alat = lat if lat >= 0 else -lat
        if not self._alerted:
            cause = 0
            if not self.heading_trusted():
                pass  # a drift cannot be told from the gyro's own error: no alert
            elif alat > self._k[_K_ALERT_OFFSET_MM] and curving:
                cause = 1
            elif self._dev_run >= self._k[_K_ALERT_HEADING_STRIDES]:
                cause = 2
            if cause and n_land - self._last_alert_n >= self._k[_K_COOL]:
                self._alerted = 1
                self._last_alert_n = n_land
                self.alerts += 1
                self._emit(EV_DRIFT, n_land, 0, cause, lat, dev, self._bout_n, 0)
        elif alat < self._k[_K_REARM_OFFSET_MM] and self._dev_run == 0:
            self._alerted = 0
            self._emit(EV_ON_LINE, n_land, 0, 0, lat, dev, self._bout_n, 0)
        return lat

    def _end_bout(self):
        self._in_bout = 0
        self._bk = 0
        self._alerted = 0
        self.lateral_mm = 0
        self._emit(EV_BOUT_END, self._last_stride_n, 0, 0, self._bout_n, self._bout_f,
                   self._bout_b, 0)


def _ilog(x):
    """log2(x) in 1/8 octaves (linear between powers of two); 0 for x < 1."""
    if x < 1:
        return 0
    b = 3
    while x >= 16:
        x >>= 1
        b += 1
    while x < 8:
        x <<= 1
        b -= 1
    return (b << 3) + x - 8


def _iexp(L):
    """The inverse of _ilog: 2 ** (L / 8), for 0 <= L < 216."""
    b = L >> 3
    m = 8 + (L & 7)
    return (m << b) >> 3 if b < 24 else m << (b - 3)


def _near_1g(g, gl):
    """|mean specific force| g within 40 % of 1 g (gl, same units): a foot at rest."""
    return gl - (gl * 2 // 5) <= g <= gl + (gl * 2 // 5)


def _clamp(x, m):
    return m if x > m else (-m if x < -m else x)


def _wrap(b):
    """A binary angle wrapped to -32768..32767."""
    return ((b + 32768) & 0xFFFF) - 32768



# The two helpers below run once per swing sample (_rotate_rows) and once every two
# (_renorm_rows). They are written out row by row, with no loop over the rows and no
# computed indices: on the MicroPython VM the call itself costs little (walking on the
# VM measured the same with them as with the code inlined in feed, ~58,500 samples/s),
# but a `for i in (0, 3, 6)` loop with r[i + 1] indexing cost ~4 %.


def _rotate_rows(r, wx, wy, wz):
    """Turn the attitude rows r (Q14) by one sample's rotation: each row v becomes
    v + v x w, and when the rotation is fast, + (v x w) x w / 2, the second-order term
    (without it a step leaves an error of |w|^2 / 2 along w: at a backpedal's
    1000 deg/s and 104 Hz the heading turned by about a degree per stride; under
    _W2ND, 0.05 rad a sample, the term is below 0.08 deg a sample).

    w (wx, wy, wz) is the bias-corrected rate in Q16 radians per sample: under 0.4 rad
    (26,300) for any int16 rate at 100 Hz or more, so with |row| < 1.46 (24,000, see
    _renorm_rows) every product stays a small int (|v x w| < 9,600).
    """
    if -_W2ND < wx < _W2ND and -_W2ND < wy < _W2ND and -_W2ND < wz < _W2ND:
        a = r[0]
        b = r[1]
        c = r[2]
        r[0] = a + ((b * wz) >> 16) - ((c * wy) >> 16)
        r[1] = b + ((c * wx) >> 16) - ((a * wz) >> 16)
        r[2] = c + ((a * wy) >> 16) - ((b * wx) >> 16)
        a = r[3]
        b = r[4]
        c = r[5]
        r[3] = a + ((b * wz) >> 16) - ((c * wy) >> 16)
        r[4] = b + ((c * wx) >> 16) - ((a * wz) >> 16)
        r[5] = c + ((a * wy) >> 16) - ((b * wx) >> 16)
        a = r[6]
        b = r[7]
        c = r[8]
        r[6] = a + ((b * wz) >> 16) - ((c * wy) >> 16)
        r[7] = b + ((c * wx) >> 16) - ((a * wz) >> 16)
        r[8] = c + ((a * wy) >> 16) - ((b * wx) >> 16)
        return
    # (written out for the three rows: this runs for every fast swing sample)
    a = r[0]
    b = r[1]
    c = r[2]
    px = ((b * wz) >> 16) - ((c * wy) >> 16)
    py = ((c * wx) >> 16) - ((a * wz) >> 16)
    pz = ((a * wy) >> 16) - ((b * wx) >> 16)
    r[0] = a + px + ((((py * wz) >> 16) - ((pz * wy) >> 16)) >> 1)
    r[1] = b + py + ((((pz * wx) >> 16) - ((px * wz) >> 16)) >> 1)
    r[2] = c + pz + ((((px * wy) >> 16) - ((py * wx) >> 16)) >> 1)
    a = r[3]
    b = r[4]
    c = r[5]
    px = ((b * wz) >> 16) - ((c * wy) >> 16)
    py = ((c * wx) >> 16) - ((a * wz) >> 16)
    pz = ((a * wy) >> 16) - ((b * wx) >> 16)
    r[3] = a + px + ((((py * wz) >> 16) - ((pz * wy) >> 16)) >> 1)
    r[4] = b + py + ((((pz * wx) >> 16) - ((px * wz) >> 16)) >> 1)
    r[5] = c + pz + ((((px * wy) >> 16) - ((py * wx) >> 16)) >> 1)
    a = r[6]
    b = r[7]
    c = r[8]
    px = ((b * wz) >> 16) - ((c * wy) >> 16)
    py = ((c * wx) >> 16) - ((a * wz) >> 16)
    pz = ((a * wy) >> 16) - ((b * wx) >> 16)
    r[6] = a + px + ((((py * wz) >> 16) - ((pz * wy) >> 16)) >> 1)
    r[7] = b + py + ((((pz * wx) >> 16) - ((px * wz) >> 16)) >> 1)
    r[8] = c + pz + ((((px * wy) >> 16) - ((py * wx) >> 16)) >> 1)


def _renorm_rows(r):
    """Pull each attitude row (Q14) back to unit length: r *= (3 - |r|^2) / 2.

    The factor is at least 1/2 (a row grown past sqrt(2) is halved, not flipped) and
    the product is rounded: a floor would turn every row a little toward (-1, -1, -1).
    Called every second swing sample, this keeps |row| < 1.46 for any int16 input.
    """
    a = r[0]
    b = r[1]
    c = r[2]
    s = ((a >> 1) * (a >> 1) + (b >> 1) * (b >> 1) + (c >> 1) * (c >> 1)) >> 12  # |r|^2
    f = (3 * _Q14 - s) >> 1
    if f < _HALF_Q14:
        f = _HALF_Q14
    r[0] = (a * f + _HALF_Q14) >> 14
    r[1] = (b * f + _HALF_Q14) >> 14
    r[2] = (c * f + _HALF_Q14) >> 14
    a = r[3]
    b = r[4]
    c = r[5]
    s = ((a >> 1) * (a >> 1) + (b >> 1) * (b >> 1) + (c >> 1) * (c >> 1)) >> 12
    f = (3 * _Q14 - s) >> 1
    if f < _HALF_Q14:
        f = _HALF_Q14
    r[3] = (a * f + _HALF_Q14) >> 14
    r[4] = (b * f + _HALF_Q14) >> 14
    r[5] = (c * f + _HALF_Q14) >> 14
    a = r[6]
    b = r[7]
    c = r[8]
    s = ((a >> 1) * (a >> 1) + (b >> 1) * (b >> 1) + (c >> 1) * (c >> 1)) >> 12
    f = (3 * _Q14 - s) >> 1
    if f < _HALF_Q14:
        f = _HALF_Q14
    r[6] = (a * f + _HALF_Q14) >> 14
    r[7] = (b * f + _HALF_Q14) >> 14
    r[8] = (c * f + _HALF_Q14) >> 14
