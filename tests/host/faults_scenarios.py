"""Fault-injection scenarios for bench/faults.py: hostile traces, damaged logs, hostile
inputs, security probes and firmware faults, each run against the real code.

Every category function returns [(name, callable(tmp_path) -> True)]: the callable
injects one fault, runs the real command line (retrostep.cli.main in-process, its
stdout and stderr captured; a subprocess where a hang must become a failure) or the
library, and checks the guarantee; a broken guarantee raises AssertionError with the
reason (bench/faults.py shows its first line). Generated cases use fixed seeds, so a
run is repeatable.

Not collected by pytest (the name does not start with test_); it imports the test
modules whose cases and helpers it reuses (test_trace_errors, test_damaged_logs,
test_evaluate, test_vboard_faults).
"""

import contextlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

# figures measured while the scenarios run, printed by bench/faults.py under the table
FIGURES = {}
# what was seen that breaks no guarantee of the brief but is worth knowing (printed too)
NOTES = []


# ---------------------------------------------------------------------------- running


class Ran:
    """One run of the command line: exit code, stdout, stderr, the traceback of an
    exception that escaped (a user would have seen it), the Python warnings shown."""

    def __init__(self, argv, code, out, err, raised=None, warned=()):
        self.argv, self.code, self.out, self.err = argv, code, out, err
        self.raised, self.warned = raised, list(warned)

    @property
    def lines(self):
        return self.err.strip().splitlines()

    def why(self):
        if self.raised:
            return "an exception escaped: " + self.raised.strip().splitlines()[-1]
        return f"exit {self.code}, stderr {self.err.strip()[:160]!r}"


def run_cli(argv, cwd=None):
    """retrostep.cli.main(argv) in this process, its output captured."""
    from retrostep import cli

    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    code, raised = None, None
    old = os.getcwd()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if cwd is not None:
                os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli.main(argv)
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - what escapes main is what a user would see
            raised = traceback.format_exc()
        finally:
            os.chdir(old)
    return Ran(argv, code, out.getvalue(), err.getvalue(), raised,
               [_printable(f"{w.category.__name__}: {w.message}") for w in caught])


def _printable(text):
    """Control characters (a log's text can hold any) shown as escapes, on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def run_sub(argv, timeout=60):
    """The command line in a subprocess (for files a process could block on)."""
    try:
        p = subprocess.run([sys.executable, "-m", "retrostep.cli", *map(str, argv)],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`retrostep {' '.join(map(str, argv))}` hung for "
                             f"{timeout} s") from None
    raised = p.stderr if "Traceback" in p.stderr else None
    return Ran(argv, p.returncode, p.stdout, p.stderr, raised)


def clean(r):
    """No traceback, no Python warning printed."""
    assert not r.raised, f"{r.argv[0]}: {r.why()}"
    assert "Traceback" not in r.err, f"{r.argv[0]}: a traceback on stderr"
    assert not r.warned, f"{r.argv[0]}: a Python warning: {r.warned[0][:120]}"


def refused(r, cmd=None):
    """Exit 2 with one line on stderr, 'retrostep CMD: error: ...'; returns the message."""
    cmd = cmd or r.argv[0]
    clean(r)
    assert r.code == 2, f"{cmd}: {r.why()} (wanted exit 2 and one line)"
    assert len(r.lines) == 1, f"{cmd}: {len(r.lines)} lines on stderr: {r.err[:160]!r}"
    prefix = f"retrostep {cmd}: error: "
    assert r.lines[0].startswith(prefix), f"{cmd}: stderr {r.lines[0][:120]!r}"
    return r.lines[0][len(prefix):]


def _sample(n, k, seed):
    """k points spread over range(n) (a few fixed, the rest random)."""
    rng = random.Random(seed)
    return sorted({0, 1, n // 2, n - 1, *(rng.randrange(n) for _ in range(k))})[:k + 4]


# ---------------------------------------------------------------------------- traces


def _good_trace_text(n=300, rate=100.0):
    from test_trace_errors import HEADER, rows

    return "# subject: s1\n# mount_yaw_deg: 10\n" + HEADER + rows(n, rate=rate)


def _trace_case(content, expect, needles=(), line=None, how="inprocess", make=None):
    """A scenario: write content (or make(path)), run check and replay on it.

    expect 2: both refuse it (exit 2, one line, the same message); None: the file may
    be a valid trace (a truncation, huge but finite values), and then both accept it,
    or both refuse it the same way."""

    def scenario(tmp):
        path = tmp / "trace.csv"
        if make is not None:
            make(path)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        runner = run_sub if how == "subprocess" else run_cli
        chk, rep = runner(["check", path]), runner(["replay", path])
        clean(chk)
        clean(rep)
        if expect == 2 or chk.code == 2 or rep.code == 2:
            a, b = refused(chk, "check"), refused(rep, "replay")
            assert a == b, f"check and replay disagree: {a[:80]!r} / {b[:80]!r}"
            assert chk.out == "" and rep.out == "", "output on stdout beside the error"
            if line is not None:
                assert a.startswith(f"{path} line {line}: "), a[:120]
            for needle in needles:
                assert needle in a, f"{needle!r} not in {a[:120]!r}"
        else:
            assert chk.code == rep.code == 0, f"check {chk.why()}; replay {rep.why()}"
            assert chk.err == "" and rep.err == "", f"stderr {chk.err[:80]!r} {rep.err[:80]!r}"
        return True

    return scenario


def _fifo(path):
    os.mkfifo(path)


def _dir(path):
    path.mkdir()


def traces():
    from test_trace_errors import CASES, HEADER, rows

    out = []
    for case_id, content, line, needles in CASES:
        out.append((f"CASES {case_id}", _trace_case(content, 2, needles, line)))
    rng = random.Random(2026)
    for i in range(8):
        size = rng.choice([1, 7, 100, 4096, 65536, 1 << 20])
        out.append((f"random bytes #{i} ({size} B)",
                    _trace_case(rng.randbytes(size) + b"\0", 2)))
    for i in range(4):
        text = "".join(rng.choice("0123456789.,-e+\n") for _ in range(rng.randrange(10, 20000)))
        out.append((f"random CSV-ish characters #{i}", _trace_case(text, 2)))
        out.append((f"header then random CSV-ish characters #{i}",
                    _trace_case(HEADER + "\n" + text, 2)))
    good = _good_trace_text()
    for at in _sample(len(good), 16, 7):
        out.append((f"truncated at character {at} of {len(good)}", _trace_case(good[:at], None)))
    # huge values: finite ones are clipped to the sensor's range; overflowing ones refused
    body = rows(300).split("\n")
    for name, cell, col, expect in [
            ("accel 1e300", "1e300", 1, None), ("gyro -1.7e308", "-1.7e308", 5, None),
            ("accel 1e400 (overflows)", "1e400", 2, 2), ("a 5000-digit number", "9" * 5000, 4, 2),
            ("a 5000-digit time", "9" * 5000, 0, 2), ("time 1e300", "1e300", 0, 2)]:
        lines = list(body)
        cells = lines[100].split(",")
        cells[col] = cell
        lines[100] = ",".join(cells)
        out.append((f"huge value: {name}", _trace_case(HEADER + "\n".join(lines), expect)))
    out.append(("time starting at 1e12 s", _trace_case(HEADER + "".join(
        f"{1e12 + k / 100:.6f},0,0,1,0,0,0\n" for k in range(300)), None)))
    for cell in ["nan", "NAN", "-nan", "+NaN", "nan(1)", "Infinity", "-Infinity", "inf "]:
        for col in (0, 3):
            lines = list(body)
            cells = lines[50].split(",")
            cells[col] = cell
            lines[50] = ",".join(cells)
            out.append((f"{cell.strip()!r} in column {col}",
                        _trace_case(HEADER + "\n".join(lines), 2, line=52)))
    out.append(("a FIFO (no writer)", _trace_case(None, 2, ["not a regular file"],
                                                   how="subprocess", make=_fifo)))
    out.append(("a directory", _trace_case(None, 2, ["is a directory"], make=_dir)))
    for key, value in [("mount_yaw_deg", "inf"), ("mount_yaw_deg", "-inf"),
                       ("mount_yaw_deg", "nan"), ("mount_yaw_deg", "1e400"),
                       ("mount_yaw_deg", "-1e400"), ("mount_yaw_deg", "\u00b3\u2070"),
                       ("mount_yaw_deg", "\u0661\u0660\u0660\u0660"), ("mount_yaw_deg", "361"),
                       ("mount_yaw_deg", "0x10"), ("mount_yaw_deg", ""),
                       ("calibrate_forward_strides", "\u00b2"),
                       ("calibrate_forward_strides", "\uff11\uff10"),
                       ("calibrate_forward_strides", "\u0665"),
                       ("calibrate_forward_strides", "-1"), ("calibrate_forward_strides", "1e1"),
                       ("calibrate_forward_strides", "51"),
                       ("calibrate_forward_strides", "9" * 400),
                       ("calibrate_forward_strides", "inf")]:
        out.append((f"metadata {key}: {value[:12]!r}",
                    _trace_case(f"# {key}: {value}\n" + HEADER + rows(300), 2, [key], line=1)))
    for unit, scale in [("microseconds", 1e6), ("milliseconds", 1e3)]:
        out.append((f"time column in {unit} at 104 Hz", _trace_case(HEADER + "".join(
            f"{round(k * scale / 104)},0,0,1,0,0,0\n" for k in range(300)), 2)))
    out.append(("time in seconds * 1e-6 (MHz)", _trace_case(HEADER + "".join(
        f"{k * 1e-7:.8f},0,0,1,0,0,0\n" for k in range(300)), 2)))
    out.append(("one 1 MB line without a newline", _trace_case("0," * 500_000, 2)))
    out.append(("a header of 100000 columns", _trace_case(
        ",".join(["t_s"] + [f"c{i}" for i in range(100_000)]) + "\n" + rows(5), 2)))
    out.append(("CRLF line ends and a byte-order mark", _trace_case(
        b"\xef\xbb\xbf" + good.replace("\n", "\r\n").encode(), None)))
    out.append(("a lone CR line end", _trace_case(good.replace("\n", "\r", 5), 2)))
    return out


# ---------------------------------------------------------------------------- logs


def _demo_bytes():
    from retrostep.sim import demolog

    return Path(demolog.bundled_session_path()).read_bytes()


_RAW = {}


def _raw_bytes():
    """The raw-sample log of test_damaged_logs.raw_walk_log, written once per run."""
    if "data" not in _RAW:
        from test_damaged_logs import raw_walk_log

        with tempfile.TemporaryDirectory() as d:
            _RAW["data"] = Path(raw_walk_log(d)).read_bytes()
    return _RAW["data"]


def _decode_speed(size, seconds, name):
    if name.startswith("speed:"):  # timed twice (best of 3, then by check_log): the worse
        speed = FIGURES.setdefault("speed", {})
        per_mb = seconds / (size / 2**20)
        speed[name[7:]] = (max(per_mb, speed.get(name[7:], (0,))[0]), size)
    if size >= 4096:  # smaller files time mostly the call
        per_mb = seconds / (size / 2**20)
        worst = FIGURES.get("decode")
        if worst is None or per_mb > worst[0]:
            FIGURES["decode"] = (per_mb, name, size)


def check_log(tmp, data, name, cli=True):
    """The guarantees for one (damaged) log file; True when they held."""
    from retrostep.analysis.library import read_session
    from retrostep.formats.logdecode import LogDecodeError, decode

    folder = tmp / "lib" / "b"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "s00001.rsl"
    path.write_bytes(data)
    best = float("inf")
    for _ in range(3 if len(data) >= 4096 else 1):  # best of 3: a timing, not a pause
        t0 = time.perf_counter()
        try:
            decode(data)
        except LogDecodeError:
            pass
        except Exception as exc:  # noqa: BLE001 - the guarantee under test
            raise AssertionError(f"decode raised {type(exc).__name__}: {exc}") from None
        best = min(best, time.perf_counter() - t0)
    _decode_speed(len(data), best, name)
    try:
        s, _ = read_session(path)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"read_session raised {type(exc).__name__}: {exc}") from None
    assert not (s.error or "").startswith("unreadable ("), \
        f"read_session needed its catch-all: {s.error}"
    if not cli:
        return True
    rep = run_cli(["replay", path])
    clean(rep)
    if rep.code == 2:
        refused(rep)
    else:
        assert rep.code == 0 and rep.out and rep.err == "", f"replay {rep.why()}"
    out = tmp / "out"
    r = run_cli(["report", path, "--out", out], cwd=tmp)
    clean(r)
    if r.code == 2:
        refused(r)
    else:
        assert r.code == 0 and "wrote " in r.out, f"report {r.why()}"
        assert all(x.startswith("  warning: ") for x in r.err.splitlines()), \
            f"report stderr {r.err[:120]!r}"
    made = {p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()}
    assert made <= {"lib/b/s00001.rsl"} | {f"out/{p.name}" for p in out.glob("*")}, made
    return True


def _log_case(make, name, cli=True):
    def scenario(tmp):
        return check_log(tmp, make(), name, cli)
    return scenario


def _header_len(data):
    from retrostep.firmware import logbook as lb

    if data[:4] != lb.MAGIC:
        return 4
    return struct.unpack_from("<BBH", data, 4)[2]


def _damages(label, source, seed):
    """[(name, make bytes)] of one log: cuts, bit flips, zero fills, splices."""
    rng = random.Random(seed)
    n = len(source())
    out = []
    for at in _sample(n, 30, seed):
        out.append((f"{label}: cut at byte {at} of {n}", lambda at=at: source()[:at]))
    for i in range(20):
        k = rng.choice([1, 1, 2, 8, 64, 512])
        s = rng.randrange(1 << 30)

        def flips(k=k, s=s):
            r = random.Random(s)
            b = bytearray(source())
            for _ in range(k):
                b[r.randrange(len(b))] ^= 1 << r.randrange(8)
            return bytes(b)
        out.append((f"{label}: {k} bit flip(s) #{i}", flips))
    h = _header_len(source())
    for i, frac in enumerate([0.0, 0.1, 0.5, 0.9]):
        at = h + int((n - h) * frac)
        out.append((f"{label}: zero-filled from byte {at} to the end",
                    lambda at=at: source()[:at] + bytes(n - at)))
    for i in range(3):
        a = rng.randrange(h, n)
        ln = rng.randrange(1, max(2, (n - a) // 2))
        out.append((f"{label}: {ln} bytes zeroed at {a}",
                    lambda a=a, ln=ln: source()[:a] + bytes(ln) + source()[a + ln:]))
    for i in range(12):
        s = rng.randrange(1 << 30)

        def splice(s=s):
            r = random.Random(s)
            d = source()
            how = r.randrange(4)
            a = r.randrange(len(d))
            if how == 0:  # random bytes inserted
                return d[:a] + r.randbytes(r.randrange(1, 5000)) + d[a:]
            if how == 1:  # a piece of the file repeated elsewhere
                b = r.randrange(len(d))
                return d[:a] + d[b:b + r.randrange(1, 3000)] + d[a:]
            if how == 2:  # a piece cut out
                return d[:a] + d[a + r.randrange(1, 3000):]
            other = _demo_bytes() if d != _demo_bytes() else _raw_bytes()
            return d[:a] + other[r.randrange(len(other)):]  # another log's tail
        out.append((f"{label}: random splice #{i}", splice))
    return out


def _crafted(odr, accel, gyro, tail):
    from test_damaged_logs import crafted_header

    def make():
        return crafted_header(odr, accel, gyro) + tail()
    return make


def _records_only(data):
    return data[_header_len(data):]


def logs():
    from retrostep.firmware import logbook as lb

    out = []
    for label, source, seed in [("demo log", _demo_bytes, 1), ("raw-sample log", _raw_bytes, 2)]:
        out += [(n, _log_case(m, n)) for n, m in _damages(label, source, seed)]
    flood = bytes([lb.SYNC, lb.REC_RAW]) + lb.MAX_PAYLOAD.to_bytes(2, "little")
    tails = [("zeros", lambda: bytes(2000)),
             ("random bytes", lambda: random.Random(5).randbytes(4096)),
             ("the demo log's records", lambda: _records_only(_demo_bytes())),
             ("the raw log's records", lambda: _records_only(_raw_bytes())),
             ("sync-byte flood", lambda: flood * 2000)]
    values = [(0, 61, 70000), (1, 61, 70000), (65535, 61, 70000), (104, 0, 70000),
              (104, 65535, 70000), (104, 61, 0), (104, 61, 2**32 - 1), (104, 61, 70000)]
    for odr, accel, gyro in values:
        for tname, tail in tails:
            name = f"crafted header odr {odr} accel {accel} gyro {gyro}, then {tname}"
            out.append((name, _log_case(_crafted(odr, accel, gyro, tail), name)))
    out += _speed_cases(flood)
    return out


SPEED_LIMIT_S_PER_MB = 0.5  # "well under a second per MB", for valid and crafted files


def _speed(make, name, limit=SPEED_LIMIT_S_PER_MB):
    """Decoding stays under `limit` seconds per MB (best of 3 timings)."""
    def scenario(tmp):
        from retrostep.formats.logdecode import LogDecodeError, decode

        data = make()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                decode(data)
            except LogDecodeError:
                pass
            best = min(best, time.perf_counter() - t0)
        per_mb = best / (len(data) / 2**20)
        _decode_speed(len(data), best, name)
        assert per_mb < limit, f"{per_mb:.2f} s per MB to decode ({len(data)} bytes)"
        return check_log(tmp, data, name, cli=len(data) < 2 << 20)
    return scenario


def _raw_flood(n, size, total, zeros=False):
    """Raw records with good CRCs of n samples each whose Rice data is random bits, or
    zeros (every partition order 0, k 0: one bit a code, the longest walk there is)."""
    from retrostep.firmware import logbook as lb

    rng = random.Random(n)
    out = b""
    t = 0
    while len(out) < total:
        payload = (t.to_bytes(4, "little") + n.to_bytes(2, "little") + bytes([lb.RAW_RICE])
                   + (bytes(size) if zeros else rng.randbytes(size)))
        body = bytes([lb.SYNC, lb.REC_RAW]) + len(payload).to_bytes(2, "little") + payload
        out += body + zlib.crc32(body).to_bytes(4, "little")
        t += n
    return out


def _speed_cases(flood):
    from test_damaged_logs import crafted_header

    mb = 1 << 20

    def raw_repeated():
        raw = _raw_bytes()
        body = _records_only(raw)
        return raw[:_header_len(raw)] + body * (mb // len(body) + 1)

    cases = [("speed: the raw-sample log as written", _raw_bytes),
             ("speed: the raw-sample log's records repeated to 1 MB", raw_repeated),
             ("speed: 1 MB of sync-byte flood after a valid header",
              lambda: crafted_header() + flood * (mb // 4)),
             ("speed: 1 MB of random bytes after a valid header",
              lambda: crafted_header() + random.Random(9).randbytes(mb)),
             ("speed: 1 MB of zeros after a valid header",
              lambda: crafted_header() + bytes(mb)),
             ("speed: 1 MB of random bytes and records",
              lambda: _mixed(mb)),
             ("speed: 1 MB of valid-CRC raw blocks of zeros claiming 11,900 samples each",
              lambda: crafted_header() + _raw_flood(11900, 12288, mb, zeros=True)),
             ("speed: 1 MB of valid-CRC raw blocks of 1024 samples of random bits",
              lambda: crafted_header() + _raw_flood(1024, 6000, mb))]
    return [(n, _speed(m, n)) for n, m in cases]


def _mixed(size):
    r = random.Random(13)
    raw = _raw_bytes()
    body = _records_only(raw)
    out = bytearray(raw[:_header_len(raw)])
    while len(out) < size:
        a = r.randrange(len(body))
        out += body[a:a + r.randrange(1, 4000)] + r.randbytes(r.randrange(0, 300))
    return bytes(out)


# ---------------------------------------------------------------------------- inputs


def _eval_case(which, text, words):
    def scenario(tmp):
        from test_evaluate import GOOD_LABELS, GOOD_RESULT

        files = {"result": json.dumps(GOOD_RESULT), "labels": json.dumps(GOOD_LABELS)}
        files[which] = text
        for name, body in files.items():
            p = tmp / f"{name}.json"
            p.write_bytes(body) if isinstance(body, bytes) else p.write_text(body)
        msg = refused(run_cli(["eval", tmp / "result.json", tmp / "labels.json"]))
        assert f"{which}.json" in msg, f"the message does not name {which}.json: {msg[:100]}"
        for w in words:
            assert w in msg, f"{w!r} not in {msg[:120]!r}"
        return True
    return scenario


def _eval_not_a_file(kind):
    def scenario(tmp):
        from test_evaluate import GOOD_LABELS

        target = tmp / "result.json"
        target.mkdir() if kind == "directory" else os.mkfifo(target)
        (tmp / "labels.json").write_text(json.dumps(GOOD_LABELS))
        r = run_sub(["eval", target, tmp / "labels.json"], timeout=60)
        refused(r, "eval")
        return True
    return scenario


class _ConfigAccepted(Exception):
    pass


class _NoBoard:
    """Stands in for a board: deploy checks --config before it asks the board anything
    beyond its .mpy version; reaching `hashes` means the config was accepted."""

    def mpy_info(self):
        return None

    def hashes(self, files):
        raise _ConfigAccepted()

    def close(self, resume=True):
        pass


def run_deploy_config(path, timeout=5):
    """`retrostep deploy --config PATH` in-process with no board (its config check is
    real; connect and the compile are stood in for). A config read that blocks for
    `timeout` s is a failure (the reader is released by opening the pipe)."""
    import threading

    import retrostep.device.deploy as dep

    saved = dep.connect, dep.build
    dep.connect = lambda port=None, *a, **k: _NoBoard()
    dep.build = lambda info, out_dir: {}
    box = {}
    try:
        t = threading.Thread(target=lambda: box.update(r=run_cli(
            ["deploy", "--config", path, "--dry-run"])), daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            t.join(10)
            raise AssertionError(f"deploy --config {Path(path).name} waited {timeout} s on "
                                 "a file that never ends (not refused)")
    finally:
        dep.connect, dep.build = saved
    r = box["r"]
    if r.raised and "_ConfigAccepted" in r.raised:
        r.raised, r.code = None, "accepted"
    return r


def _deploy_case(body=None, make=None, words=()):
    def scenario(tmp):
        path = tmp / "config.json"
        if make is not None:
            make(path)
        else:
            path.write_bytes(body) if isinstance(body, bytes) else path.write_text(body)
        r = run_deploy_config(path)
        assert r.code != "accepted", "the board would have been given this config"
        msg = refused(r, "deploy")
        for w in words:
            assert w in msg, f"{w!r} not in {msg[:120]!r}"
        return True
    return scenario


def _deploy_good(tmp):
    """Control: a good config passes the check (so the refusals above are real)."""
    path = tmp / "config.json"
    path.write_text(json.dumps({"mount": {"yaw_deg": 12}}))
    r = run_deploy_config(path)
    assert r.code == "accepted", f"a good config was not accepted: {r.why()}"
    return True


def _lib_with_demo(tmp):
    lib = tmp / "lib" / "b1"
    lib.mkdir(parents=True)
    (lib / "s00001.rsl").write_bytes(_demo_bytes())
    return tmp / "lib"


def _output_case(argv_of, what):
    """An output path that cannot be written: exit 2, one line, nothing made."""
    def scenario(tmp):
        from test_trace_errors import HEADER, rows

        lib = _lib_with_demo(tmp)
        (tmp / "walk.csv").write_text(HEADER + rows(400))
        (tmp / "afile").write_text("x")
        (tmp / "afolder").mkdir()
        before = _tree(tmp)
        r = run_cli(argv_of(tmp, lib), cwd=tmp)
        refused(r)
        # the library's own bookkeeping (lib/.index.json) is not an output
        made = sorted(m for m in _tree(tmp) - before if not m.startswith("lib/"))
        if made:
            NOTES.append(f"{what}: refused, but left {', '.join(made)} written")
        return True
    return scenario


def inputs():
    from test_evaluate import HOSTILE

    out = [(f"eval HOSTILE {which}: {text[:30]!r}", _eval_case(which, text, words))
           for which, text, words in HOSTILE]
    for which, text in [("result", '{"steps": NaN, "events": []}'),
                        ("result", '{"steps": 1e400, "events": []}'),
                        ("result", '{"steps": 2.5, "events": []}'),
                        ("result", '{"steps": 2, "events": [{"t_s": NaN, "type": "stride", '
                                   '"direction": "backward"}]}'),
                        ("result", '{"steps": 2, "events": [{"t_s": Infinity, '
                                   '"type": "stride", "direction": "backward"}]}'),
                        ("result", ""), ("result", b"\xff\xfe{\x00}"),
                        ("labels", '{"strides": [{"t_land_s": NaN, "direction": "backward"}]}'),
                        ("labels", '{"strides": [{"t_land_s": 1, "direction": 3}]}'),
                        ("labels", '{"steps": 1e400, "strides": []}'),
                        ("labels", "{" * 50000 + "}" * 50000)]:
        shown = text[:30] if isinstance(text, str) else text
        out.append((f"eval {which}: {shown!r}", _eval_case(which, text, [])))
    out += [("eval result is a directory", _eval_not_a_file("directory")),
            ("eval result is a FIFO", _eval_not_a_file("fifo"))]
    out += [
        ("deploy --config a directory", _deploy_case(make=lambda p: p.mkdir())),
        ("deploy --config a FIFO (no writer)", _deploy_case(make=os.mkfifo)),
        ("deploy --config nested 100000 deep", _deploy_case("[" * 100000 + "]" * 100000)),
        ("deploy --config objects nested 5000 deep",
         _deploy_case('{"a":' * 5000 + "1" + "}" * 5000)),
        ("deploy --config nested 20 deep", _deploy_case("[" * 20 + "]" * 20)),
        ("deploy --config a list", _deploy_case("[1, 2]")),
        ("deploy --config a string", _deploy_case('"text"')),
        ("deploy --config null", _deploy_case("null")),
        ("deploy --config gait is a string", _deploy_case('{"gait": "fast"}', words=["gait"])),
        ("deploy --config still_ms is a string",
         _deploy_case('{"gait": {"still_ms": "5"}}', words=["still_ms"])),
        ("deploy --config still_ms out of range",
         _deploy_case('{"gait": {"still_ms": 5}}', words=["still_ms"])),
        ("deploy --config yaw 1e400", _deploy_case('{"mount": {"yaw_deg": 1e400}}')),
        ("deploy --config yaw NaN", _deploy_case('{"mount": {"yaw_deg": NaN}}')),
        ("deploy --config yaw true", _deploy_case('{"mount": {"yaw_deg": true}}')),
        ("deploy --config a 400-digit integer",
         _deploy_case('{"mount": {"yaw_deg": ' + "9" * 400 + "}}")),
        ("deploy --config an unknown key", _deploy_case('{"gait": {"speed": 3}}')),
        ("deploy --config not UTF-8", _deploy_case(b'{"board": "\xff\xfe"}')),
        ("deploy --config empty", _deploy_case("")),
        ("deploy --config truncated JSON", _deploy_case('{"gait": {')),
        ("deploy --config missing file", _deploy_case(make=lambda p: None)),
        ("deploy --config a good one (control)", _deploy_good),
    ]
    outputs = [
        ("report --out /proc/x", lambda t, lib: ["report", "--library", lib, "--out", "/proc/x"]),
        ("report --out a file", lambda t, lib: ["report", "--library", lib, "--out", t / "afile"]),
        ("report --out below a file",
         lambda t, lib: ["report", "--library", lib, "--out", t / "afile" / "sub"]),
        ("export -o /proc/x.csv",
         lambda t, lib: ["export", "--library", lib, "-o", "/proc/x.csv"]),
        ("export -o a folder", lambda t, lib: ["export", "--library", lib, "-o", t / "afolder"]),
        ("export -o below a file",
         lambda t, lib: ["export", "--library", lib, "-o", t / "afile" / "x.csv"]),
        ("export --summary a folder", lambda t, lib: [
            "export", "--library", lib, "-o", t / "afolder" / "s.csv", "--summary", t / "afolder"]),
        ("export --summary /proc/x.csv", lambda t, lib: [
            "export", "--library", lib, "-o", t / "afolder" / "s.csv", "--summary", "/proc/x.csv"]),
        ("chart -o /proc/x.png", lambda t, lib: ["chart", t / "walk.csv", "-o", "/proc/x.png"]),
        ("chart -o a folder", lambda t, lib: ["chart", t / "walk.csv", "-o", t / "afolder"]),
        ("chart -o below a file",
         lambda t, lib: ["chart", t / "walk.csv", "-o", t / "afile" / "c.png"]),
        ("history --png /proc/x.png",
         lambda t, lib: ["history", "--library", lib, "--png", "/proc/x.png"]),
        ("history --html a folder",
         lambda t, lib: ["history", "--library", lib, "--html", t / "afolder"]),
        ("history --png below a file",
         lambda t, lib: ["history", "--library", lib, "--png", t / "afile" / "h.png"]),
        ("history --html /proc/x.html",
         lambda t, lib: ["history", "--library", lib, "--html", "/proc/x.html"]),
    ]
    out += [(f"output path: {what}", _output_case(argv_of, what)) for what, argv_of in outputs]
    return out


# ---------------------------------------------------------------------------- security


def reheader(data, board_id, fw_version="0.1.0"):
    """A log with its header's board id (and firmware version) replaced, CRC valid: a
    board or a crafter can put any 63 bytes there; the records are kept."""
    from retrostep.firmware import logbook as lb

    fmt = "<" + lb.HEADER_FMT.decode()
    values = list(struct.unpack_from(fmt, data, 4))
    body = data[values[lb.HEADER_FIELDS.index("header_len")]:]
    bid = board_id.encode("utf-8", "surrogatepass")[:lb.STRING_MAX]
    fw = fw_version.encode()[:lb.STRING_MAX]
    strings = bytes([len(bid)]) + bid + bytes([len(fw)]) + fw
    values[lb.HEADER_FIELDS.index("header_len")] = 4 + struct.calcsize(fmt) + len(strings) + 4
    head = lb.MAGIC + struct.pack(fmt, *values) + strings
    return head + lb.crc32(head).to_bytes(4, "little") + body


def _tree(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _report_escape(board_id, fw="0.1.0"):
    """`retrostep report` of a log whose board id tries to leave the output folder:
    two files, safely named, in the output folder; nothing anywhere else."""
    def scenario(tmp):
        bid = board_id.replace("{tmp}", str(tmp))
        (tmp / "lib" / "b").mkdir(parents=True)
        (tmp / "work").mkdir()
        log = tmp / "lib" / "b" / "s00001.rsl"
        log.write_bytes(reheader(_demo_bytes(), bid, fw))
        before = _tree(tmp)
        out = tmp / "deep" / "out"
        r = run_cli(["report", log, "--out", out], cwd=tmp / "work")
        clean(r)
        assert r.code == 0, f"report {r.why()}"
        made = _tree(tmp) - before
        inside = {m for m in made if m.startswith("deep/out/") or m in ("deep", "deep/out")}
        assert made == inside, f"written outside the output folder: {sorted(made - inside)[:3]}"
        files = sorted(p.name for p in out.iterdir())
        assert len(files) == 2 and {Path(f).suffix for f in files} == {".png", ".html"}, files
        for f in files:
            assert not f.startswith(".") and len(f) <= 80, f"file name {f!r}"
        page = next(out.glob("*.html")).read_text(encoding="utf-8")
        for bad in ("<script>alert", "<img src=x"):  # escaped, they show as text
            assert bad not in page, f"{bad!r} from the log is live in the page"
        return True
    return scenario


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _export_formula(board_id):
    """`retrostep export --all` with a board id that a spreadsheet would run: every
    text cell of both CSVs that starts like a formula is neutralised (a leading ')."""
    def scenario(tmp):
        import csv

        lib = tmp / "lib" / "b"
        lib.mkdir(parents=True)
        (lib / "s00001.rsl").write_bytes(reheader(_demo_bytes(), board_id, board_id))
        s, summ = tmp / "strides.csv", tmp / "summary.csv"
        r = run_cli(["export", "--library", tmp / "lib", "--all", "-o", s, "--summary", summ])
        clean(r)
        assert r.code == 0, f"export {r.why()}"
        for f in (s, summ):
            rows = list(csv.reader(f.open(newline="", encoding="utf-8")))
            assert len(rows) > 1, f"{f.name}: no rows"
            for row in rows[1:]:
                for cell in row:
                    assert not (cell.startswith(FORMULA_START) and not _is_number(cell)), \
                        f"{f.name}: cell {cell[:40]!r} runs as a formula"
            col = rows[0].index("board_id")
            stored = board_id.encode()[:63].decode("utf-8", "ignore")
            # the log decoder shows a control character of an id as '?'
            stored = "".join(c if c.isprintable() else "?" for c in stored)
            assert all(row[col] in (stored, "'" + stored) for row in rows[1:]), \
                f"{f.name}: board_id cell {rows[1][col][:40]!r}"
        return True
    return scenario


def security():
    out = []
    for bid in ["../../x", "/etc/cron.d/y", "{tmp}/abs/x", "..", ".", "", ".hidden",
                "a b\\c", "~/x", "..\\..\\x", "....//....//x", "C:\\Windows\\x",
                "%2e%2e%2fx", "x/../../../y", "\u00fc/../../\u00e9", "a\x00b/../../c",
                "../" * 21, "x" * 63, "\n../x\r", "con", "<script>alert(1)</script>",
                "<img src=x onerror=alert(1)>"]:
        out.append((f"report board id {bid[:24]!r}", _report_escape(bid)))
    out.append(("report firmware version '<script>'",
                _report_escape("b", "<script>alert(1)</script>")))
    for bid in ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
                "=cmd|' /C calc'!A0", "-", "=", "+", "@"]:
        out.append((f"export cell {bid[:24]!r}", _export_formula(bid)))
    return out


# ---------------------------------------------------------------------------- firmware

_TRACES = {}


def _fw_trace(case):
    """A corpus case as a trace file, written once per run."""
    if case not in _TRACES:
        from retrostep.formats.trace import write_trace
        from retrostep.sim import corpus

        d = tempfile.mkdtemp(prefix="rstep-fault-traces-")
        trace, _ = corpus.make_case(case)
        path = Path(d) / f"{case}.csv"
        write_trace(path, trace)
        _TRACES[case] = path
    return _TRACES[case]


def _needs_vm():
    from retrostep.vm import mpvm

    assert mpvm.available(), "the MicroPython VM is missing: Node.js >= 18 and `npm ci`"


def _fw_test(fn, *args):
    def scenario(tmp):
        _needs_vm()
        said = io.StringIO()
        with contextlib.redirect_stdout(said):  # the test prints what it measured
            fn(tmp, *[_fw_trace(a) if a in ("walk_fwd_normal", "bwd_curve_left") else a
                      for a in args])
        NOTES.extend(f"firmware {line}" for line in said.getvalue().splitlines())
        return True
    return scenario


def _fw_kept_counting(i2c_faults, case="walk_fwd_normal"):
    """A variant of the test file's I2C faults: the device keeps counting through them,
    logs a summary equal to what it counted, and both presses were heard."""
    def scenario(tmp):
        import test_vboard_faults as vf
        from retrostep.firmware import logbook

        _needs_vm()
        trace = _fw_trace(case)
        fs = vf.flash(tmp)
        vb, rep = vf.run(fs, trace, presses=vf.session_presses(vf.trace_seconds(trace)),
                         i2c_faults=i2c_faults)
        assert rep["reason"] == "trace_end", rep["reason"]
        assert rep["resets"] == [] and rep["main"] is None, (rep["resets"], rep["main"])
        st = rep["firmware_status"]
        assert st["crashes"] == 0 and st["sessions"] == 1 and st["state"] == "idle", st
        log = vf.the_log(fs)
        summary = [r.fields for r in log.records if r.type == logbook.REC_SUMMARY][0]
        assert summary["steps"] == st["steps"] > 20, (summary["steps"], st["steps"])
        assert summary["lost_samples"] == sum(
            r.fields["lost_samples"] for r in log.records if r.type == logbook.REC_GAP)
        return True
    return scenario


def firmware():
    import test_vboard_faults as vf

    walk, curve = "walk_fwd_normal", "bwd_curve_left"
    return [
        ("I2C outage of 2 s: counted as replay minus the lost samples",
         _fw_test(vf.test_steps_are_counted_through_a_2_s_i2c_outage_as_replay_minus_the_lost_samples,
                  walk)),
        ("I2C failing in bursts of 1-50 transfers (seed 11)",
         _fw_test(vf.test_an_i2c_bus_failing_in_bursts_of_1_to_50_transfers_never_stops_the_device,
                  walk)),
        ("full flash: steps and alerts go on",
         _fw_test(vf.test_steps_and_alerts_go_on_when_the_log_cannot_be_written, curve,
                  "full_flash")),
        ("/logs blocked by a file: steps and alerts go on",
         _fw_test(vf.test_steps_and_alerts_go_on_when_the_log_cannot_be_written, curve,
                  "logs_blocked")),
        ("an exception once in the loop: written down, counting goes on",
         _fw_test(vf.test_an_exception_in_the_loop_is_written_down_and_counting_goes_on, walk)),
        ("crash loop: reset by the watchdog",
         _fw_test(vf.test_a_loop_that_keeps_failing_is_reset_by_the_watchdog)),
        ("/config.json nested 20000 deep: defaults count",
         _fw_test(vf.test_a_config_nested_too_deep_is_refused_and_the_defaults_count, walk)),
        *[(f"I2C bursts of 1-50 transfers, seed {seed}", _fw_kept_counting(
            {"bursts": {"min_len": 1, "max_len": 50, "min_gap": 5, "max_gap": 60,
                        "seed": seed}})) for seed in (1, 2, 3)],
        ("I2C outages of 5 s and 0.5 s", _fw_kept_counting({"outages": [[10.0, 15.0],
                                                                        [30.0, 30.5]]})),
    ]
