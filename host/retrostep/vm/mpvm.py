"""Run code on the real MicroPython VM (the WebAssembly build, run by Node.js).

The VM is the npm package ``@micropython/micropython-webassembly-pyscript``, pinned in
the repository's package.json / package-lock.json (``npm ci`` in the repository root
installs it). Each :func:`run` starts a fresh VM in a Node process driven by
``retrostep/vm/js/mpvm.mjs``; the firmware package is copied into the VM file system at
``/lib/rstep`` so ``import rstep`` works as on the board.

Large inputs (an hour of int16 samples) travel as files written straight into the VM's
file system, never through source code::

    res = run("import array\\n"
              "a = array.array('h', open('/data/x.bin', 'rb').read())\\n"
              "print(sum(a))",
              files={"/data/x.bin": samples})   # numpy array, bytes, or a host path
    int(res.stdout)

An uncaught exception on the VM raises :class:`MicroPythonError` carrying the board's
traceback; a run longer than ``timeout_s`` raises :class:`MicroPythonTimeout` (the Node
process is killed: a VM stuck in a loop cannot be interrupted from inside).

Known VM trap: a MemoryError raised while ``micropython.heap_lock()`` is held at module
level (e.g. a global assignment under the lock) hangs the VM at 100 % CPU; only the
timeout ends it. Lock inside a function and unlock in ``try/finally``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrostep.errors import RetrostepError

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).resolve().parent / "js" / "mpvm.mjs"
FIRMWARE_VM_DIR = "/lib/rstep"
DEFAULT_HEAPSIZE = 1024 * 1024
DEFAULT_TIMEOUT_S = 60.0
_EXIT_RUNNER = 70


class VMUnavailableError(RetrostepError):
    """Node.js or the MicroPython npm package cannot be found."""


class MicroPythonError(RetrostepError):
    """Code on the MicroPython VM ended with an uncaught exception (or SystemExit(n != 0)).

    ``exc_type`` is the exception's class name ("ValueError", "MemoryError", ...),
    ``traceback`` the text MicroPython printed, ``stdout``/``stderr`` what the program
    wrote before it failed.
    """

    def __init__(self, exc_type, traceback, stdout="", stderr="", exit_code=1):
        self.exc_type = exc_type
        self.traceback = traceback
        self.stdout = stdout
        self.stderr = stderr
        self.exit_code_vm = exit_code
        last = traceback.strip().splitlines()[-1] if traceback.strip() else exc_type
        super().__init__(f"MicroPython VM raised {last}\n{traceback.rstrip()}")

    @property
    def last_line(self):
        lines = self.traceback.strip().splitlines()
        return lines[-1] if lines else self.exc_type


class MicroPythonTimeout(RetrostepError, TimeoutError):
    """The MicroPython VM did not finish within the time limit (the process was killed)."""

    def __init__(self, timeout_s, stdout="", stderr=""):
        self.timeout_s = timeout_s
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"MicroPython VM did not finish within {timeout_s:g} s and was stopped "
            "(an endless loop, too much work for the limit, or a MemoryError while "
            "micropython.heap_lock() was held outside a function, which hangs the VM: lock "
            "inside a function and unlock in try/finally)"
        )


class MicroPythonVMFailure(RetrostepError):
    """The Node runner itself failed (bad job, WebAssembly trap, crash)."""


@dataclass
class MpResult:
    stdout: str
    stderr: str
    files: dict = field(default_factory=dict)  # vm path -> bytes, for requested outputs
    exit_code: int = 0
    setup_s: float = 0.0  # VM start-up plus copying files in (measured inside Node)
    run_s: float = 0.0  # the code itself
    wall_s: float = 0.0  # whole Node process, as seen from here


def firmware_dir() -> Path:
    """The firmware package directory (firmware/rstep; /lib/rstep on the board)."""
    import retrostep.firmware

    return Path(retrostep.firmware.__file__).resolve().parent


def _has_package(node_modules: Path) -> bool:
    return (node_modules / NPM_PACKAGE / "package.json").is_file()


def find_node_modules() -> Path:
    """The node_modules directory holding the MicroPython npm package.

    $RETROSTEP_NODE_MODULES if set; else the first node_modules holding the package
    walking up from this file; else ./node_modules.
    """
    env = os.environ.get("RETROSTEP_NODE_MODULES")
    if env:
        nm = Path(env).expanduser().resolve()
        if not _has_package(nm):
            raise VMUnavailableError(
                f"RETROSTEP_NODE_MODULES={env} does not contain {NPM_PACKAGE}; "
                "point it at a node_modules directory where `npm ci` installed it"
            )
        return nm
    for d in Path(__file__).resolve().parents:
        if _has_package(d / "node_modules"):
            return d / "node_modules"
    nm = Path.cwd() / "node_modules"
    if _has_package(nm):
        return nm.resolve()
    raise VMUnavailableError(
        f"the MicroPython VM ({NPM_PACKAGE}) is not installed: run `npm ci` in the "
        "repository root (or set RETROSTEP_NODE_MODULES to a node_modules directory holding it)"
    )


def find_node() -> str:
    """Path of the node executable ($RETROSTEP_NODE, else `node` on PATH)."""
    env = os.environ.get("RETROSTEP_NODE")
    if env:
        exe = shutil.which(env)
        if not exe:
            raise VMUnavailableError(f"RETROSTEP_NODE={env} is not an executable Node.js")
        return exe
    exe = shutil.which("node")
    if not exe:
        raise VMUnavailableError(
            "Node.js is not installed (no `node` on PATH): install Node.js 20 or newer, "
            "then run `npm ci` in the repository root"
        )
    return exe


def available() -> bool:
    """True when node and the npm package are both present."""
    try:
        find_node()
        find_node_modules()
    except VMUnavailableError:
        return False
    return True


def _file_source(value, tmpdir: Path, index: int):
    """Job entry for one input file: host path string or {"base64": ...}."""
    if isinstance(value, (str, os.PathLike)):
        p = Path(value)
        if not p.is_file():
            raise RetrostepError(f"input file for the MicroPython VM not found: {p}")
        return str(p.resolve())
    if hasattr(value, "tobytes"):  # numpy arrays, array.array, memoryview
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        if len(value) <= 4096:
            return {"base64": base64.b64encode(value).decode("ascii")}
        p = tmpdir / f"in{index}.bin"
        p.write_bytes(value)
        return str(p)
    raise TypeError(f"file contents must be bytes, a buffer with tobytes(), or a path; got {type(value)!r}")


def run(
    code: str,
    files: dict | None = None,
    mount_firmware: bool = True,
    heapsize: int = DEFAULT_HEAPSIZE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    dirs: dict | None = None,
    outputs=None,
    pystack: int | None = None,
) -> MpResult:
    """Run ``code`` on a fresh MicroPython VM and return what it printed.

    files: {vm_path: bytes | numpy array | array.array | host path}, written into the VM
        file system before the run (parent directories are created).
    mount_firmware: copy firmware/rstep to /lib/rstep (so ``import rstep`` works).
    dirs: {vm_dir: host_dir}, further host trees to copy in.
    outputs: VM paths to read back after the run (also after an exception is raised:
        see ``MicroPythonError``); missing ones are absent from ``MpResult.files``.
    heapsize: MicroPython GC heap in bytes; pystack: Python stack in words.
    """
    node = find_node()
    node_modules = find_node_modules()
    if not RUNNER.is_file():
        raise VMUnavailableError(f"the VM runner {RUNNER} is missing; reinstall retrostep")
    with tempfile.TemporaryDirectory(prefix="rstep-mpvm-") as td:
        tmp = Path(td)
        job = _job(tmp, code, files, mount_firmware, heapsize, dirs, outputs, pystack)
        job_path = tmp / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        proc, wall = _run_node(node, node_modules, job_path, timeout_s)
        stdout, stderr = _text(proc.stdout), _text(proc.stderr)
        outcome = _read_outcome(Path(job["result"]), proc.returncode, stderr)
        out_files = _read_outputs(outcome)
        return _result(outcome, stdout, stderr, out_files, wall)


def _job_dirs(mount_firmware, dirs):
    """{vm_dir: absolute host_dir} of the trees to copy in, the firmware first."""
    job_dirs = {}
    if mount_firmware:
        job_dirs[FIRMWARE_VM_DIR] = str(firmware_dir())
    for vm_dir, host_dir in (dirs or {}).items():
        if not Path(host_dir).is_dir():
            raise RetrostepError(f"directory to mount on the MicroPython VM not found: {host_dir}")
        job_dirs[vm_dir] = str(Path(host_dir).resolve())
    return job_dirs


def _job(tmp: Path, code, files, mount_firmware, heapsize, dirs, outputs, pystack) -> dict:
    """The runner's job: what to copy in, the code (written to tmp), where to put results."""
    job_dirs = _job_dirs(mount_firmware, dirs)
    job_files = {vm: _file_source(v, tmp, i) for i, (vm, v) in enumerate((files or {}).items())}
    job_outputs = {vm: str(tmp / f"out{i}.bin") for i, vm in enumerate(outputs or ())}
    code_path = tmp / "main.py"
    code_path.write_text(code, encoding="utf-8")
    job = {
        "heapsize": int(heapsize),
        "dirs": job_dirs,
        "files": job_files,
        "code_file": str(code_path),
        "outputs": job_outputs,
        "result": str(tmp / "result.json"),
    }
    if pystack:
        job["pystack"] = int(pystack)
    return job


def _run_node(node, node_modules, job_path, timeout_s):
    """(the finished Node process, its wall time in s); raises MicroPythonTimeout."""
    env = dict(os.environ, RETROSTEP_NODE_MODULES=str(node_modules))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [node, str(RUNNER), str(job_path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise MicroPythonTimeout(timeout_s, _text(exc.stdout), _text(exc.stderr)) from None
    return proc, time.perf_counter() - t0


def _read_outcome(result_path: Path, returncode, stderr) -> dict:
    """The runner's result.json; raises MicroPythonVMFailure if the runner failed."""
    try:
        outcome = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise MicroPythonVMFailure(
            f"the MicroPython VM runner failed (node exit status {returncode}): "
            f"{stderr.strip() or 'no message'}"
        ) from None
    if outcome.get("status") == "runner":
        raise MicroPythonVMFailure(f"the MicroPython VM runner failed: {outcome.get('message', '').strip()}")
    return outcome


def _read_outputs(outcome) -> dict:
    """{vm_path: bytes} of the requested outputs the run left behind."""
    out_files = {}
    for vm, host in (outcome.get("outputs") or {}).items():
        if host:
            out_files[vm] = Path(host).read_bytes()
    return out_files


def _result(outcome, stdout, stderr, out_files, wall) -> MpResult:
    """The MpResult of a run, or the MicroPythonError of an exception or SystemExit(n != 0)."""
    status = outcome.get("status")
    if status == "exception":
        err = MicroPythonError(outcome.get("exc_type") or "Exception", outcome.get("traceback") or "",
                               stdout, stderr, outcome.get("exit_code", 1))
        err.files = out_files
        raise err
    exit_code = int(outcome.get("exit_code", 0))
    if status == "exit" and exit_code != 0:
        err = MicroPythonError("SystemExit", outcome.get("traceback") or f"SystemExit: {exit_code}\n",
                               stdout, stderr, exit_code)
        err.files = out_files
        raise err
    return MpResult(
        stdout=stdout,
        stderr=stderr,
        files=out_files,
        exit_code=exit_code,
        setup_s=float(outcome.get("setup_s", 0.0)),
        run_s=float(outcome.get("run_s", 0.0)),
        wall_s=wall,
    )


def _text(data) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")
