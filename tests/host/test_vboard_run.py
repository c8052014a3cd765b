"""Trace runs on the virtual board (retrostep.vm.vboard): the emulated IMU, motor, button,
clock, and the run's JSON report.

A stand-in main.py reads the IMU FIFO through the real driver (rstep.imu), drives the
motor's PWM at known times and logs button edges from a pin IRQ; the real firmware
(firmware/main.py, rstep.app) runs too and must count what `retrostep replay` counts.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrostep.analysis.replay import replay_file
from retrostep.formats.trace import Trace, read_trace, write_trace
from retrostep.vm.vboard import VirtualBoard, deploy_sources

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "host" / "retrostep" / "data" / "demo_walk.csv"

STAND_IN = """\
import time, machine
from array import array
from rstep.imu import IMU

imu = IMU(machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4), freq=400000))
t0 = time.ticks_ms()
buf = array("h", [0] * (6 * 64))
pwm = machine.PWM(machine.Pin(15), freq=20000, duty_u16=0)
edges = []
button = machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
button.irq(lambda p: edges.append((time.ticks_ms(), p.value())),
           machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)
n = h = step = 0
pwm_at = []
while True:
    k = imu.read_fifo(buf)
    for i in range(6 * k):
        h = (h * 31 + buf[i]) & 0xFFFFFF
    n += k
    now = time.ticks_ms()
    if step == 0 and time.ticks_diff(now, t0) >= 1000:
        pwm.duty_u16(40000)
        pwm_at.append(now)
        step = 1
    elif step == 1 and time.ticks_diff(now, t0) >= 1250:
        pwm.duty_u16(0)
        pwm_at.append(now)
        step = 2
    with open("stats.txt", "w") as f:
        f.write(repr((n, h, imu.overrun, imu.chip, t0, pwm_at, edges)))
    time.sleep_ms(100 if k < 64 else 0)
"""

PRESSES = ["2:short", "5:long", "9:double"]


def stand_in_flash(path):
    deploy_sources(path)
    (path / "boot.py").unlink()
    (path / "main.py").write_text(STAND_IN)
    return path


def rolling_hash(samples):
    h = 0
    for v in samples.astype(np.int64).ravel().tolist():
        h = (h * 31 + v) & 0xFFFFFF
    return h


@pytest.fixture(scope="module")
def trace_csv(tmp_path_factory):
    """20 s of noisy motion at 208 Hz (quantised to 104 Hz for the board)."""
    rng = np.random.default_rng(5)
    n = 208 * 20
    acc = rng.normal(0, 0.4, (n, 3))
    acc[:, 2] += 1
    path = tmp_path_factory.mktemp("trace") / "noisy.csv"
    write_trace(path, Trace(np.arange(n) / 208, acc, rng.normal(0, 60, (n, 3)), {"name": "noisy"}))
    return path


def run_board(fs, trace, **kw):
    vb = VirtualBoard(fs, trace=trace, **kw)
    vb.start()
    try:
        rep = vb.report(timeout=120)
    finally:
        vb.stop()
    assert vb._proc is None
    return vb, rep


@pytest.fixture(scope="module", params=["dsox", "ds3trc"])
def stand_in_run(request, tmp_path_factory, trace_csv):
    fs = stand_in_flash(tmp_path_factory.mktemp("run-" + request.param) / "fs")
    vb, rep = run_board(fs, trace_csv, imu=request.param, presses=PRESSES)
    stats = eval((fs / "stats.txt").read_text())  # the firmware's own record (a tuple)
    return vb, rep, stats


def test_the_firmware_reads_every_sample_of_the_trace(stand_in_run):
    vb, rep, (n, h, overruns, chip, *_rest) = stand_in_run
    assert rep["reason"] == "trace_end"
    assert rep["trace"]["samples"] == len(vb.samples) == 2080
    assert n == len(vb.samples)  # nothing lost ...
    assert h == rolling_hash(vb.samples.samples)  # ... and exactly the quantised values, in order
    assert overruns == 0 and rep["imu"]["words_lost"] == 0
    assert chip == {"dsox": "LSM6DSOX", "ds3trc": "LSM6DS3TR-C"}[vb.imu]


def test_the_motor_timeline_has_the_firmwares_times(stand_in_run):
    vb, rep, (_n, _h, _o, _c, t0_ms, pwm_at, _edges) = stand_in_run
    motor = rep["motor"]
    assert [m["duty_u16"] for m in motor] == [0, 40000, 0]
    assert [m["board_ms"] for m in motor[1:]] == pwm_at
    assert pwm_at[0] - t0_ms in range(1000, 1105)  # the loop wakes every 100 ms
    start = rep["trace"]["start_board_ms"]
    for m in motor:  # on the trace's time base too
        assert abs(m["t_s"] * 1000 - (m["board_ms"] - start)) <= 1.0


def test_button_presses_arrive_at_the_scripted_times(stand_in_run):
    vb, rep, (*_x, edges) = stand_in_run
    start = rep["trace"]["start_board_ms"]
    want = [(start + round(t * 1000), v) for t, v in
            [(2, 0), (2.15, 1), (5, 0), (7, 1), (9, 0), (9.12, 1), (9.27, 0), (9.39, 1)]]
    assert len(edges) == len(want)
    for (got_ms, got_v), (want_ms, want_v) in zip(edges, want):
        assert got_v == want_v
        assert abs(got_ms - want_ms) <= 1


INT1_WAITER = """\
import time, machine
from array import array
from rstep.imu import IMU

imu = IMU(machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4), freq=400000))
buf = array("h", [0] * (6 * 64))
irq_at = []
reads = []

def on_int1(pin):
    irq_at.append(time.ticks_ms())

int1 = machine.Pin(6, machine.Pin.IN)
int1.irq(on_int1, machine.Pin.IRQ_RISING)
while len(reads) < 6:
    while len(irq_at) == len(reads):
        machine.idle()
    reads.append((int1.value(), imu.read_fifo(buf), int1.value()))
with open("int1.txt", "w") as f:
    f.write(repr((imu.wtm_samples, irq_at, reads)))
"""


def test_int1_rises_at_the_fifo_watermark_and_falls_when_read(tmp_path, trace_csv):
    fs = stand_in_flash(tmp_path / "fs")
    (fs / "main.py").write_text(INT1_WAITER)
    _vb, rep = run_board(fs, trace_csv)
    assert rep["reason"] == "main_exit" and rep["main"]["traceback"] is None
    wtm, irq_at, reads = eval((fs / "int1.txt").read_text())
    period_ms = wtm * 1000 / 104
    start = rep["trace"]["start_world_s"] * 1000  # the data clock starts at boot + this
    for i, t in enumerate(irq_at):  # at the watermark's sample, to the millisecond
        assert t == int(start + (i + 1) * period_ms)
    assert reads == [(1, wtm, 0)] * 6  # high, a watermark's worth read, low again


def test_trace_start_puts_t0_at_a_chosen_time(tmp_path, trace_csv):
    _vb, rep = run_board(stand_in_flash(tmp_path / "fs"), trace_csv, trace_start_s=3.0)
    assert rep["trace"]["start_world_s"] == 3.0
    assert rep["trace"]["start_board_ms"] == 3000
    assert rep["trace"]["delivered"] == rep["trace"]["samples"]
    assert rep["sim_s"] >= 3.0 + 20.0 + 2.0  # start, trace, grace


@pytest.mark.slow
def test_realtime_paces_the_board_to_the_wall_clock(tmp_path):
    n = 104 * 2
    path = tmp_path / "still.csv"
    write_trace(path, Trace(np.arange(n) / 104, np.tile([0.0, 0.0, 1.0], (n, 1)), np.zeros((n, 3))))
    t0 = time.monotonic()
    _vb, rep = run_board(stand_in_flash(tmp_path / "fs"), path, realtime=True, grace_s=0.5)
    assert rep["wall_s"] >= 0.95 * rep["sim_s"]
    assert time.monotonic() - t0 >= 2.4


def test_main_py_ending_ends_a_trace_run(tmp_path, trace_csv):
    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "main.py").write_text("import time\ntime.sleep_ms(500)\nraise OSError(5)\n")
    _vb, rep = run_board(fs, trace_csv)
    assert rep["reason"] == "main_exit"
    assert "OSError: [Errno 5] EIO" in rep["main"]["traceback"]


def test_retrostep_sim_prints_one_json_object(tmp_path, trace_csv):
    fs = stand_in_flash(tmp_path / "fs")
    r = subprocess.run([sys.executable, "-m", "retrostep.cli", "sim", "--trace", str(trace_csv),
                        "--fs", str(fs), "--press", "3:short", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)  # exactly one JSON document on stdout
    assert rep["reason"] == "trace_end"
    assert rep["trace"]["delivered"] == 2080
    assert [m["duty_u16"] for m in rep["motor"]] == [0, 40000, 0]
    assert "socket://127.0.0.1:" in r.stderr


@pytest.mark.skipif(not (ROOT / "firmware" / "main.py").is_file(), reason="no firmware/main.py yet")
def test_the_real_firmware_counts_what_replay_counts(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    # rstep.boards.detect() reads sys.implementation._machine, which this VM sets to
    # "JS with Emscripten": name the board in the config, as a user of another board would
    (fs / "config.json").write_text('{"board": "pico"}')
    want = replay_file(str(DEMO))
    end = read_trace(DEMO).duration_s
    _vb, rep = run_board(fs, DEMO, deploy=True, presses=[(1.0, "short"), (end, "short")])
    assert rep["reason"] == "trace_end" and rep["resets"] == []
    fw = rep["firmware"]
    assert fw["sessions"] == 1 and rep["logbooks"][0]["session"]["complete"]
    for key in ("steps", "strides", "forward_steps", "backward_steps"):
        assert fw[key] == want[key], key
    assert len(rep["motor"]) > 2  # start, stop and alerts buzzed
