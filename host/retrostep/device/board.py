"""Talking to a board over its USB serial REPL (transport), apart from what commands mean.

`connect(port)` opens the port with mpremote's SerialTransport (a device path, or
`socket://127.0.0.1:PORT` for the virtual board) and stops the firmware's main loop
with Ctrl-C (which makes it close its session file first), so the raw REPL is ours.
`Board.run(code)` executes a snippet and returns its output; `Board.stream(code, fn)`
hands the output to `fn` as it arrives. Errors on the board come back as BoardError
with the board's traceback.

Every exchange is bounded (`Wire`, under mpremote's transport): a step gives up when
the board is silent for `timeout` seconds, when it sends more bytes than the step's
cap, or at the run's deadline (`Board.set_limits`). mpremote alone blocks for ever on
a board that goes quiet in some phases of an exec (its serial reads have no timeout)
and takes any number of bytes. A step cut short leaves the raw REPL out of step;
the next call interrupts the board and enters the raw REPL again (`recover`) before
going on, so one bad file does not end a sync. Failures that end the conversation
(the line is gone, the board does not come back, the deadline) are `BoardLost`.
"""

import contextlib
import errno
import io
import re
import socket
import time

from retrostep.errors import RetrostepError

BOARD_ID_RE = re.compile(r"^[0-9a-f]{2,64}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")

# the board hashes its own files: prints "path size sha256" per file ("path - -" if absent).
# Not mpremote's Transport.fs_hashfile: that takes one file per call (three round trips,
# a fourth and fifth for fs_stat's size), so on the virtual board 8 files of 64 KiB take
# 1.73 s against 15 ms here (one file: 218 ms against 52 ms), and deploy asks for every
# file at once; and where hashlib is missing it silently reads the whole file over the
# REPL in 256-byte evals (64 KiB: 14 s) instead of saying so. MicroPython's ESP32 and
# RP2 ports have hashlib.sha256; a board without it fails here with a one-line error.
_HASHES = """
import hashlib, binascii, os
def _hs(paths):
    buf = bytearray(1024)
    mv = memoryview(buf)
    for p in paths:
        try:
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(mv[:n])
            print(p, os.stat(p)[6], binascii.hexlify(h.digest()).decode())
        except OSError:
            print(p, '-', '-')
_hs(%r)
"""


class BoardError(RetrostepError):
    """The board answered with an error, or stopped answering."""


class BoardLost(BoardError):
    """The conversation with the board is over: the line went away, the board did not
    come back to its REPL, or the run's deadline passed."""


class DeadlinePassed(BoardLost):
    """The run's deadline passed."""


class BoardOverflow(BoardError):
    """The board sent more than the step's cap (it was cut; the next call recovers)."""


TIMEOUT_S = 10.0  # silence before a step is given up (mpremote's own follow() limit)
RUN_CAP = 64 << 10  # bytes a plain snippet may answer (stdout and stderr)
ERR_CAP = 8 << 10  # bytes of error output after a streamed answer
WRITE_TIMEOUT_S = 10.0
MAX_STREAM = 64 << 20  # stale bytes to drop after a cut stream without a cap
# stale bytes to drop after a cut step, beyond its cap: what the board had sent before
# it saw the Ctrl-C (its buffers, and a socket's: the virtual board's are megabytes)
STALE_CAP = 8 << 20
QUIET_S = 0.1  # no byte for this long after a Ctrl-C: the board stopped
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class WireFault(Exception):
    """A step of the exchange broke a limit (kind: silent, deadline, too much)."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind


class Wire:
    """The serial line under mpremote's transport, with the limits of the current step.

    mpremote reads through `read(n)` and `inWaiting()`; both check the step's limits
    (no byte for `idle` seconds, past `until`, more than `cap` bytes) and raise
    WireFault. The port's own read timeout is set short so that a read `mpremote`
    means to block returns here to check them. Anything else is the port's."""

    POLL_S = 0.05

    def __init__(self, serial):
        self._s = serial
        serial.timeout = self.POLL_S
        sock = getattr(serial, "_socket", None)  # socket:// (the virtual board)
        if sock is not None:
            try:  # a snippet and its end go out at once, not 40 ms apart (Nagle)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        try:
            serial.write_timeout = WRITE_TIMEOUT_S
        except Exception:  # a port without write timeouts
            pass
        self.step(None, None, None)

    def step(self, idle, until, cap):
        self.idle, self.until, self.cap = idle, until, cap
        self.got = 0
        self.last = time.monotonic()

    def _check(self, now):
        if self.until is not None and now > self.until:
            raise WireFault("deadline", "the deadline passed")
        if self.idle is not None and now - self.last > self.idle:
            raise WireFault("silent", f"silent for {self.idle:g} s")

    def inWaiting(self):
        self._check(time.monotonic())
        return self._s.inWaiting()

    @property
    def in_waiting(self):
        return self.inWaiting()

    def drain(self, quiet):
        """Read and drop what arrives until nothing came for `quiet` seconds."""
        while True:
            data = self._s.read(1 << 16)  # what came within POLL_S
            now = time.monotonic()
            if data:
                self._count(data, now)
            elif now - self.last >= quiet:
                return
            self._check(now)

    def _count(self, data, now):
        self.got += len(data)
        self.last = now
        if self.cap is not None and self.got > self.cap:
            raise WireFault("too much", f"more than the {self.cap} bytes expected")

    def read(self, n=1):
        out = b""
        while True:
            data = self._s.read(n - len(out))  # returns within POLL_S
            now = time.monotonic()
            if data:
                out += data
                self._count(data, now)
                if len(out) >= n:
                    return out
            self._check(now)

    def __getattr__(self, name):
        return getattr(self._s, name)

    # what mpremote sets on its serial line (SerialTransport.close)
    rts = property(lambda self: self._s.rts, lambda self, v: setattr(self._s, "rts", v))
    dtr = property(lambda self: self._s.dtr, lambda self, v: setattr(self._s, "dtr", v))


class _ConsumerFailed(Exception):
    """An exception of the caller's consumer, carried through mpremote unchanged."""


class Board:
    def __init__(self, transport, port):
        self.t = transport
        self.port = port
        self._id = None
        serial = getattr(transport, "serial", None)
        if serial is not None and not isinstance(serial, Wire):
            serial = Wire(serial)
            transport.serial = serial
        self.wire = serial  # None: a transport without a serial line (tests' fakes)
        self.timeout = TIMEOUT_S
        self.until = None  # time.monotonic() of the run's deadline
        self.stale = False  # a step was cut short: the raw REPL is out of step
        self._cut_cap = None  # the byte cap of the step that was cut

    def set_limits(self, timeout=None, deadline=None):
        """Silence per step (seconds) and the whole run's deadline (seconds from now)."""
        if timeout is not None:
            self.timeout = float(timeout)
        self.until = None if deadline is None else time.monotonic() + float(deadline)

    def _exchange(self, what, call, cap=RUN_CAP, missing=None, path=None):
        """Run one transport call within the limits; its failures as BoardErrors."""
        from mpremote.transport import TransportError, TransportExecError

        if self.stale:
            self.recover()
        if self.wire is not None:
            self.wire.step(self.timeout, self.until, cap)
        done = False
        try:
            out = call()
            done = True
            return out
        except _ConsumerFailed as exc:
            raise exc.args[0] from None
        except TransportExecError as exc:
            done = True  # the board said why, and is back at its prompt
            last = exc.error_output.strip().splitlines()[-1:] or ["(no message)"]
            raise BoardError(f"the board at {self.port} failed: {last[0]}") from None
        except WireFault as exc:
            if exc.kind == "deadline":
                raise DeadlinePassed(f"the deadline passed during the {what}") from None
            if exc.kind == "too much":
                raise BoardOverflow(f"the board at {self.port} sent too much in the {what}: "
                                    f"{exc}") from None
            raise BoardError(f"the board at {self.port} broke off the {what}: "
                             f"{exc}") from None
        except TransportError as exc:
            raise BoardError(f"the board at {self.port} broke off the {what} "
                             f"({exc})") from None
        except OSError as exc:
            if path is not None and exc.strerror == path and exc.errno is not None:
                # mpremote turned the board's OSError into OSError(errno, path)
                done = True
                if exc.errno == errno.ENOENT and missing is not None:
                    return missing
                name = errno.errorcode.get(exc.errno, str(exc.errno))
                raise BoardError(f"the board at {self.port} could not {what} {path}: "
                                 f"{name}") from None
            raise BoardLost(f"lost the board at {self.port} ({exc}); check the cable and "
                            "run the command again (nothing is lost)") from None
        finally:
            if not done:
                self.stale = True
                self._cut_cap = cap
            if self.wire is not None:
                self.wire.step(None, None, None)

    def recover(self, lost="does not come back to its REPL", hint="reset it and run the "
                "command again (nothing is lost)", cap=None):
        """Interrupt whatever the board runs and enter its raw REPL again (after a step
        was cut short, and on connecting); BoardLost if it does not come back.

        What the board still sends before its banner is read and dropped: at most the
        cut step's cap plus RUN_CAP bytes, none more than `timeout` s apart, and no
        later than the run's deadline."""
        from mpremote.transport import TransportError

        if self.until is not None and time.monotonic() > self.until:
            raise DeadlinePassed("the deadline passed")
        if cap is None:
            cap = (self._cut_cap or MAX_STREAM) + STALE_CAP
        try:
            if self.wire is None:  # a transport without a serial line: mpremote's way
                with contextlib.redirect_stdout(io.StringIO()):  # it prints its failures
                    self.t.enter_raw_repl(soft_reset=False)
            else:
                self.wire.step(self.timeout, self.until, cap)
                self._reenter()
        except WireFault as exc:
            if exc.kind == "deadline":
                raise DeadlinePassed("the deadline passed") from None
            raise BoardLost(f"the board at {self.port} {lost} ({exc}); {hint}") from None
        except (TransportError, OSError) as exc:
            raise BoardLost(f"the board at {self.port} {lost} ({exc}); {hint}") from None
        finally:
            if self.wire is not None:
                self.wire.step(None, None, None)
        self.stale = False
        self._cut_cap = None

    def _reenter(self):
        """mpremote's enter_raw_repl(soft_reset=False), bounded by the wire: Ctrl-C (stop
        what runs), drop what still comes until the line is quiet, Ctrl-A (raw REPL),
        then read up to the banner, leaving its '>' for the next exec as mpremote does.
        mpremote's own drops only what has arrived already, then keeps everything it
        reads before the banner in one growing bytes object (quadratic in a long stale
        stream) and prints it on failure."""
        w = self.wire
        w.write(b"\r\x03")
        w.drain(min(QUIET_S, self.timeout))
        w.write(b"\r\x01")
        tail = b""
        while not tail.endswith(RAW_BANNER):
            tail = (tail + w.read(1))[-len(RAW_BANNER):]

    def run(self, code, cap=RUN_CAP):
        out = self._exchange("command", lambda: self.t.exec(code), cap)
        return out.decode("utf-8", "replace")

    def stream(self, code, consumer, cap=None):
        """Run code, passing its output bytes to consumer(bytes) as they arrive; at most
        `cap` bytes of output (then ERR_CAP bytes of error output)."""
        wire = self.wire

        def feed(data):
            if b"\x04" in data:  # the end of the output: only error text may follow
                if wire is not None and wire.cap is not None:
                    wire.cap = wire.got + ERR_CAP
                data = data.split(b"\x04", 1)[0]
                if not data:
                    return
            try:
                consumer(data)
            except BaseException as exc:
                raise _ConsumerFailed(exc) from None

        self._exchange("transfer", lambda: self.t.exec(code, data_consumer=feed),
                       None if cap is None else cap + 64)

    def listdir(self, path, cap=RUN_CAP):
        """[(name, size)] of the files (not folders) in a folder on the board; [] if the
        folder is absent. mpremote's Transport.fs_listdir (os.ilistdir, whose entries
        carry the size on the littlefs and FAT filesystems of MicroPython boards)."""
        try:
            entries = self._exchange("list", lambda: self.t.fs_listdir(path), cap,
                                     missing=[], path=path)
            return [(str(e.name), int(e.st_size)) for e in entries
                    if not int(e.st_mode) & 0x4000]
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            # ast.literal_eval of what the board printed, or entries of the wrong shape
            raise BoardError(f"the board's list of {path} is not readable") from None

    def remove(self, path):
        """Remove a file on the board (mpremote's Transport.fs_rmfile)."""
        self._exchange("remove", lambda: self.t.fs_rmfile(path), path=path)

    def clock(self):
        """The board's RTC now, in seconds as the board counts them (time.time())."""
        out = self.run("import time\nprint(time.time())\n").strip()
        try:
            return int(float(out.split()[-1]))
        except (ValueError, IndexError):
            raise BoardError(f"the board at {self.port} gave an unreadable time "
                             f"{out[:40]!r}") from None

    def set_clock(self, when=None):
        """Set the board's RTC to the laptop's local time (as Thonny does on connect and
        `mpremote rtc --set`); the RTC holds local time, as session starts are read."""
        from datetime import datetime

        when = when or datetime.now()
        fields = (when.year, when.month, when.day, when.weekday(), when.hour,
                  when.minute, when.second, 0)
        self.run(f"import machine\nmachine.RTC().datetime({fields!r})\n")

    def name(self):
        """The board's name from /board.json (`retrostep deploy --name`), or None."""
        from retrostep.formats import boardname

        out = self.run(f"try:\n print(open('/{boardname.BOARD_FILE}').read(4096))\n"
                       "except OSError:\n print('{}')\n", cap=8192)
        return boardname.parse_board_json(out)

    def goal_minutes(self):
        """goals.backward_min of the board's /config.json, or None."""
        from retrostep.formats import boardname

        out = self.run("try:\n print(open('/config.json').read(16384))\n"
                       "except OSError:\n print('{}')\n", cap=32768)
        return boardname.goal_minutes(out)

    def board_id(self):
        """The board's unique id as hex (machine.unique_id()), checked."""
        if self._id is None:
            out = self.run("import machine, binascii\n"
                           "print(binascii.hexlify(machine.unique_id()).decode())\n").strip()
            if not BOARD_ID_RE.match(out):
                raise BoardError(f"the board at {self.port} gave an unusable id {out[:40]!r}")
            self._id = out
        return self._id

    def hashes(self, paths):
        """{path: (size, sha256 hex)} of files on the board; (None, None) if absent.

        The paths are the caller's own (never names read from the board)."""
        paths = list(paths)
        out = {p: (None, None) for p in paths}
        cap = 1024 + sum(len(p) + 96 for p in paths)
        for line in self.run(_HASHES % (paths,), cap).splitlines():
            parts = line.rsplit(" ", 2)
            if len(parts) == 3 and parts[0] in out and parts[1].isdigit() and \
                    SHA_RE.match(parts[2]):
                out[parts[0]] = (int(parts[1]), parts[2])
        return out

    def mpy_info(self):
        """(mpy version, sub-version, arch code) from sys.implementation._mpy."""
        out = self.run("import sys\nprint(getattr(sys.implementation, '_mpy', 0))\n").strip()
        try:
            v = int(out)
        except ValueError:
            raise BoardError(f"the board at {self.port} did not say its .mpy version") from None
        return v & 0xFF, (v >> 8) & 3, v >> 10

    def close(self, resume=False):
        try:
            if self.wire is not None:
                self.wire.step(None, None, None)
            if self.stale:  # a snippet may still run: stop it first
                self.t.serial.write(b"\r\x03")
            self.t.exit_raw_repl()
            if resume:  # soft reset: boot.py and main.py run again
                self.t.serial.write(b"\x04")
        except Exception:  # the board went away: nothing left to tidy
            pass
        try:
            self.t.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _why_not_open(port, exc):
    """The one-line error for a port mpremote could not open."""
    from retrostep.device.devices import open_port, port_problem
    from retrostep.errors import RetrostepError

    try:
        open_port(port).close()
    except RetrostepError as why:
        return why
    except Exception:  # noqa: BLE001 - the first failure is the one to report
        pass
    return port_problem(port, exc)


def connect(port=None, timeout=None, deadline=None):
    """Open the board (its port, or the one board on USB) and enter the raw REPL.

    timeout: seconds of silence before a step is given up (default TIMEOUT_S);
    deadline: seconds from now for the whole conversation (default none)."""
    from mpremote.transport_serial import SerialTransport

    from retrostep.device.devices import resolve_port

    port = resolve_port(port)  # auto, a0/u0/c0, id:SERIAL, as mpremote reads them
    try:
        t = SerialTransport(port, baudrate=115200)
    except Exception as exc:  # serial.SerialException, PermissionError, ConnectionRefused
        # mpremote hides why ("failed to access PORT"): open it once more with
        # pyserial, only now that it failed, to say what is wrong and what to do
        raise _why_not_open(port, exc) from None
    board = Board(t, port)
    board.set_limits(timeout, deadline)
    try:
        board.recover("does not answer on its REPL", "press its reset button and try again",
                      cap=1 << 20)
    except BoardError:
        try:
            t.close()
        except Exception:
            pass
        raise
    return board
