# The virtual board's core, its "ROM": the hardware behind `machine` and `time`.
#
# Runs inside the MicroPython VM of the virtual board (retrostep.vm.vboard), mounted
# read-only at /rom/vb, which the board's loader puts first in sys.path. The firmware
# never imports this module: it sees only `machine` and `time`, like on a real port.
#
# The clock lives in JavaScript (module _vbjs, the worker thread that runs the VM):
# world time in microseconds, which keeps running across resets. The emulated
# hardware (the LSM6DS register file and FIFO from retrostep.sim.lsm6ds_emu, the pins and
# their IRQs) lives here and lags the clock: it is brought up to date ("synced") when
# the firmware touches it (an I2C transfer, a pin read), when it sleeps, and when a
# hardware event is due while the firmware only reads the clock. Reading the clock
# costs CPU_US of simulated time, so a busy-wait on ticks_ms() ends as on a board.
#
# machine.Timer runs on the same clock (its expiries are kept by the worker, see
# board/timers.mjs); its callbacks are soft IRQs, as on the rp2 and esp32 ports: run
# one at a time by run_timers at the points where a port runs pending scheduled
# callbacks: at a clock read once one is due, in the sleeps (which step to each
# expiry), and while the board waits for serial input (the worker calls run_timers).
#
# This VM never collects garbage while one top-level call runs (main.py's loop is
# one), so the paths the firmware calls often allocate as little as they can. The
# emulator's time arithmetic needs big ints: those run with the firmware's heap lock
# lifted (a real board's hardware does not use the heap either) and put back after.

import json
import sys

import micropython
import _vbjs as _j

_tms = _j.tms
_tus = _j.tus
_tms0 = _j.tms0
_tus0 = _j.tus0
_adv = _j.adv
_pend = _j.pend
_hwadv = _j.hwadv
_irqctx = _j.irq
_setdue = _j.setdue
_cpu = _j.cpu
_btn = _j.btn
_btnnext = _j.btnnext
_seek = _j.seek
_s = _j.s
_tstart = _j.tstart
_tstop = _j.tstop
_tdue = _j.tdue
_tnext = _j.tnext
_heap_lock = micropython.heap_lock
_heap_unlock = micropython.heap_unlock

CFG = json.loads(_j.cfg())
PROFILE = CFG["profile"]
PORT = PROFILE["port"]
BUTTON = PROFILE["button"]
INT1 = PROFILE["int1"]
STEP_MAX = 1 << 28  # longest single clock step, in us (small int on 32-bit ports)

# the VM's own time module (the loader imports it first, then lets /rom/vb/time.py
# replace it): its ticks arithmetic is MicroPython's C code, with the ports' period
_vm_time = sys.modules["time"]
TICKS_ADD = _vm_time.ticks_add
TICKS_DIFF = _vm_time.ticks_diff

# pin modes, pulls and IRQ triggers with the values of the port being emulated
IN = 0
OUT = 1
OPEN_DRAIN = 2
ALT = 3
if PORT == "esp32":
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2
    IRQ_LOW_LEVEL = 4
    IRQ_HIGH_LEVEL = 5
else:  # rp2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_LOW_LEVEL = 1
    IRQ_HIGH_LEVEL = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

# ------------------------------------------------------------------------ the IMU
from _vbhw.lsm6ds_emu import EmuI2C, LSM6DSEmu  # noqa: E402

_sample = [0, 0, 0, 0, 0, 0]


def _source(i):
    # The sample of the emulator's next data tick. The trace is placed on the world
    # clock by the worker (tick j after the data clock's origin, at its rate), so the
    # emulator's internal tick count is used rather than its running sample index.
    if not _seek(_imu._ticks + 1):
        return None  # end of the trace: the IMU delivers no more data
    s = _sample
    s[0] = _s(0)
    s[1] = _s(1)
    s[2] = _s(2)
    s[3] = _s(3)
    s[4] = _s(4)
    s[5] = _s(5)
    return s


_imu = LSM6DSEmu(CFG["imu"], addr=CFG["imu_addr"], source=_source)
BUS = EmuI2C(_imu)
EMPTY_BUS = EmuI2C(())


def _set_faults(spec):
    # VirtualBoard(i2c_faults=...): seconds on the trace's time base (the IMU's first
    # data clock start) -> the bus's microseconds
    if not spec:
        return
    outages = [(int(a * 1000000), int(b * 1000000)) for a, b in spec.get("outages", ())]
    bursts = None
    if spec.get("bursts"):
        bursts = {}
        for k, v in spec["bursts"].items():
            if k in ("t0_s", "t1_s"):
                bursts[k[:2] + "_us"] = int(v * 1000000) if v >= 0 else -1
            else:
                bursts[k] = v
    BUS.set_faults(outages, bursts)


_set_faults(CFG.get("i2c_faults"))
_rate_seen = -1
_origin_seen = -1


def imu_stats():
    return {"chip": _imu.personality, "samples": _imu.sample_index,
            "words_lost": _imu.lost_words, "exhausted": _imu.exhausted,
            "i2c_transactions": BUS.transactions, "i2c_errors": BUS.errors_injected,
            "i2c_bursts": BUS.bursts_done, "i2c_longest_burst": BUS.longest_burst}


def _data_clock_check():
    # after a register write: tell the worker when the data clock (re)started
    global _rate_seen, _origin_seen
    r = _imu._rate
    o = _imu._origin_us
    if r != _rate_seen or o != _origin_seen:
        _rate_seen = r
        _origin_seen = o
        _j.origin(r)


def _next_tick_us():
    # microseconds from now to the emulator's next data tick, -1 if none
    e = _imu
    r = e._rate
    if not r or e.exhausted:
        return -1
    j = e._ticks + 1
    return e._origin_us + (j * 1000000000 + r - 1) // r - e.now_us


# ------------------------------------------------------------------------ pins
mode = {}  # pin -> IN / OUT / OPEN_DRAIN / ALT
pull = {}  # pin -> PULL_UP / PULL_DOWN / None
out = {}  # pin -> level driven by the firmware
handlers = {}  # pin -> (handler, trigger, Pin object)
_last = {}  # pin -> level last seen by the IRQ logic
_irq_off = 0  # machine.disable_irq() depth
_in_irq = 0
_woke = 0  # a pin IRQ fired (ends a lightsleep on boards with pin wake)


def level(p):
    """The level the firmware reads on pin p, at the hardware's time."""
    m = mode.get(p, IN)
    if m == OUT:
        return out.get(p, 0)
    if p == BUTTON:  # the button pulls the pin to GND while pressed
        if not _btn():
            return 0
    elif p == INT1:  # INT1 is push-pull, active high
        return 1 if _imu.int1 else 0
    elif m == OPEN_DRAIN and not out.get(p, 1):
        return 0
    return 1 if pull.get(p) == PULL_UP else 0


def watch(p, handler, trigger, pin_obj):
    if handler is None:
        handlers.pop(p, None)
        return
    handlers[p] = (handler, trigger, pin_obj)
    _last[p] = level(p)


def _check_pins():
    global _in_irq, _woke
    if _in_irq or _irq_off:
        return
    for p in handlers:
        h = handlers[p]
        v = level(p)
        was = _last.get(p, v)
        if v == was:
            continue
        _last[p] = v
        trig = h[1]
        if (v and trig & IRQ_RISING) or (not v and trig & IRQ_FALLING):
            _woke = 1
            _in_irq = 1
            _irqctx(1)
            try:
                h[0](h[2])
            finally:
                _irqctx(0)
                _in_irq = 0


def _next_event_us():
    # microseconds from the hardware's time to its next event the firmware can see
    # without asking (an IRQ edge), -1 if none
    n = -1
    if BUTTON in handlers:
        n = _btnnext()
    if INT1 in handlers:
        t = _next_tick_us()
        if t >= 0 and (n < 0 or t < n):
            n = t
    return n


# ------------------------------------------------------------------------ sync
def unlock():
    """Lift the firmware's heap lock; returns its depth for relock()."""
    _heap_lock()
    d = _heap_unlock()
    n = d
    while n:
        _heap_unlock()
        n -= 1
    return d


def relock(d):
    while d:
        _heap_lock()
        d -= 1


def _hw_to(dt):
    # advance the hardware by dt us, stopping at every edge a handler waits for
    while dt > 0:
        step = dt if dt < STEP_MAX else STEP_MAX
        n = _next_event_us()
        if 0 <= n < step:
            step = n
        if step > 0:
            _imu.advance_us(step)
            _hwadv(step)
            dt -= step
        _check_pins()
        if step == 0:  # an event exactly now: handled; move past it
            _imu.advance_us(1)
            _hwadv(1)
            dt -= 1
            _check_pins()


def sync():
    """Bring the hardware up to the clock (the firmware is about to look at it)."""
    d = unlock()
    try:
        dt = _pend(STEP_MAX)
        while dt > 0:
            _hw_to(dt)
            dt = _pend(STEP_MAX)
        n = _next_event_us()
        _setdue(n)
    finally:
        relock(d)


def hw_begin():
    """Before an I2C transfer: heap lock lifted, hardware synced. Returns the depth."""
    d = unlock()
    dt = _pend(STEP_MAX)
    while dt > 0:
        _hw_to(dt)
        dt = _pend(STEP_MAX)
    return d


def hw_end(d, nbytes, freq, wrote):
    """After an I2C transfer of nbytes at freq Hz: bus time, INT1, heap lock."""
    try:
        if wrote:
            _data_clock_check()
        # 9 bits per byte, plus start/stop and the address phases
        _cpu((nbytes + 3) * 9000000 // freq + 5)
        _check_pins()
        _setdue(_next_event_us())
    finally:
        relock(d)


# ------------------------------------------------------------------------ timers
timers = {}  # key -> machine.Timer running (kept alive, as a port's timer list does)
_tkey = 0
_in_sched = 0  # a timer callback runs: callbacks do not nest


def timer_start(t, period_us, periodic):
    global _tkey
    timer_stop(t)
    _tkey += 1
    t._key = _tkey
    timers[_tkey] = t
    _tstart(_tkey, period_us, 1 if periodic else 0)


def timer_stop(t):
    k = t._key
    if k:
        t._key = 0
        timers.pop(k, None)
        _tstop(k)


def run_timers():
    """Run the callbacks of the timers that are due, as a port's scheduler runs soft
    IRQs: one after the other, never nested; an exception is printed, not raised."""
    global _in_sched
    if _in_sched:
        return
    _in_sched = 1
    try:
        k = _tdue()
        while k > 0:
            t = timers.get(k)
            if t is not None:
                if not t._periodic:
                    t._key = 0
                    del timers[k]
                cb = t._cb
                if cb is not None:
                    try:
                        cb(t)
                    except BaseException as e:  # noqa: BLE001 - printed, as a port does
                        print_exception(e)
            k = _tdue()
    finally:
        _in_sched = 0


# ------------------------------------------------------------------------ time
def ticks_ms():
    t = _tms()
    if t < 0:  # a hardware event or a timer is due: let its IRQ or callback run first
        sync()
        if timers:
            run_timers()
        t = _tms0()
    return t


def ticks_us():
    t = _tus()
    if t < 0:
        sync()
        if timers:
            run_timers()
        t = _tus0()
    return t


def sleep_us(us, wake=False):
    """Let us microseconds of simulated time pass, running IRQs at their times.
    With wake=True (lightsleep on a board whose pins wake it) an IRQ ends it early."""
    global _woke
    d = unlock()
    try:
        _woke = 0
        dt = _pend(STEP_MAX)  # first catch up with time already spent computing
        while dt > 0:
            _hw_to(dt)
            dt = _pend(STEP_MAX)
        while us > 0:
            step = us if us < STEP_MAX else STEP_MAX
            n = _next_event_us()
            if 0 < n < step:
                step = n
            tm = timers and not _in_sched
            if tm:  # a timer's expiry: its callback runs then
                n = _tnext()
                if 0 <= n < step:
                    step = n
            r = _adv(step)
            us -= step
            _hw_to(_pend(STEP_MAX))
            if tm:
                relock(d)  # the callback runs with the firmware's heap lock
                run_timers()
                d = unlock()
            if r:
                if r & 2:
                    finish("trace_end")
                if r & 1:  # Ctrl-C: KeyboardInterrupt is raised on return
                    break
            if wake and _woke:
                break
        _setdue(_next_event_us())
    finally:
        relock(d)


def sleep_ms(ms):
    sleep_us(ms * 1000)


def idle():
    # like a core waiting for an interrupt: returns at the next event, or after 1 ms
    n = _next_event_us()
    sleep_us(n if 0 < n < 1000 else 1000)


# calendar (MicroPython's embedded ports count seconds from 2000-01-01)
def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 730425  # 730425: days from 0000-03-01 to 2000-01-01


def _civil_from_days(z):
    z += 730425  # days from 0000-03-01 to 2000-01-01
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def mktime(t):
    return (_days_from_civil(t[0], t[1], t[2]) * 86400 + t[3] * 3600 + t[4] * 60 + t[5])


def gmtime(secs=None):
    if secs is None:
        secs = _j.rtc()
    secs = int(secs)
    days = secs // 86400
    s = secs - days * 86400
    y, m, d = _civil_from_days(days)
    wd = (days + 5) % 7  # 2000-01-01 was a Saturday; Monday is 0
    yd = days - _days_from_civil(y, 1, 1) + 1
    return (y, m, d, s // 3600, (s // 60) % 60, s % 60, wd, yd)


def time():
    return _j.rtc()


def time_ns():
    return _j.rtc() * 1000000000 + (ticks_us() % 1000000) * 1000


# ------------------------------------------------------------------------ the end
def finish(reason):
    # the run is over (trace played and its grace period passed): report what the
    # firmware says about itself, if it says anything, and the IMU's counters
    status = None
    hook = CFG.get("status_hook") or ""
    if ":" in hook:
        modname, fname = hook.split(":", 1)
        m = sys.modules.get(modname)
        f = getattr(m, fname, None) if m is not None else None
        if f is not None:
            try:
                status = f()
            except Exception as e:  # noqa: BLE001 - reported, not raised
                status = {"error": "%s: %s" % (type(e).__name__, e)}
    try:
        text = json.dumps({"reason": reason, "status": status, "imu": imu_stats()})
    except (TypeError, ValueError):
        text = json.dumps({"reason": reason, "status": repr(status), "imu": imu_stats()})
    _j.finish(text)


def print_exception(e):
    """The traceback as the board prints it: frames inside the virtual hardware are C
    code on a real board, so they are left out."""
    import io

    s = io.StringIO()
    sys.print_exception(e, s)
    text = "".join(line + "\n" for line in s.getvalue().split("\n")
                   if line and not line.startswith('  File "/rom/vb/'))
    sys.stdout.write(text)
    return text


def run_file(name):
    """Run /boot.py or /main.py as the board does (pyexec_file): in __main__'s globals,
    Ctrl-C enabled; tracebacks printed as the board prints them. Returns 1 when it
    ran to its end (or is missing), 0 after an exception, 0x100 after SystemExit."""
    import os

    try:
        os.stat(name)
    except OSError:
        return 1
    import __main__

    with open(name) as f:
        src = f.read()
    micropython.kbd_intr(3)
    try:
        exec(compile(src, name, "exec"), __main__.__dict__)
        r = 1
    except SystemExit:
        r = 0x100
    except BaseException as e:  # noqa: BLE001 - the board prints it and goes on
        micropython.kbd_intr(-1)
        text = print_exception(e)
        if name == "main.py":
            _j.mainend(0, text)
        return 0
    finally:
        micropython.kbd_intr(-1)
    if name == "main.py":
        _j.mainend(r, "")
    return r


# ------------------------------------------------------------------------ os
def statvfs(path):
    # littlefs-like figures from the board's flash size (the VM's own are made up)
    if path == "/rom" or path.startswith("/rom/"):
        return (4096, 4096, 0, 0, 0, 0, 0, 0, 1, 255)
    b = _j.fsblocks()
    f = _j.fsfree()
    return (4096, 4096, b, f, f, 0, 0, 0, 0, 255)


_vm_ilistdir = None  # the VM's os.ilistdir (set by the loader)
_vm_stat = None


def ilistdir(path=""):
    # littlefs and FAT give each entry's size as a 4th item (mpremote's fs ls shows
    # it); the VM's VfsPosix does not: add it
    pre = path if not path or path.endswith("/") else path + "/"
    for e in _vm_ilistdir(path) if path else _vm_ilistdir():
        if len(e) > 3:
            yield e
            continue
        size = 0
        if e[1] == 0x8000:
            try:
                size = _vm_stat(pre + e[0])[6]
            except OSError:
                pass
        yield (e[0], e[1], e[2], size)


class _Uname:
    def __init__(self, sysname, nodename, release, version, machine):
        self.sysname = sysname
        self.nodename = nodename
        self.release = release
        self.version = version
        self.machine = machine

    def __getitem__(self, i):
        return (self.sysname, self.nodename, self.release, self.version, self.machine)[i]

    def __len__(self):
        return 5

    def __repr__(self):
        return ("(sysname=%r, nodename=%r, release=%r, version=%r, machine=%r)"
                % (self.sysname, self.nodename, self.release, self.version, self.machine))


_UNAME = _Uname(PORT, PORT, "%d.%d.%d" % sys.implementation.version[:3],
                "v%d.%d.%d (retrostep virtual board)" % sys.implementation.version[:3],
                CFG["machine"])


def uname():
    return _UNAME
