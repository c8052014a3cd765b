"""Talking to a board over its USB serial REPL (transport), apart from what commands mean.

`connect(port)` opens the port with mpremote's SerialTransport (a device path, or
`socket://127.0.0.1:PORT` for the virtual board) and stops the firmware's main loop
with Ctrl-C (which makes it close its session file first), so the raw REPL is ours.
`Board.run(code)` executes a snippet and returns its output; `Board.stream(code, fn)`
hands the output to `fn` as it arrives. Errors on the board come back as BoardError
with the board's traceback.
"""

import errno
import re

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


class Board:
    def __init__(self, transport, port):
        self.t = transport
        self.port = port
        self._id = None

    def run(self, code):
        from mpremote.transport import TransportError, TransportExecError

        try:
            out = self.t.exec(code)
        except TransportExecError as exc:
            last = exc.error_output.strip().splitlines()[-1:] or ["(no message)"]
            raise BoardError(f"the board at {self.port} failed: {last[0]}") from None
        except TransportError as exc:
            raise BoardError(f"lost the board at {self.port} ({exc}); reconnect and "
                             "run the command again (nothing is lost)") from None
        except OSError as exc:
            raise BoardError(f"lost the board at {self.port} ({exc}); check the cable and "
                             "run the command again (nothing is lost)") from None
        return out.decode("utf-8", "replace")

    def stream(self, code, consumer):
        """Run code, passing its output bytes to consumer(bytes) as they arrive."""
        from mpremote.transport import TransportError, TransportExecError

        try:
            self.t.exec(code, data_consumer=consumer)
        except TransportExecError as exc:
            last = exc.error_output.strip().splitlines()[-1:] or ["(no message)"]
            raise BoardError(f"the board at {self.port} failed: {last[0]}") from None
        except (TransportError, OSError) as exc:
            raise BoardError(f"lost the board at {self.port} ({exc}); run the command "
                             "again: it resumes where it stopped") from None

    def listdir(self, path):
        """[(name, size)] of the files (not folders) in a folder on the board; [] if the
        folder is absent. mpremote's Transport.fs_listdir (os.ilistdir, whose entries
        carry the size on the littlefs and FAT filesystems of MicroPython boards)."""
        try:
            entries = self._fs("list", path, self.t.fs_listdir, missing=[])
            return [(str(e.name), int(e.st_size)) for e in entries
                    if not int(e.st_mode) & 0x4000]
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            # ast.literal_eval of what the board printed, or entries of the wrong shape
            raise BoardError(f"the board's list of {path} is not readable") from None

    def remove(self, path):
        """Remove a file on the board (mpremote's Transport.fs_rmfile)."""
        self._fs("remove", path, self.t.fs_rmfile)

    def _fs(self, what, path, call, missing=None):
        """One of mpremote's Transport.fs_* calls, its failures as one-line BoardErrors.

        mpremote turns the board's OSError into OSError(errno, path); any other OSError
        is the serial line's."""
        from mpremote.transport import TransportError, TransportExecError

        try:
            return call(path)
        except TransportExecError as exc:
            last = exc.error_output.strip().splitlines()[-1:] or ["(no message)"]
            raise BoardError(f"the board at {self.port} failed: {last[0]}") from None
        except TransportError as exc:
            raise BoardError(f"lost the board at {self.port} ({exc}); reconnect and "
                             "run the command again (nothing is lost)") from None
        except OSError as exc:
            if exc.strerror == path and exc.errno is not None:
                if exc.errno == errno.ENOENT and missing is not None:
                    return missing
                name = errno.errorcode.get(exc.errno, str(exc.errno))
                raise BoardError(f"the board at {self.port} could not {what} {path}: "
                                 f"{name}") from None
            raise BoardError(f"lost the board at {self.port} ({exc}); check the cable and "
                             "run the command again (nothing is lost)") from None

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
        for line in self.run(_HASHES % (paths,)).splitlines():
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


def connect(port=None):
    """Open the board (its port, or the one board on USB) and enter the raw REPL."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    if port is None:
        from retrostep.device.devices import pick_device

        port = pick_device().port
    try:
        t = SerialTransport(port, baudrate=115200)
    except Exception as exc:  # serial.SerialException, PermissionError, ConnectionRefused
        from retrostep.device.devices import is_permission_problem, permission_error

        if is_permission_problem(exc):
            raise permission_error(port) from None
        raise BoardError(f"cannot open {port}: {exc}") from None
    try:
        t.enter_raw_repl(soft_reset=False)
    except (TransportError, OSError) as exc:
        t.close()
        raise BoardError(f"the board at {port} does not answer on its REPL ({exc}); "
                         "press its reset button and try again") from None
    return Board(t, port)
