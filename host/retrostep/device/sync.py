"""`retrostep sync`: pull the board's session logs into the local library, verified.

For every log file on the board (/logs/sNNNNN.rsl):
1. the bytes come over in one streamed exec per file (base64 lines of CHUNK bytes, no
   per-chunk round trip), appended to a hidden `.NAME.part` file in the library; each
   line is written and flushed whole, so an interruption (cable pulled, board reset,
   Ctrl-C) leaves a prefix that the next sync resumes from;
2. the board computes the file's SHA-256 (and says its size again); the laptop hashes
   its copy; only when both agree is the copy renamed into place (atomically) and
3. only then is the board's file removed (`--keep` keeps it).
A file already in the library with the same hash is not fetched again (a sync cut off
between steps 2 and 3 just removes the board's copy next time). Names from the board
are used only when they match the logbook's own pattern, and only as a file name in
the board's folder of the library: never as a path.
"""

import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field

from retrostep.device.board import BoardError, connect
from retrostep.firmware import logbook
from retrostep.analysis.library import library_dir

LOG_DIR = "/logs"
CHUNK = 3072  # bytes per base64 line from the board
NAME_RE = re.compile(r"^%s\d{5}%s$" % (re.escape(logbook.LOG_PREFIX),
                                       re.escape(logbook.LOG_SUFFIX)))

# The list and the removal are mpremote's (Board.listdir, Board.remove). The copy is not
# Transport.fs_readfile: that reads from the start only (no resume offset), keeps the
# whole file in memory, and takes one eval round trip per 256 bytes: 64 KiB from the
# virtual board take 14.3 s that way (2.2 s with 3072-byte evals) against 0.56 s
# streamed here (bench/sync_bench.py compares whole syncs with `mpremote cp`).
_READ = """
import sys, binascii
def _rd(p, off, chunk):
    buf = bytearray(chunk)
    mv = memoryview(buf)
    w = sys.stdout.write
    with open(p, 'rb') as f:
        f.seek(off)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            w(binascii.b2a_base64(mv[:n]))
_rd(%r, %d, %d)
"""


@dataclass
class SyncReport:
    board_id: str = ""
    folder: str = ""
    fetched: list = field(default_factory=list)  # names copied this time
    already: list = field(default_factory=list)  # names the library had (board copy removed)
    kept: list = field(default_factory=list)  # verified, left on the board (--keep)
    refused: list = field(default_factory=list)  # (name, reason): left on the board
    bytes: int = 0


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def list_logs(board):
    """[(name, size)] of the files in the board's log folder (names unchecked)."""
    return board.listdir(LOG_DIR)


def board_hash(board, name):
    path = f"{LOG_DIR}/{name}"
    size, sha = board.hashes([path])[path]
    if sha is None:
        raise BoardError(f"the board gave no usable SHA-256 for {name}")
    return size, sha


def _fetch(board, name, size, part, progress=None):
    """Append the rest of the board's file to `part` (resuming at its size)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    if have > size:  # the board's file shrank, or another file took its name
        os.remove(part)
        have = 0
    if have == size:
        return 0
    pending = bytearray()
    got = [0]
    with open(part, "ab") as f:
        def consume(data):
            pending.extend(data)
            while True:
                nl = pending.find(b"\n")
                if nl < 0:
                    return
                line = bytes(pending[:nl]).strip()
                del pending[: nl + 1]
                if not line:
                    continue
                try:
                    chunk = binascii.a2b_base64(line)
                except binascii.Error:
                    raise BoardError(f"garbled data from the board in {name}; run sync "
                                     "again (it resumes)") from None
                f.write(chunk)
                f.flush()
                got[0] += len(chunk)
                if progress:
                    progress(len(chunk))

        board.stream(_READ % (f"{LOG_DIR}/{name}", have, CHUNK), consume)
        os.fsync(f.fileno())
    return got[0]


def sync(port=None, library=None, keep=False, progress=None, board=None):
    """Pull every new log from the board into the library; returns a SyncReport."""
    own = board is None
    if own:
        board = connect(port)
    try:
        bid = board.board_id()
        folder = os.path.join(library_dir(library), bid)
        os.makedirs(folder, exist_ok=True)
        rep = SyncReport(board_id=bid, folder=folder)
        logs = list_logs(board)
        wanted = []
        for name, size in logs:
            if not NAME_RE.match(name):
                rep.refused.append((name, "not a session log name; left on the board"))
                continue
            wanted.append((name, size))
        if progress:
            progress(None, sum(s for _, s in wanted))
        for name, size in wanted:
            final = os.path.join(folder, name)
            part = os.path.join(folder, f".{name}.part")
            if os.path.exists(final):
                bsize, bsha = board_hash(board, name)
                # same name, other content (a reformatted board): keep both
                other = os.path.join(folder, f"{name[:-4]}-{bsha[:8]}{name[-4:]}")
                done = [f for f in (final, other) if os.path.exists(f)
                        and os.path.getsize(f) == bsize and _sha256_file(f) == bsha]
                if done:  # copied before (perhaps by a sync cut off before the removal)
                    _remove_or_keep(board, name, keep, rep, rep.already)
                    if progress:
                        progress(size, None)
                    continue
                final = other
            rep.bytes += _fetch(board, name, size,
                                part, (lambda n: progress(n, None)) if progress else None)
            bsize, bsha = board_hash(board, name)
            lsize = os.path.getsize(part)
            if bsize != size or lsize != bsize:
                os.remove(part)  # the file changed under us: fetch it whole next time
                rep.refused.append((name, f"its size changed during the copy ({size} -> "
                                          f"{bsize} bytes on the board, {lsize} here); "
                                          "left on the board, sync again"))
                continue
            lsha = _sha256_file(part)
            if lsha != bsha:
                os.remove(part)
                rep.refused.append((name, "SHA-256 of the copy does not match the board's; "
                                          "left on the board, sync again"))
                continue
            os.replace(part, final)
            rep.fetched.append(name)
            _remove_or_keep(board, name, keep, rep, None)
        return rep
    finally:
        if own:
            board.close(resume=True)


def _remove_or_keep(board, name, keep, rep, also):
    if also is not None:
        also.append(name)
    if keep:
        rep.kept.append(name)
    else:
        board.remove(f"{LOG_DIR}/{name}")
