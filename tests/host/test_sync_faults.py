"""`retrostep sync` against boards that misbehave on the wire, and laptops that cannot
write: fault injection at the transport level.

`FakeBoard` is a board on a loopback socket that speaks MicroPython's raw REPL (raw-paste
mode, as mpremote uses it) and answers retrostep's snippets from a dict of files; real
mpremote and the real `retrostep sync` command line talk to it. Its behaviour per kind
of snippet (id, list, hash, read, remove, clock, set_clock) can be replaced: silent after the snippet,
streaming for ever, trickling, lying about sizes, hashes and names, dying mid-read.
Every scenario runs the command line and checks the guarantees (`check`): no traceback,
at most one line on stderr, the exit code, library files never changed, and nothing
removed from the board that the library does not hold byte for byte.

SCENARIOS is shared with bench/faults.py (category "sync"). Timeouts here are short
(--timeout 0.3, --deadline 8) so the suite stays fast.
"""

import ast
import base64
import contextlib
import errno
import hashlib
import io
import os
import select
import socket
import struct
import threading
import time
import traceback
from pathlib import Path

BANNER = b"raw REPL; CTRL-B to exit\r\n"
BOARD_ID = "fa4eb0a2d0000001"
FAST = ["--timeout", "0.3", "--deadline", "8"]


class Die(Exception):
    """Close the connection (the board dies)."""


SILENT = object()  # yielded by a behaviour: say nothing more, until Ctrl-C (or ever)


class FakeBoard:
    """A board speaking the raw REPL on 127.0.0.1; see the module docstring.

    files: {name: bytes} in /logs. on: {kind: behaviour(board, args) -> iterable of
    bytes (stdout) or SILENT}; a behaviour may raise OSError(errno) (the board's error)
    or Die. deaf: Ctrl-C does not stop a snippet (a crashed board). mute_at_connect:
    never answers at all."""

    def __init__(self, files=None, on=None, deaf=False, mute_at_connect=False):
        self.files = {k: bytes(v) for k, v in (files or {}).items()}
        self.on = dict(on or {})
        self.deaf = deaf
        self.mute = mute_at_connect
        self.removed = {}  # name -> the bytes the board had
        self.calls = []  # kinds of snippets, in order
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.url = f"socket://127.0.0.1:{self.srv.getsockname()[1]}"
        self._stop = threading.Event()
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._stop.set()
        for s in [self.srv, *self._conns]:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ the wire
    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        self._in = bytearray()
        try:
            self._session(conn)
        except (Die, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _getc(self, conn):
        while not self._in:
            if self._stop.is_set():
                raise Die()
            r, _, _ = select.select([conn], [], [], 0.05)
            if r:
                data = conn.recv(65536)
                if not data:
                    raise Die()
                self._in += data
        c = self._in[0]
        del self._in[0]
        return c

    def _interrupted(self, conn):
        """True if a Ctrl-C came in (and the board listens to it)."""
        r, _, _ = select.select([conn], [], [], 0)
        if r:
            data = conn.recv(65536)
            if not data:
                raise Die()
            self._in += data
        if b"\x03" in self._in and not self.deaf:
            del self._in[: self._in.index(b"\x03") + 1]
            return True
        return False

    def _session(self, conn):
        raw = False
        while True:
            c = self._getc(conn)
            if self.mute:
                continue
            if c == 0x01:  # Ctrl-A: (back to) the raw REPL
                raw = True
                conn.sendall(BANNER + b">")
            elif c == 0x02:
                raw = False
            elif raw and c == 0x05:  # raw paste: 0x05 'A' 0x01
                assert self._getc(conn) == ord("A") and self._getc(conn) == 0x01
                conn.sendall(b"R\x01" + struct.pack("<H", 0xFFFF))
                code = bytearray()
                while (c := self._getc(conn)) != 0x04:
                    code.append(c)
                conn.sendall(b"\x04")
                self._exec(conn, code.decode())

    def _exec(self, conn, code):
        kind, args = parse(code)
        self.calls.append(kind)
        err = b""
        try:
            for part in self.on.get(kind, HONEST[kind])(self, args):
                if part is SILENT:
                    while not self._interrupted(conn):
                        time.sleep(0.01)
                    raise KeyboardInterrupt
                if self._interrupted(conn):
                    raise KeyboardInterrupt
                conn.sendall(part)
        except KeyboardInterrupt:
            err = b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n"
        except OSError as exc:
            name = errno.errorcode.get(exc.errno, str(exc.errno))
            err = f"Traceback (most recent call last):\r\nOSError: [Errno {exc.errno}] " \
                  f"{name}\r\n".encode()
        conn.sendall(b"\x04" + err + b"\x04>")


def parse(code):
    """(kind, args) of one of retrostep's snippets."""
    last = code.strip().splitlines()[-1].strip()
    if "unique_id" in code:
        return "id", ()
    if "ilistdir" in code:
        return "list", ()
    if last.startswith("_hs("):
        return "hash", (ast.literal_eval(last[3:]),)
    if last.startswith("_rd("):
        return "read", ast.literal_eval(last[3:])
    if "os.remove(" in last:
        return "remove", (ast.literal_eval(last[last.index("(") + 1: -1]),)
    if "RTC().datetime(" in code:
        return "set_clock", ()
    if "time.time()" in code:
        return "clock", ()
    return "other", (code,)


def _name(path):
    return path.rsplit("/", 1)[-1]


def honest_id(b, args):
    yield f"{BOARD_ID}\r\n".encode()


def honest_list(b, args):
    yield "".join(f"({n!r}, 32768, 0, {len(d)})," for n, d in b.files.items()).encode()


def honest_hash(b, args):
    for p in args[0]:
        d = b.files.get(_name(p))
        yield (f"{p} - -\r\n" if d is None else
               f"{p} {len(d)} {hashlib.sha256(d).hexdigest()}\r\n").encode()


def honest_read(b, args):
    path, off, chunk, n = args
    data = b.files.get(_name(path))
    if data is None:
        raise OSError(errno.ENOENT, path)
    data = data[off: off + n]
    for i in range(0, len(data), chunk):
        yield base64.b64encode(data[i: i + chunk]) + b"\n"


def honest_remove(b, args):
    name = _name(args[0])
    if name not in b.files:
        raise OSError(errno.ENOENT, args[0])
    b.removed[name] = b.files.pop(name)
    yield b""


def honest_clock(b, args):
    yield f"{int(time.time()) - 946684800}\r\n".encode()  # MicroPython's epoch: 2000


HONEST = {"id": honest_id, "list": honest_list, "hash": honest_hash, "read": honest_read,
          "remove": honest_remove, "clock": honest_clock,
          "set_clock": lambda b, a: iter(()), "other": lambda b, a: iter(())}


def on_call(kind_calls, behaviour, honest):
    """A behaviour for the Nth calls only (1-based set), honest otherwise."""
    count = [0]

    def run(b, args):
        count[0] += 1
        return (behaviour if count[0] in kind_calls else honest)(b, args)
    return run


def for_file(name, behaviour, honest):
    """A read/hash behaviour for one file only."""
    def run(b, args):
        p = args[0][0] if isinstance(args[0], list) else args[0]
        return (behaviour if _name(p) == name else honest)(b, args)
    return run


# ---------------------------------------------------------------------------- running
def logs(n=3, size=5000, seed=1):
    import random

    rnd = random.Random(seed)
    return {f"s{i:05d}.rsl": bytes(rnd.getrandbits(8) for _ in range(size + i))
            for i in range(1, n + 1)}


class Result:
    def __init__(self, rc, out, err, exc, seconds):
        self.rc, self.out, self.err, self.exc, self.seconds = rc, out, err, exc, seconds

    def __repr__(self):
        return f"rc={self.rc} {self.seconds:.2f}s\nout: {self.out}\nerr: {self.err}" + \
            (f"\nexception: {self.exc}" if self.exc else "")


def run_cli(url, lib, *extra):
    """`retrostep sync` in this process; an exception escaping it is kept, not raised."""
    from retrostep.cli import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    rc = exc = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["sync", "--port", url, "--library", str(lib), *FAST, *extra])
        except BaseException:  # noqa: B036 - a traceback is what we look for
            exc = traceback.format_exc()
    return Result(rc, out.getvalue(), err.getvalue(), exc, time.monotonic() - t0)


def library(lib):
    return {p.relative_to(lib).as_posix(): p.read_bytes()
            for p in Path(lib).rglob("*") if p.is_file()}


def sessions(lib):
    """{content sha: library name} of the finished files of the library."""
    return {hashlib.sha256(d).hexdigest(): n for n, d in library(lib).items()
            if not Path(n).name.startswith(".")}


def check(res, board, lib, rc, before=None, max_s=6.0):
    """The guarantees every run keeps."""
    assert res.exc is None, res
    assert "Traceback" not in res.err + res.out, res
    assert len(res.err.strip().splitlines()) <= 1, res
    assert res.rc == rc, res
    assert res.seconds < max_s, res
    now = library(lib)
    for name, data in (before or {}).items():  # nothing changed, nothing replaced
        assert now.get(name) == data, (name, res)
    have = sessions(lib)
    for name, data in board.removed.items():  # removed only when the library has it
        assert hashlib.sha256(data).hexdigest() in have, (name, res)
    for name, data in now.items():  # .part files never beyond what the board listed
        if name.endswith(".part"):
            assert len(data) <= 6000, (name, len(data))
    return now


def one_line(res, *words):
    line = res.err.strip()
    assert len(line.splitlines()) == 1 and line.startswith("retrostep sync: error:"), res
    for w in words:
        assert w in line, (w, res)


def synced(board, lib, names):
    have = sessions(lib)
    for n in names:
        assert hashlib.sha256(board_files[n]).hexdigest() in have, n


# the files every scenario starts from (the board's copy is changed by removals)
board_files = logs()


# ---------------------------------------------------------------------------- scenarios
def sc_healthy_with_bookkeeping(tmp):
    files = dict(board_files, last=b"3\n", **{"s00009.rsl": b""})
    with FakeBoard(files) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 0)
        synced(b, tmp / "lib", logs())
        assert "'s00009.rsl': empty, not a session: left on the board" in res.out
        assert "last" not in res.out and set(b.files) == {"last", "s00009.rsl"}


def sc_silent_at_connect(tmp):
    with FakeBoard(board_files, mute_at_connect=True) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2, max_s=3)
        one_line(res, "does not answer on its REPL")


def _silent(b, args):
    yield SILENT


def sc_silent_after_list(tmp):
    with FakeBoard(board_files, on={"list": _silent}) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2, max_s=3)
        one_line(res, "list", "silent")
        assert not b.removed


def sc_silent_after_read_skips_that_file(tmp):
    on = {"read": for_file("s00002.rsl", _silent, honest_read)}
    with FakeBoard(board_files, on=on) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2, max_s=4)
        synced(b, tmp / "lib", ["s00001.rsl", "s00003.rsl"])
        assert "'s00002.rsl':" in res.out and "silent" in res.out
        assert "s00002.rsl" in b.files and res.err == ""


def sc_silent_after_hash_skips_that_file(tmp):
    on = {"hash": for_file("s00001.rsl", _silent, honest_hash)}
    with FakeBoard(board_files, on=on) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2, max_s=4)
        synced(b, tmp / "lib", ["s00002.rsl", "s00003.rsl"])
        assert "s00001.rsl" in b.files and "s00001.rsl" not in str(sessions(tmp / "lib"))


def sc_dead_during_read(tmp):
    """Silent and deaf to Ctrl-C: the run ends with one line; what was verified stays."""
    on = {"read": for_file("s00002.rsl", _silent, honest_read)}
    with FakeBoard(board_files, on=on, deaf=True) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2, max_s=4)
        one_line(res, "does not come back")
        synced(b, tmp / "lib", ["s00001.rsl"])
        assert "s00002.rsl" in b.files and "s00003.rsl" in b.files


def _forever(b, args):
    line = base64.b64encode(bytes(3072)) + b"\n"
    while True:
        yield line


def sc_streaming_forever_skips_that_file(tmp):
    on = {"read": for_file("s00002.rsl", _forever, honest_read)}
    with FakeBoard(board_files, on=on) as b:
        res = run_cli(b.url, tmp / "lib")
        now = check(res, b, tmp / "lib", 2)
        synced(b, tmp / "lib", ["s00001.rsl", "s00003.rsl"])
        assert "sent too much" in res.out or "more of s00002.rsl than" in res.out
        assert not [n for n in now if n.endswith(".part")]  # garbage is not kept


def sc_streaming_forever_deaf(tmp):
    on = {"read": for_file("s00001.rsl", _forever, honest_read)}
    with FakeBoard(board_files, on=on, deaf=True) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2)
        one_line(res, "does not come back")
        assert not b.removed


def sc_streaming_forever_on_stderr_or_list(tmp):
    def junk_list(b, args):
        while True:
            yield b"('s00001.rsl', 32768, 0, 5001)," * 100
    with FakeBoard(board_files, on={"list": junk_list}) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2)
        one_line(res, "list")


def sc_trickle_hits_the_deadline(tmp):
    def trickle(b, args):
        for _ in range(150):  # 15 s (finite: a sync without a deadline fails, not hangs)
            time.sleep(0.1)
            yield b"A"
    on = {"read": for_file("s00002.rsl", trickle, honest_read)}
    with FakeBoard(board_files, on=on, deaf=True) as b:
        res = run_cli(b.url, tmp / "lib", "--deadline", "1.5")
        check(res, b, tmp / "lib", 2, max_s=4)
        one_line(res, "deadline (1.5 s)", "1 of 3")
        synced(b, tmp / "lib", ["s00001.rsl"])


def sc_dies_mid_read_then_resumes(tmp):
    def dies(b, args):
        yield base64.b64encode(board_files["s00002.rsl"][:1500]) + b"\n"
        yield b"AAAA"  # and a line cut short: the line goes
        raise Die()
    with FakeBoard(board_files, on={"read": for_file("s00002.rsl", dies, honest_read)}) as b:
        res = run_cli(b.url, tmp / "lib")
        now = check(res, b, tmp / "lib", 2)
        one_line(res, "lost the board")
        parts = {n: d for n, d in now.items() if n.endswith(".s00002.rsl.part")}
        assert [len(d) for d in parts.values()] == [1500]
        left = dict(b.files)
    from retrostep.device import sync as syncmod

    with FakeBoard(left) as b2:  # the same board, back: the copy resumes
        rep = syncmod.sync(b2.url, str(tmp / "lib"), timeout=0.3, deadline=8)
        assert rep.bytes == (len(board_files["s00002.rsl"]) - 1500) + \
            len(board_files["s00003.rsl"])
        assert not b2.files and sorted(rep.fetched) == ["s00002.rsl", "s00003.rsl"]
    synced(b, tmp / "lib", list(board_files))
    assert not [n for n in library(tmp / "lib") if n.endswith(".part")]


def sc_lies_about_sizes(tmp):
    def small(b, args):
        yield b"('s00001.rsl', 32768, 0, 100),('s00002.rsl', 32768, 0, 1000000000000),"
    with FakeBoard(board_files, on={"list": small}) as b:
        res = run_cli(b.url, tmp / "lib")
        now = check(res, b, tmp / "lib", 2)
        assert "size changed" in res.out and "more than any board's flash" in res.out
        assert not b.removed and not sessions(tmp / "lib")
        assert not [n for n in now if n.endswith(".part")]


def sc_lies_about_hashes(tmp):
    def wrong(b, args):
        for line in honest_hash(b, args):
            yield line[:-66] + b"0" * 64 + b"\r\n"
    with FakeBoard(board_files, on={"hash": wrong}) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2)
        assert res.out.count("SHA-256 of the copy does not match") == 3
        assert not b.removed and not sessions(tmp / "lib")


def sc_first_hash_names_a_library_file(tmp):
    """The board's first hash names an existing library file: it is never replaced."""
    lib = tmp / "lib"
    folder = lib / BOARD_ID
    folder.mkdir(parents=True)
    fake = "ab" * 32
    (folder / "s00001.rsl").write_bytes(b"an older session 1")
    (folder / f"s00001-{fake[:8]}.rsl").write_bytes(b"another session")
    before = library(lib)

    def lie_first(b, args):
        yield f"{args[0][0]} 15 {fake}\r\n".encode()
    files = {"s00001.rsl": board_files["s00001.rsl"]}
    with FakeBoard(files, on={"hash": on_call({1}, lie_first, honest_hash)}) as b:
        res = run_cli(b.url, lib)
        check(res, b, lib, 0, before=before)
        synced(b, lib, ["s00001.rsl"])
        assert "saved as 's00001-" in res.out


def sc_lies_about_names(tmp):
    def names(b, args):
        yield (b"('../../evil.rsl', 32768, 0, 10),('/tmp/abs.rsl', 32768, 0, 10),"
               b"('..', 32768, 0, 10),('notes.txt', 32768, 0, 3),('last', 32768, 0, 2),"
               b"('s00001.rsl', 32768, 0, 5001),")
    with FakeBoard(board_files, on={"list": names}) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2)
        assert res.out.count("not a file name a board can list") == 3
        assert "'notes.txt': not a session log: left on the board" in res.out
        assert not (tmp / "evil.rsl").exists() and not os.path.exists("/tmp/abs.rsl")
        assert set(sessions(tmp / "lib").values()) == {f"{BOARD_ID}/s00001.rsl"}


def sc_garbled_read_skips_that_file(tmp):
    def garbled(b, args):
        yield b"this is not base64 !!!\n"
    on = {"read": for_file("s00003.rsl", garbled, honest_read)}
    with FakeBoard(board_files, on=on) as b:
        res = run_cli(b.url, tmp / "lib")
        now = check(res, b, tmp / "lib", 2)
        synced(b, tmp / "lib", ["s00001.rsl", "s00002.rsl"])
        assert "garbled" in res.out and "s00003.rsl" in b.files
        assert not [n for n in now if n.endswith(".part")]


def sc_board_error_on_one_file(tmp):
    def eio(b, args):
        raise OSError(errno.EIO, args[0])
        yield
    on = {"read": for_file("s00001.rsl", eio, honest_read)}
    with FakeBoard(board_files, on=on) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 2)
        synced(b, tmp / "lib", ["s00002.rsl", "s00003.rsl"])
        assert "EIO" in res.out and "s00001.rsl" in b.files


def sc_library_is_a_file(tmp):
    (tmp / "lib").write_text("not a folder")
    with FakeBoard(board_files) as b:
        res = run_cli(b.url, tmp / "lib")
        assert res.rc == 2 and res.exc is None, res
        one_line(res, "cannot write the library")
        assert not b.removed


def sc_board_folder_is_a_file(tmp):
    (tmp / "lib").mkdir()
    (tmp / "lib" / BOARD_ID).write_text("not a folder")
    with FakeBoard(board_files) as b:
        res = run_cli(b.url, tmp / "lib")
        assert res.rc == 2 and res.exc is None, res
        one_line(res, "cannot write the library")
        assert not b.removed


@contextlib.contextmanager
def laptop_fault(fail_after=None, err=errno.ENOSPC, link_err=None):
    """The laptop's side failing: `.part` writes raise `err` after `fail_after` bytes
    (a prefix written), or os.link raises `link_err`."""
    from retrostep.device import sync as syncmod

    real_open, real_link = open, os.link
    written = [0]

    class Failing(io.FileIO):
        def write(self, data):
            room = fail_after - written[0]
            if room < len(data):
                if room > 0:
                    super().write(data[:room])
                    written[0] += room
                raise OSError(err, os.strerror(err))
            written[0] += len(data)
            return super().write(data)

    def fake_open(path, mode="r", *a, **k):
        if fail_after is not None and str(path).endswith(".part") and "a" in mode:
            return Failing(path, "ab")
        return real_open(path, mode, *a, **k)

    def fake_link(src, dst):
        raise OSError(link_err, os.strerror(link_err), dst)

    syncmod.open = fake_open
    if link_err:
        syncmod.os.link = fake_link
    try:
        yield
    finally:
        del syncmod.open
        syncmod.os.link = real_link


def _resumes(tmp, b, res):
    check(res, b, tmp / "lib", 2)  # what was removed is in the library
    from retrostep.device import sync as syncmod

    left = sorted(b.files)
    rep = syncmod.sync(b.url, str(tmp / "lib"), timeout=0.3, deadline=8)
    assert sorted(rep.fetched) == left and not b.files
    synced(b, tmp / "lib", list(board_files))
    assert not [n for n in library(tmp / "lib") if n.endswith(".part")]
    return rep


def sc_disk_full_mid_copy_then_resumes(tmp):
    with FakeBoard(board_files) as b:
        with laptop_fault(fail_after=7000):
            res = run_cli(b.url, tmp / "lib")
        one_line(res, "disk is full", "run sync again")
        part = tmp / "lib" / BOARD_ID / ".s00002.rsl.part"
        assert part.stat().st_size == 7000 - 5001
        rep = _resumes(tmp, b, res)
        assert rep.bytes == sum(len(d) for d in board_files.values()) - 7000


def sc_permission_denied_then_resumes(tmp):
    with FakeBoard(board_files) as b:
        with laptop_fault(fail_after=0, err=errno.EACCES):
            res = run_cli(b.url, tmp / "lib")
        one_line(res, "Permission denied")
        _resumes(tmp, b, res)


def sc_cannot_name_the_copy_then_resumes(tmp):
    with FakeBoard(board_files) as b:
        with laptop_fault(link_err=errno.EACCES):
            res = run_cli(b.url, tmp / "lib")
        one_line(res, "Permission denied")
        assert (tmp / "lib" / BOARD_ID / ".s00001.rsl.part").stat().st_size == 5001
        rep = _resumes(tmp, b, res)
        assert rep.bytes == sum(len(d) for d in board_files.values()) - 5001


def sc_stale_part_is_removed(tmp):
    folder = tmp / "lib" / BOARD_ID
    folder.mkdir(parents=True)
    (folder / ".s00042.rsl.part").write_bytes(b"x" * 10)
    with FakeBoard(board_files) as b:
        res = run_cli(b.url, tmp / "lib")
        check(res, b, tmp / "lib", 0)
    assert not (folder / ".s00042.rsl.part").exists()


SCENARIOS = [
    ("healthy board, 'last' and an empty log", sc_healthy_with_bookkeeping),
    ("silent at connect", sc_silent_at_connect),
    ("silent after the list snippet", sc_silent_after_list),
    ("silent after one read snippet", sc_silent_after_read_skips_that_file),
    ("silent after one hash snippet", sc_silent_after_hash_skips_that_file),
    ("dead (deaf to Ctrl-C) during a read", sc_dead_during_read),
    ("streams for ever in a read", sc_streaming_forever_skips_that_file),
    ("streams for ever, deaf to Ctrl-C", sc_streaming_forever_deaf),
    ("streams for ever in the list", sc_streaming_forever_on_stderr_or_list),
    ("trickles until the deadline", sc_trickle_hits_the_deadline),
    ("dies mid-read, next run resumes", sc_dies_mid_read_then_resumes),
    ("lies about sizes", sc_lies_about_sizes),
    ("lies about hashes", sc_lies_about_hashes),
    ("first hash names a library file", sc_first_hash_names_a_library_file),
    ("lies about names", sc_lies_about_names),
    ("garbled read", sc_garbled_read_skips_that_file),
    ("board error on one file", sc_board_error_on_one_file),
    ("library path is a file", sc_library_is_a_file),
    ("board folder is a file", sc_board_folder_is_a_file),
    ("disk full mid-copy, resumes", sc_disk_full_mid_copy_then_resumes),
    ("permission denied, resumes", sc_permission_denied_then_resumes),
    ("copy cannot be named, resumes", sc_cannot_name_the_copy_then_resumes),
    ("stale .part removed", sc_stale_part_is_removed),
]


# ---------------------------------------------------------------------------- pytest
try:
    import pytest
except ImportError:  # bench/faults.py imports this file without pytest
    pytest = None

if pytest is not None:
    @pytest.mark.parametrize("scenario", [f for _, f in SCENARIOS],
                             ids=[f.__name__[3:] for _, f in SCENARIOS])
    def test_fault(scenario, tmp_path):
        scenario(tmp_path)

    def test_cli_process_against_a_silent_board_is_one_line(tmp_path):
        import subprocess
        import sys

        with FakeBoard(board_files, on={"read": _silent}, deaf=True) as b:
            p = subprocess.run([sys.executable, "-m", "retrostep.cli", "sync", "--port",
                                b.url, "--library", str(tmp_path / "lib"), *FAST],
                               capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not b.removed

    @pytest.mark.vm
    def test_virtual_board_empty_log_and_last_exit_0(tmp_path):
        from retrostep.vm.vboard import VirtualBoard

        flash = tmp_path / "flash"
        (flash / "logs").mkdir(parents=True)
        for n, d in logs(2).items():
            (flash / "logs" / n).write_bytes(d)
        (flash / "logs" / "s00003.rsl").write_bytes(b"")  # a full flash leaves these
        (flash / "logs" / "last").write_text("3\n")
        lib = tmp_path / "lib"
        with VirtualBoard(flash, serve=True) as vb:
            for _ in range(2):  # and again: still 0, nothing stuck
                res = run_cli(vb.url, lib)
                assert res.rc == 0 and res.err == "" and res.exc is None, res
                assert "'s00003.rsl': empty, not a session: left on the board" in res.out
                assert "last" not in res.out
        assert sorted(p.name for p in (flash / "logs").iterdir()) == ["last", "s00003.rsl"]
        want = {hashlib.sha256(d).hexdigest() for d in logs(2).values()}
        assert set(sessions(lib)) == want
