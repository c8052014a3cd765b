"""The virtual board's USB REPL, driven by the real mpremote (retrostep.vm.vboard).

Every board here is a Node process; each fixture stops its board and checks the
process is gone.
"""

import hashlib
import os
import subprocess
import sys
import time

import pytest

from retrostep.vm.vboard import VirtualBoard, unique_id

pytestmark = pytest.mark.vm

BOOT = 'with open("boots.txt", "a") as f:\n    f.write("b")\n'
MAIN_FOREVER = """\
import time
with open("mains.txt", "a") as f:
    f.write("m")
print("main.py running")
try:
    while True:
        time.sleep_ms(20)
except KeyboardInterrupt:
    with open("state.txt", "w") as f:
        f.write("interrupted")
    raise
"""


def mpremote(board, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url, *args],
                          capture_output=True, text=True, timeout=timeout)


def flash_with(path, files):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def wait_for(cond, timeout=10.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting for the board")
        time.sleep(0.02)


def gone(board):
    return board._proc is None


@pytest.fixture
def make_board():
    boards = []

    def make(fs, **kw):
        vb = VirtualBoard(fs, serve=True, **kw)
        vb.start()
        boards.append(vb)
        return vb

    yield make
    for vb in boards:
        pid = vb._proc.pid if vb._proc else None
        vb.stop()
        assert gone(vb)
        if pid is not None:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    fs = flash_with(tmp_path_factory.mktemp("repl") / "fs", {"boot.py": BOOT})
    vb = VirtualBoard(fs, serve=True, board_id="test-repl")
    vb.start()
    yield vb
    vb.stop()
    assert gone(vb)


def test_exec_and_eval_answer_through_mpremote(board):
    r = mpremote(board, "exec", "print(6 * 7)", "+", "eval", "2 ** 10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["42", "1024"]


def test_exception_on_the_board_makes_mpremote_fail_with_its_traceback(board):
    r = mpremote(board, "exec", "x = 1\n1 / 0")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert 'File "<stdin>", line 2, in <module>' in out
    assert "ZeroDivisionError: divide by zero" in out


@pytest.mark.slow
def test_fs_cp_both_ways_keeps_every_byte(board, tmp_path):
    data = os.urandom(6000)
    (tmp_path / "blob.bin").write_bytes(data)
    r = mpremote(board, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin", "+",
                 "fs", "sha256sum", ":blob.bin", "+",
                 "fs", "cp", ":blob.bin", str(tmp_path / "back.bin"))
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(data).hexdigest() in r.stdout  # computed by the board
    assert (tmp_path / "back.bin").read_bytes() == data
    # written back to the host folder that holds the board's flash
    wait_for(lambda: (board.fs_dir / "blob.bin").is_file()
             and (board.fs_dir / "blob.bin").read_bytes() == data)


def test_fs_ls_mkdir_rm_and_the_host_folder_follows(board, tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    r = mpremote(board, "fs", "mkdir", ":d", "+", "fs", "cp", str(tmp_path / "x.txt"), ":d/x.txt",
                 "+", "fs", "ls", ":d")
    assert r.returncode == 0, r.stderr
    assert any(line.split() == ["5", "x.txt"] for line in r.stdout.splitlines())
    wait_for(lambda: (board.fs_dir / "d" / "x.txt").is_file())
    r = mpremote(board, "fs", "rm", ":d/x.txt", "+", "fs", "rmdir", ":d", "+", "fs", "ls")
    assert r.returncode == 0, r.stderr
    assert " d/" not in r.stdout and "boot.py" in r.stdout
    wait_for(lambda: not (board.fs_dir / "d").exists())


def test_mpremote_run_runs_a_local_script(board, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import machine, time\n"
                      "t = time.ticks_ms()\n"
                      "time.sleep_ms(1000)\n"
                      "print('slept', time.ticks_diff(time.ticks_ms(), t))\n"
                      "print('uid', machine.unique_id().hex())\n")
    r = mpremote(board, "run", str(script))
    assert r.returncode == 0, r.stderr
    assert "slept 1000" in r.stdout or "slept 1001" in r.stdout  # simulated, not slept
    assert f"uid {unique_id('test-repl').hex()}" in r.stdout


def test_raw_paste_mode_is_used(board):
    from mpremote.transport_serial import SerialTransport

    t = SerialTransport(board.url)
    try:
        t.enter_raw_repl(soft_reset=False)
        assert t.exec("print(sum(range(10)))").strip() == b"45"
        assert t.use_raw_paste  # the board answered "R\x01": no fallback to plain raw REPL
        t.exit_raw_repl()
    finally:
        t.close()
    assert b"R\x01\x80\x00\x01" in board.console


def test_the_boards_own_machine_time_and_os(board):
    r = mpremote(board, "exec", "import os, sys, machine\n"
                 "print(os.uname().machine)\n"
                 "print(sys.path[0])\n"
                 "print(machine.ADC(28).read_u16() * 3300 * 2 // 65535)\n"
                 "print(machine.RTC().datetime()[0])\n"
                 "print(os.statvfs('/')[2])")
    assert r.returncode == 0, r.stderr
    machine_str, path0, battery_mv, year, blocks = r.stdout.split("\n")[:5]
    assert machine_str.strip() == "Raspberry Pi Pico with RP2040"
    assert path0.strip() == "/rom/vb"
    assert abs(int(battery_mv) - 3900) <= 2  # 3.9 V through the Pico profile's 100k/100k
    assert int(year) == 2021  # rp2's RTC after power-on
    assert int(blocks) == 1408 * 1024 // 4096


def test_ctrl_c_interrupts_a_running_main_py(make_board, tmp_path):
    vb = make_board(flash_with(tmp_path / "fs", {"main.py": MAIN_FOREVER}))
    wait_for(lambda: b"main.py running" in vb.console)
    r = mpremote(vb, "fs", "cat", ":state.txt")  # mpremote starts with Ctrl-C
    assert r.returncode == 0, r.stderr
    assert "interrupted" in r.stdout
    assert b"KeyboardInterrupt" in vb.console
    assert b'File "main.py"' in vb.console and b"/rom/vb" not in vb.console


def test_soft_reset_reruns_boot_and_main_and_keeps_the_files(make_board, tmp_path):
    from mpremote.transport_serial import SerialTransport

    vb = make_board(flash_with(tmp_path / "fs", {"boot.py": BOOT, "main.py": MAIN_FOREVER}))
    wait_for(lambda: b"main.py running" in vb.console)
    t = SerialTransport(vb.url)
    try:
        t.serial.write(b"\r\x03")  # stop main.py: friendly REPL
        t.read_until(1, b">>> ", timeout=5)
        t.serial.write(b"open('keep.txt', 'w').write('kept')\r")
        t.read_until(1, b">>> ", timeout=5)
        t.serial.write(b"\x04")  # Ctrl-D on an empty line: soft reset
        data = t.read_until(1, b"main.py running", timeout=10)
        assert b"MPY: soft reboot\r\n" in data
        t.serial.write(b"\x03")
        t.read_until(1, b">>> ", timeout=5)
        # a soft reset from the raw REPL (what mpremote does) runs boot.py, not main.py
        t.enter_raw_repl(soft_reset=True)
        assert t.eval("open('boots.txt').read()") == "bbb"
        assert t.eval("open('mains.txt').read()") == "mm"
        assert t.eval("open('keep.txt').read()") == "kept"
        t.exit_raw_repl()
    finally:
        t.close()


def test_the_flash_survives_a_restart_with_names_made_safe(make_board, tmp_path):
    fs = tmp_path / "fs"
    vb = make_board(flash_with(fs, {}))
    r = mpremote(vb, "exec", "open('a:b?.txt', 'w').write('odd')")
    assert r.returncode == 0, r.stderr
    vb.stop()
    assert (fs / "a%3Ab%3F.txt").read_text() == "odd"  # no ':' or '?' in host names
    vb2 = make_board(fs)
    r = mpremote(vb2, "exec", "import os; print(os.listdir()); print(open('a:b?.txt').read())")
    assert r.returncode == 0, r.stderr
    assert "'a:b?.txt'" in r.stdout and "odd" in r.stdout


def test_a_missed_watchdog_feed_resets_the_board(make_board, tmp_path):
    main = ("import machine, time\n"
            "if machine.reset_cause() == machine.WDT_RESET:\n"
            "    open('after.txt', 'w').write('watchdog')\n"
            "else:\n"
            "    machine.WDT(timeout=200)\n"
            "    while True:\n"
            "        time.sleep_ms(100)\n")
    vb = make_board(flash_with(tmp_path / "fs", {"main.py": main}))
    wait_for(lambda: (vb.fs_dir / "after.txt").is_file())
    resets = [e for e in vb.events if e.get("type") == "reset"]
    assert resets and resets[0]["kind"] == "watchdog"
    assert 200 <= resets[0]["board_ms"] <= 301  # fed once at start, never again


def test_a_full_flash_raises_enospc(make_board, tmp_path):
    vb = make_board(flash_with(tmp_path / "fs", {}), flash_kb=64)
    r = mpremote(vb, "exec", "f = open('big.bin', 'wb')\n"
                 "try:\n"
                 "    for i in range(40):\n"
                 "        f.write(bytes(4096))\n"
                 "except OSError as e:\n"
                 "    print('errno', e.errno)\n")
    assert r.returncode == 0, r.stderr
    assert "errno 28" in r.stdout
    r = mpremote(vb, "exec",
                 "import os\ntry:\n    os.stat('nope')\nexcept OSError as e:\n    print(e)")
    assert "[Errno 2] ENOENT" in r.stdout  # numbered as on a board, not as Emscripten does
