"""retrostep gait engine: strides, their direction, steps and drift alerts, in integers.

The same file runs on the board (MicroPython) and on the laptop (CPython) with
bit-identical results. It does no I/O, reads no clock, uses no floats after
construction and allocates nothing per sample: every intermediate stays a MicroPython
small int (|x| < 2**30) for any input an int16 sensor can produce.

Usage (samples are int16 in sensor LSB, six per sample: ax, ay, az, gx, gy, gz):

    from array import array
    from rstep.gait import Gait, EV_STRIDE
    g = Gait(odr_hz=104, accel_ug_per_lsb=488, gyro_udps_per_lsb=70000)
    buf = array('h', [0, 0, 2049, 0, 0, 0] * 104)      # one second standing still
    ev = array('i', [0] * EV_FIELDS)
    done = 0
    while done < 104:
        done = g.feed(buf, done, 104)
        while g.pop(ev):
            print(ev[0], ev[1])                         # event type, sample index

How it works (DESIGN.md section 4):
- Stance: a sample is "still" when |a| is near 1 g and the bias-corrected angular rate
  is small; W consecutive still samples make a stance (a SHOE-like detector). In every
  stance the gravity vector (foot attitude) and the gyro bias are refined by slow IIRs.
- Swing: from the last stance attitude, the attitude R (rows: the levelled frame's axes
  in device coordinates, Q14) is propagated with the gyro; the acceleration is rotated
  into the levelled frame, gravity removed, and integrated twice. At the next stance the
  velocity must be zero (ZUPT); the residual velocity is removed as a linear drift.
- The stride vector's component along the toe (device x, levelled) gives the direction:
  forward strides move toward the toe, backward strides toward the heel. The landing
  pitch (toe up = heel strike = forward; toe down = backward) is a second vote.
- Heading changes only through swings (zero angular rate update in stance): at each
  landing the toe's new azimuth is read off the propagated attitude (integrating the
  vertical rate instead would pick up the coning of pitch and roll). Strides are placed
  on the ground plane with it; a backward bout's
  first strides define its reference line, and the lateral offset from that line or the
  foot heading's deviation raise a drift alert (with hysteresis and a cool-down).
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# event types (ev[0])
EV_STRIDE = const(1)  # ev: type, sample, direction (+1 fwd/-1 bwd), confidence %, length mm,
#                       heading bam16, lateral offset mm, landing pitch (Q14 sine)
EV_DRIFT = const(2)  # ev: type, sample, 0, cause (1 offset, 2 heading), lateral mm,
#                      heading deviation (Q14 sine), strides in bout, 0
EV_ON_LINE = const(3)  # back on the line after an alert; fields as EV_DRIFT
EV_BOUT_START = const(4)  # ev: type, sample, 0, 0, 0, 0, 0, 0
EV_BOUT_END = const(5)  # ev: type, sample, 0, 0, strides in bout, fwd strides, bwd strides, 0
EV_CALIBRATED = const(6)  # ev: type, sample, 0, 0, mount yaw (bam16), strides used, 0, 0
EV_FIELDS = const(8)
_EVQ = const(16)  # queued events

FORWARD = const(1)
BACKWARD = const(-1)

_Q14 = const(16384)
_STANCE = const(1)
_SWING = const(2)
_ABORTED = const(3)

# defaults (DESIGN.md section 4); every one can be overridden in Gait(..., name=value)
DEFAULTS = {
    "still_accel_mg": 150,  # | |a| - 1 g | below this ...
    "still_gyro_dps": 40,  # ... and |rate| below this make a still sample
    "still_jerk_g_per_s": 3,  # ... and the acceleration changes slower than this
    "still_ms": 40,  # this long still = stance
    "min_swing_ms": 120,  # shorter swings are not strides
    "max_swing_ms": 2500,  # longer ones neither (leg swinging, fidgeting)
    "min_stride_mm": 80,  # horizontal travel of a stride
    "turn_deg": 25,  # a stride turning more than this ...
    "turn_min_stride_mm": 300,  # ... must travel at least this (turning in place)
    "pitch_vote_mm": 60,  # weight of the landing pitch vote, in mm of travel
    "bout_gap_s": 3,  # no stride for this long ends a bout
    "ref_strides": 5,  # backward strides that define the reference line
    "alert_offset_mm": 500,  # lateral offset that raises a drift alert
    "alert_heading_deg": 15,  # heading deviation that raises one ...
    "alert_heading_strides": 3,  # ... when held for this many strides
    "rearm_offset_mm": 300,  # back on the line below this offset
    "cooldown_s": 10,  # at least this long between two alerts
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


class Gait:
    """The gait engine. Construct once; feed it samples; pop its events."""

    def __init__(self, odr_hz=104, accel_ug_per_lsb=488, gyro_udps_per_lsb=70000, **cfg):
        for k in cfg:
            if k not in DEFAULTS:
                raise ValueError("unknown gait setting %r" % k)
        c = {}
        for k in DEFAULTS:
            c[k] = int(cfg.get(k, DEFAULTS[k]))
        if not 100 <= odr_hz <= 420:
            raise ValueError("odr_hz must be 100..420 (sensor ODR 104, 208 or 416)")
        if not 1 <= c["ref_strides"] <= 8:
            raise ValueError("ref_strides must be 1..8")
        self.odr_hz = odr_hz
        self.cfg = c
        # --- stance detector ---
        g_lsb = 1000000 // accel_ug_per_lsb  # 1 g in LSB
        g4 = (g_lsb + 8) >> 4  # |a| is tested on a >> 4
        lo = g4 * (1000 - c["still_accel_mg"]) // 1000
        hi = g4 * (1000 + c["still_accel_mg"]) // 1000
        self._a2lo = lo * lo
        self._a2hi = hi * hi
        wt = (c["still_gyro_dps"] * 1000000 // gyro_udps_per_lsb) >> 2  # rate >> 2
        self._w2still = wt * wt
        jt = (g_lsb * c["still_jerk_g_per_s"] // odr_hz) >> 2  # sample-to-sample change >> 2
        self._j2still = jt * jt
        self._wst = max(3, (odr_hz * c["still_ms"] + 500) // 1000)
        self._min_swing = odr_hz * c["min_swing_ms"] // 1000
        self._max_swing = min(odr_hz * c["max_swing_ms"] // 1000, 520)
        # --- gyro: Q4 LSB -> Q16 radians per sample ---
        self._kw = (gyro_udps_per_lsb * _PI_NUM * (1 << 26) + _PI_DEN * 90000000 * odr_hz) // (
            _PI_DEN * 180000000 * odr_hz
        )
        # --- distance: p (32 LSB x samples^2) -> mm = p * km >> 16 ---
        self._km = (32 * accel_ug_per_lsb * 980665 * 65536 + 50000000 * odr_hz * odr_hz) // (
            100000000 * odr_hz * odr_hz
        )
        self._pmax = 3000 * 65536 // self._km  # 3 m: anything longer is not a stride
        # a residual velocity above 1.5 m/s at the next stance: not a stride
        # (v is in 4 LSB x samples: 1.5 m/s = 1.5 * odr / (4 * accel_ug * 1e-6 * 9.80665))
        self._vmax = odr_hz * 15000000000 // (392266 * accel_ug_per_lsb)
        self._min_stride = c["min_stride_mm"]
        self._turn_lim = c["turn_deg"] * 65536 // 360
        self._gap = c["bout_gap_s"] * odr_hz
        self._cool = c["cooldown_s"] * odr_hz
        self._pitch_db = _deg_to_q14_sine(8)
        self._sin_alert = _deg_to_q14_sine(c["alert_heading_deg"])
        self.set_mount((c["mount_yaw_deg"] * 65536) // 360)
        self._cal_left = 0
        self._evq = array("i", [0] * (_EVQ * EV_FIELDS))
        self.reset()

    def reset(self):
        """Forget everything but the settings (a new session)."""
        # counters readable at any time
        self.n = 0  # samples seen
        self.strides = 0
        self.forward_strides = 0
        self.backward_strides = 0
        self.steps = 0
        self.forward_steps = 0
        self.backward_steps = 0
        self.alerts = 0
        self.heading = 0  # binary angle (65536 = one turn) from the session start, signed
        self.lateral_mm = 0  # offset from the backward bout's reference line
        self.in_stance = 0
        # stance detector and estimators
        self._still = 0  # consecutive still samples
        self._pa = array("i", [0, 0, 0])  # previous acceleration sample
        self._phase = _ABORTED  # wait for a first stance before integrating
        self._bx = self._by = self._bz = 0  # gyro bias, Q4 LSB
        self._ba = array("i", [0, 0, 0])  # its IIR accumulators, Q12 LSB
        self._gx = self._gy = 0
        self._gz = 0  # gravity vector in stance, Q4 of a >> 2
        self._gmag = 0  # its magnitude at the start of the swing
        self._gseen = 0  # samples in this stance (fast start of the gravity IIR)
        self._bias_n = 0  # stance samples that refined the gyro bias
        # swing state
        self._r = array("i", [0] * 9)
        self._ns = 0
        self._vx = self._vy = self._vz = 0
        self._px = self._py = self._pz = 0
        self._h0 = 0
        self._r20 = 0
        self._lobe = 0
        self._t0 = 0
        # bouts and the drift alert
        self._last_stride_n = 0
        self._in_bout = 0
        self._bout_n = self._bout_f = self._bout_b = 0
        self._bk = 0
        self._refx = self._refy = 0
        self._fux = self._fuy = 0
        self._lat_acc = 0
        self._dev_run = 0
        self._alerted = 0
        self._last_alert_n = -(1 << 29)
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

    def gyro_bias_q4(self):
        """The gyro zero-rate estimate (x, y, z) in 1/16 LSB (allocates: not per sample)."""
        return self._bx, self._by, self._bz

    def gap(self, lost):
        """Samples were lost (FIFO overrun): drop the stride in progress, keep time."""
        self.n += lost
        self._phase = _ABORTED
        self._still = 0

    # ------------------------------------------------------------------ samples
    def feed(self, buf, start, end):
        """Process samples buf[6*start : 6*end]; return the index reached.

        Stops early when the event queue is nearly full: pop the events and call again
        with the returned index.
        """
        a2lo = self._a2lo
        a2hi = self._a2hi
        w2still = self._w2still
        j2still = self._j2still
        pax = self._pa[0]
        pay = self._pa[1]
        paz = self._pa[2]
        wst = self._wst
        kw = self._kw
        r = self._r
        bx = self._bx
        by = self._by
        bz = self._bz
        still = self._still
        phase = self._phase
        ns = self._ns
        vx = self._vx
        vy = self._vy
        vz = self._vz
        px = self._px
        py = self._py
        pz = self._pz
        gz0 = self._gmag >> 4  # gravity magnitude, 4 LSB units (refreshed at swing start)
        pdb = self._pitch_db
        bout_end = self._last_stride_n + self._gap if self._in_bout else -1
        lobe = self._lobe
        r20 = self._r20
        max_swing = self._max_swing
        n = self.n
        k = start
        while k < end:
            if self._qn > _EVQ - 4:
                break
            i = k * 6
            ax = buf[i]
            ay = buf[i + 1]
            az = buf[i + 2]
            cx = (buf[i + 3] << 4) - bx
            cy = (buf[i + 4] << 4) - by
            cz = (buf[i + 5] << 4) - bz
            k += 1
            # ---- still sample? |a| near 1 g, a steady, and a small rate (a sliding
            # foot keeps |a| near 1 g but not a steady a)
            s = ax >> 4
            t = s * s
            s = ay >> 4
            t += s * s
            s = az >> 4
            t += s * s
            still += 1
            if a2lo <= t <= a2hi:
                s = (ax - pax) >> 2
                t = s * s
                s = (ay - pay) >> 2
                t += s * s
                s = (az - paz) >> 2
                t += s * s
                if t <= j2still:
                    s = cx >> 6
                    t = s * s
                    s = cy >> 6
                    t += s * s
                    s = cz >> 6
                    t += s * s
                    if t > w2still:
                        still = 0
                else:
                    still = 0
            else:
                still = 0
            pax = ax
            pay = ay
            paz = az
            if phase == _STANCE:
                if still:
                    # refine gravity (Q4 of a >> 2) and gyro bias (Q4 LSB) in stance
                    self._stance_update(ax, ay, az, cx, cy, cz)
                    bx = self._bx
                    by = self._by
                    bz = self._bz
                    if n == bout_end:
                        self._end_bout()
                    n += 1
                    continue
                # the foot leaves the ground: start a swing from the stance attitude
                if self._start_swing(n):
                    gz0 = self._gmag >> 4
                    phase = _SWING
                    ns = vx = vy = vz = px = py = pz = 0
                    r20 = r[6]
                    lobe = 0
                else:
                    phase = _ABORTED
            if phase == _SWING:
                # attitude: each row r += r x w (w in Q16 rad per sample)
                wx = (cx * kw + 8192) >> 14
                wy = (cy * kw + 8192) >> 14
                wz = (cz * kw + 8192) >> 14
                r0 = r[0]
                r1 = r[1]
                r2 = r[2]
                r[0] = r0 + ((r1 * wz) >> 16) - ((r2 * wy) >> 16)
                r[1] = r1 + ((r2 * wx) >> 16) - ((r0 * wz) >> 16)
                r[2] = r2 + ((r0 * wy) >> 16) - ((r1 * wx) >> 16)
                r0 = r[3]
                r1 = r[4]
                r2 = r[5]
                r[3] = r0 + ((r1 * wz) >> 16) - ((r2 * wy) >> 16)
                r[4] = r1 + ((r2 * wx) >> 16) - ((r0 * wz) >> 16)
                r[5] = r2 + ((r0 * wy) >> 16) - ((r1 * wx) >> 16)
                r0 = r[6]
                r1 = r[7]
                r2 = r[8]
                r[6] = r0 + ((r1 * wz) >> 16) - ((r2 * wy) >> 16)
                r[7] = r1 + ((r2 * wx) >> 16) - ((r0 * wz) >> 16)
                r[8] = r2 + ((r0 * wy) >> 16) - ((r1 * wx) >> 16)
                ns += 1
                if ns & 1 == 0:  # keeps |row| < 1.46 for any int16 input
                    _renorm(r)
                # landing pitch: the last lobe of the toe's elevation beyond a dead band
                t = r[6] - r20
                if t > pdb:
                    if lobe <= 0 or t > lobe:
                        lobe = t
                elif t < -pdb:
                    if lobe >= 0 or t < lobe:
                        lobe = t
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
                if still >= wst:
                    # stance again: the stride ends where the still run began
                    self._end_swing(n - wst + 1, ns, vx, vy, px, py, lobe)
                    phase = _STANCE
                    self._gseen = 0
                    if self._in_bout:
                        bout_end = self._last_stride_n + self._gap
                elif ns >= max_swing:
                    phase = _ABORTED
            elif phase == _ABORTED:
                if still >= wst:
                    phase = _STANCE
                    self._gseen = 0
                    self._gx = (ax >> 2) << 4
                    self._gy = (ay >> 2) << 4
                    self._gz = (az >> 2) << 4
            if n == bout_end:
                self._end_bout()
            n += 1
        self.n = n
        self._pa[0] = pax
        self._pa[1] = pay
        self._pa[2] = paz
        self._still = still
        self._phase = phase
        self.in_stance = 1 if phase == _STANCE else 0
        self._ns = ns
        self._vx = vx
        self._vy = vy
        self._vz = vz
        self._px = px
        self._py = py
        self._pz = pz
        self._lobe = lobe
        self._r20 = r20
        return k

    # ------------------------------------------------------------------ stance
    def _stance_update(self, ax, ay, az, cx, cy, cz):
        # gravity: fast start, then an IIR over ~8 samples; bias: an IIR over 16 samples
        # at first, then over 128 (standing still at the start gives a quick estimate)
        gs = self._gseen
        self._gseen = gs + 1
        kg = 1 if gs < 2 else (2 if gs < 4 else 3)
        self._gx += (((ax >> 2) << 4) - self._gx) >> kg
        self._gy += (((ay >> 2) << 4) - self._gy) >> kg
        self._gz += (((az >> 2) << 4) - self._gz) >> kg
        if gs >= 3:  # skip the landing's tail
            bn = self._bias_n
            self._bias_n = bn + 1 if bn < 1000 else bn
            kb = 4 if bn < 32 else (5 if bn < 128 else 7)
            # the IIR runs on Q12 accumulators (a Q4 one would stall: (x >> 7) == 0 for
            # any residual below 8 LSB); cx is rate - bias in Q4. Clamped to +-20 dps.
            a = self._ba
            r = _clamp(a[0] + (((cx << 8) + (self._bx << 8) - a[0]) >> kb), 1171200)
            a[0] = r
            self._bx = (r + 128) >> 8
            r = _clamp(a[1] + (((cy << 8) + (self._by << 8) - a[1]) >> kb), 1171200)
            a[1] = r
            self._by = (r + 128) >> 8
            r = _clamp(a[2] + (((cz << 8) + (self._bz << 8) - a[2]) >> kb), 1171200)
            a[2] = r
            self._bz = (r + 128) >> 8

    def _start_swing(self, n):
        """Levelled frame from the stance gravity: rows x (toe, horizontal), y, z (up)."""
        r = self._r
        gx = self._gx
        gy = self._gy
        gz = self._gz
        g = isqrt(gx * gx + gy * gy + gz * gz)
        if g < 1000:
            return False
        zx = gx * _Q14 // g
        zy = gy * _Q14 // g
        zz = gz * _Q14 // g
        xx = _Q14 - ((zx * zx) >> 14)
        xy = -((zx * zy) >> 14)
        xz = -((zx * zz) >> 14)
        m = isqrt(xx * xx + xy * xy + xz * xz)
        if m < 2000:  # toe pointing straight up or down: no levelled frame
            m = _Q14
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
        self._gmag = g
        self._h0 = self.heading
        self._t0 = n
        return True

    def _end_swing(self, n_land, ns, vx, vy, px, py, lobe):
        c = self.cfg
        # the toe's azimuth now, in the frame levelled at lift-off: column 0 of r
        dh = _wrap(atan2_bam(self._r[3], self._r[0]))
        self.heading = _wrap(self._h0 + dh)
        if ns < self._min_swing + self._wst:
            return
        vmax = self._vmax
        if vx > vmax or vx < -vmax or vy > vmax or vy < -vmax:
            return
        # ZUPT: the velocity left at the stance grew linearly through the swing
        px -= ((vx >> 3) * (ns + 1)) >> 1
        py -= ((vy >> 3) * (ns + 1)) >> 1
        pmax = self._pmax
        if px > pmax or px < -pmax or py > pmax or py < -pmax:
            return
        km = self._km
        dx = (px * km) >> 16
        dy = (py * km) >> 16
        length = hypot(dx, dy)
        if length < self._min_stride:
            return
        if (dh > self._turn_lim or dh < -self._turn_lim) and length < c["turn_min_stride_mm"]:
            return
        if self._cal_left:
            # calibration walk: forward by definition; learn where the toe points
            self._cal_x += dx
            self._cal_y += dy
            self._cal_left -= 1
            if not self._cal_left:
                self.set_mount(atan2_bam(self._cal_y, self._cal_x))
                self._emit(EV_CALIBRATED, n_land, 0, 0, self.mount_bam, self._cal_n, 0, 0)
            self._stride(n_land, FORWARD, 100, length, dx, dy, lobe)
            return
        # into the foot's frame: undo the mount's yaw (the landing pitch is measured
        # about the device's y axis: its sign follows the cosine of that yaw)
        cm = self._mcos
        sm = self._msin
        t = (dx * cm + dy * sm) >> 14
        dy = (dy * cm - dx * sm) >> 14
        dx = t
        lobe = (lobe * cm) >> 14
        # direction: travel along the toe, with the landing pitch as a second vote
        pv = c["pitch_vote_mm"]
        vote = dx + (pv if lobe > 0 else (-pv if lobe < 0 else 0))
        direction = FORWARD if vote >= 0 else BACKWARD
        den = (dx if dx >= 0 else -dx) + pv
        conf = (vote if vote >= 0 else -vote) * 100 // den
        if conf > 100:
            conf = 100
        # place the stride on the ground with the heading at its start
        hb = self._h0
        ch = cos_bam(hb)
        sh = sin_bam(hb)
        wx = (dx * ch - dy * sh) >> 14
        wy = (dx * sh + dy * ch) >> 14
        self._stride(n_land, direction, conf, length, wx, wy, lobe)

    def _stride(self, n_land, direction, conf, length, wx, wy, lobe):
        c = self.cfg
        if not self._in_bout:
            self._in_bout = 1
            self._bout_n = self._bout_f = self._bout_b = 0
            self._emit(EV_BOUT_START, self._t0, 0, 0, 0, 0, 0, 0)
        self._last_stride_n = n_land
        self._bout_n += 1
        self.strides += 1
        self.steps += 2
        if direction == FORWARD:
            self.forward_strides += 1
            self.forward_steps += 2
            self._bout_f += 1
            self._bk = 0
            self._alerted = 0
            self._dev_run = 0
            self.lateral_mm = 0
        else:
            self.backward_strides += 1
            self.backward_steps += 2
            self._bout_b += 1
        hb = self.heading_bam()
        lat = 0
        if direction == BACKWARD:
            lat = self._backward_stride(n_land, wx, wy, hb)
        self._emit(EV_STRIDE, n_land, direction, conf, length, hb, lat, lobe)

    def _backward_stride(self, n_land, wx, wy, hb):
        """Track the lateral offset of a backward bout and raise drift alerts."""
        c = self.cfg
        ch = cos_bam(hb)
        sh = sin_bam(hb)
        self._bk += 1
        bk = self._bk
        nref = c["ref_strides"]
        if bk == 1:
            self._refx = self._refy = 0
            self._fux = self._fuy = 0
            self._lat_acc = 0
            self._dev_run = 0
            self._alerted = 0
        if bk <= nref:
            self._refx += wx
            self._refy += wy
            self._fux += ch
            self._fuy += sh
            if bk < nref:
                return 0
            # the reference line: mean direction of the first strides, through the start
            m = hypot(self._refx, self._refy)
            if m == 0:
                self._bk = 0
                return 0
            px, py = self._refx, self._refy
            self._refx = (self._refx * 4096 // m) << 2
            self._refy = (self._refy * 4096 // m) << 2
            m = hypot(self._fux, self._fuy)
            if m == 0:
                self._bk = 0
                return 0
            self._fux = (self._fux * 4096 // m) << 2
            self._fuy = (self._fuy * 4096 // m) << 2
            # offset of the end of the reference strides from the line (~0 by design)
            self._lat_acc = (self._refx * py - self._refy * px) >> 14
        else:
            self._lat_acc = _clamp(self._lat_acc + ((self._refx * wy - self._refy * wx) >> 14),
                                   1000000)
        lat = self._lat_acc
        self.lateral_mm = lat
        dev = (self._fux * sh - self._fuy * ch) >> 14  # sine of the heading deviation
        cosdev = (self._fux * ch + self._fuy * sh) >> 14
        if dev > self._sin_alert or dev < -self._sin_alert or cosdev < 0:
            self._dev_run += 1
        else:
            self._dev_run = 0
        alat = lat if lat >= 0 else -lat
        if not self._alerted:
            cause = 0
            if alat > c["alert_offset_mm"]:
                cause = 1
            elif self._dev_run >= c["alert_heading_strides"]:
                cause = 2
            if cause and n_land - self._last_alert_n >= self._cool:
                self._alerted = 1
                self._last_alert_n = n_land
                self.alerts += 1
                self._emit(EV_DRIFT, n_land, 0, cause, lat, dev, self._bout_n, 0)
        elif alat < c["rearm_offset_mm"] and self._dev_run == 0:
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


def _clamp(x, m):
    return m if x > m else (-m if x < -m else x)


def _wrap(b):
    """A binary angle wrapped to -32768..32767."""
    return ((b + 32768) & 0xFFFF) - 32768


def _renorm(r):
    """Pull each row of r (Q14) back to unit length: r *= (3 - |r|^2) / 2."""
    for i in (0, 3, 6):
        a = r[i]
        b = r[i + 1]
        c = r[i + 2]
        s = ((a >> 1) * (a >> 1) + (b >> 1) * (b >> 1) + (c >> 1) * (c >> 1)) >> 12  # Q14
        f = (3 * _Q14 - s) >> 1
        if f < 8192:
            f = 8192
        # rounded: a floor here would turn every row a little toward (-1, -1, -1)
        r[i] = (a * f + 8192) >> 14
        r[i + 1] = (b * f + 8192) >> 14
        r[i + 2] = (c * f + 8192) >> 14
