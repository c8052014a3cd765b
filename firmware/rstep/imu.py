"""LSM6DS-family IMU driver: raw int16 accel + gyro samples streamed through the FIFO.

Supported chips, told apart by WHO_AM_I (register 0x0F):

    0x6C  LSM6DSOX, LSM6DSO, LSM6DSO32   tagged FIFO ("DSOX family")
    0x6B  ISM330DHCX (also LSM6DSR)      tagged FIFO ("DSOX family")
    0x6A  LSM6DS3TR-C (also LSM6DSL/M)   pattern FIFO ("DS3 family")
    0x69  LSM6DS3, LSM6DS33              pattern FIFO ("DS3 family")

The chip is reset and set up from rstep.sensor (ODR, full scales): block data update,
register auto-increment, accel + gyro batched into the FIFO at the ODR, FIFO in
continuous mode with a watermark routed to INT1. ``read_fifo`` then drains the FIFO in
burst reads into a preallocated buffer and writes samples, as raw counts, into the
caller's ``array("h")``: ax, ay, az, gx, gy, gz per sample. It allocates nothing, so it
may run under ``micropython.heap_lock()``.

Example (RP2040, IMU on GP4/GP5)::

    from array import array
    from machine import I2C, Pin
    from rstep.imu import IMU

    imu = IMU(I2C(0, scl=Pin(5), sda=Pin(4), freq=400_000))  # finds it at 0x6A or 0x6B
    print(imu.chip, "at", hex(imu.addr))
    buf = array("h", [0] * (6 * 64))  # room for 64 samples
    while True:
        n = imu.read_fifo(buf)  # samples written: buf[6*i : 6*i+6] = ax ay az gx gy gz
        if imu.overrun:
            print("FIFO overrun: data lost", imu.overrun, "times")
        print(n, buf[0:6])

Register facts this relies on (ST datasheets: LSM6DSOX DS12814, LSM6DS3TR-C DS12168,
LSM6DS33, ISM330DHCX; cross-checked with Adafruit's adafruit_lsm6ds register tables and
with the Linux st_lsm6dsx driver's per-chip settings):

- CTRL3_C (0x12): BOOT b7, BDU b6, IF_INC b2 (set at power-on), SW_RESET b0, which
  clears itself when the reset is done.
- CTRL1_XL (0x10): ODR_XL b7:4, FS_XL b3:2; CTRL2_G (0x11): ODR_G b7:4, FS_G b3:2,
  FS_125 b1. ODR codes 1..10 = 12.5, 26, 52, 104, 208, 416, 833, 1666, 3332, 6664 Hz
  in both families. FS_XL codes 0, 1, 2, 3 = 2, 16, 4, 8 g; FS_G codes 0..3 = 250, 500,
  1000, 2000 dps, in both families. Exception: the LSM6DSO32 (same WHO_AM_I as the
  LSM6DSOX) reads FS_XL as 4, 32, 8, 16 g, so its 16 g is code 3: pass dso32=True.
- Outputs: gyro x, y, z at 0x22..0x27, accel x, y, z at 0x28..0x2D, int16 little endian.
- INT1_CTRL (0x0D): INT1_FIFO_TH (watermark) is bit 3 in both families.
- DSOX family FIFO: FIFO_CTRL1 (0x07) WTM[7:0], FIFO_CTRL2 (0x08) bit 0 WTM[8],
  watermark counted in FIFO words (one sensor sample + tag); FIFO_CTRL3 (0x09) BDR_GY
  b7:4, BDR_XL b3:0 (codes as the ODR codes); FIFO_CTRL4 (0x0A) FIFO_MODE b2:0 (0
  bypass, 6 continuous). FIFO_STATUS1 (0x3A) DIFF_FIFO[7:0], FIFO_STATUS2 (0x3B)
  FIFO_WTM_IA b7, FIFO_OVR_IA b6, FIFO_FULL_IA b5, DIFF_FIFO[9:8] b1:0, counting words.
  Words are read at FIFO_DATA_OUT_TAG (0x78): tag byte (TAG_SENSOR b7:3: 0x01 gyro,
  0x02 accel; TAG_CNT b2:1, the time slot), then 6 data bytes; with IF_INC a burst read
  rolls from 0x7E back to 0x78, so many words come in one transaction. 512 words deep
  (3 KB without compression): 256 accel+gyro samples, 2.46 s at 104 Hz.
- DS3 family FIFO: FIFO_CTRL1 (0x06) FTH[7:0], FIFO_CTRL2 (0x07) FTH[11:8] in b3:0
  (LSM6DS3TR-C: FTH[10:8] in b2:0, b3 is FIFO_TEMP_EN), counted in 16-bit words;
  FIFO_CTRL3 (0x08) DEC_FIFO_GYRO b5:3, DEC_FIFO_XL b2:0 (1 = no decimation);
  FIFO_CTRL5 (0x0A) ODR_FIFO b6:3 (ODR codes), FIFO_MODE b2:0. FIFO_STATUS1 (0x3A)
  DIFF_FIFO[7:0], FIFO_STATUS2 (0x3B) WaterM b7, OVER_RUN b6, FIFO_FULL b5, EMPTY b4,
  DIFF_FIFO[11:8] b3:0 (b2:0 on the TR-C), counting words; FIFO_STATUS3/4 (0x3C/0x3D)
  FIFO_PATTERN[9:0], the position of the next word in the repeating pattern, which is
  gx gy gz ax ay az when both sensors are batched without decimation. Words are read
  at FIFO_DATA_OUT_L/H (0x3E/0x3F); with IF_INC a burst rolls from 0x3F back to 0x3E.
  LSM6DS3TR-C: 4 KB = 2048 words (341 samples, 3.3 s at 104 Hz); LSM6DS3/DS33: 8 KB.
- In continuous mode a full FIFO overwrites its oldest data and raises the overrun
  flag; the way back to a clean FIFO is bypass mode (which empties it) then continuous.
"""

try:
    from time import sleep_ms
except ImportError:  # CPython (tests run this file there too)
    from time import sleep

    def sleep_ms(ms):
        sleep(ms / 1000)


try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from . import sensor

_INT1_CTRL = const(0x0D)
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_CTRL9_XL = const(0x18)
_OUTX_L_G = const(0x22)
_FIFO_STATUS1 = const(0x3A)
_FIFO_MODE_REG = const(0x0A)  # FIFO_CTRL4 (DSOX) / FIFO_CTRL5 (DS3)

# DSOX family
_X_FIFO_CTRL1 = const(0x07)
_X_FIFO_DATA_OUT_TAG = const(0x78)
_X_TAG_GYRO = const(0x01)
_X_TAG_ACCEL = const(0x02)
_X_WORD = const(7)  # bytes per FIFO word: tag + x, y, z
_X_WTM_MAX = const(511)  # WTM[8:0]

# DS3 family
_D_FIFO_CTRL1 = const(0x06)
_D_FIFO_DATA_OUT_L = const(0x3E)
_D_SAMPLE = const(12)  # bytes per pattern: gx gy gz ax ay az

_BDU = const(0x40)
_IF_INC = const(0x04)
_SW_RESET = const(0x01)
# CTRL9_XL b1: I3C_DISABLE (ST's lsm6dsox_reg.h; Adafruit and micropython-lib set b0,
# which is unused); the ISM330DHCX calls b1 DEVICE_CONF and asks for it to be set
_I3C_DISABLE = const(0x02)
_INT1_FIFO_TH = const(0x08)
_ST2_OVR = const(0x40)

_BYPASS = const(0)
_CONTINUOUS = const(6)

_DSOX = const(0)
_DS3 = const(1)

# WHO_AM_I, name, family, DIFF_FIFO high-bits mask in FIFO_STATUS2, FIFO depth (words)
_CHIPS = (
    (0x6C, "LSM6DSOX", _DSOX, 0x03, 512),
    (0x6B, "ISM330DHCX", _DSOX, 0x03, 512),
    (0x6A, "LSM6DS3TR-C", _DS3, 0x07, 2048),
    (0x69, "LSM6DS33", _DS3, 0x0F, 4096),
)
_SUPPORTED = (
    "0x6C LSM6DSOX/LSM6DSO/LSM6DSO32, 0x6B ISM330DHCX, "
    "0x6A LSM6DS3TR-C, 0x69 LSM6DS3/LSM6DS33"
)

# Hz -> ODR_XL / ODR_G / BDR / ODR_FIFO code (the same codes in both families)
_ODR_CODES = ((52, 3), (104, 4), (208, 5), (416, 6))
# +-g -> FS_XL code; the LSM6DSO32 table differs (see the module docstring)
_ACCEL_FS_CODES = ((2, 0), (16, 1), (4, 2), (8, 3))
_ACCEL_FS_CODES_DSO32 = ((4, 0), (32, 1), (8, 2), (16, 3))
# +-dps -> CTRL2_G bits 3:1 (FS_G in b3:2, FS_125 in b1)
_GYRO_FS_BITS = ((125, 0x02), (250, 0x00), (500, 0x04), (1000, 0x08), (2000, 0x0C))

_ADDRS = (0x6A, 0x6B)


class UnsupportedChipError(ValueError):
    """Something answers on the bus, but its WHO_AM_I is not a supported IMU."""


class IMUNotFoundError(OSError):
    """No device acknowledged at the IMU's I2C address(es)."""


def _lookup(table, key, what):
    for k, v in table:
        if k == key:
            return v
    raise ValueError("unsupported %s %r (choose from %s)" % (what, key, [k for k, _ in table]))


class IMU:
    """An LSM6DS-family IMU on an I2C bus, streaming raw samples through its FIFO.

    ``i2c``: a machine.I2C (or anything with readfrom_mem_into / writeto_mem).
    ``addr``: 0x6A or 0x6B; None tries both. ``wtm_samples``: FIFO watermark in
    accel+gyro samples (default: half a second). ``retries``: extra attempts after an
    I2C OSError before it is raised. ``burst``: largest burst read, in samples (a power
    of two; sets the scratch buffer size). ``dso32``: the chip is an LSM6DSO32.

    Counters for the caller: ``overrun`` (FIFO overruns: each is a gap in the data, the
    FIFO was restarted), ``dropped`` (incomplete samples discarded while re-aligning),
    ``i2c_retries`` (transient I2C errors that a retry got past).
    """

    def __init__(self, i2c, addr=None, odr_hz=sensor.ODR_HZ, accel_fs_g=sensor.ACCEL_FS_G,
                 gyro_fs_dps=sensor.GYRO_FS_DPS, wtm_samples=None, int1=True, retries=3,
                 burst=32, dso32=False):
        self.i2c = i2c
        self.retries = retries
        self.dso32 = dso32
        self.overrun = 0
        self.dropped = 0
        self.i2c_retries = 0
        self.status2 = 0  # last FIFO_STATUS2: watermark b7, overrun b6, full b5
        self._b1 = bytearray(1)
        self._fc = bytearray(5)  # FIFO control registers, written in one burst
        self._fcv = (memoryview(self._fc)[:4], self._fc)  # DSOX: 4 of them, DS3: 5
        self._sbuf = bytearray(12)
        self._skip = 0  # DS3: words to drop to reach a pattern boundary
        self.addr, self.whoami = self._probe(addr)
        for who, name, fam, mask, depth in _CHIPS:
            if who == self.whoami:
                self.chip = name
                self._fam = fam
                self.family = "DSOX" if fam == _DSOX else "DS3"
                self._diff_mask = mask
                self.fifo_depth_words = depth
        if dso32 and self.whoami != 0x6C:
            raise ValueError("dso32=True but WHO_AM_I is 0x%02x, not 0x6c" % self.whoami)
        if dso32:
            self.chip = "LSM6DSO32"
        # FIFO scratch: burst reads land here; views of 1, 2, 4 ... units are made once,
        # because slicing a memoryview allocates on MicroPython
        k = 1
        while k < burst:
            k <<= 1
        if self._fam == _DSOX:
            unit, units = _X_WORD, 2 * k  # words (two per sample)
            self._words_per_sample = 2
        else:
            unit, units = _D_SAMPLE, k  # whole patterns
            self._words_per_sample = 6
        self._buf = bytearray(unit * units)
        mv = memoryview(self._buf)
        views = []
        n = 1
        while n <= units:
            views.append(mv[: n * unit])
            n <<= 1
        self._views = views
        self._wordv = mv[:2]  # one DS3 word, to skip to a pattern boundary
        self._st = bytearray(4)
        self._stv = memoryview(self._st)[: 2 if self._fam == _DSOX else 4]
        # DSOX: half a sample (one of its two words) carried from one read to the next
        self._part = [0, 0, 0, 0, 0, 0]
        self._have = 0  # 1: accel half held, 2: gyro half held
        self._cnt = 0  # TAG_CNT of the held half
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps, wtm_samples, int1)

    # --- bus access with retries -------------------------------------------------------
    def _rd_into(self, reg, buf):
        self._xfer(reg, buf, False)

    def _wr(self, reg, buf):
        self._xfer(reg, buf, True)

    def _xfer(self, reg, buf, write):
        """One register transfer, retried on I2C errors (no allocation)."""
        tries = 0
        while True:
            try:
                if write:
                    self.i2c.writeto_mem(self.addr, reg, buf)
                else:
                    self.i2c.readfrom_mem_into(self.addr, reg, buf)
                return
            except OSError:
                tries += 1
                if tries > self.retries:
                    raise
                self.i2c_retries += 1

    def _r(self, reg):
        self._rd_into(reg, self._b1)
        return self._b1[0]

    def _w(self, reg, val):
        self._b1[0] = val
        self._wr(reg, self._b1)

    def _probe(self, addr):
        addrs = _ADDRS if addr is None else (addr,)
        found = None
        for a in addrs:
            self.addr = a
            try:
                who = self._r(_WHO_AM_I)
            except OSError:
                continue
            for c in _CHIPS:
                if c[0] == who:
                    return a, who
            if found is None:
                found = (a, who)
        if found is not None:
            raise UnsupportedChipError(
                "WHO_AM_I (0x0F) of the device at I2C address 0x%02x reads 0x%02x: "
                "not a supported IMU (supported: %s)" % (found[0], found[1], _SUPPORTED))
        raise IMUNotFoundError(
            "no IMU answers at I2C address %s: check wiring, power and pull-ups"
            % " or ".join("0x%02x" % a for a in addrs))

    # --- set-up ----------------------------------------------------------------------
    def reset(self):
        """Software reset: every register back to its default, FIFO emptied."""
        # ST's application notes advise powering the sensors down before SW_RESET
        self._w(_CTRL1_XL, 0)
        self._w(_CTRL2_G, 0)
        self._w(_CTRL3_C, self._r(_CTRL3_C) | _SW_RESET)
        for _ in range(50):
            if not (self._r(_CTRL3_C) & _SW_RESET):
                return
            sleep_ms(1)
        raise OSError("IMU at 0x%02x did not finish its software reset" % self.addr)

    def configure(self, odr_hz=sensor.ODR_HZ, accel_fs_g=sensor.ACCEL_FS_G,
                  gyro_fs_dps=sensor.GYRO_FS_DPS, wtm_samples=None, int1=True):
        """Reset the chip and set ODR, full scales, FIFO (continuous, watermark)."""
        odr = _lookup(_ODR_CODES, odr_hz, "ODR (Hz)")
        fs_xl = _lookup(_ACCEL_FS_CODES_DSO32 if self.dso32 else _ACCEL_FS_CODES,
                        accel_fs_g, "accelerometer full scale (g)")
        fs_g = _lookup(_GYRO_FS_BITS, gyro_fs_dps, "gyroscope full scale (dps)")
        if wtm_samples is None:
            wtm_samples = odr_hz // 2  # half a second of data per wake-up
        wtm = wtm_samples * self._words_per_sample
        if self._fam == _DSOX:
            wtm_max = _X_WTM_MAX
        else:  # FTH is 11 or 12 bits; keep a full pattern of room below "full"
            wtm_max = self.fifo_depth_words - 6
        if not 1 <= wtm <= wtm_max:
            raise ValueError("watermark of %d samples does not fit (1..%d for the %s)"
                             % (wtm_samples, wtm_max // self._words_per_sample, self.chip))
        self.odr_hz = odr_hz
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.wtm_samples = wtm_samples
        self._int1 = int1

        self.reset()
        self._w(_CTRL3_C, _BDU | _IF_INC)
        if self._fam == _DSOX:
            self._w(_CTRL9_XL, self._r(_CTRL9_XL) | _I3C_DISABLE)
            # FIFO_CTRL1..4: WTM[7:0]; WTM[8]; BDR_GY | BDR_XL at the ODR; bypass
            fc = self._fc
            fc[0] = wtm & 0xFF
            fc[1] = wtm >> 8
            fc[2] = (odr << 4) | odr
            fc[3] = _BYPASS
            self._wr(_X_FIFO_CTRL1, self._fcv[0])
            self._fifo_base = 0
        else:
            # FIFO_CTRL1..5: FTH[7:0]; FTH[11:8]; gyro and accel undecimated; 0;
            # ODR_FIFO = ODR, bypass
            fc = self._fc
            fc[0] = wtm & 0xFF
            fc[1] = wtm >> 8
            fc[2] = 0x09
            fc[3] = 0
            fc[4] = (odr << 3) | _BYPASS
            self._wr(_D_FIFO_CTRL1, self._fcv[1])
            self._fifo_base = odr << 3
        self._w(_CTRL1_XL, (odr << 4) | (fs_xl << 2))
        self._w(_CTRL2_G, (odr << 4) | fs_g)
        self._w(_INT1_CTRL, _INT1_FIFO_TH if int1 else 0)
        self._have = 0
        self._skip = 0
        self._w(_FIFO_MODE_REG, self._fifo_base | _CONTINUOUS)

    def reinit(self):
        """Reset and set up the chip again as it was (after I2C errors: the FIFO and
        whatever the chip held are gone). Allocates nothing; raises OSError while the
        bus still fails."""
        self.configure(self.odr_hz, self.accel_fs_g, self.gyro_fs_dps, self.wtm_samples,
                       self._int1)

    def route_int1(self, fifo_watermark=True):
        """Drive INT1 high while the FIFO holds at least the watermark (or not)."""
        self._int1 = fifo_watermark
        self._w(_INT1_CTRL, _INT1_FIFO_TH if fifo_watermark else 0)

    def restart_fifo(self):
        """Empty the FIFO (bypass mode) and start filling it again (continuous)."""
        self._w(_FIFO_MODE_REG, self._fifo_base | _BYPASS)
        self._w(_FIFO_MODE_REG, self._fifo_base | _CONTINUOUS)
        self._have = 0

    # --- data ------------------------------------------------------------------------
    def read_sample(self, out, offset=0):
        """Newest sample from the output registers into out[offset:offset+6]
        (ax, ay, az, gx, gy, gz), in one 12-byte burst. Returns out."""
        b = self._sbuf
        self._rd_into(_OUTX_L_G, b)  # gyro x, y, z then accel x, y, z
        i = 0
        while i < 6:
            v = b[i + 6] | (b[i + 7] << 8)
            out[offset + (i >> 1)] = v - ((v & 0x8000) << 1)
            v = b[i] | (b[i + 1] << 8)
            out[offset + 3 + (i >> 1)] = v - ((v & 0x8000) << 1)
            i += 2
        return out

    def _status(self):
        """Read FIFO_STATUS (2 or 4 bytes in one burst): unread words, or -1 after an
        overrun (the FIFO is then restarted, empty, and the event counted)."""
        self._rd_into(_FIFO_STATUS1, self._stv)
        st = self._st
        self.status2 = st[1]
        if st[1] & _ST2_OVR:
            self.overrun += 1
            self.restart_fifo()
            self._skip = 0
            return -1
        if self._fam == _DS3:
            pos = (st[2] | ((st[3] & 0x03) << 8)) % 6
            self._skip = 6 - pos if pos else 0
        return st[0] | ((st[1] & self._diff_mask) << 8)

    def fifo_samples(self):
        """Complete samples waiting in the FIFO (without reading them; an overrun
        found here is handled as in read_fifo)."""
        w = self._status()
        return w // self._words_per_sample if w > 0 else 0

    def read_fifo(self, out, max_samples=None):
        """Move up to max_samples samples (default: as many as ``out`` holds) from the
        FIFO into ``out``, an array("h") of 6 per sample (ax, ay, az, gx, gy, gz).
        Returns how many were written. Allocates nothing."""
        cap = len(out) // 6
        if max_samples is None or max_samples > cap:
            max_samples = cap
        if max_samples <= 0:
            return 0
        if self._fam == _DSOX:
            return self._read_dsox(out, max_samples)
        return self._read_ds3(out, max_samples)

    def _burst_index(self, want):
        """Index i of the largest preallocated view of at most ``want`` units: the view
        is self._views[i], holding 1 << i units (an int, not a tuple: no allocation)."""
        i = len(self._views) - 1
        while (1 << i) > want:
            i -= 1
        return i

    def _read_dsox(self, out, max_samples):
        n = 0
        base = 0
        have = self._have
        cnt = self._cnt
        if have:  # the half sample left over from the previous call goes first
            p = self._part
            for i in range(6):
                out[i] = p[i]
        errors = 0
        avail = self._status()
        if avail < 0:  # overrun: FIFO restarted, the held half is gone
            have = 0
        b = self._buf
        while avail > 0:
            want = 2 * (max_samples - n) - (1 if have else 0)
            if want > avail:
                want = avail
            if want <= 0:
                break
            i = self._burst_index(want)
            k = 1 << i
            try:
                self.i2c.readfrom_mem_into(self.addr, _X_FIFO_DATA_OUT_TAG, self._views[i])
            except OSError:
                # some words may have been popped: the tags re-align what follows
                errors += 1
                if errors > self.retries:
                    raise
                self.i2c_retries += 1
                avail = self._status()
                if avail < 0:
                    have = 0
                continue
            avail -= k
            o = 0
            end = k * _X_WORD
            while o < end:
                t = b[o]
                tag = t >> 3
                if tag == _X_TAG_ACCEL:
                    bit = 1
                    j = base
                elif tag == _X_TAG_GYRO:
                    bit = 2
                    j = base + 3
                else:  # temperature, timestamp, config change...: not batched by us
                    o += _X_WORD
                    continue
                c = (t >> 1) & 3
                if have and (c != cnt or have & bit):
                    # the other half of the held sample never came: drop the half
                    self.dropped += 1
                    have = 0
                cnt = c
                v = b[o + 1] | (b[o + 2] << 8)
                out[j] = v - ((v & 0x8000) << 1)
                v = b[o + 3] | (b[o + 4] << 8)
                out[j + 1] = v - ((v & 0x8000) << 1)
                v = b[o + 5] | (b[o + 6] << 8)
                out[j + 2] = v - ((v & 0x8000) << 1)
                have |= bit
                if have == 3:
                    n += 1
                    base += 6
                    have = 0
                o += _X_WORD
        if have:
            p = self._part
            for i in range(6):
                p[i] = out[base + i]
        self._have = have
        self._cnt = cnt
        return n

    def _read_ds3(self, out, max_samples):
        n = 0
        errors = 0
        avail = self._status()
        b = self._buf
        while avail > 0 and n < max_samples:
            try:
                if self._skip:
                    # not at a pattern boundary (after an overrun or a broken burst):
                    # drop words up to the next gx
                    skip = self._skip if self._skip < avail else avail
                    for _ in range(skip):
                        self.i2c.readfrom_mem_into(self.addr, _D_FIFO_DATA_OUT_L, self._wordv)
                    self._skip -= skip
                    avail -= skip
                    self.dropped += 1
                    continue
                want = avail // 6
                if want > max_samples - n:
                    want = max_samples - n
                if want <= 0:
                    break
                i = self._burst_index(want)
                k = 1 << i
                self.i2c.readfrom_mem_into(self.addr, _D_FIFO_DATA_OUT_L, self._views[i])
            except OSError:
                # a broken transfer may have popped part of a pattern: FIFO_PATTERN
                # tells where the next read starts
                errors += 1
                if errors > self.retries:
                    raise
                self.i2c_retries += 1
                avail = self._status()
                continue
            avail -= 6 * k
            o = 0
            j = 6 * n
            end = k * _D_SAMPLE
            while o < end:
                v = b[o] | (b[o + 1] << 8)  # gx
                out[j + 3] = v - ((v & 0x8000) << 1)
                v = b[o + 2] | (b[o + 3] << 8)
                out[j + 4] = v - ((v & 0x8000) << 1)
                v = b[o + 4] | (b[o + 5] << 8)
                out[j + 5] = v - ((v & 0x8000) << 1)
                v = b[o + 6] | (b[o + 7] << 8)  # ax
                out[j] = v - ((v & 0x8000) << 1)
                v = b[o + 8] | (b[o + 9] << 8)
                out[j + 1] = v - ((v & 0x8000) << 1)
                v = b[o + 10] | (b[o + 11] << 8)
                out[j + 2] = v - ((v & 0x8000) << 1)
                o += _D_SAMPLE
                j += 6
            n += k
        return n
