"""Emulated LSM6DS IMU: a register file that behaves like the chip, plus a fake I2C bus.

Tests drive the real firmware driver (retrostep.firmware.imu) and Adafruit's CircuitPython
library against it, and the virtual board will run it on the MicroPython VM. So this file
is written in the subset of Python that MicroPython also runs: integers, bytearray,
plain classes, %-formatting, no host-only imports. Register reads, the path the driver
takes at every FIFO burst, allocate nothing.

Two personalities:

- ``"LSM6DSOX"`` (WHO_AM_I 0x6C): tagged FIFO, 7-byte words read at FIFO_DATA_OUT_TAG
  (0x78..0x7E), 512 words deep (3 KB of sensor data; the 9 KB of the datasheet's title
  needs FIFO compression, which is not emulated).
- ``"LSM6DS3TR-C"`` (WHO_AM_I 0x6A): untagged FIFO of 16-bit words read at
  FIFO_DATA_OUT_L/H (0x3E/0x3F), 4 KB = 2048 words deep, with a repeating pattern
  (gyro x, y, z then accel x, y, z when both are batched at the same rate) whose
  position FIFO_STATUS3/4 report.

The sample source gives one sample per output-data-rate tick: a callable ``f(i)`` (i = 0,
1, 2, ... counts the ticks since the emulator was built) or an iterator, returning
``(ax, ay, az, gx, gy, gz)``. With ``units="raw"`` (default) these are int16 counts at the
reference full scale (sensor.ACCEL_FS_G / sensor.GYRO_FS_DPS, i.e. 16 g and 2000 dps);
with ``units="physical"`` they are g and deg/s. The emulator converts them to the full
scale configured in CTRL1_XL / CTRL2_G and saturates at the int16 limits, like the chip.
A source returning None (or an exhausted iterator) stops the data.

Simulated time moves only when asked: ``advance(dt_s)``, ``advance_us(dt_us)``,
``set_time(t_s)`` or ``run_samples(n)``; samples appear at the configured ODR.

Simplifications (documented so nobody relies on them): the data clock is the faster of
the accel and gyro ODRs and both sensors update on every tick; every batched sensor is
batched at every tick whatever its BDR / decimation code; trigger-based FIFO modes are
treated as their steady state (continuous-to-FIFO as continuous, bypass-to-* as bypass);
no temperature, timestamp or embedded functions; XL_FS_MODE (CTRL8_XL) is ignored.
"""

try:
    import errno

    _ENODEV = errno.ENODEV
    _EIO = errno.EIO
except (ImportError, AttributeError):  # minimal MicroPython builds
    _ENODEV = 19
    _EIO = 5

try:  # CPython: this file is retrostep.sim.lsm6ds_emu, the firmware is retrostep.firmware
    from retrostep.firmware import sensor
except ImportError:
    try:  # the virtual board's ROM: _vbhw/lsm6ds_emu.py beside _vbhw/firmware/sensor.py
        from _vbhw.firmware import sensor
    except ImportError:
        try:  # MicroPython VM tests: the firmware package is on the path as rstep
            from rstep import sensor
        except ImportError:
            import sensor

# --- register map (shared by both personalities unless noted) --------------------------
FUNC_CFG_ACCESS = 0x01
FIFO_CTRL1_DS3 = 0x06  # DS3 family: FIFO_CTRL1..5 at 0x06..0x0A
FIFO_CTRL1_DSOX = 0x07  # DSOX family: FIFO_CTRL1..4 at 0x07..0x0A
FIFO_CTRL2_DSOX = 0x08
FIFO_CTRL3_DSOX = 0x09
FIFO_CTRL2_DS3 = 0x07
FIFO_CTRL3_DS3 = 0x08
FIFO_CTRL5_DS3 = 0x0A
FIFO_MODE_REG = 0x0A  # FIFO_CTRL4 (DSOX) and FIFO_CTRL5 (DS3): FIFO_MODE in bits 2:0
INT1_CTRL = 0x0D
WHO_AM_I = 0x0F
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
CTRL9_XL = 0x18
CTRL10_C = 0x19
STATUS_REG = 0x1E
OUTX_L_G = 0x22  # gyro x, y, z at 0x22..0x27, accel x, y, z at 0x28..0x2D
OUTX_L_A = 0x28
FIFO_STATUS1 = 0x3A
FIFO_STATUS2 = 0x3B
FIFO_STATUS3 = 0x3C  # DS3 only: FIFO_PATTERN[7:0]
FIFO_STATUS4 = 0x3D  # DS3 only: FIFO_PATTERN[9:8]
FIFO_DATA_OUT_L = 0x3E  # DS3 only
FIFO_DATA_OUT_H = 0x3F
FIFO_DATA_OUT_TAG = 0x78  # DSOX only, followed by 6 data bytes 0x79..0x7E

# CTRL3_C bits
BOOT = 0x80
BDU = 0x40
IF_INC = 0x04
SW_RESET = 0x01

# FIFO modes (FIFO_MODE[2:0], same codes in both families)
FIFO_BYPASS = 0
FIFO_FIFO = 1
FIFO_CONT_TO_FIFO = 3
FIFO_BYPASS_TO_CONT = 4
FIFO_CONTINUOUS = 6
FIFO_BYPASS_TO_FIFO = 7  # DSOX only

# DSOX FIFO tags (TAG_SENSOR in bits 7:3 of FIFO_DATA_OUT_TAG)
TAG_GYRO = 0x01
TAG_ACCEL = 0x02

# ODR_XL / ODR_G / BDR / ODR_FIFO codes -> rate in mHz (integer; code 11 is the DSOX
# accelerometer's 1.6 Hz low-power rate). The chip's nominal names: 12.5, 26, 52, 104,
# 208, 416, 833, 1666, 3332, 6664 Hz.
ODR_MHZ = (0, 12500, 26000, 52000, 104000, 208000, 416000, 833000, 1666000,
           3332000, 6664000, 1600)
# FS_XL code -> +-g ; FS_G code -> +-dps (FS_125 bit overrides with 125)
ACCEL_FS_BY_CODE = (2, 16, 4, 8)
GYRO_FS_BY_CODE = (250, 500, 1000, 2000)

PERSONALITIES = ("LSM6DSOX", "LSM6DS3TR-C")

_INT16_MIN = sensor.INT16_MIN
_INT16_MAX = sensor.INT16_MAX


def _sat16(v):
    if v > _INT16_MAX:
        return _INT16_MAX
    if v < _INT16_MIN:
        return _INT16_MIN
    return v


def _rescale(v, num, den):
    """v * num / den rounded half up, for integer counts between two sensitivities."""
    if num == den:
        return v
    return (2 * v * num + den) // (2 * den)


def _with_parity(b):
    # TAG_PARITY (bit 0): the datasheet calls it "parity check of TAG content" without
    # spelling out the polarity; we make the byte's popcount even. The driver ignores it.
    p = 0
    x = b >> 1
    while x:
        p ^= x & 1
        x >>= 1
    return b | p


class LSM6DSEmu:
    """The register file and FIFO of one LSM6DS chip.

    ``personality``: "LSM6DSOX" or "LSM6DS3TR-C". ``addr``: its I2C address (0x6A when
    SA0 is low, 0x6B when high). ``source``: callable or iterator of samples (see the
    module docstring). ``reset_busy_reads``: how many reads of CTRL3_C still show
    SW_RESET set after a reset, so drivers' polling loops are exercised.
    ``dsox_accel_first``: order of the two words of a DSOX time slot (gyro first by
    default; drivers must not depend on it).
    """

    def __init__(self, personality="LSM6DSOX", addr=0x6A, source=None, units="raw",
                 reset_busy_reads=1, dsox_accel_first=False):
        if personality == "LSM6DSOX":
            self.tagged = True
            self.whoami = 0x6C
            self.depth = 512  # words of 6 data bytes (+ tag)
            self.word_bytes = 7
            self._diff_mask = 0x03  # DIFF_FIFO[9:8] in FIFO_STATUS2 bits 1:0
        elif personality == "LSM6DS3TR-C":
            self.tagged = False
            self.whoami = 0x6A
            self.depth = 2048  # 4 KB of 16-bit words
            self.word_bytes = 2
            self._diff_mask = 0x07  # DIFF_FIFO[10:8] in FIFO_STATUS2 bits 2:0
        else:
            raise ValueError("personality must be one of %s, not %r" % (PERSONALITIES, personality))
        if units not in ("raw", "physical"):
            raise ValueError("units must be 'raw' or 'physical'")
        self.personality = personality
        self.addr = addr
        self.units = units
        self.reset_busy_reads = reset_busy_reads
        self.dsox_accel_first = dsox_accel_first
        self._src_call = None
        self._src_iter = None
        self.set_source(source)
        self.regs = bytearray(128)
        self.ring = bytearray(self.depth * self.word_bytes)
        self._live = bytearray(12)  # newest output bytes for 0x22..0x2D
        self._latch = bytearray(12)  # what BDU holds while a pair is half read
        self.now_us = 0
        self.sample_index = 0  # samples taken from the source so far
        self.exhausted = False
        self.ptr = 0  # register pointer for bare writeto/readfrom_into transactions
        self._rate = -1  # data clock in mHz; -1 forces _reconfigure to set its origin
        self.clock0_us = -1  # now_us when the data clock first started (-1: not yet)
        self._power_on_defaults()

    # --- state -------------------------------------------------------------------------
    def _power_on_defaults(self):
        r = self.regs
        for i in range(128):
            r[i] = 0
        r[WHO_AM_I] = self.whoami
        r[CTRL3_C] = IF_INC  # IF_INC is set at power-on in both families
        r[CTRL9_XL] = 0xE0  # both families' datasheets give 0xE0 as the default
        for i in range(12):
            self._live[i] = 0
            self._latch[i] = 0
        self._frozen = 0  # BDU: bit p set while output pair p is half read
        self._half_read = 0  # BDU: which bytes (bit per byte) of frozen pairs were read
        self._status_bits = 0  # STATUS_REG: XLDA bit 0, GDA bit 1
        self._busy_reads = 0
        self._fifo_clear()
        self._reconfigure()

    def _fifo_clear(self):
        self.head = 0  # index (in words) of the oldest unread word
        self.count = 0  # unread words
        self.written = 0  # words written since the FIFO was last emptied by bypass
        self._ovr = False  # FIFO_OVR_IA / OVER_RUN: a word was overwritten since last read
        self._ovr_latched = False  # DSOX FIFO_OVR_LATCHED: cleared by reading FIFO_STATUS2
        self.lost_words = 0  # words overwritten in continuous mode (diagnostics)

    def reset(self):
        """What SW_RESET does: registers to their defaults, FIFO emptied."""
        self._power_on_defaults()
        self._busy_reads = self.reset_busy_reads

    def set_source(self, source):
        self._src_call = None
        self._src_iter = None
        if source is None:
            pass
        elif callable(source):
            self._src_call = source
        else:
            self._src_iter = iter(source)
        self.exhausted = False

    # --- decoded configuration --------------------------------------------------------
    @property
    def accel_odr_mhz(self):
        c = self.regs[CTRL1_XL] >> 4
        return ODR_MHZ[c] if c < len(ODR_MHZ) else 0

    @property
    def gyro_odr_mhz(self):
        c = self.regs[CTRL2_G] >> 4
        return ODR_MHZ[c] if c < 11 else 0  # code 11 is an accelerometer-only rate

    @property
    def accel_odr_hz(self):
        return self.accel_odr_mhz / 1000

    @property
    def gyro_odr_hz(self):
        return self.gyro_odr_mhz / 1000

    @property
    def accel_fs_g(self):
        return ACCEL_FS_BY_CODE[(self.regs[CTRL1_XL] >> 2) & 3]

    @property
    def gyro_fs_dps(self):
        c2 = self.regs[CTRL2_G]
        if c2 & 0x02:  # FS_125
            return 125
        return GYRO_FS_BY_CODE[(c2 >> 2) & 3]

    @property
    def bdu(self):
        return bool(self.regs[CTRL3_C] & BDU)

    @property
    def if_inc(self):
        return bool(self.regs[CTRL3_C] & IF_INC)

    @property
    def fifo_mode(self):
        return self.regs[FIFO_MODE_REG] & 0x07

    @property
    def watermark_words(self):
        if self.tagged:  # WTM[8:0]: FIFO_CTRL1 + FIFO_CTRL2 bit 0
            return self.regs[FIFO_CTRL1_DSOX] | ((self.regs[FIFO_CTRL2_DSOX] & 0x01) << 8)
        # FTH[10:0]: FIFO_CTRL1 + FIFO_CTRL2 bits 2:0
        return self.regs[FIFO_CTRL1_DS3] | ((self.regs[FIFO_CTRL2_DS3] & 0x07) << 8)

    @property
    def int1(self):
        """Level of the INT1 pin (active high, push-pull: the reset defaults)."""
        c = self.regs[INT1_CTRL]
        return bool(((c & 0x08) and self._wtm_flag()) or ((c & 0x10) and self._ovr)
                    or ((c & 0x20) and self._full_flag())
                    or ((c & 0x01) and (self._status_bits & 1))
                    or ((c & 0x02) and (self._status_bits & 2)))

    def _reconfigure(self):
        """Recompute what CTRL1_XL / CTRL2_G / FIFO control registers mean. Called after
        any write to them; restarts the data clock when the rate changes."""
        r = self.regs
        xl_rate = self.accel_odr_mhz
        g_rate = self.gyro_odr_mhz
        rate = xl_rate if xl_rate > g_rate else g_rate
        if rate != self._rate:
            self._rate = rate
            self._origin_us = self.now_us
            self._ticks = 0  # ticks since the origin
            if rate and self.clock0_us < 0:
                self.clock0_us = self.now_us  # the data clock's first start
        self._xl_on = xl_rate != 0
        self._g_on = g_rate != 0
        ref_a = sensor.ACCEL_UG_PER_LSB[sensor.ACCEL_FS_G]
        ref_g = sensor.GYRO_UDPS_PER_LSB[sensor.GYRO_FS_DPS]
        self._xl_u = sensor.ACCEL_UG_PER_LSB[self.accel_fs_g]
        self._g_u = sensor.GYRO_UDPS_PER_LSB[self.gyro_fs_dps]
        self._xl_num, self._xl_den = ref_a, self._xl_u
        self._g_num, self._g_den = ref_g, self._g_u
        mode = r[FIFO_MODE_REG] & 0x07
        if mode == FIFO_CONT_TO_FIFO:
            mode = FIFO_CONTINUOUS
        elif mode in (FIFO_BYPASS_TO_CONT, FIFO_BYPASS_TO_FIFO, 2, 5):
            mode = FIFO_BYPASS
        self._mode = mode
        if self.tagged:
            bdr = r[FIFO_CTRL3_DSOX]
            self._fifo_g = self._g_on and (bdr >> 4) != 0
            self._fifo_xl = self._xl_on and (bdr & 0x0F) != 0
        else:
            fifo_odr = (r[FIFO_CTRL5_DS3] >> 3) & 0x0F
            dec = r[FIFO_CTRL3_DS3]
            self._fifo_g = fifo_odr != 0 and self._g_on and ((dec >> 3) & 7) != 0
            self._fifo_xl = fifo_odr != 0 and self._xl_on and (dec & 7) != 0
        per_sensor = 1 if self.tagged else 3  # one tagged word, or three 16-bit words
        self._words_per_tick = per_sensor * ((1 if self._fifo_g else 0) + (1 if self._fifo_xl else 0))
        if mode == FIFO_BYPASS:
            self._fifo_clear()

    # --- flags ------------------------------------------------------------------------
    def _wtm_flag(self):
        return self.count >= self.watermark_words

    def _full_flag(self):
        # DSOX FIFO_FULL_IA / DS3 FIFO_FULL_SMART: "full at the next ODR"
        return self.count + self._words_per_tick > self.depth

    @property
    def fifo_pattern(self):
        """DS3 FIFO_PATTERN: position, in the repeating pattern, of the next word read."""
        plen = self._words_per_tick
        if plen == 0:
            return 0
        return (self.written - self.count) % plen

    # --- time -------------------------------------------------------------------------
    def advance(self, dt_s):
        self.advance_us(int(round(dt_s * 1000000)))

    def set_time(self, t_s):
        t_us = int(round(t_s * 1000000))
        if t_us < self.now_us:
            raise ValueError("time only moves forward")
        self.advance_us(t_us - self.now_us)

    def advance_us(self, dt_us):
        if dt_us < 0:
            raise ValueError("time only moves forward")
        t = self.now_us + dt_us
        rate = self._rate
        if rate:
            target = (t - self._origin_us) * rate // 1000000000
            while self._ticks < target and not self.exhausted:
                self._tick()
        self.now_us = t

    def run_samples(self, n):
        """Advance time just far enough for exactly n more samples (ticks)."""
        rate = self._rate
        if not rate:
            raise ValueError("accelerometer and gyroscope are powered down (ODR = 0)")
        k = self._ticks + n
        t = self._origin_us + (k * 1000000000 + rate - 1) // rate
        self.advance_us(t - self.now_us)

    # --- the data path ------------------------------------------------------------------
    def _next_sample(self):
        if self._src_call is not None:
            s = self._src_call(self.sample_index)
        elif self._src_iter is not None:
            try:
                s = next(self._src_iter)
            except StopIteration:
                s = None
        else:
            s = (0, 0, 0, 0, 0, 0)
        if s is None:
            self.exhausted = True
        else:
            self.sample_index += 1
        return s

    def _convert(self, v, num, den, u):
        if self.units == "physical":
            return _sat16(int(round(v * 1000000 / u)))
        return _sat16(_rescale(v, num, den))

    def _tick(self):
        s = self._next_sample()
        if s is None:
            return
        self._ticks += 1
        live = self._live
        if self._g_on:
            for k in range(3):
                v = self._convert(s[3 + k], self._g_num, self._g_den, self._g_u) & 0xFFFF
                live[2 * k] = v & 0xFF
                live[2 * k + 1] = v >> 8
            self._status_bits |= 2
        if self._xl_on:
            for k in range(3):
                v = self._convert(s[k], self._xl_num, self._xl_den, self._xl_u) & 0xFFFF
                live[6 + 2 * k] = v & 0xFF
                live[6 + 2 * k + 1] = v >> 8
            self._status_bits |= 1
        if self._mode == FIFO_BYPASS or self._words_per_tick == 0:
            return
        if self.tagged:
            cnt = (self._ticks - 1) & 3  # TAG_CNT: 2-bit time-slot counter
            if self.dsox_accel_first:
                if self._fifo_xl:
                    self._push_tagged(TAG_ACCEL, cnt, 6)
                if self._fifo_g:
                    self._push_tagged(TAG_GYRO, cnt, 0)
            else:
                if self._fifo_g:
                    self._push_tagged(TAG_GYRO, cnt, 0)
                if self._fifo_xl:
                    self._push_tagged(TAG_ACCEL, cnt, 6)
        else:
            if self._fifo_g:  # pattern: gyro words first, then accel
                for k in range(3):
                    self._push_word(2 * k)
            if self._fifo_xl:
                for k in range(3):
                    self._push_word(6 + 2 * k)

    def _slot(self):
        """Index of the ring slot for a new word, or -1 when it must be discarded."""
        if self.count == self.depth:
            if self._mode == FIFO_FIFO:
                return -1  # FIFO mode stops collecting when full
            self.head = (self.head + 1) % self.depth  # continuous: oldest word is lost
            self.count -= 1
            self.lost_words += 1
            self._ovr = True
            self._ovr_latched = True
        slot = (self.head + self.count) % self.depth
        self.count += 1
        self.written += 1
        return slot

    def _push_tagged(self, tag, cnt, src):
        slot = self._slot()
        if slot < 0:
            return
        o = slot * 7
        ring = self.ring
        ring[o] = _with_parity((tag << 3) | (cnt << 1))
        live = self._live
        for k in range(6):
            ring[o + 1 + k] = live[src + k]

    def _push_word(self, src):
        slot = self._slot()
        if slot < 0:
            return
        o = slot * 2
        self.ring[o] = self._live[src]
        self.ring[o + 1] = self._live[src + 1]

    def _pop(self):
        if self.count:
            self.head = (self.head + 1) % self.depth
            self.count -= 1
            self._ovr = False

    # --- register access (no allocation on the read path) -------------------------------
    def _next_addr(self, a):
        if not (self.regs[CTRL3_C] & IF_INC):
            return a
        if self.tagged:
            if a == 0x7E:  # FIFO_DATA_OUT rolls back to the TAG register
                return FIFO_DATA_OUT_TAG
        elif a == FIFO_DATA_OUT_H:  # DS3 family: 0x3F rolls back to 0x3E
            return FIFO_DATA_OUT_L
        return (a + 1) & 0x7F

    def read_byte(self, a):
        if a < STATUS_REG:
            if a == CTRL3_C and self._busy_reads:
                self._busy_reads -= 1
                return self.regs[a] | SW_RESET
            return self.regs[a]
        if OUTX_L_G <= a < OUTX_L_G + 12:
            return self._out_byte(a - OUTX_L_G)
        if self.tagged:
            if a >= FIFO_DATA_OUT_TAG and a <= 0x7E:
                i = a - FIFO_DATA_OUT_TAG
                if self.count == 0:
                    return 0
                v = self.ring[self.head * 7 + i]
                if i == 6:
                    self._pop()
                return v
        elif a == FIFO_DATA_OUT_L or a == FIFO_DATA_OUT_H:
            if self.count == 0:
                return 0
            i = a - FIFO_DATA_OUT_L
            v = self.ring[self.head * 2 + i]
            if i == 1:
                self._pop()
            return v
        if a == FIFO_STATUS1:
            return self.count & 0xFF
        if a == FIFO_STATUS2:
            v = (self.count >> 8) & self._diff_mask
            if self._wtm_flag():
                v |= 0x80
            if self._ovr:
                v |= 0x40
            if self._full_flag():
                v |= 0x20
            if self.tagged:
                if self._ovr_latched:
                    v |= 0x08
                self._ovr_latched = False
            elif self.count == 0:
                v |= 0x10  # FIFO_EMPTY
            return v
        if not self.tagged:
            if a == FIFO_STATUS3:
                return self.fifo_pattern & 0xFF
            if a == FIFO_STATUS4:
                return (self.fifo_pattern >> 8) & 0x03
        if a == STATUS_REG:
            return self._status_bits
        return self.regs[a]

    def _out_byte(self, i):
        p = i >> 1
        if not (self.regs[CTRL3_C] & BDU):
            self._clear_status_for(i)
            return self._live[i]
        bit = 1 << p
        if not (self._frozen & bit):
            # first byte of a pair read: freeze the pair until its other byte is read
            self._latch[2 * p] = self._live[2 * p]
            self._latch[2 * p + 1] = self._live[2 * p + 1]
            self._frozen |= bit
            self._half_read &= ~(3 << (2 * p))
        self._half_read |= 1 << i
        v = self._latch[i]
        if (self._half_read >> (2 * p)) & 3 == 3:
            self._frozen &= ~bit
            self._half_read &= ~(3 << (2 * p))
        self._clear_status_for(i)
        return v

    def _clear_status_for(self, i):
        # reading an output register clears its data-ready bit
        self._status_bits &= ~(1 if i >= 6 else 2)

    def write_byte(self, a, v):
        if a == CTRL3_C:
            if v & SW_RESET:
                self.reset()
                return
            self.regs[a] = v & ~BOOT & 0xFF  # BOOT finishes at once and self-clears
            return
        if not ((FUNC_CFG_ACCESS <= a <= CTRL10_C and a != WHO_AM_I)
                or 0x56 <= a <= 0x5F or 0x73 <= a <= 0x75):
            return  # read-only register (or not emulated): the write is ignored
        self.regs[a] = v & 0xFF
        if a == CTRL1_XL or a == CTRL2_G or (0x06 <= a <= 0x0A):
            self._reconfigure()

    def read_into(self, reg, buf, start, end):
        a = reg & 0x7F
        i = start
        while i < end:
            buf[i] = self.read_byte(a)
            a = self._next_addr(a)
            i += 1
        self.ptr = a

    def write_from(self, reg, buf, start, end):
        a = reg & 0x7F
        i = start
        while i < end:
            self.write_byte(a, buf[i])
            a = self._next_addr(a)
            i += 1
        self.ptr = a


class EmuI2C:
    """A fake I2C bus holding emulated devices, with both bus APIs.

    MicroPython machine.I2C: scan, readfrom_mem_into, readfrom_mem, writeto_mem,
    readfrom_into, readfrom, writeto. CircuitPython busio.I2C (what adafruit_bus_device
    calls): try_lock, unlock, writeto(addr, buf, start=, end=), readfrom_into(addr, buf,
    start=, end=), writeto_then_readfrom(addr, out, in, out_start=, out_end=, in_start=,
    in_end=). A transaction to an address with no device raises OSError(ENODEV), as
    MicroPython's ports do for an address NACK. ``inject_errors(n)`` makes n transactions
    fail with OSError(EIO), after letting ``delay`` transactions through; ``after_bytes``
    lets each failing read move that many bytes first (a transfer that dies mid-way,
    after FIFO words were already popped).

    A bus that fails over time (``set_faults``; times in microseconds on the first
    device's clock, counted from its data clock's first start, the trace's t = 0 on the
    virtual board; nothing fails before that start):
    ``outages``: [(t0, t1), ...], every transaction fails while t0 <= t < t1 (the bus is
    down); ``bursts``: from ``t0`` until ``t1`` (-1: for ever), after min_gap..max_gap
    good transactions, min_len..max_len failing ones in a row (pseudo-random from
    ``seed``, the same on every port); a failing read of a burst moves a pseudo-random
    part of its bytes first when ``partial``. ``errors_injected``, ``bursts_done`` and
    ``longest_burst`` count what failed.
    """

    def __init__(self, devices, nack_errno=_ENODEV):
        if isinstance(devices, LSM6DSEmu):
            devices = (devices,)
        self.devices = {}
        for d in devices:
            self.devices[d.addr] = d
        self.nack_errno = nack_errno
        self._locked = False
        self._fail = 0
        self._fail_after = 0
        self._fail_delay = 0
        self.transactions = 0
        self.errors_injected = 0
        self._outages = ()
        self._bursts = None
        self._rng = 1
        self._burst_left = 0  # failing transactions left in the current burst
        self._burst_gap = 0  # good transactions before the next burst
        self._burst_len = 0
        self._partial = 0  # bytes the failing read moves first
        self.bursts_done = 0
        self.longest_burst = 0

    def inject_errors(self, count=1, after_bytes=0, delay=0):
        self._fail = count
        self._fail_after = after_bytes
        self._fail_delay = delay

    def set_faults(self, outages=(), bursts=None):
        """Outages [(t0_us, t1_us)] and bursts (a dict: min_len, max_len, min_gap,
        max_gap, seed, t0_us, t1_us, partial); see the class docstring. None/() clear."""
        self._outages = tuple((int(a), int(b)) for a, b in outages)
        self._bursts = None
        if bursts:
            b = {"min_len": 1, "max_len": 50, "min_gap": 1, "max_gap": 200, "seed": 1,
                 "t0_us": 0, "t1_us": -1, "partial": True}
            for k in bursts:
                if k not in b:
                    raise ValueError("unknown burst setting %r" % (k,))
                b[k] = bursts[k]
            if not 1 <= b["min_len"] <= b["max_len"] or not 0 <= b["min_gap"] <= b["max_gap"]:
                raise ValueError("bursts need 1 <= min_len <= max_len, 0 <= min_gap <= max_gap")
            self._bursts = b
            self._rng = (int(b["seed"]) % 65536) or 1
            self._burst_left = 0
            self._burst_gap = self._rand(b["min_gap"], b["max_gap"])

    def _rand(self, lo, hi):
        # ZX81's generator (x * 75 + 74 mod 65537): small ints on every port
        self._rng = (self._rng * 75 + 74) % 65537
        return lo + self._rng % (hi - lo + 1)

    def _bus_time(self):
        """Microseconds since the first device's data clock first started; -1 before."""
        for a in self.devices:
            d = self.devices[a]
            if d.clock0_us < 0:
                return -1
            return d.now_us - d.clock0_us
        return -1

    def _scheduled(self):
        """True when the outages or the bursts make this transaction fail."""
        t = self._bus_time()
        if t < 0:
            return False
        for a, b in self._outages:
            if a <= t < b:
                self._partial = 0
                return True
        bs = self._bursts
        if bs is None or t < bs["t0_us"] or (bs["t1_us"] >= 0 and t >= bs["t1_us"]):
            return False
        if self._burst_left:
            self._burst_left -= 1
            self._burst_len += 1
            if self._burst_len > self.longest_burst:
                self.longest_burst = self._burst_len
            self._partial = self._rand(0, 64) if bs["partial"] else 0
            if not self._burst_left:
                self._burst_gap = self._rand(bs["min_gap"], bs["max_gap"])
            return True
        if self._burst_gap:
            self._burst_gap -= 1
            return False
        # a burst begins with this transaction
        self.bursts_done += 1
        self._burst_left = self._rand(bs["min_len"], bs["max_len"])
        self._burst_len = 0
        return self._scheduled()

    def _dev(self, addr):
        self.transactions += 1
        d = self.devices.get(addr)
        if d is None:
            raise OSError(self.nack_errno)
        return d

    def _failing(self):
        if self._fail:
            if self._fail_delay:
                self._fail_delay -= 1
                return False
            self._fail -= 1
            self.errors_injected += 1
            self._partial = self._fail_after
            return True
        if (self._outages or self._bursts is not None) and self._scheduled():
            self.errors_injected += 1
            return True
        return False

    def _read(self, addr, reg, buf, start, end):
        d = self._dev(addr)
        if self._failing():
            n = self._partial
            if n > end - start:
                n = end - start
            d.read_into(reg, buf, start, start + n)
            raise OSError(_EIO)
        d.read_into(reg, buf, start, end)

    def _write(self, addr, reg, buf, start, end):
        d = self._dev(addr)
        if self._failing():
            raise OSError(_EIO)
        d.write_from(reg, buf, start, end)

    # --- MicroPython machine.I2C --------------------------------------------------------
    def scan(self):
        return sorted(self.devices)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._read(addr, memaddr, buf, 0, len(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        buf = bytearray(nbytes)
        self._read(addr, memaddr, buf, 0, nbytes)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._write(addr, memaddr, buf, 0, len(buf))

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    # --- both APIs: writeto / readfrom_into (MicroPython's stop, CircuitPython's slice) --
    def writeto(self, addr, buf, stop=True, start=0, end=None):
        """First byte: register address (sets the pointer); the rest: data written."""
        if end is None:
            end = len(buf)
        d = self._dev(addr)
        if self._failing():
            raise OSError(_EIO)
        if end > start:
            d.ptr = buf[start] & 0x7F
            if end > start + 1:
                d.write_from(d.ptr, buf, start + 1, end)
        return end - start  # MicroPython returns the number of ACKs

    def readfrom_into(self, addr, buf, stop=True, start=0, end=None):
        if end is None:
            end = len(buf)
        self._read(addr, self._dev_ptr(addr), buf, start, end)

    def _dev_ptr(self, addr):
        d = self.devices.get(addr)
        return d.ptr if d is not None else 0

    # --- CircuitPython busio.I2C ------------------------------------------------------
    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def writeto_then_readfrom(self, addr, buffer_out, buffer_in, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        if out_end is None:
            out_end = len(buffer_out)
        if in_end is None:
            in_end = len(buffer_in)
        if out_end - out_start > 1:  # register address then data, before the restart
            self.writeto(addr, buffer_out, True, out_start, out_end)
            reg = self.devices[addr].ptr
        elif out_end > out_start:
            reg = buffer_out[out_start] & 0x7F
        else:
            reg = self._dev_ptr(addr)
        self._read(addr, reg, buffer_in, in_start, in_end)

    def deinit(self):
        pass
