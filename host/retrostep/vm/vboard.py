"""The virtual board: the unmodified firmware on the real MicroPython VM, hardware emulated.

`retrostep sim --trace walk.csv` boots a virtual board as a real one boots (boot.py,
then main.py, then the REPL) from a folder that stands for its flash, feeds the trace
to the firmware through an emulated LSM6DS IMU (FIFO, watermark, INT1), presses the
button when told to, records the motor, and serves the board's USB REPL on a loopback
socket, so the real mpremote works unchanged::

    mpremote connect socket://127.0.0.1:PORT fs ls
    mpremote connect socket://127.0.0.1:PORT exec "import os; print(os.listdir('/logs'))"

Pieces (files in retrostep/vm/board/):

- host.mjs: Node main thread; the socket, and the worker running the board.
- worker.mjs: the worker thread running the VM (npm
  @micropython/micropython-webassembly-pyscript, pinned in package.json); it wires
  the modules beside it: clock.mjs (the simulated clock), serial.mjs (the serial
  line; Ctrl-C interrupts running code), boot.mjs (the boot sequence and resets),
  repl.mjs (the REPL, raw-paste mode included), flash.mjs (the flash), trace.mjs
  (the IMU's samples), button.mjs (the button script), pins.mjs (motor and pin
  timelines, ADC), rtc.mjs, watchdog.mjs, timers.mjs (machine.Timer's expiries),
  resets.mjs, run.mjs (the run's end and report), hooks.mjs (the VM's calls into
  them), common.mjs (what they share).
- lib/: the board's "ROM", mounted read-only at /rom/vb and first in sys.path. What a
  port builds in, replacing the VM's own: `machine`, `time`, `sys` (platform and
  implementation._machine name the emulated board, as on hardware), `binascii` (the
  C one), `os.uname`, `os.statvfs` and `os.ilistdir` (sizes, as littlefs gives them);
  `_vb`, the emulated hardware; retrostep.sim.lsm6ds_emu runs there, inside the VM.

Time: simulated, as fast as the VM runs (``realtime=True`` paces it to the wall
clock). The trace's t = 0 is the moment the firmware starts the IMU's data clock,
unless ``trace_start_s`` puts it at that many seconds after power-on. While the board
sits in its REPL waiting for input, its time passes with the wall clock (a running
watchdog still bites). machine.Timer runs on this clock; its callbacks are soft IRQs
as on rp2 and esp32: they run when Python reads the clock or sleeps, and while the
REPL (or a sys.stdin read) waits for input, so a watchdog fed by a timer survives a
REPL session; every reset, soft or hard, ends the timers (not the watchdog, which
rp2 and esp32 cannot stop: mpremote's soft reset before its first command, unless
``resume``, leaves a watchdog unfed). When the trace has played and ``grace_s``
more seconds passed, the board reports (see `VirtualBoard.report`) and stops, or
with ``serve`` goes on serving its REPL, at the wall clock's pace.

The flash folder is written back after every REPL command, every 2 s while main.py
runs, at resets and at the end; names a host file system may refuse are
percent-encoded ("a:b" is stored as "a%3Ab"). Change it from the host only while the
board is stopped (or through mpremote): the board's copy wins.

Limits: Ctrl-C (and the watchdog, and the end of the run) reach code only when it
touches the board (clock, sleep, I2C, pins, print): a bare ``while True: pass`` cannot
be interrupted, only stopped. This VM build frees garbage only when a top-level call
returns (between REPL commands), never inside main.py's loop, and grows its heap
instead of raising MemoryError: allocation-free firmware is unaffected (30 simulated
minutes of the firmware: 86 MB for Node, flat). Raw-paste code must not contain the
bytes 0x01-0x04 (mpremote never sends them). `input()` does not work in this VM.

Library use (tests do this)::

    with VirtualBoard("/tmp/flash", trace="walk.csv", presses=["1:short"]) as vb:
        print(vb.url)              # socket://127.0.0.1:PORT, for mpremote
        print(vb.report())         # waits for the end of the run
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from retrostep.errors import RetrostepError
from retrostep.formats.samples import int16_bytes
from retrostep.schema import add_counts
from retrostep.firmware import boards, sensor

HERE = Path(__file__).resolve().parent / "board"
HOST = HERE / "host.mjs"
LIB = HERE / "lib"
DEFAULT_BOARD = "pico"
DEFAULT_DIR = ".retrostep-vboard"
IMUS = {"dsox": "LSM6DSOX", "ds3trc": "LSM6DS3TR-C"}
# a press: how long the button is down (and up in between), in seconds
PRESS_KINDS = {
    "short": ((0.0, 0.15),),
    "long": ((0.0, 2.0),),
    "double": ((0.0, 0.12), (0.27, 0.39)),
}
# littlefs size of each port's default build (rp2 Pico: 1408 KB of its 2 MB flash)
FLASH_KB = {"rp2": 1408, "esp32": 2048}
# the power-on RTC of each port, seconds since 2000-01-01 (rp2: 2021-01-01)
RTC_S = {"rp2": 662774400, "esp32": 0}
# what MicroPython reports as the machine (os.uname().machine) on each board
MACHINE = {
    "pico": "Raspberry Pi Pico with RP2040",
    "qtpy_rp2040": "Adafruit QT Py RP2040 with RP2040",
    "xiao_esp32s3": "Seeed XIAO ESP32S3 with ESP32-S3",
    "xiao_esp32c3": "Seeed XIAO ESP32C3 with ESP32-C3",
    "esp32_devkitc": "Generic ESP32 module with ESP32",
}


class VirtualBoardError(RetrostepError):
    """The virtual board could not start, or failed while running."""


# ---------------------------------------------------------------------------- inputs
def parse_press(text):
    """'12.5:short' -> (12.5, 'short'); kinds: short, long, double."""
    t, sep, kind = str(text).partition(":")
    kind = (kind or "short").strip().lower()
    try:
        t_s = float(t)
    except ValueError:
        raise RetrostepError(
            f"button press {text!r}: the time must be seconds, as in 12.5:short") from None
    if t_s < 0 or kind not in PRESS_KINDS:
        raise RetrostepError(
            f"button press {text!r}: use SECONDS:KIND with SECONDS >= 0 and KIND one of "
            f"{', '.join(PRESS_KINDS)}"
        )
    return t_s, kind


def load_presses(path):
    """A press timeline file: a JSON list of {"t_s": 12.5, "kind": "short"}."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RetrostepError(f"{path}: cannot read the press timeline ({exc}); it must be a "
                             'JSON list of {"t_s": SECONDS, "kind": "short|long|double"}') from None
    if not isinstance(items, list):
        raise RetrostepError(f"{path}: the press timeline must be a JSON list")
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or "t_s" not in it:
            raise RetrostepError(f"{path}: entry {i} needs a \"t_s\" (and a \"kind\")")
        out.append(parse_press(f"{it['t_s']}:{it.get('kind', 'short')}"))
    return out


def press_edges(presses):
    """Button edges [(t_s, level)] for presses [(t_s, kind)]; level 0 = pressed."""
    edges = []
    for t_s, kind in sorted(presses):
        for down, up in PRESS_KINDS[kind]:
            edges.append((t_s + down, 0))
            edges.append((t_s + up, 1))
    edges.sort()
    for (a, _), (b, _) in zip(edges, edges[1:]):
        if b <= a:
            raise RetrostepError(
                "button presses overlap: leave at least half a second between them")
    return edges


def unique_id(board_id):
    """machine.unique_id() of a virtual board: 8 bytes derived from its id."""
    return hashlib.sha256(board_id.encode("utf-8")).digest()[:8]


def rom_files():
    """{VM path: host path} of the board's ROM (mounted read-only at /rom)."""
    from retrostep.sim import lsm6ds_emu

    rom = {f"/vbrom/vb/{p.name}": str(p) for p in sorted(LIB.glob("*.py"))}
    fw = Path(sensor.__file__).resolve().parent
    rom["/vbrom/vb/_vbhw/lsm6ds_emu.py"] = str(Path(lsm6ds_emu.__file__).resolve())
    rom["/vbrom/vb/_vbhw/firmware/sensor.py"] = str(fw / "sensor.py")
    rom["/vbrom/vb/_vbhw/__init__.py"] = None  # empty files
    rom["/vbrom/vb/_vbhw/firmware/__init__.py"] = None
    return rom


def deploy_sources(fs_dir, firmware_dir=None):
    """Copy the firmware (boot.py, main.py, rstep/*.py -> lib/rstep) into a flash folder,
    as source, the way a deploy puts it on a board."""
    from retrostep.vm.mpvm import firmware_dir as _fw

    pkg = Path(firmware_dir) if firmware_dir else _fw()
    root = pkg.parent
    fs_dir = Path(fs_dir)
    dest = fs_dir / "lib" / "rstep"
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(pkg.glob("*.py")):
        shutil.copyfile(f, dest / f.name)
    for name in ("boot.py", "main.py"):
        if (root / name).is_file():
            shutil.copyfile(root / name, fs_dir / name)


# ---------------------------------------------------------------------------- board
class VirtualBoard:
    """A virtual retrostep board in a Node process; see the module docstring.

    fs_dir: host folder holding the board's flash (default .retrostep-vboard/<id>/fs).
    board: a profile of retrostep.firmware.boards (pins, port). imu: "dsox" | "ds3trc".
    trace: a trace CSV (quantised at odr_hz, default the firmware's ODR, as the board's
    IMU would deliver it). presses: ["12.5:short", ...] or [(12.5, "short"), ...], on
    the trace's time base. battery_v: battery voltage behind the board's divider.
    serve: keep running (and serving the REPL) after the trace; default: only without
    a trace. port: TCP port on 127.0.0.1 (0: any free one, see `port`).
    i2c_faults: a failing I2C bus (see retrostep.sim.lsm6ds_emu.EmuI2C.set_faults), on
    the trace's time base (from the IMU's first data clock start), e.g.
    {"outages": [[20.0, 22.0]]} (every transfer fails from 20 s to 22 s) or
    {"bursts": {"min_len": 1, "max_len": 50, "min_gap": 20, "max_gap": 400, "seed": 3}}.
    """

    def __init__(self, fs_dir=None, *, board=DEFAULT_BOARD, board_id="vboard", imu="dsox",
                 trace=None, odr_hz=None, presses=(), battery_v=3.9, realtime=False,
                 speed=1.0, trace_start_s=None, port=0, serve=None, grace_s=2.0,
                 flash_kb=None, rtc_s=None, echo=False, console_log=None, deploy=False,
                 cpu_us=5, imu_wait_s=60.0, status_hook="rstep.app:status", heap_kb=512,
                 pystack_words=8192, i2c_faults=None):
        if imu not in IMUS:
            raise RetrostepError(f"unknown IMU {imu!r}: use one of {', '.join(IMUS)}")
        try:
            self.profile = dict(boards.get(board))
        except ValueError as exc:
            raise RetrostepError(str(exc)) from None
        self.board = board
        self.board_id = board_id
        self.fs_dir = Path(fs_dir) if fs_dir else Path(DEFAULT_DIR) / _safe(board_id) / "fs"
        self.imu = imu
        self.trace = trace
        self.odr_hz = odr_hz or sensor.ODR_HZ
        self.presses = [p if isinstance(p, tuple) else parse_press(p) for p in presses]
        self.battery_v = float(battery_v)
        self.realtime = realtime
        self.speed = speed
        self.trace_start_s = trace_start_s
        self.serve = (trace is None) if serve is None else bool(serve)
        self.grace_s = grace_s
        self.flash_kb = flash_kb or FLASH_KB[self.profile["port"]]
        self.rtc_s = RTC_S[self.profile["port"]] if rtc_s is None else int(rtc_s)
        self.echo = echo
        self.console_log = console_log
        self.deploy = deploy
        self.cpu_us = cpu_us
        self.imu_wait_s = imu_wait_s
        self.status_hook = status_hook
        self.heap_kb = heap_kb
        self.pystack_words = pystack_words
        self.i2c_faults = i2c_faults
        self.requested_port = port
        self.port = None
        self.events = []  # board events: resets, trace start, ...
        self.samples = None  # the quantised trace (retrostep.formats.trace.BoardSamples)
        self._console = bytearray()
        self._proc = None
        self._tmp = None
        self._result = None
        self._stopped = threading.Event()
        self._have_result = threading.Event()
        self._listening = threading.Event()
        self._error = None
        self._stderr = bytearray()
        self._threads = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self):
        """What mpremote connects to: socket://127.0.0.1:PORT."""
        return f"socket://127.0.0.1:{self.port}"

    @property
    def console(self):
        """Everything the board printed on its USB serial line so far."""
        return bytes(self._console)

    def start(self, timeout=30.0):
        """Boot the board; returns when its socket listens (see `port`)."""
        from retrostep.vm.mpvm import find_node, find_node_modules, NPM_PACKAGE

        if self._proc is not None:
            raise VirtualBoardError("the virtual board is already running")
        node = find_node()
        pkg = find_node_modules() / NPM_PACKAGE
        main = json.loads((pkg / "package.json").read_text(encoding="utf-8")).get("main")
        entry = pkg / (main or "micropython.mjs")
        self.fs_dir.mkdir(parents=True, exist_ok=True)
        if self.deploy:
            deploy_sources(self.fs_dir)
        self._tmp = tempfile.TemporaryDirectory(prefix="rstep-vboard-")
        tmp = Path(self._tmp.name)
        job = self._job(tmp, entry)
        job_path = tmp / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        self._proc = subprocess.Popen(
            [node, str(HOST), str(job_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for target, stream in ((self._read_events, self._proc.stdout),
                               (self._read_stderr, self._proc.stderr)):
            th = threading.Thread(target=target, args=(stream,), daemon=True)
            th.start()
            self._threads.append(th)
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self._error or self._proc.poll() is not None or time.monotonic() > deadline:
                msg = self._error or self._stderr.decode(errors="replace").strip() or "no message"
                self.stop(timeout=2)
                raise VirtualBoardError(f"the virtual board did not start: {msg}")
        return self

    def _job(self, tmp, entry):
        p = self.profile
        job = {
            "vm_entry": entry.as_uri(),
            "heapsize": self.heap_kb * 1024,
            "pystack": self.pystack_words,
            "rom": rom_files(),
            "fs_dir": str(self.fs_dir.resolve()),
            "flash_kb": self.flash_kb,
            "profile": p,
            "board": {
                "profile": p,
                "imu": IMUS[self.imu],
                "imu_addr": 0x6A,
                "uid": unique_id(self.board_id).hex(),
                "machine": MACHINE.get(self.board, p["title"]),
                "status_hook": self.status_hook,
                "i2c_faults": self.i2c_faults,
            },
            "trace": None,
            "trace_start_s": self.trace_start_s,
            "still_sample": [0, 0, 1000000 // sensor.ACCEL_UG_PER_LSB[sensor.ACCEL_FS_G], 0, 0, 0],
            "button_edges": press_edges(self.presses),
            "battery_v": self.battery_v,
            "rtc_s": self.rtc_s,
            "realtime": self.realtime,
            "speed": self.speed,
            "serve": self.serve,
            "grace_s": self.grace_s,
            "imu_wait_s": self.imu_wait_s,
            "cpu_us": self.cpu_us,
            "port": self.requested_port,
            "echo": self.echo,
            "console_events": True,
            "console_log": str(self.console_log) if self.console_log else None,
        }
        if self.trace is not None:
            from retrostep.formats.trace import quantise, read_trace

            tr = self.trace
            if isinstance(tr, (str, os.PathLike)):
                tr = read_trace(tr)
            bs = quantise(tr, odr_hz=self.odr_hz)
            self.samples = bs
            path = tmp / "trace.i16"
            path.write_bytes(int16_bytes(bs.samples))
            job["trace"] = {"path": str(path), "samples": len(bs), "odr_hz": float(bs.odr_hz)}
            job["still_sample"] = [int(v) for v in bs.samples[0]]
        return job

    def _read_events(self, stream):
        for line in iter(stream.readline, b""):
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            ev = msg.get("ev")
            if ev == "console":
                self._console += base64.b64decode(msg["data"])
                if len(self._console) > 8 << 20:
                    del self._console[: len(self._console) - (4 << 20)]
            elif ev == "listening":
                self.port = msg["port"]
                self._listening.set()
            elif ev == "event":
                self.events.append({k: v for k, v in msg.items() if k != "ev"})
                if msg.get("type") == "reset" and self.echo:
                    print(f"vboard: {msg.get('kind')} reset at {msg.get('world_s', 0):.3f} s",
                          file=sys.stderr)
            elif ev == "result":
                self._result = msg["result"]
                self._have_result.set()
            elif ev == "error":
                self._error = msg.get("message", "unknown error")
            elif ev == "stopped":
                self._stopped.set()
        self._stopped.set()
        self._have_result.set()

    def _read_stderr(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            if self.echo:
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()
            self._stderr += chunk
            if len(self._stderr) > 1 << 20:
                del self._stderr[: len(self._stderr) - (1 << 19)]

    def wait(self, timeout=None):
        """Wait for the end of the run (trace played, main.py ended, or stopped);
        returns the board's raw result (see `report` for the decoded one)."""
        if not self._have_result.wait(timeout):
            raise VirtualBoardError(
                f"the virtual board's run did not end within {timeout:g} s")
        if self._result is None:
            raise VirtualBoardError(
                f"the virtual board stopped without a result: {self._failure()}")
        return self._result

    def report(self, timeout=None):
        """The run's JSON: the board's result plus the firmware's logbooks (decoded)."""
        return build_report(self.wait(timeout), self)

    def stop(self, timeout=10.0):
        """Stop the board (its flash is written back first) and its Node process."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                try:
                    proc.stdin.write(b'{"cmd": "stop"}\n')
                    proc.stdin.flush()
                    proc.stdin.close()
                except OSError:
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        finally:
            for th in self._threads:
                th.join(2)
            for s in (proc.stdout, proc.stderr, proc.stdin):
                try:
                    s.close()
                except (OSError, ValueError):
                    pass
            self._proc = None
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def _failure(self):
        return self._error or self._stderr.decode(errors="replace").strip()[-2000:] or "no message"

    def __enter__(self):
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "board"


# ---------------------------------------------------------------------------- report
def _vm_name(host_name):
    # the worker percent-encodes names a host file system may refuse
    import re

    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), host_name)


def read_logbooks(fs_dir):
    """The firmware's session logs found on the board's flash, decoded."""
    from retrostep.firmware import logbook
    from retrostep.formats.logdecode import decode_file, to_result

    out = []
    root = Path(fs_dir)
    for p in sorted(root.rglob(f"{logbook.LOG_PREFIX}*{logbook.LOG_SUFFIX}")):
        vm_path = "/" + "/".join(_vm_name(part) for part in p.relative_to(root).parts)
        try:
            res = to_result(decode_file(p))
        except (RetrostepError, OSError) as exc:
            res = {"error": str(exc)}
        res["file"] = vm_path
        out.append(res)
    return out


def build_report(raw, vb=None):
    """One JSON-able dict: the run (times, resets, IMU, motor, button) and what the
    firmware logged (counts summed over its session logs, each log in full)."""
    rep = dict(raw)
    motor_pin = vb.profile["motor"] if vb is not None else None
    rep["motor"] = [e for e in raw.get("pwm", []) if e["pin"] == motor_pin]
    rep["board"] = vb.board if vb is not None else None
    rep["board_id"] = vb.board_id if vb is not None else None
    rep["speed"] = round(raw["sim_s"] / raw["wall_s"], 2) if raw.get("wall_s") else None
    logs = read_logbooks(vb.fs_dir) if vb is not None else []
    rep["logbooks"] = logs
    totals = add_counts({}, {})  # every counter of the schema, summed over the logs
    for lg in logs:
        add_counts(totals, lg)
    rep["firmware"] = {"sessions": len(logs), **totals}
    if vb is not None and raw.get("reason") != "trace_end":
        # the run ended early: the board's last words say why
        rep["console_tail"] = vb.console[-2000:].decode("utf-8", errors="replace")
    return rep
