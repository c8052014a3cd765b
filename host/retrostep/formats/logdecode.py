"""Decode the board's session logs (retrostep.firmware.logbook) on the laptop.

The layout, the record types, the CRC and the raw codec's constants all come from the
firmware's logbook module: this file holds no copy of any of them. The raw-sample
predictor is the board's lb.raw_restore, restated here for numpy (all of a file's raw
blocks are decoded at once, see "raw blocks" below) and tested bit for bit against it
(tests/host/test_logdecode_fast.py).

Damage is reported, never raised: a record cut short by the end of the file, or whose
CRC does not match, goes into ``problems`` with its byte offset, and decoding carries on
at the next valid record (its sync byte, a plausible length and a matching CRC), so one
flipped bit costs one record.

    from retrostep.formats.logdecode import decode_file, to_result
    log = decode_file("s00012.rsl")
    for p in log.problems:
        print(p.offset, p.reason)
    result = to_result(log)          # the replay JSON (README.md, "Replay JSON")

Only a file that is not a retrostep log, or one written in another major format
version, raises LogDecodeError.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from retrostep.errors import RetrostepError
from retrostep.firmware import gait
from retrostep.firmware import logbook as lb
from retrostep.firmware import sensor
from retrostep.schema import (EVENT_NAMES, counts_from_events, counts_from_summary,
                              event_dict, result)

_HEADER_STRUCT = struct.Struct("<" + lb.HEADER_FMT.decode())
_HEADER_FIXED = len(lb.MAGIC) + _HEADER_STRUCT.size
_STRUCTS = {t: struct.Struct("<" + fmt.decode()) for t, (fmt, _names) in lb.RECORD_LAYOUT.items()}
# record type -> engine event type, for the records that carry engine events
_EVENT_OF_RECORD = {rtype: (ev_type, idx) for ev_type, (rtype, idx) in lb.EVENT_RECORDS.items()}
_SYNC = bytes([lb.SYNC])


class LogDecodeError(RetrostepError):
    """The file is not a retrostep log this version of retrostep can read."""


class Problem(NamedTuple):
    offset: int  # byte offset in the file
    reason: str


@dataclass
class Record:
    offset: int  # byte offset of the record's sync byte
    type: int  # logbook.REC_*
    kind: str  # "stride", "drift_alert", ... (engine events), "summary", "raw", ...
    fields: dict  # payload fields by the layout's names
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)  # raw: (n, 6) int16

    def event(self):
        """The engine event (EV_FIELDS ints) this record was written from, or None."""
        spec = _EVENT_OF_RECORD.get(self.type)
        if spec is None:
            return None
        ev_type, idx = spec
        ev = [0] * gait.EV_FIELDS
        ev[0] = ev_type
        for name, i in zip(lb.RECORD_LAYOUT[self.type][1], idx):
            ev[i] = self.fields[name]
        return tuple(ev)


@dataclass
class LogFile:
    header: dict | None
    records: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def of_kind(self, kind):
        return [r for r in self.records if r.kind == kind]

    def raw_samples(self):
        """All raw blocks' samples in order, (n, 6) int16 (gaps are not filled: see
        raw_gaps)."""
        blocks = [r.samples for r in self.records if r.type == lb.REC_RAW]
        if not blocks:
            return np.zeros((0, 6), np.int16)
        return np.concatenate(blocks)

    def raw_gaps(self):
        """Where raw_samples() misses samples of the session, as [(index in
        raw_samples(), samples missing before it)]: a raw block lost to damage, or
        samples the IMU lost. Each raw block says at which session sample it starts."""
        gaps = []
        have = 0  # samples in raw_samples() so far
        expect = 0  # the session sample the next block should start at
        for r in self.records:
            if r.type != lb.REC_RAW:
                continue
            start = r.fields["t"]
            if start > expect:
                gaps.append((have, start - expect))
            have += len(r.samples)
            expect = max(expect, start) + len(r.samples)
        return gaps


def record_name(rtype):
    spec = _EVENT_OF_RECORD.get(rtype)
    if spec is not None:
        return EVENT_NAMES[spec[0]]
    return lb.RECORD_NAMES.get(rtype, f"type_{rtype}")


# ---------------------------------------------------------------------------- raw blocks
#
# A log holds thousands of raw blocks (about 3000 per MB), each a few hundred bytes, so
# they are decoded together, all the blocks of a file (in chunks of _CHUNK bytes) at
# once, with numpy; the bits are walked by table lookups and the predictor is restored
# sample by sample across every axis of every block at a time:
#
# 1. the walk: where each code starts. Every block is walked in step with the others:
#    a round reads one partition header (order, k) of each block, then its codes, each
#    code's length one lookup in _LEN by the RAW_ESCAPE bits at its start and k.
# 2. the values: each code's quotient, low bits (or escaped value) and zigzag, for all
#    the codes at once, from their start positions.
# 3. the restore: the predictor's inverse, one sample index at a time for every (block,
#    axis) at once (the order-0 mean of four rounds down, so it is not a running sum).
#
# When only a few blocks (or axes) are left going (a file of one or two blocks, or a
# crafted block far longer than the rest), stepping them together costs more than one
# by one, so the rest of the walk is a Python loop over the same tables and the rest of
# the restore is the board's own lb.raw_restore. The result is bit for bit the board's
# samples (tests/host/test_logdecode_fast.py holds the straightforward decoder they are
# checked against, on valid and damaged data).

_PART = lb.RAW_PARTITION
_ESC = lb.RAW_ESCAPE  # the window of bits one lookup sees: a unary part or an escape
_ESC_BITS = lb.RAW_ESCAPE_BITS
_K_BITS = lb.RAW_K_BITS
_HEAD_BITS = lb.RAW_ORDER_BITS + lb.RAW_K_BITS
_ESC_LEN = _ESC + _ESC_BITS  # the length of an escaped code
# bit fields are read from 32-bit windows starting at a byte: a field of up to 25 bits
# fits at any bit offset; the lookup windows (and their tables) are 16 bits at most
assert _HEAD_BITS <= _ESC <= 16 and _ESC_BITS <= 25 and (1 << _K_BITS) - 1 <= 25


def _leading_ones(width):
    """[t] -> how many of t's `width` bits are ones before its first zero (width if none)."""
    t = np.arange(1 << width)
    still = np.ones(1 << width, bool)
    lo = np.zeros(1 << width, np.int64)
    for i in range(width):
        still &= ((t >> (width - 1 - i)) & 1).astype(bool)
        lo += still
    return lo


_LO = _leading_ones(_ESC)
# _LEN[(k << _ESC) | window]: the length of the code starting with `window` under k
_LEN = np.where(_LO[None, :] < _ESC, _LO[None, :] + 1 + np.arange(1 << _K_BITS)[:, None],
                _ESC_LEN).ravel().astype(np.int8)  # (small: it stays in the cache)
_LO = _LO.astype(np.int8)
_LEN_LISTS = []  # _LEN as a list per k, for the walk in Python (built on first use)
# the predictor orders as x[j] = C1 x[j-1] + C2 x[j-2] + C3 x[j-3]; order 0 (the mean of
# four) is none of them (see _restore)
_C1 = np.array([0, 1, 2, 3], np.int64)
_C2 = np.array([0, 0, -1, -3], np.int64)
_C3 = np.array([0, 0, 0, 1], np.int64)

_CHUNK = 1 << 18  # bytes of codec data decoded together (bounds the memory: ~40 x)
_SLICE = 1 << 15  # codes whose values are worked out together (temporaries in the cache)
_PAD = 128  # zero bytes after the chunk's bits: a walk running past the end stays inside
_WALK_MIN = 12  # fewer blocks than this still walking: walk the rest one by one
_RESTORE_MIN = 36  # fewer axes than this still restoring: restore the rest one by one


def _windows(stream):
    """(u32, win) of a padded byte string: u32[i] the 32 bits from byte i, win[p] the
    _ESC bits from bit p (most significant first)."""
    b = np.frombuffer(stream, np.uint8).astype(np.uint32)
    u32 = (b[:-3] << 24) | (b[1:-2] << 16) | (b[2:-1] << 8) | b[3:]
    win = (u32[:, None] >> (32 - _ESC - np.arange(8, dtype=np.uint32))[None, :])
    win = win.astype(np.uint16).ravel()  # (the low 16 bits)
    if _ESC < 16:
        win &= (1 << _ESC) - 1
    return u32, win


def _field(u32, p, w):
    """The w-bit fields (w an int or an array, up to 25) starting at bit positions p."""
    return (u32[p >> 3] >> (32 - (p & 7) - w)) & ((1 << w) - 1)


def _check_raw(codec, n, data):
    """A raw block's samples when they need no Rice decoding, None when they do, or why
    it cannot be decoded whatever its bits (a str)."""
    if n < 1:
        return "raw block with no samples"
    if n > lb.RAW_BLOCK_MAX:  # the board never writes more (a crafted n costs time)
        return f"raw block of {n} samples (the board writes at most {lb.RAW_BLOCK_MAX})"
    if codec == lb.RAW_PLAIN:
        if len(data) != 12 * n:
            return f"plain raw block of {n} samples has {len(data)} bytes"
        return np.frombuffer(bytes(data), dtype="<i2").reshape(n, 6).astype(np.int16)
    if codec != lb.RAW_RICE:
        return f"unknown raw codec {codec}"
    if len(data) < 12:
        return "raw block too short"
    # every partition's header and every code take bits: too few bits cannot be enough
    # (and a crafted n in the ten thousands costs nothing)
    parts = -(-(n - 1) // _PART)
    if 8 * (len(data) - 12) < 6 * (parts * _HEAD_BITS + n - 1):
        return "raw block data ends early"
    return None


def decode_raw(codec, n, data):
    """Samples (n, 6) int16 of a raw block's codec data (bit-exact inverse of the board)."""
    got = _raw_blocks([(codec, n, data)])[0]
    if isinstance(got, str):
        raise ValueError(got)
    return got


def decode_raw_blocks(blocks):
    """decode_raw of many blocks, [(codec, n, data)], at once: for each block its samples,
    or the ValueError saying why it cannot be decoded (returned, not raised)."""
    return [ValueError(got) if isinstance(got, str) else got for got in _raw_blocks(blocks)]


def _raw_blocks(blocks):
    """decode_raw_blocks with the reasons as str."""
    out = [_check_raw(codec, n, data) for codec, n, data in blocks]
    rice = [i for i, got in enumerate(out) if got is None]
    start = 0
    while start < len(rice):
        end, size = start, 0
        while end < len(rice) and (end == start or size + len(blocks[rice[end]][2]) <= _CHUNK):
            size += len(blocks[rice[end]][2])
            end += 1
        chunk = rice[start:end]
        for i, got in zip(chunk, _decode_rice([(blocks[i][1], blocks[i][2]) for i in chunk])):
            out[i] = got
        start = end
    return out


class _Layout:
    """Where things go for a chunk of blocks sorted by n, longest first (block b's axis a
    is lane 6 b + a). Ragged tables by index, each holding the lanes still going, a
    prefix: row j (sample j of each lane with n > j) at rows[j]; partition f (of each
    lane with more than f partitions per axis) at parts[f]."""

    def __init__(self, ns):
        self.ns = ns
        self.nparts = (ns - 1 + _PART - 1) // _PART  # partitions per axis
        desc = -ns
        self.row_blocks = np.searchsorted(desc, -np.arange(int(ns[0])), "left")
        self.rows = np.concatenate([[0], np.cumsum(6 * self.row_blocks)])
        maxp = int(self.nparts[0])
        self.part_blocks = np.searchsorted(-self.nparts, -np.arange(maxp), "left")
        self.parts = np.concatenate([[0], np.cumsum(6 * self.part_blocks)])
        self.round_blocks = np.searchsorted(-6 * self.nparts, -np.arange(6 * maxp), "left")


def _decode_rice(items):
    """[(n, codec data)] of RAW_RICE blocks (already checked) -> samples or why not."""
    ns = np.array([n for n, _ in items], np.int64)
    srt = np.argsort(-ns, kind="stable")  # longest first: the blocks going are a prefix
    ns = ns[srt]
    datas = [bytes(items[i][1]) for i in srt.tolist()]
    first = np.frombuffer(b"".join(d[:12] for d in datas), "<i2").astype(np.int64)
    lens = np.array([len(d) - 12 for d in datas], np.int64)
    b1 = 8 * np.cumsum(lens)  # each block's bits: b0 <= bit < b1
    b0 = b1 - 8 * lens
    u32, win = _windows(b"".join(d[12:] for d in datas) + bytes(_PAD))
    lay = _Layout(ns)
    pos, orders, code_pos, code_k, code_dest = _walk(lay, win, b0, b1)
    samples = np.zeros(int(lay.rows[-1]), np.int64)
    samples[:6 * len(ns)] = first
    samples[code_dest] = _values(u32, win, code_pos, code_k)  # residuals, until restored
    _restore(lay, samples, orders)
    return _results(lay, samples, pos > b1, srt)


def _walk(lay, win, b0, b1):
    """Walk every block's bits: (end positions, the partitions' orders by lay.parts,
    the codes' start positions, their k and where their residuals go by lay.rows)."""
    ns, nparts, rows, parts = lay.ns, lay.nparts, lay.rows, lay.parts
    nbits = int(b1[-1])
    pos = b0.copy()
    orders = np.zeros(int(parts[-1]), np.int64)
    code_pos, code_k, code_dest = [], [], []
    lanes = 6 * np.arange(len(ns))
    m = 0
    while m < len(lay.round_blocks) and lay.round_blocks[m] >= _WALK_MIN:
        act = int(lay.round_blocks[m])
        p = pos[:act]  # a view: moving p moves pos
        h = win[p].astype(np.int64) >> (_ESC - _HEAD_BITS)
        k = h & ((1 << _K_BITS) - 1)
        kk = k << _ESC
        p += _HEAD_BITS
        if ns[0] == ns[act - 1]:  # all the same length: the same partition of one axis
            a, f = divmod(m, int(nparts[0]))
            cnt = min(_PART, int(ns[0]) - 1 - _PART * f)
            orders[parts[f] + a:parts[f] + a + 6 * act:6] = h >> _K_BITS
            at = np.empty((cnt, act), np.int64)
            for c in range(cnt):
                at[c] = p
                p += _LEN[win[p] | kk]
            j = 1 + _PART * f
            dest = rows[j:j + cnt, None] + (a + lanes[:act])[None, :]
            code_pos.append(at.ravel())
            code_k.append(np.broadcast_to(k.astype(np.uint8), (cnt, act)).ravel())
            code_dest.append(dest.ravel())
        else:
            a, f = np.divmod(m, nparts[:act])
            j = 1 + _PART * f
            cnt = np.minimum(_PART, ns[:act] - j)
            orders[parts[f] + a + lanes[:act]] = h >> _K_BITS
            cmax = int(cnt.max())
            at = np.empty((cmax, act), np.int64)
            for c in range(cmax):
                at[c] = p
                p += _LEN[win[p] | kk] * (c < cnt)
            cs = np.arange(cmax)[:, None]
            ok = cs < cnt[None, :]
            code_pos.append(at[ok])
            code_k.append(np.broadcast_to(k.astype(np.uint8), (cmax, act))[ok])
            code_dest.append(rows[(j[None, :] + cs)[ok]]
                             + np.broadcast_to(a + lanes[:act], (cmax, act))[ok])
        np.minimum(p, nbits + 1, out=p)  # past the end: damaged, and stays so
        m += 1
    if m < len(lay.round_blocks):
        _walk_rest(lay, win, b1, pos, m, orders, code_pos, code_k, code_dest)
    return (pos, orders, np.concatenate(code_pos or [np.zeros(0, np.int64)]),
            np.concatenate(code_k or [np.zeros(0, np.uint8)]),
            np.concatenate(code_dest or [np.zeros(0, np.int64)]))


def _walk_rest(lay, win, b1, pos, m, orders, code_pos, code_k, code_dest):
    """The walk from round m on, block by block, in Python (the same tables)."""
    if not _LEN_LISTS:
        _LEN_LISTS.extend(_LEN.reshape(1 << _K_BITS, 1 << _ESC).tolist())
    lens = _LEN_LISTS
    nbits = int(b1[-1])
    kmask = (1 << _K_BITS) - 1
    shift = _ESC - _HEAD_BITS
    at = array("q")  # each code's start, from its block's start here
    put = at.append
    oi, ov = [], []  # orders: where, which
    meta = []  # per partition: k, first sample, lane, codes, block's start here
    for b in range(int(lay.round_blocks[m])):
        n, nparts = int(lay.ns[b]), int(lay.nparts[b])
        p0 = int(pos[b])
        q, qlim = 0, int(b1[b]) - p0
        # a partition moves at most _HEAD_BITS + _PART * _ESC_LEN bits: checked after each
        w = win[p0:p0 + max(qlim, 0) + _HEAD_BITS + _PART * _ESC_LEN + 8].tolist()
        for mm in range(m, 6 * nparts):
            if q > qlim:
                break
            a, f = divmod(mm, nparts)
            h = w[q] >> shift
            step = lens[h & kmask]
            oi.append(int(lay.parts[f]) + 6 * b + a)
            ov.append(h >> _K_BITS)
            q += _HEAD_BITS
            j = 1 + _PART * f
            cnt = min(_PART, n - j)
            for _ in range(cnt):
                put(q)
                q += step[w[q]]
            meta.append((h & kmask, j, 6 * b + a, cnt, p0))
        pos[b] = min(p0 + q, nbits + 1)
    orders[np.array(oi, np.int64)] = ov
    if not meta:
        return
    k, j, lane, cnt, p0 = np.array(meta, np.int64).T
    first = np.repeat(np.cumsum(cnt) - cnt, cnt)  # each code's partition's first code
    code_pos.append(np.frombuffer(at, np.int64) + np.repeat(p0, cnt))
    code_k.append(np.repeat(k, cnt).astype(np.uint8))
    code_dest.append(lay.rows[np.repeat(j, cnt) + np.arange(len(at)) - first]
                     + np.repeat(lane, cnt))


def _values(u32, win, at, k):
    """The residuals of the codes starting at bit positions `at` under parameters k."""
    out = np.empty(len(at), np.int64)
    for i in range(0, len(at), _SLICE):
        p = at[i:i + _SLICE]
        kk = k[i:i + _SLICE].astype(np.int64)
        lo = _LO[win[p]].astype(np.int64)  # the unary part (_ESC: an escape)
        z = (lo << kk) | _field(u32, p + lo + 1, kk)
        esc = np.flatnonzero(lo == _ESC)
        if esc.size:
            z[esc] = _field(u32, p[esc] + _ESC, _ESC_BITS)
        out[i:i + _SLICE] = (z >> 1) ^ -(z & 1)  # zigzag: 0, 1, 2, 3 -> 0, -1, 1, -2
    return out


def _restore(lay, x, orders):
    """Turn the residuals in x (by lay.rows, row 0 the first samples) into samples, in
    place: x[j] = prediction + residual[j], for every lane at once, sample after sample.
    A lane whose samples leave int16 is left with at least one of them outside (later
    ones may be anything: the block is refused)."""
    rows, parts, row_blocks = lay.rows, lay.parts, lay.row_blocks
    nrows = len(row_blocks)
    j = 1
    while j < nrows and 6 * row_blocks[j] >= _RESTORE_MIN:
        act = 6 * int(row_blocks[j])
        if j <= 4 or (j - 1) % _PART == 0:  # a new partition, or the block-start rule
            f = (j - 1) // _PART
            o = orders[parts[f]:parts[f + 1]]
            if j < 4:  # sample j < 4 of a block: order min(p, j), the mean of four as 1
                o = np.where(o == 0, 1, np.minimum(o, j))
            c1, c2, c3 = _C1[o], _C2[o], _C3[o]
            mean4 = o == 0
            any_mean4 = bool(mean4.any())
        r = rows[j]
        out = x[r:r + act]
        res = out.copy()
        x1 = x[rows[j - 1]:rows[j - 1] + act]
        np.multiply(c1[:act], x1, out=out)
        if j >= 2:
            x2 = x[rows[j - 2]:rows[j - 2] + act]
            out += c2[:act] * x2
        if j >= 3:
            x3 = x[rows[j - 3]:rows[j - 3] + act]
            out += c3[:act] * x3
        if any_mean4:  # j >= 4
            s = x1 + x2
            s += x3
            s += x[rows[j - 4]:rows[j - 4] + act]
            s >>= 2
            np.copyto(out, s, where=mean4[:act])
        out += res
        j += 1
    if j < nrows:
        _restore_rest(lay, x, orders, j)


def _restore_rest(lay, x, orders, j0):
    """The restore from sample j0 on of the lanes still going, one by one, with the
    board's own predictor (lb.raw_restore) on Python ints, a call for each run of
    partitions of one order."""
    rows, parts = lay.rows, lay.parts
    for lane in range(6 * int(lay.row_blocks[j0])):
        n = int(lay.ns[lane // 6])
        at = rows[:n] + lane
        xs = x[at].tolist()  # samples before j0, then residuals
        if min(xs[:j0]) < -32768 or max(xs[:j0]) > 32767:
            continue  # refused already
        res = xs[j0:]
        f0 = (j0 - 1) // _PART
        ords = orders[parts[f0:int(lay.nparts[lane // 6])] + lane].tolist()
        j, f = j0, f0
        while j < n:
            g = f + 1
            while g - f0 < len(ords) and ords[g - f0] == ords[f - f0]:
                g += 1
            cnt = min(1 + _PART * g, n) - j
            lb.raw_restore(xs, j, j, cnt, ords[f - f0], 1, res[j - j0:j - j0 + cnt])
            j, f = j + cnt, g
            if min(xs[j - cnt:j]) < -32768 or max(xs[j - cnt:j]) > 32767:
                x[at[j0]] = 1 << 20  # refused (the rest cannot change that): marked so
                break
        else:
            x[at[j0:]] = xs[j0:]


def _results(lay, x, short, srt):
    """Each block's samples (or why not), in the order the blocks came in."""
    ns, rows = lay.ns, lay.rows
    nblk = len(ns)
    wide = np.zeros(nblk, bool)  # some sample outside int16
    bad = np.flatnonzero((x < -32768) | (x > 32767))
    if bad.size:
        row = np.searchsorted(rows, bad, "right") - 1
        wide[(bad - rows[row]) // 6] = True
    out = [None] * nblk
    b = 0
    while b < nblk:  # blocks of one length together
        n = int(ns[b])
        e = int(np.searchsorted(-ns, -n, "right"))
        got = x[rows[:n, None] + np.arange(6 * b, 6 * e)[None, :]]
        got = got.reshape(n, e - b, 6).transpose(1, 0, 2).astype(np.int16, order="C")
        for i in range(b, e):
            if short[i]:
                out[srt[i]] = "raw block data ends early"
            elif wide[i]:
                out[srt[i]] = "raw block decodes outside int16"
            else:
                out[srt[i]] = got[i - b]
        b = e
    return out


# ---------------------------------------------------------------------------- decoding


# Looking for the next valid record after damage costs a CRC over each candidate's
# claimed length (up to 12 KB); a crafted file can make every few bytes a candidate. The
# search may spend at most this many CRC bytes per byte of the file, so decoding stays
# linear in the file size; past that, the rest of the file is reported, not searched.
RESYNC_WORK = 64


class _Budget:
    def __init__(self, size):
        self.left = RESYNC_WORK * max(size, 1024)


class _OutOfBudget(Exception):
    pass


def _crc(data, start, end):
    """CRC-32 of data[start:end]: the firmware's lb.crc32, computed by zlib (the same
    polynomial and bits, tested) at C speed."""
    return zlib.crc32(memoryview(data)[start:end])


def _stored_crc(data, end):
    return int.from_bytes(data[end:end + lb.REC_CRC], "little")


def _candidate_end(data, p):
    """End of the record a sync byte at p claims (before its CRC), or None."""
    size = len(data)
    if data[p] != lb.SYNC or p + lb.REC_HEAD > size:
        return None
    plen = data[p + 2] | (data[p + 3] << 8)
    if plen > lb.MAX_PAYLOAD:
        return None
    end = p + lb.REC_HEAD + plen
    if end + lb.REC_CRC > size:
        return None
    return end


def _record_end(data, p):
    """End offset of a valid record (sync, sane length, CRC) at p, else None."""
    end = _candidate_end(data, p)
    if end is None or _crc(data, p, end) != _stored_crc(data, end):
        return None
    return end + lb.REC_CRC


def _next_valid(data, p, budget):
    """Offset of the next valid record at or after p, or None; raises _OutOfBudget(p)
    when the search has spent its CRC bytes."""
    while True:
        p = data.find(_SYNC, p)
        if p < 0:
            return None
        end = _candidate_end(data, p)
        if end is not None:
            budget.left -= end - p
            if budget.left < 0:
                raise _OutOfBudget(p)
            if _crc(data, p, end) == _stored_crc(data, end):
                return p
        p += 1


def header_faults(h):
    """Why a header's values cannot be used, or [] when they can: rates and scales the
    firmware can have set (whatever its CRC says, a crafted file can say anything)."""
    faults = []
    if h.get("odr_hz") not in sensor.ODRS_HZ:
        faults.append(f"sample rate {h.get('odr_hz')} Hz (the firmware samples at "
                      f"{', '.join(map(str, sensor.ODRS_HZ))} Hz)")
    if h.get("accel_ug_per_lsb") not in sensor.ACCEL_UG_PER_LSB.values():
        faults.append(f"accelerometer scale {h.get('accel_ug_per_lsb')} ug/LSB")
    if h.get("gyro_udps_per_lsb") not in sensor.GYRO_UDPS_PER_LSB.values():
        faults.append(f"gyroscope scale {h.get('gyro_udps_per_lsb')} udps/LSB")
    return faults


def _header(data, problems, budget):
    """Parse the file header; returns (header dict or None, offset of the first record)."""
    magic = lb.MAGIC
    if len(data) < len(magic):
        if bytes(data) != magic[:len(data)]:
            raise LogDecodeError("not a retrostep log: it does not start with b'RSLG'")
        problems.append(Problem(0, "file header cut short (the file is empty or nearly)"))
        return None, len(data)
    if bytes(data[:4]) != magic:
        raise LogDecodeError(
            f"not a retrostep log: it starts with {bytes(data[:4])!r}, not {magic!r}")
    if len(data) < _HEADER_FIXED + 2:
        problems.append(Problem(0, "file header cut short"))
        return None, len(data)
    h = dict(zip(lb.HEADER_FIELDS, _HEADER_STRUCT.unpack_from(data, len(magic))))
    p = _HEADER_FIXED
    ok_strings = True
    for name in lb.HEADER_STRINGS:
        if p >= len(data):
            ok_strings = False
            break
        ln = data[p]
        text = bytes(data[p + 1:p + 1 + ln]).decode("utf-8", "replace")
        # ids and versions: a damaged or crafted byte shows as '?', never as a control
        h[name] = "".join(c if c.isprintable() else "?" for c in text)
        p += 1 + ln
    hlen = h["header_len"]
    crc_ok = (ok_strings and p + lb.REC_CRC <= hlen <= len(data)
              and _crc(data, 0, hlen - lb.REC_CRC) == _stored_crc(data, hlen - lb.REC_CRC))
    if crc_ok:
        if h["major"] != lb.FORMAT_MAJOR:
            raise LogDecodeError(
                f"log format version {h['major']}.{h['minor']} cannot be read by this "
                f"retrostep (it reads version {lb.FORMAT_MAJOR}.x): update retrostep on "
                "the laptop, or flash matching firmware")
        h["crc_ok"] = True
        h["faults"] = header_faults(h)
        if h["faults"]:
            problems.append(Problem(0, "file header holds impossible values: "
                                       + "; ".join(h["faults"])))
        return h, hlen
    try:
        start = _next_valid(data, len(magic), budget)
    except _OutOfBudget:
        start = None
    if start is None and len(data) < max(hlen, p + lb.REC_CRC):
        problems.append(Problem(0, "file header cut short"))
        return None, len(data)
    h["crc_ok"] = False
    h["faults"] = header_faults(h)
    problems.append(Problem(0, "file header damaged (CRC mismatch): "
                               + ("its values are used only as far as they are ones the "
                                  "firmware can set" if not h["faults"] else
                                  "its values cannot be used: " + "; ".join(h["faults"]))))
    return h, len(data) if start is None else start


def _parse(data, p, end, problems, raws):
    """The Record for the valid record spanning data[p:end], or None (with a problem).
    A raw block's samples are decoded later, all blocks together (_decode_raws): its
    record and codec data go into raws."""
    rtype = data[p + 1]
    plen = end - p - lb.REC_OVERHEAD
    payload = memoryview(data)[p + lb.REC_HEAD:p + lb.REC_HEAD + plen]
    st = _STRUCTS.get(rtype)
    if st is None:
        problems.append(Problem(p, f"record of unknown type {rtype} skipped (newer firmware?)"))
        return None
    if plen < st.size:
        problems.append(Problem(p, f"record type {rtype} has {plen} payload bytes, expected "
                                   f"{st.size}"))
        return None
    names = lb.RECORD_LAYOUT[rtype][1]
    rec = Record(p, rtype, record_name(rtype), dict(zip(names, st.unpack_from(payload))))
    if rtype == lb.REC_RAW:
        f = rec.fields
        raws.append((rec, len(problems), (f["codec"], f["n"], payload[st.size:])))
    return rec


def _decode_raws(out, raws):
    """Decode the raw blocks of the records in raws [(record, len(problems) when it was
    read, (codec, n, codec data))]: a block that cannot be decoded drops its record and
    adds its problem where reading it one record at a time would have."""
    got = _raw_blocks([block for _, _, block in raws])
    late = []
    for (rec, at, _), samples in zip(raws, got):
        if isinstance(samples, str):
            late.append((at, Problem(rec.offset, "raw block not decodable: " + samples)))
        else:
            rec.samples = samples
    if not late:
        return
    out.records[:] = [r for r in out.records if r.type != lb.REC_RAW or r.samples is not None]
    merged, i = [], 0
    for at, problem in late:
        merged += out.problems[i:at]
        merged.append(problem)
        i = at
    out.problems[:i] = merged  # (the same list as decode's problems)


def decode(data) -> LogFile:
    """Decode a whole log file's bytes into its header, records and problems."""
    data = bytes(data)
    problems = []
    budget = _Budget(len(data))
    header, p = _header(data, problems, budget)
    out = LogFile(header, [], problems)
    raws = []
    size = len(data)
    while p < size:
        end = _record_end(data, p)
        if end is not None:
            rec = _parse(data, p, end, problems, raws)
            if rec is not None:
                out.records.append(rec)
            p = end
            continue
        try:
            nxt = _next_valid(data, p + 1, budget)
        except _OutOfBudget as stop:
            problems.append(Problem(p, f"damaged beyond searching: {size - p} bytes from here "
                                       f"not read (no valid record found up to byte "
                                       f"{stop.args[0]})"))
            break
        if nxt is None:
            if data[p] == lb.SYNC:
                problems.append(Problem(p, f"record cut short by the end of the file "
                                           f"({size - p} bytes; a power cut while writing?)"))
            else:
                problems.append(Problem(p, f"{size - p} unreadable bytes at the end of the file"))
            break
        if data[p] == lb.SYNC:
            why = "damaged record (CRC mismatch or bad length)"
        else:
            why = "bytes that are not a record"
        problems.append(Problem(p, f"{why}: skipped {nxt - p} bytes to the next valid record"))
        p = nxt
    if raws:
        _decode_raws(out, raws)
    return out


def decode_file(path) -> LogFile:
    with open(path, "rb") as f:
        return decode(f.read())


# ---------------------------------------------------------------------------- results


def to_result(log: LogFile) -> dict:
    """The result of a decoded session log, on the session's time base.

    Counts come from the session summary (the engine's own counters); a session without
    one (power cut) is counted from its stride records and marked "complete": false.
    """
    if log.header is None:
        raise LogDecodeError("the log has no readable header: nothing to report")
    if log.header.get("faults"):
        raise LogDecodeError("the log's header is damaged (" + "; ".join(log.header["faults"])
                             + "): its times and scales cannot be trusted, nothing to report")
    h = log.header
    odr = h["odr_hz"]

    def time_of(sample):
        return sample / odr

    raw_events = []
    last_t = 0
    for rec in log.records:
        if "t" in rec.fields:
            last_t = max(last_t, rec.fields["t"] + rec.fields.get("n", 0))
        ev = rec.event()
        if ev is not None:
            raw_events.append(ev)
    summaries = log.of_kind("summary")
    if summaries:
        counts = counts_from_summary(summaries[-1].fields)
        samples = summaries[-1].fields["samples"]
    else:
        counts = counts_from_events(raw_events)
        samples = last_t
    return result(
        counts, samples, odr, [event_dict(ev, time_of) for ev in raw_events],
        session={
            "number": h["session"],
            "start_s": h["start_s"],
            "board_id": h.get("board_id", ""),
            "fw_version": h.get("fw_version", ""),
            "complete": bool(summaries),
        },
        gaps=[{"t_s": round(time_of(r.fields["t"]), 4),
               "lost_samples": r.fields["lost_samples"]} for r in log.of_kind("gap")],
        balance_checks=[dict(r.fields, t_s=round(time_of(r.fields["t"]), 4))
                        for r in log.of_kind("balance_check")],
        problems=[{"offset": p.offset, "reason": p.reason} for p in log.problems],
    )
