"""`retrostep sync`: pull the board's session logs into the local library, verified.

For every log file on the board (/logs/sNNNNN.rsl), each on its own:
1. the bytes come over in one streamed exec per file (base64 lines of CHUNK bytes, no
   per-chunk round trip; at most the size the board listed), appended to a hidden
   `.NAME.part` file in the library; each line is written and flushed whole, so an
   interruption (cable pulled, board reset, Ctrl-C, disk full) leaves a prefix that the
   next sync resumes from;
2. the board computes the file's SHA-256 (and says its size again); the laptop hashes
   its copy; only when both agree is the copy put in place, under a name no other file
   has (a library file is never replaced: a differing file with the same name gets the
   board's name plus its hash, `s00001-1a2b3c4d.rsl`), and
3. only then is the board's file removed (`--keep` keeps it).
A file already in the library with the same hash is not fetched again (a sync cut off
between steps 2 and 3 just removes the board's copy next time).

What is not a session: the firmware's bookkeeping (`last`, its session counter) is
passed over in silence; an empty log (the firmware opens the file before it writes its
header, so a full flash leaves a 0-byte sNNNNN.rsl) is reported and LEFT on the board:
there is nothing in it to lose, sync removes only what it verified a copy of, and
removing it could let the firmware reuse its session number when `last` could not be
written on the full flash either. Other names are reported and left alone; names no
board's file system can list (a '/', '..') are refused: a board that lies.

A bad file is reported and skipped and the rest are synced (SyncReport.refused). Each
step with the board has a silence timeout and a byte cap (from the size the board
listed), and the run a deadline (`board.Wire`); a board that stops answering ends the
run with BoardLost, a laptop that cannot write the library with LibraryError: both
one-line errors, carrying the report of what was done (`exc.report`), and both leave
`.part` files that the next run resumes (or removes, once the board no longer has the
file).
"""

import binascii
import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime

from retrostep.device.board import (BoardError, BoardLost, BoardOverflow,
                                    DeadlinePassed, connect)
from retrostep.errors import RetrostepError
from retrostep.firmware import logbook
from retrostep.analysis.library import library_dir
from retrostep.formats import boardname, clock

LOG_DIR = "/logs"
CHUNK = 3072  # bytes per base64 line from the board
NAME_RE = re.compile(r"^%s\d{5}%s$" % (re.escape(logbook.LOG_PREFIX),
                                       re.escape(logbook.LOG_SUFFIX)))
PART_RE = re.compile(r"^\.(%s\d{5}%s)\.part$" % (re.escape(logbook.LOG_PREFIX),
                                                re.escape(logbook.LOG_SUFFIX)))
BOOKKEEPING = (logbook.LAST_FILE,)  # the firmware's own files in its log folder
TIMEOUT_S = 10.0  # silence before a step with the board is given up
DEADLINE_S = 900.0  # the whole run: 2 MB of logs over a 115200-baud UART take ~4 min
# no MicroPython board's flash file system holds a bigger file (ESP32-S3: 16 MB flash)
MAX_LOG_BYTES = 32 << 20
# the list: littlefs gives every file at least one 4 KiB block, so a 16 MB flash holds
# under 4,100 files, ~33 bytes each in mpremote's listing
LIST_CAP = 160 << 10

# The list and the removal are mpremote's (Board.listdir, Board.remove). The copy is not
# Transport.fs_readfile: that reads from the start only (no resume offset), keeps the
# whole file in memory, and takes one eval round trip per 256 bytes: 64 KiB from the
# virtual board take 14.3 s that way (2.2 s with 3072-byte evals) against 0.56 s
# streamed here (bench/sync_bench.py compares whole syncs with `mpremote cp`).
_READ = """
import sys, binascii
def _rd(p, off, chunk, n):
    buf = bytearray(chunk)
    mv = memoryview(buf)
    w = sys.stdout.write
    with open(p, 'rb') as f:
        f.seek(off)
        while n > 0:
            k = f.readinto(mv[:n] if n < chunk else buf)
            if not k:
                break
            w(binascii.b2a_base64(mv[:k]))
            n -= k
_rd(%r, %d, %d, %d)
"""


class BadData(BoardError):
    """The board sent what no honest copy of the file looks like (garbled lines, more
    bytes than it listed)."""


class LibraryError(RetrostepError):
    """The laptop could not write the library (permissions, disk full, a file where a
    folder should be)."""


@dataclass
class SyncReport:
    board_id: str = ""
    folder: str = ""
    fetched: list = field(default_factory=list)  # names copied this time
    already: list = field(default_factory=list)  # names the library had (board copy removed)
    kept: list = field(default_factory=list)  # verified, left on the board (--keep)
    refused: list = field(default_factory=list)  # (name, reason): left on the board
    empty: list = field(default_factory=list)  # 0-byte logs: not sessions, left there
    other: list = field(default_factory=list)  # not session logs, left there
    saved_as: dict = field(default_factory=dict)  # board name -> library name, if other
    logs: int = 0  # session logs the board listed (empty ones not counted)
    name: str | None = None  # the board's name (deploy --name), if it has one
    goal_minutes: int | None = None  # its goals.backward_min, if its config sets one
    bytes: int = 0


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _same(path, size, sha):
    return os.path.getsize(path) == size and _sha256_file(path) == sha


def list_logs(board):
    """[(name, size)] of the files in the board's log folder (names unchecked)."""
    return board.listdir(LOG_DIR, cap=LIST_CAP)


def board_hash(board, name):
    path = f"{LOG_DIR}/{name}"
    size, sha = board.hashes([path])[path]
    if sha is None:
        raise BoardError(f"the board gave no usable SHA-256 for {name}")
    return size, sha


def read_cap(n):
    """Bytes of base64 lines (CHUNK bytes each) that carry n bytes."""
    lines = -(-n // CHUNK)
    return 4 * (n // 3) + 5 * lines


def _fetch(board, name, size, part, progress=None):
    """Append the rest of the board's file to `part` (resuming at its size)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    if have > size:  # the board's file shrank, or another file took its name
        os.remove(part)
        have = 0
    if have == size:
        return 0
    want = size - have
    pending = bytearray()
    got = [0]
    with open(part, "ab") as f:
        def consume(data):
            pending.extend(data)
            while True:
                nl = pending.find(b"\n")
                if nl < 0:
                    if len(pending) > 4 * CHUNK:
                        raise BadData(f"garbled data from the board in {name} (a line "
                                         "longer than any it sends)")
                    return
                line = bytes(pending[:nl]).strip()
                del pending[: nl + 1]
                if not line:
                    continue
                try:
                    chunk = binascii.a2b_base64(line)
                except binascii.Error:
                    raise BadData(f"garbled data from the board in {name}") from None
                if got[0] + len(chunk) > want:
                    raise BadData(f"the board sent more of {name} than the {size} bytes "
                                     "it listed")
                f.write(chunk)
                f.flush()
                got[0] += len(chunk)
                if progress:
                    progress(len(chunk))

        try:
            board.stream(_READ % (f"{LOG_DIR}/{name}", have, CHUNK, want), consume,
                         cap=read_cap(want))
            if pending.strip():
                raise BadData(f"garbled data from the board in {name} (a cut line)")
        except (BadData, BoardOverflow):
            f.close()  # what came with garbage is not worth resuming from
            os.remove(part)
            raise
        finally:
            try:
                f.flush()
                os.fsync(f.fileno())
            except (OSError, ValueError):
                pass  # the error that matters is already on its way (disk full)
    return got[0]



def _candidates(folder, name, sha):
    """Library paths for the board's `name` with content `sha`, in order of preference."""
    stem, suf = name[: -len(logbook.LOG_SUFFIX)], logbook.LOG_SUFFIX
    return [os.path.join(folder, n) for n in
            (name, f"{stem}-{sha[:8]}{suf}", f"{stem}-{sha}{suf}")]


def _link_new(src, dest):
    """Give `src` the name `dest` only if no file has it; False if one has."""
    try:
        os.link(src, dest)
    except FileExistsError:
        return False
    except OSError as exc:  # a file system without hard links (FAT, some shares)
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK, errno.ENOSYS):
            raise
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return False
        os.replace(src, dest)  # over the empty file just made for it, nothing else
        return True
    os.remove(src)
    return True


def _place(part, folder, name, size, sha):
    """Put the verified copy in the library, never over another file.

    Returns (path, True if the library had it already); (None, None) if every name
    for it is taken by different content."""
    for dest in _candidates(folder, name, sha):
        for _ in range(2):  # once more if another process took the name meanwhile
            if os.path.exists(dest):
                if os.path.isfile(dest) and _same(dest, size, sha):
                    os.remove(part)
                    return dest, True
                break
            if _link_new(part, dest):
                return dest, False
    return None, None


def _in_library(folder, name, size, sha):
    for path in _candidates(folder, name, sha):
        if os.path.isfile(path) and _same(path, size, sha):
            return path
    return None


def _classify(listing, rep):
    """Session logs to fetch [(name, size)]; the rest goes into the report."""
    wanted = []
    for name, size in listing:
        if NAME_RE.match(name):
            if size == 0:
                rep.empty.append(name)
            elif size > MAX_LOG_BYTES:
                rep.refused.append((name, f"the board lists it at {size} bytes, more than "
                                          "any board's flash holds; left on the board"))
            else:
                wanted.append((name, size))
        elif name in BOOKKEEPING:
            continue
        elif not name or "/" in name or "\0" in name or name in (".", ".."):
            rep.refused.append((name, "not a file name a board can list (a board that "
                                      "lies?); nothing written"))
        else:
            rep.other.append(name)
    rep.logs = len(wanted) + sum(1 for n, _ in rep.refused if NAME_RE.match(n))
    return wanted


def _clean_parts(folder, wanted):
    """Remove the .part files of logs the board no longer has."""
    names = {n for n, _ in wanted}
    for f in os.listdir(folder):
        m = PART_RE.match(f)
        if m and m.group(1) not in names:
            os.remove(os.path.join(folder, f))


def _library_error(exc, folder):
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        what = "the disk is full"
    where = exc.filename or folder
    return LibraryError(f"cannot write the library: {where}: {what}; the logs not in the "
                        "library are still on the board: fix it and run sync again (it "
                        "resumes)")


def sync(port=None, library=None, keep=False, progress=None, board=None,
         timeout=TIMEOUT_S, deadline=DEADLINE_S):
    """Pull every new log from the board into the library; returns a SyncReport.

    timeout: seconds the board may stay silent in a step; deadline: seconds for the
    whole run. A board that stops answering raises BoardLost (DeadlinePassed at the
    deadline), a library that cannot be written LibraryError; either carries the
    report of what was done as `exc.report`."""
    rep = SyncReport()
    own = board is None
    try:
        if own:
            board = connect(port, timeout=timeout, deadline=deadline)
        else:
            board.set_limits(timeout, deadline)
        _sync(board, library, keep, progress, rep)
        return rep
    except DeadlinePassed:
        done = len(rep.fetched) + len(rep.already)
        err = DeadlinePassed(f"sync stopped at its deadline ({deadline:g} s) with {done} of "
                             f"{rep.logs} log(s) synced; run it again: it resumes")
        err.report = rep
        raise err from None
    except (BoardLost, LibraryError) as exc:
        exc.report = rep
        raise
    except OSError as exc:  # the laptop's side: the board's are BoardErrors
        err = _library_error(exc, rep.folder or library_dir(library))
        err.report = rep
        raise err from None
    finally:
        if own and board is not None:
            board.close(resume=True)


def _sync(board, library, keep, progress, rep):
    bid = board.board_id()
    folder = os.path.join(library_dir(library), bid)
    rep.board_id, rep.folder = bid, folder
    os.makedirs(folder, exist_ok=True)
    if not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", folder)
    rep.name, rep.goal_minutes = board.name(), board.goal_minutes()
    if rep.name or rep.goal_minutes:
        boardname.write_library_facts(folder, rep.name, rep.goal_minutes)
    wanted = _classify(list_logs(board), rep)
    _clean_parts(folder, wanted)
    board_now, laptop_now = board.clock(), datetime.now()  # before the clock is set
    if progress:
        progress(None, sum(s for _, s in wanted))
    for name, size in wanted:
        try:
            _sync_one(board, folder, name, size, keep, progress, rep)
        except BoardLost:
            raise
        except BoardError as exc:  # this file only: the board answered, or came back
            rep.refused.append((name, f"{exc}; left on the board"))
    fetched = [rep.saved_as.get(n, n) for n in rep.fetched]
    clock.record_sync(folder, fetched, board_now, laptop_now)
    board.set_clock(datetime.now())  # its next sessions are dated by the laptop's clock


def _sync_one(board, folder, name, size, keep, progress, rep):
    part = os.path.join(folder, f".{name}.part")
    stem = name[: -len(logbook.LOG_SUFFIX)]
    if any(f == name or (f.startswith(stem + "-") and f.endswith(logbook.LOG_SUFFIX))
           for f in os.listdir(folder)):
        bsize, bsha = board_hash(board, name)
        if bsize == size and _in_library(folder, name, bsize, bsha):
            # copied before (perhaps by a sync cut off before the removal)
            if os.path.exists(part):
                os.remove(part)
            rep.already.append(name)
            _remove_or_keep(board, name, keep, rep)
            if progress:
                progress(size, None)
            return
    rep.bytes += _fetch(board, name, size, part,
                        (lambda n: progress(n, None)) if progress else None)
    bsize, bsha = board_hash(board, name)
    lsize = os.path.getsize(part)
    if bsize != size or lsize != bsize:
        os.remove(part)  # the file changed under us: fetch it whole next time
        rep.refused.append((name, f"its size changed during the copy ({size} -> {bsize} "
                                  f"bytes on the board, {lsize} here); left on the board, "
                                  "sync again"))
        return
    lsha = _sha256_file(part)
    if lsha != bsha:
        os.remove(part)
        rep.refused.append((name, "SHA-256 of the copy does not match the board's; "
                                  "left on the board, sync again"))
        return
    dest, had = _place(part, folder, name, bsize, lsha)
    if dest is None:
        os.remove(part)
        rep.refused.append((name, "the library holds different files under every name "
                                  "for it; left on the board"))
        return
    if os.path.basename(dest) != name:
        rep.saved_as[name] = os.path.basename(dest)
    (rep.already if had else rep.fetched).append(name)
    _remove_or_keep(board, name, keep, rep)


def _remove_or_keep(board, name, keep, rep):
    if keep:
        rep.kept.append(name)
    else:
        board.remove(f"{LOG_DIR}/{name}")
