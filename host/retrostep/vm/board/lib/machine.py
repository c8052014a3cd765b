# `machine` of the retrostep virtual board: the subset of MicroPython's machine module
# the firmware uses, backed by the emulated hardware in _vb (see its header).
#
# Pin, I2C / SoftI2C (the LSM6DS emulator answers on the bus and pins the board
# profile wires it to), PWM (every duty change lands on the motor timeline), ADC (the
# battery through the profile's divider), RTC, WDT, Timer (soft-IRQ callbacks on the
# board's clock), reset, soft_reset, unique_id, lightsleep, deepsleep, idle, freq,
# reset_cause, disable_irq / enable_irq.

import _vb
import _vbjs as _j

_P = _vb.PROFILE

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_FREQ = {"rp2040": 125000000, "esp32": 240000000, "esp32s3": 240000000,
         "esp32c3": 160000000}


def _pin_id(p):
    if isinstance(p, Pin):
        return p._id
    if isinstance(p, int):
        return p
    if isinstance(p, str):
        if p == "LED":
            led = _P.get("led")
            return led if isinstance(led, int) else 25
        if p[:2] == "GP" and p[2:].isdigit():
            return int(p[2:])
        if p.isdigit():
            return int(p)
    raise ValueError("invalid pin %r" % (p,))


class Pin:
    IN = _vb.IN
    OUT = _vb.OUT
    OPEN_DRAIN = _vb.OPEN_DRAIN
    ALT = _vb.ALT
    PULL_UP = _vb.PULL_UP
    PULL_DOWN = _vb.PULL_DOWN
    IRQ_RISING = _vb.IRQ_RISING
    IRQ_FALLING = _vb.IRQ_FALLING
    IRQ_LOW_LEVEL = _vb.IRQ_LOW_LEVEL
    IRQ_HIGH_LEVEL = _vb.IRQ_HIGH_LEVEL

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=-1, alt=-1):
        self._id = _pin_id(id)
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=-1, alt=-1):
        p = self._id
        if value is not None:
            self._drive(1 if value else 0)
        if mode != -1:
            _vb.mode[p] = mode
            if mode == Pin.OUT and p not in _vb.out:
                self._drive(0)
        if pull != -1:
            _vb.pull[p] = pull

    def _drive(self, v):
        p = self._id
        if _vb.out.get(p) != v:
            _vb.out[p] = v
            _j.pout(p, v)

    def value(self, v=None):
        if v is None:
            if _vb.mode.get(self._id, Pin.IN) != Pin.OUT:
                _vb.sync()
            return _vb.level(self._id)
        self._drive(1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._drive(1)

    def off(self):
        self._drive(0)

    def high(self):
        self._drive(1)

    def low(self):
        self._drive(0)

    def toggle(self):
        self._drive(0 if _vb.out.get(self._id, 0) else 1)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, hard=False,
            wake=None, priority=1):
        _vb.watch(self._id, handler, trigger, self)
        _vb.sync()
        return _Irq(self._id, trigger)

    def __eq__(self, other):
        return isinstance(other, Pin) and other._id == self._id

    def __hash__(self):
        return self._id

    def __repr__(self):
        return "Pin(GPIO%d)" % self._id if isinstance(self._id, int) else "Pin(%r)" % self._id


class _Irq:
    def __init__(self, pin, trigger):
        self._pin = pin
        self._trigger = trigger

    def trigger(self, t=None):
        return self._trigger

    def flags(self):
        return 0


# default bus pins of the ports (used when the firmware passes none)
_I2C_DEFAULTS = {("rp2", 0): (9, 8), ("rp2", 1): (7, 6),
                 ("esp32", 0): (18, 19), ("esp32", 1): (25, 26)}


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        d = _I2C_DEFAULTS.get((_vb.PORT, id), (-1, -1))
        scl = d[0] if scl is None else _pin_id(scl)
        sda = d[1] if sda is None else _pin_id(sda)
        self._init(id, scl, sda, freq)

    def _init(self, id, scl, sda, freq):
        if freq <= 0:
            raise ValueError("freq must be > 0")
        self._freq = freq
        wired = scl == _P["scl"] and sda == _P["sda"] and (id == _P["i2c"] or id is None)
        # an IMU on other pins than the profile's does not answer: OSError(ENODEV)
        self._bus = _vb.BUS if wired else _vb.EMPTY_BUS

    def init(self, *, scl=None, sda=None, freq=400000):
        pass

    def deinit(self):
        pass

    def scan(self):
        d = _vb.hw_begin()
        try:
            r = self._bus.scan()
        finally:
            _vb.hw_end(d, 1, self._freq, False)
        return r

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        d = _vb.hw_begin()
        try:
            self._bus.readfrom_mem_into(addr, memaddr, buf)
        finally:
            _vb.hw_end(d, len(buf) + 2, self._freq, False)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        d = _vb.hw_begin()
        try:
            self._bus.writeto_mem(addr, memaddr, buf)
        finally:
            _vb.hw_end(d, len(buf) + 2, self._freq, True)

    def readfrom_into(self, addr, buf, stop=True):
        d = _vb.hw_begin()
        try:
            self._bus.readfrom_into(addr, buf)
        finally:
            _vb.hw_end(d, len(buf) + 1, self._freq, False)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def writeto(self, addr, buf, stop=True):
        d = _vb.hw_begin()
        try:
            n = self._bus.writeto(addr, buf)
        finally:
            _vb.hw_end(d, len(buf) + 1, self._freq, True)
        return n


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        self._init(None, _pin_id(scl), _pin_id(sda), freq)


class PWM:
    def __init__(self, dest, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self._pin = _pin_id(dest)
        self._freq = 1000 if freq is None else freq
        self._duty = 0
        self._on = True
        _vb.mode[self._pin] = _vb.ALT
        self._set(duty_u16 if duty_u16 is not None else
                  (self._ns_to_u16(duty_ns) if duty_ns is not None else 0))

    def _set(self, duty):
        duty = int(duty)
        if not 0 <= duty <= 65535:
            raise ValueError("duty_u16 must be 0..65535")
        self._duty = duty
        self._on = True
        _j.pwm(self._pin, duty, self._freq)

    def _ns_to_u16(self, ns):
        return min(65535, ns * self._freq * 65535 // 1000000000)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self._freq = freq
        if duty_u16 is not None:
            self._set(duty_u16)
        elif duty_ns is not None:
            self._set(self._ns_to_u16(duty_ns))
        else:
            self._set(self._duty)

    def freq(self, f=None):
        if f is None:
            return self._freq
        if f <= 0:
            raise ValueError("freq must be > 0")
        if f != self._freq:
            self._freq = f
            if self._on:
                _j.pwm(self._pin, self._duty, f)

    def duty_u16(self, d=None):
        if d is None:
            return self._duty if self._on else 0
        if d != self._duty or not self._on:
            self._set(d)

    def duty_ns(self, ns=None):
        if ns is None:
            return self._duty * 1000000000 // (65535 * self._freq)
        self._set(self._ns_to_u16(ns))

    def deinit(self):
        if self._on:
            self._on = False
            _j.pwm(self._pin, 0, self._freq)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 12
    CORE_TEMP = 4

    def __init__(self, pin, *, atten=None):
        if _vb.PORT == "rp2" and isinstance(pin, int) and 0 <= pin <= 4:
            self._pin = 26 + pin  # rp2: ADC(0..3) read GPIO26..29, ADC(4) the sensor
        else:
            self._pin = _pin_id(pin)
        self._atten = atten

    def atten(self, a):
        self._atten = a

    def read_u16(self):
        _vb.sync()
        return _j.adc(self._pin)

    def read_uv(self):
        _vb.sync()
        return _j.adcuv(self._pin)

    def read(self):
        return self.read_u16() >> 4


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = _vb.gmtime(_j.rtc())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        _j.rtcset(_vb.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6])))

    def init(self, dt):
        self.datetime(dt)


class WDT:
    def __init__(self, id=0, timeout=5000):
        if _vb.PORT == "rp2" and not 1 <= timeout <= 8388:
            raise ValueError("timeout must be 1..8388 ms on rp2")
        if timeout < 1:
            raise ValueError("timeout must be >= 1 ms")
        _j.wdt(timeout)

    def feed(self):
        _j.feed()


# hardware timers of the esp32 chips (rp2 has only virtual ones: id -1)
_HW_TIMERS = {"esp32": 4, "esp32s3": 4, "esp32c3": 2}
_NO_ID = object()


class Timer:
    """A timer on the board's clock; its callback (called with the timer) is a soft
    IRQ, run as the ports run scheduled callbacks (see _vb). id -1 is a virtual timer
    (rp2 has only those); esp32 chips also have hardware timers 0..3 (ESP32-C3: 0..1).
    Stopped by deinit() and by any reset."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=_NO_ID, **kw):
        if id is _NO_ID:
            if _vb.PORT == "esp32":
                raise TypeError("function missing 1 required positional arguments")
            id = -1
        if not isinstance(id, int):
            raise TypeError("can't convert %s to int" % type(id).__name__)
        if id != -1 and not (_vb.PORT == "esp32" and 0 <= id < _HW_TIMERS.get(_P["chip"], 4)):
            raise ValueError("Timer doesn't exist" if _vb.PORT == "rp2" else "invalid Timer number")
        self._id = id
        self._key = 0
        self._cb = None
        self._mode = Timer.PERIODIC
        self._periodic = True
        self._period_us = 0
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, callback=None, period=None, tick_hz=1000, freq=None,
             hard=False):
        if mode not in (Timer.ONE_SHOT, Timer.PERIODIC):
            raise ValueError("invalid mode")
        if freq is not None:
            if freq <= 0:
                raise ValueError("freq must be positive")
            us = int(1000000 / freq)
        elif period is not None:
            if tick_hz <= 0:
                raise ValueError("tick_hz must be positive")
            us = period * 1000000 // tick_hz
        else:
            us = 0xFFFFFFFF * 1000  # no period given: as the ports, ~50 days
        if us < 1:
            us = 1
        self._mode = mode
        self._cb = callback
        self._period_us = us
        self._periodic = mode == Timer.PERIODIC
        _vb.timer_start(self, us, self._periodic)

    def deinit(self):
        _vb.timer_stop(self)

    def __repr__(self):
        return "Timer(mode=%s, period=%d, tick_hz=1000000)" % (
            "PERIODIC" if self._mode == Timer.PERIODIC else "ONE_SHOT", self._period_us)


def unique_id():
    return bytes.fromhex(_vb.CFG["uid"])


def freq(hz=None):
    if hz is None:
        return _FREQ.get(_P["chip"], 125000000)


def reset():
    _j.reset("machine.reset")


def soft_reset():
    raise SystemExit


def reset_cause():
    return _j.cause()


def bootloader(*args):
    _j.reset("machine.bootloader")


def idle():
    _vb.idle()


def lightsleep(ms=None):
    if ms is None:
        ms = 1 << 28  # until a pin wakes it (or for ever)
    _vb.sleep_us(ms * 1000, bool(_P.get("pin_wake")))


def deepsleep(ms=None):
    if ms is not None:
        _vb.sleep_us(ms * 1000)
    _j.reset("machine.deepsleep")


def disable_irq():
    _vb._irq_off += 1
    return _vb._irq_off - 1


def enable_irq(state=0):
    _vb._irq_off = state
