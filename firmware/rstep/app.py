"""retrostep on the board: IMU FIFO -> gait engine -> haptics and the logbook.

`main()` is what /main.py runs: it reads /config.json, picks the board profile, builds
the hardware objects and loops over `App.step()`, sleeping between FIFO batches.
`App` itself takes ready-made objects (an IMU driver, a Haptics, a Button, a Logbook, a
clock), so tests and the virtual board drive the same code with emulated parts.

The button (see rstep.button):
    short press   start a session / stop it (the session's summary is written)
    long press    calibration: stand still (one buzz) until two buzzes, then walk
                  forward a few strides; three buzzes: the mount's yaw is saved
    double press  the balance check: 10 steps forward, then 9 steps backward (the
                  backward steps count once the forward ones are done; it passes at
                  the 5th backward stride of this foot, 10 steps as the engine counts
                  both feet, and times out after BALANCE_TIMEOUT_MS); its result is
                  logged and felt (goal pattern if passed, error if not)

Haptics (rstep.haptics): start, stop, drift alert (left or right of the line: long
pulse first or last), back on the line, goal reached (backward minutes or steps of
the configuration), low battery, log off (it cannot be written), error.

Timing: the IMU's FIFO is read when its watermark (WATERMARK_S of samples) is due and
the loop sleeps in between (time.sleep_ms, or machine.lightsleep with the configuration's
power.light_sleep on a board that allows it), waking early only for the motor's
patterns and a held button; the FIFO holds ~5 watermarks, so a late wake loses nothing. Nothing in a step allocates once a session runs, except
the logbook's periodic free-space query.

When things fail, the device keeps counting:
- The IMU's bus: an I2C error beyond the driver's retries sets the IMU up again
  (IMU.reinit: reset, FIFO restarted), at once and then every IMU_RETRY_MS while the
  bus still fails. The samples the IMU took from the last read until it was reset are
  lost: counted (``lost``), logged as a gap and given to the engine as one
  (``Gait.gap``), so its time base stays right. A session whose IMU stays down for
  IMU_DOWN_WARN_MS buzzes the error pattern once.
- The log: a log that cannot be opened (/logs blocked by a file, the flash full,
  ENOSPC) or written (the logbook's write-failed or records-dropped flags) is off for
  the rest of the session, with the LOG_OFF pattern; steps, alerts, goals and the
  session go on. The next session tries again.
- Anything else: ``run_step`` catches the exception, appends its traceback to
  CRASH_FILE (kept under CRASH_MAX bytes, one older file beside it), gives the engine
  the samples that the failed round read as a gap, and the loop goes on. The
  CRASH_LIMIT-th crash within CRASH_WINDOW_MS ends main() without feeding the
  watchdog: it resets the board (a Ctrl-C from the laptop, instead, keeps it fed).
- /config.json: any problem with it is printed with the reason, and the defaults run.
"""

import sys
import time
from array import array

from . import boards, config, gait, haptics, logbook, sensor
from .button import DOUBLE, LONG, SHORT, Button
from .haptics import ticks_add, ticks_diff
from .imu import IMU

FW_VERSION = "0.1.0"
LOG_DIR = "/logs"

IDLE = 0
SESSION = 1
CAL_STILL = 2
CAL_WALK = 3
BALANCE = 4
STATE_NAMES = ("idle", "session", "cal_still", "cal_walk", "balance")

BATCH = 64  # samples read from the FIFO per read_fifo() call
WATERMARK_S = 0.5  # seconds of samples that wake the loop (FIFO depth is >= 2.4 s)
CAL_STILL_MS = 3000  # standing still at the start of a calibration
CAL_STRIDES = 4  # forward strides of the calibration walk
BALANCE_FORWARD = 10  # the balance check: steps forward, then backward
BALANCE_BACKWARD = 9
BALANCE_TIMEOUT_MS = 120000
BATTERY_EVERY_MS = 60000
LOW_BATTERY_MV = 3500
WDT_MS = 8000
IMU_RETRY_MS = 100  # while the IMU's bus fails: try to set the IMU up again this often
IMU_DOWN_WARN_MS = 10000  # the IMU down this long in a session: the error pattern, once
CRASH_FILE = "/crash.txt"  # what an unexpected exception in the loop leaves behind
CRASH_MAX = 4096  # bytes: a longer crash file becomes CRASH_FILE + ".old" (one kept)
CRASH_ENTRY_MAX = 1024  # bytes of one crash's report at most
CRASH_LIMIT = 5  # crashes within CRASH_WINDOW_MS: the loop gives up (watchdog reset)
CRASH_WINDOW_MS = 60000
CRASH_RETRY_MS = 50  # the loop's next round after a crash


class App:
    """The device's logic; `step(now_ms)` does one round and returns ms to sleep;
    `run_step(now_ms)` (what main() loops on) does the same, and survives what goes
    wrong in it (see the module docstring, "When things fail").

    clock_ms: the board's ms clock (time.ticks_ms), read when the IMU comes back after
    a bus failure (default: the time given to step()). crash_path: where run_step
    writes crashes (None: nowhere).
    """

    def __init__(self, imu, motor, button, log, cfg=None, clock_s=None, battery_mv=None,
                 wdt=None, board_id="", config_path=None, odr_hz=sensor.ODR_HZ,
                 accel_fs_g=sensor.ACCEL_FS_G, gyro_fs_dps=sensor.GYRO_FS_DPS,
                 clock_ms=None, crash_path=None):
        self.imu = imu
        self.motor = motor
        self.button = button
        self.log = log
        self.cfg = cfg if cfg is not None else config.defaults()
        self.clock_s = clock_s or time.time  # RTC seconds for the logbook
        self.battery_mv = battery_mv  # callable -> mV, or None
        self.wdt = wdt
        self.board_id = board_id
        self.config_path = config_path
        self.odr_hz = odr_hz
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.engine = gait.Gait(odr_hz, sensor.ACCEL_UG_PER_LSB[accel_fs_g],
                                sensor.GYRO_UDPS_PER_LSB[gyro_fs_dps],
                                **config.gait_settings(self.cfg))
        self.buf = array("h", [0] * (6 * BATCH))
        self.ev = array("i", [0] * gait.EV_FIELDS)
        self.state = IDLE
        self.sessions = 0
        self.samples = 0  # samples read from the IMU since boot
        self.session_first = 0  # self.samples when the session began
        self.lost = 0
        self._overruns = imu.overrun if imu is not None else 0
        self._last_read_ms = None
        self._state_ms = 0
        self._state_ms0 = 0  # when the session began
        self._goal_done = 0
        self._back_samples = 0  # time in backward bouts, in samples
        self._last_back_n = -1
        self._bal_back0 = -1
        self._next_battery_ms = 0
        self._low_battery = 0
        self.balance = None  # last balance check (forward steps, backward steps, passed)
        self._end_pattern = -1  # >= 0: end the session after this round, then buzz it
        self.watermark = max(1, int(odr_hz * WATERMARK_S))
        self.clock_ms = clock_ms
        self.crash_path = crash_path
        # the IMU's bus: errors beyond the driver's retries, and the IMU set up again
        self.imu_errors = 0
        self.imu_resets = 0
        self._imu_down = 0
        self._down_ms = 0  # when the last samples were read before the bus failed
        self._retry_ms = 0
        self._down_warned = 0
        self.gaps = 0  # gaps logged (overruns, bus failures, crashes)
        # the log: off for the rest of the session when it cannot be written
        self.log_off = 0
        self.log_failures = 0
        # unexpected exceptions in the loop
        self.crashes = 0
        self._crash_n = 0
        self._crash_t0 = 0
        self.last_crash = None

    # ------------------------------------------------------------------ sessions
    def start_session(self, now_ms, state=SESSION, pattern=haptics.START):
        eng = self.engine
        eng.reset()
        self.session_first = self.samples
        self._goal_done = 0
        self._back_samples = 0
        self._last_back_n = -1
        self._bal_back0 = -1  # balance check: backward steps when the forward part ended
        self.log_off = 0
        self._down_warned = 0
        try:
            self.log.open_session(start_s=int(self.clock_s()), board_id=self.board_id,
                                  fw_version=FW_VERSION, raw=self.cfg["log"]["raw"],
                                  odr_hz=self.odr_hz, accel_fs_g=self.accel_fs_g,
                                  gyro_fs_dps=self.gyro_fs_dps)
        except OSError:  # /logs blocked (a file in its place), the flash full: no log
            self.log_off = 1
        self.sessions += 1
        self.state = state
        self._state_ms = now_ms
        self._state_ms0 = now_ms
        if pattern:
            self.motor.play(pattern, now_ms)
        if self.log_off:
            self._log_failed(now_ms)
        else:
            self._check_log(now_ms)

    def stop_session(self, now_ms, pattern=haptics.STOP):
        if self.state == IDLE:
            return
        self._drain()
        self.engine.flush()  # a stride still waiting for its stance is decided now
        self._drain()
        self.log.close_session(logbook.engine_summary(self.engine), end_s=int(self.clock_s()))
        self.state = IDLE
        self._state_ms = now_ms
        if pattern:
            self.motor.play(pattern, now_ms)

    # ------------------------------------------------------------------ one round
    def step(self, now_ms):
        """Read the FIFO, run the engine, handle the button, the motor and the battery.

        Returns the number of ms the caller may sleep before the next step.
        """
        if self.wdt is not None:
            self.wdt.feed()
        self.motor.update(now_ms)  # first: the FIFO read below takes bus time
        self._read_imu(now_ms)
        if self._end_pattern >= 0:
            pattern = self._end_pattern
            self._end_pattern = -1
            self.stop_session(now_ms, pattern)
        ev = self.button.update(now_ms)
        while ev:
            self._on_button(ev, now_ms)
            ev = self.button.update(now_ms)
        self._timers(now_ms)
        if self.state != IDLE and not self.log_off:
            self._check_log(now_ms)
        self.motor.update(now_ms)
        return self._sleep_ms(now_ms)

    def run_step(self, now_ms):
        """step(), and what goes wrong in it is survived: an exception is written to
        the crash file, the loop's state is put right and the next round comes after
        CRASH_RETRY_MS. The CRASH_LIMIT-th crash within CRASH_WINDOW_MS is raised: the
        loop keeps failing, and main() then lets the watchdog reset the board."""
        try:
            return self.step(now_ms)
        except Exception as e:  # noqa: BLE001 - KeyboardInterrupt and SystemExit pass
            if self._crashed(e, now_ms):
                raise
            return CRASH_RETRY_MS

    # ------------------------------------------------------------------ the IMU
    def _read_imu(self, now_ms):
        imu = self.imu
        buf = self.buf
        eng = self.engine
        if self._imu_down:
            if ticks_diff(now_ms, self._retry_ms) < 0 or not self._imu_up(now_ms):
                return
        while True:
            running = self.state != IDLE and self._end_pattern < 0
            try:
                n = imu.read_fifo(buf, BATCH)
            except OSError:
                # the bus failed beyond the driver's retries: what the FIFO held, and
                # what comes until the IMU is set up again, is lost (a logged gap)
                self.imu_errors += 1
                self._imu_down = 1
                self._down_ms = now_ms if self._last_read_ms is None else self._last_read_ms
                self._imu_up(now_ms)
                return
            if imu.overrun != self._overruns:
                self._overruns = imu.overrun
                self._on_overrun(now_ms, n)
            self._last_read_ms = now_ms
            if n <= 0:
                break
            self.samples += n
            if running:
                done = 0
                while done < n:
                    done = eng.feed(buf, done, n)
                    self._drain()
                if self.log.raw:
                    self.log.append_raw(buf, n)
            if n < BATCH:
                break

    def _imu_up(self, now_ms):
        """Set the IMU up again after a bus failure; True when it is back. The samples
        it took since the last read (until its reset now) are counted lost."""
        try:
            self.imu.reinit()
        except OSError:
            self._retry_ms = ticks_add(now_ms, IMU_RETRY_MS)
            if self.state != IDLE and not self._down_warned and \
                    ticks_diff(now_ms, self._down_ms) >= IMU_DOWN_WARN_MS:
                self._down_warned = 1  # the device is not counting: say so, once
                self.motor.play(haptics.ERROR, now_ms)
            return False
        t = self.clock_ms() if self.clock_ms is not None else now_ms
        self._imu_down = 0
        self.imu_resets += 1
        self._overruns = self.imu.overrun
        self._last_read_ms = t
        # the samples of (last read, reset]: the data clock ran on while the bus was down
        lost = (ticks_diff(t, self._down_ms) * self.odr_hz + 500) // 1000
        self._lose(lost, t)
        return True

    def _on_overrun(self, now_ms, n_read):
        # samples lost: what the elapsed time should have brought, beyond what was read
        lost = 0
        if self._last_read_ms is not None:
            expected = ticks_diff(now_ms, self._last_read_ms) * self.odr_hz // 1000
            lost = expected - n_read
            if lost < 0:
                lost = 0
        self._lose(lost, now_ms)

    def _lose(self, lost, now_ms):
        """Samples lost: counted, and in a session a gap in the log and the engine's
        clock (so its time base stays right). A session that began after the samples
        were lost gets the part since its start only."""
        if lost <= 0:
            return
        self.lost += lost
        self.samples += lost
        if self.state != IDLE:
            since = ticks_diff(now_ms, self._state_ms0) * self.odr_hz // 1000
            if lost > since >= 0:
                lost = since
            if lost > 0:
                self.gaps += 1
                self.log.append_gap(self.engine.n, lost)
                self.engine.gap(lost)

    def _drain(self):
        eng = self.engine
        ev = self.ev
        log = self.log
        while eng.pop(ev):
            log.append_event(ev)
            t = ev[0]
            if t == gait.EV_DRIFT:  # ev[4]: lateral mm, + = the walker is left
                self.motor.play(haptics.drift_pattern(ev[4]))
            elif t == gait.EV_ON_LINE:
                self.motor.play(haptics.ON_LINE)
            elif t == gait.EV_STRIDE:
                self._on_stride(ev)
            elif t == gait.EV_CALIBRATED:
                self._on_calibrated(ev)

    def _on_stride(self, ev):
        if ev[2] == gait.BACKWARD:
            if self._last_back_n >= 0 and ev[1] - self._last_back_n < 3 * self.odr_hz:
                self._back_samples += ev[1] - self._last_back_n
            self._last_back_n = ev[1]
        else:
            self._last_back_n = -1
        if self.state == SESSION and not self._goal_done:
            goals = self.cfg["goals"]
            minutes = goals["backward_min"]
            steps = goals["steps"]
            if (minutes and self._back_samples >= minutes * 60 * self.odr_hz) or \
                    (steps and self.engine.steps >= steps):
                self._goal_done = 1
                self.motor.play(haptics.GOAL)
        if self.state == BALANCE and self._end_pattern < 0:
            # 10 steps forward, THEN 9 backward: backward steps count from the stride
            # that completed the forward part. The engine counts 2 steps per stride of
            # this foot, so 9 backward steps (5 of this foot, 4 of the other) are 5
            # strides: 10 counted; 8 counted (4 strides) are 7 or 8 steps, not 9.
            eng = self.engine
            if self._bal_back0 < 0:
                if eng.forward_steps >= BALANCE_FORWARD:
                    self._bal_back0 = eng.backward_steps
            elif eng.backward_steps - self._bal_back0 >= BALANCE_BACKWARD:
                self._finish_balance(True)

    def _on_calibrated(self, ev):
        yaw_deg = (ev[4] * 360 + 32768) // 65536
        if yaw_deg >= 360:
            yaw_deg -= 360
        self.cfg["mount"]["yaw_deg"] = yaw_deg if yaw_deg < 180 else yaw_deg - 360
        self.engine.set_mount(ev[4])
        self._end_pattern = haptics.CAL_DONE
        if self.config_path:
            try:
                config.save(self.config_path, self.cfg)
            except (OSError, ValueError):
                self._end_pattern = haptics.ERROR

    def _finish_balance(self, done):
        eng = self.engine
        back = eng.backward_steps - self._bal_back0 if self._bal_back0 >= 0 else 0
        passed = done and eng.forward_steps >= BALANCE_FORWARD and back >= BALANCE_BACKWARD
        self.balance = (eng.forward_steps, back, passed)
        self.log.append_balance(eng.n, eng.n, eng.forward_steps, back,
                                1 if passed else 0, eng.lateral_mm,
                                BALANCE_FORWARD, BALANCE_BACKWARD)
        self._end_pattern = haptics.GOAL if passed else haptics.ERROR

    # ------------------------------------------------------------------ the log
    def _check_log(self, now_ms):
        # the logbook gave up writing (full flash, failing writes) or drops records
        if self.log.flags & (logbook.FLAG_WRITE_FAILED | logbook.FLAG_EVENTS_DROPPED):
            self.log_off = 1
            self._log_failed(now_ms)

    def _log_failed(self, now_ms):
        """Logging is off for this session; steps, alerts and the session go on."""
        self.log_failures += 1
        self.motor.play(haptics.LOG_OFF, now_ms)

    # ------------------------------------------------------------------ crashes
    def _crashed(self, exc, now_ms):
        """Write the crash down and put the loop's state right; True: give up."""
        self.crashes += 1
        if not self._crash_n or ticks_diff(now_ms, self._crash_t0) > CRASH_WINDOW_MS:
            self._crash_n = 0
            self._crash_t0 = now_ms
        self._crash_n += 1
        text = crash_report(exc, "crash %d at %d ms: state %s, session %d, steps %d"
                            % (self.crashes, now_ms, STATE_NAMES[self.state],
                               self.sessions, self.engine.steps))
        self.last_crash = text
        print(text)
        if self.crash_path:
            write_crash(self.crash_path, text)
        if self._crash_n >= CRASH_LIMIT:
            return True
        try:
            self._recover(now_ms)
        except Exception:  # noqa: BLE001 - the next rounds count as crashes then
            pass
        return False

    def _recover(self, now_ms):
        # samples read but never given to the engine (the exception came between):
        # a gap, so the engine's clock stays right
        if self.state != IDLE:
            missing = self.samples - self.session_first - self.engine.n
            if missing > 0:
                self.gaps += 1
                self.log.append_gap(self.engine.n, missing)
                self.engine.gap(missing)
            self.log.flush()
        self.motor.update(now_ms)

    # ------------------------------------------------------------------ button
    def _on_button(self, ev, now_ms):
        state = self.state
        if ev == SHORT:
            if state == IDLE:
                self.start_session(now_ms)
            else:
                self.stop_session(now_ms)
        elif ev == LONG and state == IDLE:
            # calibration: the engine learns the gyro bias standing still, then the
            # mount's yaw from a forward walk
            self.start_session(now_ms, CAL_STILL, haptics.CAL_STILL)
        elif ev == DOUBLE and state == IDLE:
            self.start_session(now_ms, BALANCE, haptics.START)

    def _timers(self, now_ms):
        state = self.state
        age = ticks_diff(now_ms, self._state_ms)
        if state == CAL_STILL and age >= CAL_STILL_MS:
            self.engine.calibrate(CAL_STRIDES)
            self.state = CAL_WALK
            self._state_ms = now_ms
            self.motor.play(haptics.CAL_WALK, now_ms)
        elif state == BALANCE and age >= BALANCE_TIMEOUT_MS and self._end_pattern < 0:
            self._finish_balance(False)
        if self.battery_mv is not None and ticks_diff(now_ms, self._next_battery_ms) >= 0:
            self._next_battery_ms = ticks_add(now_ms, BATTERY_EVERY_MS)
            mv = self.battery_mv()
            if mv < LOW_BATTERY_MV and not self._low_battery:
                self._low_battery = 1
                self.motor.play(haptics.LOW_BATTERY, now_ms)
            elif mv >= LOW_BATTERY_MV + 100:
                self._low_battery = 0

    def _sleep_ms(self, now_ms):
        # until the FIFO holds a watermark's worth of samples again
        ms = self.watermark * 1000 // self.odr_hz
        d = self.motor.due_ms(now_ms)
        if 0 <= d < ms:
            ms = d
        if self.button.pressed() or self.button._pending:
            ms = min(ms, 20)  # time long presses and double presses
        if self._imu_down:
            d = ticks_diff(self._retry_ms, now_ms)
            if d < ms:
                ms = d if d > 0 else 0
        return ms


# ---------------------------------------------------------------------------- board
_running = None  # the App that main() runs, for status()


def status():
    """The running device's counters (for a REPL, or the virtual board's report)."""
    a = _running
    if a is None:
        return None
    e = a.engine
    return {"state": STATE_NAMES[a.state], "sessions": a.sessions, "samples": a.samples,
            "session_first": a.session_first,
            "lost": a.lost, "steps": e.steps, "forward_steps": e.forward_steps,
            "backward_steps": e.backward_steps, "strides": e.strides, "alerts": e.alerts,
            "overruns": a.imu.overrun, "imu_errors": a.imu_errors,
            "imu_resets": a.imu_resets, "gaps": a.gaps, "log_off": a.log_off,
            "log_failures": a.log_failures, "crashes": a.crashes,
            "balance": list(a.balance) if a.balance else None}


def crash_report(exc, head):
    """One crash's text: a head line and the exception's traceback, at most
    CRASH_ENTRY_MAX bytes."""
    import io

    s = io.StringIO()
    s.write(head + "\n")
    try:
        if hasattr(sys, "print_exception"):  # MicroPython
            sys.print_exception(exc, s)
        else:  # CPython (tests)
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__, file=s)
    except Exception:  # noqa: BLE001 - the head line is still worth keeping
        s.write("%s\n" % type(exc).__name__)
    text = s.getvalue()
    if len(text) > CRASH_ENTRY_MAX:
        text = text[: CRASH_ENTRY_MAX - 5] + "...\n"
    return text


def write_crash(path, text):
    """Append a crash's text to the crash file; past CRASH_MAX bytes the file first
    becomes path + ".old" (replacing the one before). Never raises."""
    import os

    try:
        try:
            size = os.stat(path)[6]
        except OSError:
            size = 0
        if size + len(text) > CRASH_MAX:
            old = path + ".old"
            try:
                os.remove(old)
            except OSError:
                pass
            os.rename(path, old)
        with open(path, "a") as f:
            f.write(text)
    except Exception:  # noqa: BLE001 - a full or failing flash: the console has it
        pass


def _keep_fed(machine, wdt):
    """The watchdog cannot be stopped once started (rp2, esp32): when the loop ends
    (Ctrl-C from the laptop for a sync or deploy), a timer keeps feeding it so the REPL
    session is not cut by a reset. Where no timer exists, the reset comes after WDT_MS."""
    for tid in (-1, 0):
        try:
            return machine.Timer(tid, period=WDT_MS // 4, mode=machine.Timer.PERIODIC,
                                 callback=lambda t: wdt.feed())
        except (AttributeError, TypeError, ValueError, OSError):
            pass
    return None


def battery_reader(adc, divider, adc_max_mv, calibrated_uv=False):
    """A function giving the battery voltage in mV through the board's divider.

    On ESP32 chips the ADC is set to 11 dB and read calibrated (read_uv()); on the
    RP2040 read_u16() spans 0..adc_max_mv (3.3 V).
    """
    if calibrated_uv:
        def read():
            return adc.read_uv() * divider // 1000
    else:
        def read():
            return adc.read_u16() * adc_max_mv * divider // 65535
    return read


def open_imu(i2c, tries=5, wait_ms=100):
    """The IMU on the bus, asked again a few times while the bus fails (a burst of
    errors at power-on); a bus with no IMU at all raises IMUNotFoundError."""
    k = 0
    while True:
        try:
            return IMU(i2c)  # found by WHO_AM_I, reset and configured from rstep.sensor
        except OSError:
            k += 1
            if k >= tries:
                raise
            time.sleep_ms(wait_ms)


def _close(app, motor):
    # the session saved, the motor off; whatever fails here must not hide the reason
    # the loop ended
    try:
        app.stop_session(time.ticks_ms())
    except Exception:  # noqa: BLE001
        pass
    try:
        motor.deinit()
    except Exception:  # noqa: BLE001
        pass


def main(config_path=config.PATH, log_dir=LOG_DIR):
    """Run the device (what /main.py calls). Ctrl-C stops it with the session saved."""
    import machine

    cfg, problem = config.load_or_defaults(config_path)
    if problem:
        print("retrostep: %s; running with the defaults" % problem)
    name = cfg["board"]
    if name == config.AUTO:
        name = boards.detect()
        if name is None:
            raise ValueError("board not recognised: set \"board\" in %s to one of %s"
                             % (config_path, ", ".join(boards.names())))
    b = dict(boards.get(name))
    b.update(cfg["pins"])
    Pin = machine.Pin
    i2c = machine.I2C(b["i2c"], scl=Pin(b["scl"]), sda=Pin(b["sda"]), freq=400000)
    imu = open_imu(i2c)
    motor = haptics.Haptics(Pin(b["motor"], Pin.OUT), machine.PWM,
                            strength_pct=cfg["haptics"]["strength_pct"])
    button = Button(Pin(b["button"], Pin.IN, Pin.PULL_UP), irq=True)
    battery = None
    if b["battery_adc"] is not None:
        if b["port"] == "esp32":  # default attenuation reads only ~1 V: use 11 dB
            adc = machine.ADC(Pin(b["battery_adc"]), atten=machine.ADC.ATTN_11DB)
            battery = battery_reader(adc, b["battery_divider"], b["adc_max_mv"], True)
        else:
            battery = battery_reader(machine.ADC(Pin(b["battery_adc"])),
                                     b["battery_divider"], b["adc_max_mv"])
    log = logbook.Logbook(log_dir, flush_every=cfg["log"]["flush_every"])
    board_id = "".join("%02x" % x for x in machine.unique_id())
    wdt = machine.WDT(timeout=WDT_MS)
    app = App(imu, motor, button, log, cfg, battery_mv=battery, wdt=wdt,
              board_id=board_id, config_path=config_path, clock_ms=time.ticks_ms,
              crash_path=CRASH_FILE)
    global _running
    _running = app
    # light sleep (where the port wakes from it on the button and INT1 pins) saves the
    # most power but drops the USB serial link; plain sleep_ms idles the core
    sleep = time.sleep_ms
    if cfg["power"]["light_sleep"] and b["light_sleep"]:
        sleep = machine.lightsleep
    try:
        while True:
            # sleep until the FIFO has a watermark's worth, or the motor or a held
            # button needs the loop; the FIFO holds several times that, so a late
            # wake-up loses nothing
            sleep(app.run_step(time.ticks_ms()))
    except (KeyboardInterrupt, SystemExit):
        # the laptop stops the loop (a sync, a deploy): the REPL must not be cut
        _close(app, motor)
        _keep_fed(machine, wdt)
        raise
    except BaseException:
        # the loop keeps failing (run_step gave up; see the crash file): the watchdog,
        # no longer fed, resets the board; a board without one is reset after as long
        _close(app, motor)
        print("retrostep: the loop keeps failing (%s): the watchdog resets the board"
              % CRASH_FILE)
        time.sleep_ms(WDT_MS + 2000)
        machine.reset()
        raise
