"""The real MicroPython VM (WebAssembly, under Node.js) driven from Python."""

import textwrap

import numpy as np
import pytest

from retrostep.vm import mpvm
from retrostep.errors import RetrostepError

needs_vm = pytest.mark.vm


def src(text):
    return textwrap.dedent(text).lstrip("\n")


@needs_vm
def test_runs_code_and_returns_stdout():
    res = mpvm.run("import sys\nprint(sys.implementation.name)\nprint(6 * 7)", mount_firmware=False)
    assert res.stdout.splitlines() == ["micropython", "42"]
    assert res.stderr == ""
    assert res.exit_code == 0
    assert res.wall_s > 0


@needs_vm
def test_firmware_is_mounted_at_lib_rstep():
    res = mpvm.run(src("""
        import os, sys
        print('/lib' in sys.path)
        print(sorted(n for n in os.listdir('/lib/rstep') if n.endswith('.py')))
        import rstep
        print(rstep.__name__)
    """))
    lines = res.stdout.splitlines()
    assert lines[0] == "True"
    host_files = sorted(p.name for p in mpvm.firmware_dir().glob("*.py"))
    assert lines[1] == repr(host_files)
    assert lines[2] == "rstep"
    assert mpvm.firmware_dir().name == "rstep"


@needs_vm
def test_mounted_package_imports(tmp_path):
    pkg = tmp_path / "tpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("NAME = 'tpkg'\n")
    (pkg / "calc.py").write_text("from . import NAME\n\ndef triple(x):\n    return 3 * x\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("VALUE = 17\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    code = src("""
        import os
        from tpkg.calc import triple, NAME
        from tpkg.sub.deep import VALUE
        import single
        print(NAME, triple(5), VALUE, single.X)
        print('__pycache__' in os.listdir('/lib/tpkg'))
    """)
    res = mpvm.run(code, files={"/lib/single.py": b"X = 'one'\n"}, dirs={"/lib/tpkg": pkg}, mount_firmware=False)
    assert res.stdout.splitlines() == ["tpkg 15 17 one", "False"]


@needs_vm
def test_exception_surfaces_with_board_traceback():
    code = src("""
        print('before')
        def inner(x):
            return x // 0
        def outer():
            return inner(1)
        outer()
    """)
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run(code, mount_firmware=False)
    err = info.value
    assert isinstance(err, RetrostepError)
    assert err.exc_type == "ZeroDivisionError"
    assert err.traceback.startswith("Traceback (most recent call last):")
    assert "line 3, in inner" in err.traceback
    assert "in outer" in err.traceback
    assert err.last_line.startswith("ZeroDivisionError")
    assert err.stdout == "before\n"  # output before the failure is kept
    assert "ZeroDivisionError" in str(err)


@needs_vm
def test_syntax_error_and_system_exit():
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run("def f(:\n    pass\n", mount_firmware=False)
    assert info.value.exc_type == "SyntaxError"
    # SystemExit(0) / sys.exit() are a normal end; a non-zero status is an error
    assert mpvm.run("import sys\nprint('a')\nsys.exit()\nprint('b')", mount_firmware=False).stdout == "a\n"
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run("raise SystemExit(3)", mount_firmware=False)
    assert info.value.exc_type == "SystemExit"
    assert info.value.exit_code_vm == 3


@needs_vm
def test_heap_lock_allocation_raises_memory_error_on_the_vm():
    code = src("""
        import micropython
        buf = bytearray(16)
        def locked(allocate):
            micropython.heap_lock()
            try:
                buf[0] = 1 + 2          # no allocation: fine under the lock
                if allocate:
                    return [1, 2, 3]    # allocation: MemoryError
                return 'ok'
            finally:
                micropython.heap_unlock()
        print(locked(False))
        try:
            locked(True)
            print('allocated')
        except MemoryError as e:
            print('MemoryError caught')
    """)
    res = mpvm.run(code, mount_firmware=False)
    assert res.stdout.splitlines() == ["ok", "MemoryError caught"]

    # uncaught, it comes back as a MicroPythonError of type MemoryError
    code = src("""
        import micropython
        def f():
            micropython.heap_lock()
            try:
                return {}
            finally:
                micropython.heap_unlock()
        f()
    """)
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run(code, mount_firmware=False)
    assert info.value.exc_type == "MemoryError"


@needs_vm
def test_int16_file_matches_numpy():
    rng = np.random.default_rng(7)
    small = rng.integers(-32768, 32768, size=5000, dtype=np.int16)
    # an hour of one axis at 104 Hz, read in chunks as the firmware would
    big = rng.integers(-32768, 32768, size=104 * 3600, dtype=np.int16)
    code = src("""
        import array
        a = array.array('h', open('/data/small.bin', 'rb').read())
        print(len(a), sum(a))
        buf = array.array('h', bytes(4096))   # preallocated; readinto fills it in place
        total = 0
        count = 0
        with open('/data/big.bin', 'rb') as f:
            while True:
                n = f.readinto(buf) // 2
                if not n:
                    break
                for i in range(n):
                    total += buf[i]
                count += n
        print(count, total)
    """)
    res = mpvm.run(code, files={"/data/small.bin": small, "/data/big.bin": big}, mount_firmware=False,
                   heapsize=256 * 1024)
    lines = res.stdout.splitlines()
    assert lines[0] == f"{small.size} {int(small.astype(np.int64).sum())}"
    assert lines[1] == f"{big.size} {int(big.astype(np.int64).sum())}"


@needs_vm
def test_host_path_input_and_outputs(tmp_path):
    data = np.arange(-50, 50, dtype=np.int16)
    host = tmp_path / "in.bin"
    host.write_bytes(data.tobytes())
    code = src("""
        import array
        a = array.array('h', open('/in/x.bin', 'rb').read())
        b = array.array('h', [2 * v for v in a])
        with open('/out/doubled.bin', 'wb') as f:
            f.write(b)
        print('done')
    """)
    code = "import os\nos.mkdir('/out')\n" + code
    res = mpvm.run(code, files={"/in/x.bin": str(host)}, outputs=["/out/doubled.bin", "/out/missing.bin"],
                   mount_firmware=False)
    assert res.stdout == "done\n"
    assert set(res.files) == {"/out/doubled.bin"}
    assert np.array_equal(np.frombuffer(res.files["/out/doubled.bin"], dtype=np.int16), 2 * data)


@needs_vm
def test_timeout_kills_the_vm():
    with pytest.raises(mpvm.MicroPythonTimeout) as info:
        mpvm.run("print('spinning')\nwhile True:\n    pass\n", mount_firmware=False, timeout_s=1.5)
    assert isinstance(info.value, RetrostepError)
    assert isinstance(info.value, TimeoutError)
    assert "1.5 s" in str(info.value)


def test_missing_npm_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RETROSTEP_NODE_MODULES", str(tmp_path))
    with pytest.raises(mpvm.VMUnavailableError, match="npm ci"):
        mpvm.run("print(1)")
    assert not mpvm.available()


def test_missing_node_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("RETROSTEP_NODE", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RetrostepError, match="Node.js"):
        mpvm.run("print(1)")
