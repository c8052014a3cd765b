"""machine.Timer on the virtual board (retrostep.vm.vboard): the rp2/esp32 API on the
board's simulated clock, callbacks run as soft IRQs (while Python runs, in its sleeps,
and while the REPL waits for input), timers gone at soft and hard resets; and the
firmware's use of it: a watchdog fed by a timer through a REPL session.

Every board here is a Node process, driven by the real mpremote.
"""

import subprocess
import sys
import time

import pytest

from retrostep.vm.vboard import VirtualBoard

pytestmark = pytest.mark.vm

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def mpremote(board, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url, *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def resets(board, kind=None):
    return [e for e in board.events if e.get("type") == "reset"
            and (kind is None or e.get("kind") == kind)]


def mpremote_until_reset(board, *args, timeout=60):
    """mpremote, stopped if the board resets under it (it would wait for ever for the
    end of a command the reset cut). Returns (returncode or None, stdout, stderr)."""
    n0 = len(resets(board))
    p = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", board.url, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    t0 = time.monotonic()
    while p.poll() is None:
        if len(resets(board)) > n0:
            time.sleep(0.3)  # let it fail by itself if it can
            if p.poll() is None:
                p.kill()
            break
        if time.monotonic() - t0 > timeout:
            p.kill()
            raise AssertionError("mpremote timed out")
        time.sleep(0.05)
    out, err = p.communicate()
    return p.returncode if len(resets(board)) == n0 else None, out, err


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    fs = tmp_path_factory.mktemp("timer") / "fs"
    fs.mkdir()
    with VirtualBoard(fs, serve=True, board_id="test-timer") as vb:
        yield vb


def run(board, code):
    r = mpremote(board, "exec", code)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# ---------------------------------------------------------------------------- the API
def test_a_periodic_timer_fires_once_per_period_of_simulated_time(board):
    out = run(board, """\
import machine, time
at = []
t0 = time.ticks_us()
def cb(t):
    at.append((time.ticks_diff(time.ticks_us(), t0), t is tim))
tim = machine.Timer(-1, mode=machine.Timer.PERIODIC, period=100, callback=cb)
time.sleep_ms(1000)                  # in a sleep
print(len(at), all(a[1] for a in at))
print([a[0] // 1000 for a in at])
t1 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t1) < 550:   # while Python runs (reads the clock)
    pass
print(len(at))
tim.deinit()
f = []
tim = machine.Timer(freq=50, callback=lambda t: f.append(1))   # rp2: id -1 by default
time.sleep(2)
tim.deinit()
print(len(f))
""")
    lines = out.split("\n")
    assert lines[0].split() == ["10", "True"]
    assert lines[1] == str(list(range(100, 1001, 100)))  # on time, to the simulated ms
    assert lines[2].strip() == "15"
    assert lines[3].strip() == "100"


def test_one_shot_fires_once_and_init_starts_it_again(board):
    out = run(board, """\
import machine, time
n = []
tim = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=300, callback=lambda t: n.append(1))
time.sleep_ms(299)
print(len(n))
time.sleep_ms(2000)
print(len(n))
tim.init(mode=machine.Timer.ONE_SHOT, period=50, callback=lambda t: n.append(2))
time.sleep_ms(500)
print(n)
""")
    assert out.split() == ["0", "1", "[1,", "2]"]


def test_deinit_stops_it_even_from_its_own_callback(board):
    out = run(board, """\
import machine, time
n = []
tim = machine.Timer(-1, period=10, callback=lambda t: n.append(1))
time.sleep_ms(55)
tim.deinit()
time.sleep_ms(1000)
print(len(n))
def three(t):
    m.append(1)
    if len(m) == 3:
        t.deinit()
m = []
machine.Timer(-1, period=10, callback=three)   # kept running by the board, not by a name
time.sleep_ms(1000)
print(len(m))
""")
    assert out.split() == ["5", "3"]


def test_a_failing_callback_prints_its_traceback_and_the_code_goes_on(board):
    out = run(board, """\
import machine, time
def bad(t):
    raise ValueError("boom")
tim = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=10, callback=bad)
time.sleep_ms(50)
print("after")
""")
    assert "ValueError: boom" in out and out.rstrip().endswith("after")
    assert "/rom/vb/" not in out  # the board's own frames are C code on hardware


def test_timer_ids_are_the_ports(tmp_path):
    code = """\
import machine
for i in (-1, 0, 1, 3, 4):
    try:
        machine.Timer(i)
        print(i, "ok")
    except ValueError:
        print(i, "ValueError")
"""
    fs = tmp_path / "fs"
    fs.mkdir()
    with VirtualBoard(fs, serve=True, board="pico") as vb:  # rp2: virtual timers only
        assert run(vb, code).split() == ["-1", "ok", "0", "ValueError", "1", "ValueError",
                                         "3", "ValueError", "4", "ValueError"]
    with VirtualBoard(fs, serve=True, board="xiao_esp32c3") as vb:  # two hardware timers
        assert run(vb, code).split() == ["-1", "ok", "0", "ok", "1", "ok", "3", "ValueError",
                                         "4", "ValueError"]


# ---------------------------------------------------------------------------- the REPL
def test_callbacks_run_while_the_repl_waits_and_timers_end_at_soft_reset(board):
    # a timer appending to a file every 100 ms: it goes on between mpremote's commands
    # and while the raw REPL waits (mpremote's sleep), and stops at the soft reset
    # mpremote does before its first command (as on rp2 and esp32: the VM is new)
    run(board, """\
import machine
f = open("ticks.txt", "w")
def cb(t):
    f.write("x")
    f.flush()
tim = machine.Timer(-1, period=100, callback=cb)
""")
    r = mpremote(board, "resume", "sleep", "1", "+", "exec",
                 "import time\ntime.sleep_ms(500)\nprint(len(open('ticks.txt').read()))")
    assert r.returncode == 0, r.stderr
    grown = int(r.stdout.split()[-1])
    assert grown >= 10  # 1 s of wall-clock waiting (and more), 0.5 s of sleep
    r = mpremote(board, "exec", "import time\ntime.sleep_ms(500)\n"
                 "print(len(open('ticks.txt').read()))")
    after_reset = int(r.stdout.split()[-1])
    time.sleep(0.5)
    r = mpremote(board, "resume", "exec", "print(len(open('ticks.txt').read()))")
    assert int(r.stdout.split()[-1]) == after_reset  # nothing runs it any more
    assert after_reset < grown + 15


def test_timers_end_at_a_hard_reset(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    size = "import os, time\ntime.sleep_ms(500)\nprint(os.stat('ticks.txt')[6])"
    with VirtualBoard(fs, serve=True) as vb:
        r = mpremote(vb, "exec", "import machine\n"
                     "def cb(t):\n    with open('ticks.txt', 'a') as f:\n        f.write('x')\n"
                     "t = machine.Timer(-1, period=100, callback=cb)", "+", "exec", size,
                     "+", "reset")
        assert r.returncode == 0, r.stderr
        assert int(r.stdout.split()[-1]) >= 5
        before = int(mpremote(vb, "resume", "exec", size).stdout.split()[-1])
        time.sleep(0.5)
        assert int(mpremote(vb, "resume", "exec", size).stdout.split()[-1]) == before
        assert [e["kind"] for e in resets(vb)] == ["machine.reset"]


# ---------------------------------------------------------------------------- watchdog
FEEDER = ("tim = machine.Timer(-1, period={p}, mode=machine.Timer.PERIODIC, "
          "callback=lambda t: wdt.feed())\n")


@pytest.mark.parametrize("fed", [True, False], ids=["fed_by_a_timer", "not_fed"])
def test_watchdog_and_a_running_program(tmp_path, fed):
    # 30 simulated seconds of Python (sleeps and clock reads) with an 8 s watchdog
    fs = tmp_path / "fs"
    fs.mkdir()
    with VirtualBoard(fs, serve=True) as vb:
        code = ("import machine, time\nwdt = machine.WDT(timeout=8000)\n"
                + (FEEDER.format(p=2000) if fed else "")
                + "for i in range(150):\n    time.sleep_ms(100)\n"
                "    t = time.ticks_ms()\n"
                "    while time.ticks_diff(time.ticks_ms(), t) < 100:\n        pass\n"
                "print('survived', time.ticks_ms())\n")
        rc, out, err = mpremote_until_reset(vb, "exec", code)
        if fed:
            assert rc == 0, out + err
            assert "survived" in out and not resets(vb)
        else:
            assert rc is None and [e["kind"] for e in resets(vb)] == ["watchdog"]


@pytest.mark.slow
@pytest.mark.parametrize("fed", [True, False], ids=["fed_by_a_timer", "not_fed"])
def test_watchdog_through_a_raw_repl_session_of_30_s(tmp_path, fed):
    # as the firmware does when mpremote interrupts it: an 8 s watchdog it cannot stop,
    # fed by a timer; then a raw-REPL session of over 30 simulated seconds
    fs = tmp_path / "fs"
    fs.mkdir()
    with VirtualBoard(fs, serve=True) as vb:
        setup = ("import machine, time\nwdt = machine.WDT(timeout=8000)\n"
                 + (FEEDER.format(p=2000) if fed else ""))
        r = mpremote(vb, "exec", setup)
        assert r.returncode == 0, r.stderr
        up = "print('up', time.ticks_ms())"
        # one mpremote session: 10 s of code, 9 s of the raw REPL waiting (longer than
        # the watchdog: only the timer's callbacks there can save it), 12 s of code
        rc, out, err = mpremote_until_reset(
            vb, "resume", "exec", "time.sleep_ms(10000)\n" + up, "+", "sleep", "9", "+",
            "exec", "for i in range(120):\n    time.sleep_ms(100)\n" + up, "+", "exec", up)
        up_ms = [int(x.split()[1]) for x in out.splitlines() if x.startswith("up ")]
        if fed:
            assert rc == 0, out + err
            assert not resets(vb)
            assert len(up_ms) == 3 and up_ms[-1] > 30000  # ms since the board's boot
        else:
            assert rc is None and [e["kind"] for e in resets(vb)] == ["watchdog"]


@pytest.mark.slow
def test_mpremote_soft_reset_ends_the_feeding_timer_as_on_a_board(tmp_path):
    # the soft reset mpremote does before its first command (unless `resume`) ends
    # the timer, not the watchdog (rp2 and esp32 cannot stop theirs): 8 s later the
    # board resets
    fs = tmp_path / "fs"
    fs.mkdir()
    with VirtualBoard(fs, serve=True) as vb:
        r = mpremote(vb, "exec", "import machine\nwdt = machine.WDT(timeout=8000)\n"
                     + FEEDER.format(p=2000) + "import time\ntime.sleep(20)")
        assert r.returncode == 0 and not resets(vb), r.stderr
        rc, out, err = mpremote_until_reset(vb, "exec", "import time\ntime.sleep(20)")
        assert rc is None and [e["kind"] for e in resets(vb)] == ["watchdog"]


@pytest.mark.slow
def test_the_firmware_keeps_its_watchdog_fed_through_a_resumed_mip_install(tmp_path):
    # the README's line, then again with `resume` (no soft reset): the firmware's own
    # timer (rstep/app.py _keep_fed) feeds its watchdog through the whole second
    # install, well over 8 s
    line = ["mip", "install", "--target", "/", "firmware/package.json", "+", "reset"]
    fs = tmp_path / "fs"
    with VirtualBoard(fs, serve=True) as vb:
        r = mpremote(vb, *line, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
        t0 = [e for e in vb.events if e.get("type") == "trace_start"]
        assert t0, "the firmware did not start"  # (it starts the IMU, and its watchdog)
        time.sleep(1)
        t_start = time.monotonic()
        rc, out, err = mpremote_until_reset(vb, "resume", *line[:-2], timeout=180)
        assert rc == 0, out + err
        assert time.monotonic() - t_start > 8
        assert [e["kind"] for e in resets(vb)] == ["machine.reset"]
