"""Session logbook on flash: one file per session, a versioned header, then append-only
records, each framed with a length and a CRC, so a power cut loses at most the records
not yet flushed and never damages the ones before them.

This file is the ONE definition of the log layout: the board writes with it and the
laptop decoder (retrostep.formats.logdecode) imports its constants, its layout tables,
its CRC and its raw-sample predictor (raw_restore). It runs unchanged on MicroPython
and CPython and writes byte-identical files on both. Appending events, raw samples and
gaps allocates nothing (tests/firmware/test_logbook.py runs them under
``micropython.heap_lock()`` on the MicroPython VM); the exceptions are the default
free-space query every FREE_CHECK_BYTES written (``os.statvfs`` returns a tuple),
opening and closing a session, and error paths.

Usage (on the board the package is ``rstep``; on the laptop ``retrostep.firmware``)::

    from array import array
    from rstep.gait import Gait, EV_FIELDS
    from rstep.logbook import Logbook, engine_summary

    eng = Gait()
    log = Logbook("/log")                           # a directory; created if missing
    n = log.open_session(start_s=0, board_id="demo", fw_version="0.1.0", raw=True)
    buf = array("h", [0, 0, 2049, 0, 0, 0] * 104)   # one second standing still
    ev = array("i", [0] * EV_FIELDS)
    done = 0
    while done < 104:
        done = eng.feed(buf, done, 104)
        while eng.pop(ev):
            log.append_event(ev)
    log.append_raw(buf, 104)                        # optional raw recording
    log.close_session(engine_summary(eng), end_s=1)
    print("wrote", log.file_name(n))

File layout (all integers little-endian)
----------------------------------------
Header: MAGIC b"RSLG", then HEADER_FMT = major version, minor version, header length
(bytes, CRC included), ODR (Hz), accel uG/LSB, gyro udps/LSB, accel full scale (g),
gyro full scale (dps), session number, session start (RTC seconds); then the board id
and the firmware version, each as one length byte + UTF-8; then a CRC-32 of everything
before it. A decoder refuses another major version; a newer minor version only adds
header bytes (skipped through the header length) and record types (skipped through
their length).

Record: SYNC (0xA5), type (1 byte), payload length (2 bytes), payload, CRC-32 of
everything before it in the record (sync included). The payload of each type is
RECORD_LAYOUT[type] = (format characters, field names), format characters as in the
struct module (b, B, h, H, i, I), without padding. Records from engine events carry
the event's fields named in EVENT_RECORDS; times are samples since the session start.

The CRC is CRC-32 (IEEE 802.3, reflected, as zlib.crc32): it catches every error of up
to 3 bits and every burst up to 32 bits in records of the sizes used here, and when the
decoder searches damaged bytes for the next record, a false match needs 2**-32 luck,
against 2**-16 for CRC-16. It is computed here in two 16-bit halves from two 256-entry
tables built at import, so every intermediate stays a small int on 32-bit ports (a
32-bit value would be a heap-allocated big int there) and no binascii is needed.

Raw-sample blocks (record RAW: first sample index, sample count, codec, data):
codec RAW_PLAIN is the samples as int16 (ax ay az gx gy gz per sample); codec
RAW_RICE stores the first sample as 6 int16, then each axis in turn (ax ay az gx gy gz)
as partitions of RAW_PARTITION samples from sample 1 on. A partition starts with its
predictor order p (RAW_ORDER_BITS) and its Rice parameter k (RAW_K_BITS); then for
each sample the residual x - prediction, zigzag-mapped (0, -1, 1, -2 -> 0, 1, 2, 3)
to z, as z >> k in unary (ones ended by a zero) and the low k bits of z; z >> k >=
RAW_ESCAPE is written as RAW_ESCAPE ones and z in RAW_ESCAPE_BITS bits. Bits are
packed most significant first; the last byte is padded with zeros. A block that
would not come out smaller is stored plain, so noise costs nothing extra.

The prediction of sample k (k >= 1, counted from the block's first sample) of an axis
x, under the partition's order p (``>>`` rounds towards minus infinity):

    p = 0: (x[k-1] + x[k-2] + x[k-3] + x[k-4]) >> 2   (the mean of the last four)
           x[k-1] when k < 4
    p = 1: x[k-1]
    p = 2: 2 x[k-1] - x[k-2]                  order 1 when k = 1
    p = 3: 3 x[k-1] - 3 x[k-2] + x[k-3]       order min(3, k) when k < 3

raw_residuals (the board) and raw_restore (the laptop decoder) are the one
implementation of these formulas. The board picks for each partition the order of the
smallest sum of |residual| (ties: 1, then 0, 2, 3) and the Rice parameter of the
fewest bits near log2 of the mean z; a decoder needs neither rule.

Flush policy: records go to the file at once and the file is flushed (on littlefs and
FAT that commits them to flash) after every bout end, drift alert, back-on-line,
calibration and balance check, after every `flush_every` records (default
FLUSH_EVERY) and at session close. A power cut loses at most the records since the last
flush (about FLUSH_EVERY strides, under half a minute of walking); the record being
written when power goes is cut short, and the decoder reports it and keeps the rest.

Full filesystem: free space is asked of `fs_free_fn()` (default: os.statvfs on the log
directory) at session open and after every FREE_CHECK_BYTES written, and estimated in
between. Below `raw_reserve` bytes free, raw recording stops for the rest of the
session; below `event_reserve` bytes, events are dropped (and counted); the session
summary is always written (the reserve is kept for it). The summary's flags say what
was given up.

Sessions: file "s%05d.rsl" % session number in the log directory. The number is one
more than the highest of the existing files and of the counter file LAST_FILE (so
numbers keep rising after synced files are deleted); a name that exists is never
reused, so a file is never overwritten.
"""

import os
import sys
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from . import gait, sensor

# ---------------------------------------------------------------------------- layout
MAGIC = b"RSLG"
FORMAT_MAJOR = const(1)  # a decoder refuses any other major version
FORMAT_MINOR = const(0)  # only additions: header bytes at the end, record types
# after the magic: major, minor, header length, odr_hz, accel_ug_per_lsb,
# gyro_udps_per_lsb, accel_fs_g, gyro_fs_dps, session, start_s; then 2 strings, CRC
HEADER_FMT = b"BBHHHIBHII"
HEADER_FIELDS = ("major", "minor", "header_len", "odr_hz", "accel_ug_per_lsb",
                 "gyro_udps_per_lsb", "accel_fs_g", "gyro_fs_dps", "session", "start_s")
HEADER_STRINGS = ("board_id", "fw_version")  # each: length byte + UTF-8, after the fields
STRING_MAX = const(63)  # longer strings are cut to this many bytes

SYNC = const(0xA5)
REC_HEAD = const(4)  # sync, type, payload length (2)
REC_CRC = const(4)
REC_OVERHEAD = const(8)

REC_SESSION_START = const(1)
REC_STRIDE = const(2)
REC_DRIFT = const(3)
REC_ON_LINE = const(4)
REC_BOUT_START = const(5)
REC_BOUT_END = const(6)
REC_SUMMARY = const(7)
REC_CALIBRATION = const(8)
REC_BALANCE = const(9)
REC_GAP = const(10)
REC_RAW = const(11)

# payload of each record type: (format characters, field names); t = sample index since
# the session start. Bias values are the engine's gyro bias, Q4 gyro LSB.
RECORD_LAYOUT = {
    REC_SESSION_START: (b"IIBH", ("session", "start_s", "raw", "raw_block")),
    REC_STRIDE: (b"IbBHHii", ("t", "direction", "confidence", "length_mm", "heading_bam",
                              "lateral_mm", "pitch_q14")),
    REC_DRIFT: (b"IBihI", ("t", "cause", "lateral_mm", "deviation_q14", "bout_strides")),
    REC_ON_LINE: (b"IBihI", ("t", "cause", "lateral_mm", "deviation_q14", "bout_strides")),
    REC_BOUT_START: (b"I", ("t",)),
    REC_BOUT_END: (b"IIII", ("t", "strides", "forward_strides", "backward_strides")),
    REC_SUMMARY: (b"IIIIIIIIIIIIIIBHhhh",
                  ("start_s", "end_s", "samples", "steps", "forward_steps",
                   "backward_steps", "strides", "forward_strides", "backward_strides",
                   "alerts", "bouts", "lost_samples", "raw_blocks", "dropped_records",
                   "flags", "mount_yaw_bam", "gyro_bias_x_q4", "gyro_bias_y_q4",
                   "gyro_bias_z_q4")),
    REC_CALIBRATION: (b"IHI", ("t", "mount_yaw_bam", "strides")),
    REC_BALANCE: (b"IIHHBBBi", ("t", "duration_samples", "forward_steps", "backward_steps",
                                "target_forward", "target_backward", "passed",
                                "max_lateral_mm")),
    REC_GAP: (b"II", ("t", "lost_samples")),
    REC_RAW: (b"IHB", ("t", "n", "codec")),  # then the codec's data
}
# names of the records that do not come from engine events (those are named by the
# engine event they carry: retrostep.replay.EVENT_NAMES)
RECORD_NAMES = {
    REC_SESSION_START: "session_start",
    REC_SUMMARY: "summary",
    REC_BALANCE: "balance_check",
    REC_GAP: "gap",
    REC_RAW: "raw",
}
# engine event type -> (record type, the event's ev[] index of each payload field)
EVENT_RECORDS = {
    gait.EV_STRIDE: (REC_STRIDE, (1, 2, 3, 4, 5, 6, 7)),
    gait.EV_DRIFT: (REC_DRIFT, (1, 3, 4, 5, 6)),
    gait.EV_ON_LINE: (REC_ON_LINE, (1, 3, 4, 5, 6)),
    gait.EV_BOUT_START: (REC_BOUT_START, (1,)),
    gait.EV_BOUT_END: (REC_BOUT_END, (1, 4, 5, 6)),
    gait.EV_CALIBRATED: (REC_CALIBRATION, (1, 4, 5)),
}
# summary flags
FLAG_RAW_STOPPED = const(1)  # raw recording stopped: filesystem nearly full
FLAG_EVENTS_DROPPED = const(2)  # records dropped: filesystem full
FLAG_WRITE_FAILED = const(4)  # a write raised OSError; nothing more was written

# raw-sample blocks
RAW_PLAIN = const(0)
RAW_RICE = const(1)
RAW_BLOCK = const(104)  # samples per block by default (1 s at 104 Hz)
RAW_BLOCK_MAX = const(1024)
RAW_PREFIX = const(7)  # t (4), n (2), codec (1)
RAW_PARTITION = const(16)  # samples per predictor order and Rice parameter
RAW_ORDER_BITS = const(2)
RAW_ORDERS = const(4)  # predictor orders 0..3
RAW_K_BITS = const(4)
RAW_K_MAX = const(15)
RAW_ESCAPE = const(16)  # unary part this long or longer: escape
RAW_ESCAPE_BITS = const(20)  # zigzag residuals of order 3 need up to 20 bits
MAX_PAYLOAD = const(12295)  # RAW_PREFIX + 12 * RAW_BLOCK_MAX

# policies
FLUSH_EVERY = const(16)
RAW_RESERVE = const(65536)
EVENT_RESERVE = const(8192)
FREE_CHECK_BYTES = const(4096)

LOG_PREFIX = "s"
LOG_SUFFIX = ".rsl"
LAST_FILE = "last"

_MPY = sys.implementation.name == "micropython"
_RAW_DATA = const(11)  # REC_HEAD + RAW_PREFIX: where a raw block's codec data starts
_FREE_CAP = const(0x20000000)  # free space above 512 MiB counts as 512 MiB


# ---------------------------------------------------------------------------- CRC-32
def _crc_tables():
    """The reflected CRC-32 table (polynomial 0xEDB88320), as high and low 16 bits."""
    hi_t = array("H", [0] * 256)
    lo_t = array("H", [0] * 256)
    for i in range(256):
        hi = 0
        lo = i
        for _ in range(8):
            if lo & 1:
                lo = ((lo >> 1) | ((hi & 1) << 15)) ^ 0x8320
                hi = (hi >> 1) ^ 0xEDB8
            else:
                lo = (lo >> 1) | ((hi & 1) << 15)
                hi >>= 1
        hi_t[i] = hi
        lo_t[i] = lo
    return hi_t, lo_t


_CRC_HI, _CRC_LO = _crc_tables()


def _crc_store(buf, start, end):
    """CRC-32 of buf[start:end], stored little-endian at buf[end:end + 4]."""
    th = _CRC_HI
    tl = _CRC_LO
    hi = 0xFFFF
    lo = 0xFFFF
    for i in range(start, end):
        k = (lo ^ buf[i]) & 0xFF
        lo = (((hi & 0xFF) << 8) | (lo >> 8)) ^ tl[k]
        hi = (hi >> 8) ^ th[k]
    lo ^= 0xFFFF
    hi ^= 0xFFFF
    buf[end] = lo & 0xFF
    buf[end + 1] = lo >> 8
    buf[end + 2] = hi & 0xFF
    buf[end + 3] = hi >> 8


def crc32(data, start=0, end=None):
    """CRC-32 of data[start:end] as an int; equals zlib.crc32 (allocates on the board)."""
    if end is None:
        end = len(data)
    th = _CRC_HI
    tl = _CRC_LO
    hi = 0xFFFF
    lo = 0xFFFF
    for i in range(start, end):
        k = (lo ^ data[i]) & 0xFF
        lo = (((hi & 0xFF) << 8) | (lo >> 8)) ^ tl[k]
        hi = (hi >> 8) ^ th[k]
    return ((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF)


# ---------------------------------------------------------------------------- packing
def field_size(c):
    """Bytes of one format character (b, B, h, H, i, I) given as its code."""
    if c == 73 or c == 105:  # I i
        return 4
    if c == 72 or c == 104:  # H h
        return 2
    return 1


def payload_size(fmt):
    n = 0
    for c in fmt:
        n += field_size(c)
    return n


def _pack(buf, p, fmt, src, idx):
    """Write src[idx[j]] (src[j] when idx is None) as fmt[j], little-endian, from p.

    Values are cut to the field's width the same way on every port (two's complement),
    so out-of-range values give the same bytes on CPython and MicroPython.
    """
    for j in range(len(fmt)):
        v = src[j] if idx is None else src[idx[j]]
        for _ in range(field_size(fmt[j])):
            buf[p] = v & 0xFF
            v >>= 8
            p += 1
    return p


def engine_summary(eng):
    """The summary fields the engine knows, as a dict for close_session()."""
    bx, by, bz = eng.gyro_bias_q4()
    return {
        "samples": eng.n,
        "steps": eng.steps,
        "forward_steps": eng.forward_steps,
        "backward_steps": eng.backward_steps,
        "strides": eng.strides,
        "forward_strides": eng.forward_strides,
        "backward_strides": eng.backward_strides,
        "alerts": eng.alerts,
        "mount_yaw_bam": getattr(eng, "mount_bam", 0),
        "gyro_bias_x_q4": bx,
        "gyro_bias_y_q4": by,
        "gyro_bias_z_q4": bz,
    }


def _statvfs_free(path):
    st = os.statvfs(path)
    return st[1] * st[4]  # fragment size x blocks available


# ---------------------------------------------------------------------------- logbook
class Logbook:
    """Writes session logs into the directory `path` (see the module docstring)."""

    def __init__(self, path, fs_free_fn=None, flush_every=FLUSH_EVERY, raw_block=RAW_BLOCK,
                 raw_reserve=RAW_RESERVE, event_reserve=EVENT_RESERVE):
        if not 1 <= raw_block <= RAW_BLOCK_MAX:
            raise ValueError("raw_block must be 1..%d samples" % RAW_BLOCK_MAX)
        self.path = path.rstrip("/") if len(path) > 1 else path
        self._free_fn = fs_free_fn
        self.flush_every = max(1, flush_every)
        self.raw_block = raw_block
        self.raw_reserve = raw_reserve
        self.event_reserve = event_reserve
        # room for the largest record: a plain raw block, or the header (<= 160 bytes)
        self._rec = bytearray(max(_RAW_DATA + 12 * raw_block, 160) + REC_CRC)
        self._mv = memoryview(self._rec)
        self._blk = array("h", [0] * (6 * raw_block))
        self._res = array("i", [0] * RAW_PARTITION)  # one partition's residuals
        self._alt = array("i", [0] * RAW_PARTITION)  # another order's, while choosing
        self._vals = array("i", [0] * 8)  # fields of a record not from the engine
        # bit writer state (created here: a new attribute later would allocate)
        self._acc = 0
        self._nb = 0
        self._bp = 0
        self._lim = 0
        self._f = None
        self.session = 0
        self._reset()

    def _reset(self):
        self._blk_n = 0  # samples waiting in the raw block
        self._raw_t = 0  # sample index of the block's first sample
        self.raw = False  # raw recording on
        self.written = 0  # bytes written in this session
        self.records = 0
        self.bouts = 0
        self.lost_samples = 0
        self.raw_blocks = 0
        self.dropped = 0
        self.flags = 0
        self.start_s = 0
        self._unflushed = 0
        self._free = _FREE_CAP
        self._free_at = 0  # self.written when self._free was measured

    # ------------------------------------------------------------------ sessions
    def file_name(self, session):
        return "%s/%s%05d%s" % (self.path, LOG_PREFIX, session, LOG_SUFFIX)

    def _next_session(self):
        try:
            names = os.listdir(self.path)
        except OSError:
            os.mkdir(self.path)
            names = []
        last = 0
        for name in names:
            if (name.startswith(LOG_PREFIX) and name.endswith(LOG_SUFFIX)
                    and len(name) == len(LOG_PREFIX) + 5 + len(LOG_SUFFIX)):
                try:
                    last = max(last, int(name[len(LOG_PREFIX):len(LOG_PREFIX) + 5]))
                except ValueError:
                    pass
            elif name == LAST_FILE:
                try:
                    with open(self.path + "/" + LAST_FILE) as f:
                        last = max(last, int(f.read().strip()))
                except (OSError, ValueError):
                    pass  # a counter cut by a power cut: the files still tell
        n = last + 1
        while _exists(self.file_name(n)):  # never overwrite
            n += 1
        return n

    def open_session(self, start_s=0, board_id="", fw_version="", raw=False,
                     odr_hz=sensor.ODR_HZ, accel_fs_g=sensor.ACCEL_FS_G,
                     gyro_fs_dps=sensor.GYRO_FS_DPS):
        """Start a new session file; returns its session number.

        start_s: session start on the board's RTC (seconds); raw: record raw samples
        (append_raw) as well as events.
        """
        if self._f is not None:
            self.close_session({})
        self._reset()
        n = self._next_session()
        self.session = n
        self.start_s = start_s
        self.raw = bool(raw)
        self._f = open(self.file_name(n), "wb")
        try:
            with open(self.path + "/" + LAST_FILE, "w") as f:
                f.write("%d\n" % n)
        except OSError:
            pass
        self._measure_free()
        buf = self._rec
        bid = _utf8(board_id)
        fw = _utf8(fw_version)
        hlen = 4 + payload_size(HEADER_FMT) + 2 + len(bid) + len(fw) + REC_CRC
        for i in range(4):
            buf[i] = MAGIC[i]
        p = _pack(buf, 4, HEADER_FMT,
                  (FORMAT_MAJOR, FORMAT_MINOR, hlen, odr_hz,
                   sensor.ACCEL_UG_PER_LSB[accel_fs_g], sensor.GYRO_UDPS_PER_LSB[gyro_fs_dps],
                   accel_fs_g, gyro_fs_dps, n, start_s), None)
        for s in (bid, fw):
            buf[p] = len(s)
            p += 1
            for i in range(len(s)):
                buf[p] = s[i]
                p += 1
        _crc_store(buf, 0, p)
        self._write(p + REC_CRC)
        self._record(REC_SESSION_START, (n, start_s, 1 if raw else 0, self.raw_block), None)
        self.flush()
        return n

    def close_session(self, summary, end_s=0):
        """Write the pending raw samples and the summary, flush and close.

        summary: a dict with RECORD_LAYOUT[REC_SUMMARY] field names (missing ones are 0),
        e.g. engine_summary(engine). The logbook fills in start_s, end_s and its own
        counts (bouts, lost_samples, raw_blocks, dropped_records, flags). Returns True
        when the summary reached the file.
        """
        if self._f is None:
            return False
        self._raw_out()
        s = dict(summary)
        s["start_s"] = self.start_s
        s["end_s"] = end_s
        s["bouts"] = self.bouts
        s["lost_samples"] = self.lost_samples
        s["raw_blocks"] = self.raw_blocks
        s["dropped_records"] = self.dropped
        s["flags"] = self.flags
        names = RECORD_LAYOUT[REC_SUMMARY][1]
        ok = self._record(REC_SUMMARY, [s.get(k, 0) for k in names], None, always=True)
        self.flush()
        try:
            self._f.close()
        except OSError:
            ok = False
        self._f = None
        return ok

    # ------------------------------------------------------------------ records
    def append_event(self, ev):
        """Log one engine event (EV_FIELDS ints, as Gait.pop fills them); True if written."""
        if self._f is None:
            return False
        spec = EVENT_RECORDS.get(ev[0])
        if spec is None:
            return False
        rtype = spec[0]
        ok = self._record(rtype, ev, spec[1])
        if rtype == REC_BOUT_START:
            self.bouts += 1
        elif rtype != REC_STRIDE:  # bout end, drift alert, back on line, calibration
            self.flush()
        return ok

    def append_gap(self, t, lost):
        """Samples lost at sample index t (FIFO overrun); keep raw blocks on time."""
        if self._f is None:
            return False
        self._raw_out()
        self._raw_t += lost
        self.lost_samples += lost
        v = self._vals
        v[0] = t
        v[1] = lost
        return self._record(REC_GAP, v, None)

    def append_balance(self, t, duration_samples, forward_steps, backward_steps,
                       passed, max_lateral_mm=0, target_forward=10, target_backward=9):
        """Result of a balance check (default: 10 steps forward, then 9 backward)."""
        v = self._vals
        v[0] = t
        v[1] = duration_samples
        v[2] = forward_steps
        v[3] = backward_steps
        v[4] = target_forward
        v[5] = target_backward
        v[6] = 1 if passed else 0
        v[7] = max_lateral_mm
        ok = self._record(REC_BALANCE, v, None)
        self.flush()
        return ok

    def append_raw(self, samples, n, start=0):
        """Record samples[6*start : 6*(start + n)] (int16: ax ay az gx gy gz each).

        Samples are taken to follow the previous ones without a gap (report gaps with
        append_gap). Returns False when raw recording is off or has stopped.
        """
        if self._f is None or not self.raw:
            return False
        blk = self._blk
        size = self.raw_block
        i = 6 * start
        m = 6 * (start + n)
        while i < m:
            j = 6 * self._blk_n
            c = min(6 * size - j, m - i)
            for k in range(c):
                blk[j + k] = samples[i + k]
            i += c
            self._blk_n += c // 6
            if self._blk_n == size:
                self._raw_out()
                if not self.raw:
                    return False
        return True

    def flush(self):
        if self._f is None or not self._unflushed:
            return
        try:
            self._f.flush()
        except OSError:
            self.flags |= FLAG_WRITE_FAILED
        self._unflushed = 0

    # ------------------------------------------------------------------ internals
    def _record(self, rtype, src, idx, always=False):
        """Frame and write one record with payload RECORD_LAYOUT[rtype] from src.

        Unless `always`, the record is dropped when it would leave less than
        event_reserve bytes free.
        """
        fmt = RECORD_LAYOUT[rtype][0]
        p = _pack(self._rec, REC_HEAD, fmt, src, idx)
        return self._frame(rtype, p - REC_HEAD, -1 if always else self.event_reserve)

    def _frame(self, rtype, plen, reserve):
        """Sync, type, length and CRC around the payload in the buffer; write it."""
        buf = self._rec
        total = plen + REC_OVERHEAD
        if reserve >= 0 and self._free_now() - total < reserve:
            self.dropped += 1
            self.flags |= FLAG_EVENTS_DROPPED
            return False
        buf[0] = SYNC
        buf[1] = rtype
        buf[2] = plen & 0xFF
        buf[3] = plen >> 8
        _crc_store(buf, 0, REC_HEAD + plen)
        if not self._write(total):
            return False
        self.records += 1
        self._unflushed += 1
        if self._unflushed >= self.flush_every:
            self.flush()
        return True

    def _write(self, n):
        if self.flags & FLAG_WRITE_FAILED:
            return False
        try:
            if _MPY:
                self._f.write(self._rec, 0, n)  # MicroPython streams: no slice needed
            else:
                self._f.write(self._mv[:n])
        except OSError:
            self.flags |= FLAG_WRITE_FAILED  # full or failing flash: keep counting steps
            return False
        self.written += n
        return True

    def _measure_free(self):
        fn = self._free_fn
        try:
            free = fn() if fn is not None else _statvfs_free(self.path)
        except OSError:
            free = _FREE_CAP  # unknown: rely on write errors
        # capped so that the estimate stays a small int on 32-bit ports
        self._free = free if free < _FREE_CAP else _FREE_CAP
        self._free_at = self.written

    def _free_now(self):
        used = self.written - self._free_at
        if used >= FREE_CHECK_BYTES:
            self._measure_free()
            used = 0
        return self._free - used

    def _raw_out(self):
        """Write the pending raw block (if any) unless space is short."""
        n = self._blk_n
        if n == 0:
            return
        self._blk_n = 0
        t = self._raw_t
        self._raw_t = t + n
        if not self.raw:
            return
        if self._free_now() - (_RAW_DATA + 12 * n + REC_CRC) < self.raw_reserve:
            self.raw = False
            self.flags |= FLAG_RAW_STOPPED
            return
        buf = self._rec
        size = self._encode_rice(n)
        codec = RAW_RICE
        if size == 0:
            size = self._encode_plain(n)
            codec = RAW_PLAIN
        # prefix: t, n, codec
        p = REC_HEAD
        for _ in range(4):
            buf[p] = t & 0xFF
            t >>= 8
            p += 1
        buf[p] = n & 0xFF
        buf[p + 1] = n >> 8
        buf[p + 2] = codec
        if self._frame(REC_RAW, RAW_PREFIX + size, -1):  # space checked above
            self.raw_blocks += 1

    def _encode_plain(self, n):
        buf = self._rec
        blk = self._blk
        p = _RAW_DATA
        for i in range(6 * n):
            v = blk[i]
            buf[p] = v & 0xFF
            buf[p + 1] = (v >> 8) & 0xFF
            p += 2
        return p - _RAW_DATA

    def _put(self, v, w):
        """Append the w low bits of v to the bit stream (w <= 22)."""
        acc = (self._acc << w) | v
        nb = self._nb + w
        p = self._bp
        buf = self._rec
        while nb >= 8:
            nb -= 8
            if p < self._lim:
                buf[p] = (acc >> nb) & 0xFF
            p += 1
        self._acc = acc & ((1 << nb) - 1)
        self._nb = nb
        self._bp = p

    def _encode_rice(self, n):
        """Encode the block as RAW_RICE; its length, or 0 if not smaller than plain.

        Per axis and partition, in phases: the predictor order (_choose_order, which
        leaves its residuals in self._res), zigzag (_zigzag), the Rice parameter
        (_rice_parameter), the bits (_put_partition). None of them allocates (the VM
        test in tests/firmware/test_logbook.py runs them under heap_lock).
        """
        buf = self._rec
        blk = self._blk
        p = _RAW_DATA
        for a in range(6):
            v = blk[a]
            buf[p] = v & 0xFF
            buf[p + 1] = (v >> 8) & 0xFF
            p += 2
        self._acc = 0
        self._nb = 0
        self._bp = p
        self._lim = _RAW_DATA + 12 * n  # reaching the plain size: give up
        for a in range(6):
            for s in range(1, n, RAW_PARTITION):  # samples s..s+cnt-1 of axis a
                cnt = min(RAW_PARTITION, n - s)
                order = self._choose_order(6 * s + a, s, cnt)
                k = self._rice_parameter(cnt, self._zigzag(cnt))
                self._put_partition(order, k, cnt)
                if self._bp >= self._lim:
                    return 0
        if self._nb:
            self._put(0, 8 - self._nb)
        if self._bp >= self._lim:
            return 0
        return self._bp - _RAW_DATA

    def _choose_order(self, j, k, cnt):
        """The predictor order with the smallest sum of |residual| over the cnt samples
        from sample k (at self._blk[j]) of one axis; ties go to 1, then 0, 2, 3. Leaves
        that order's residuals in self._res."""
        blk = self._blk
        res = self._res
        alt = self._alt
        best = raw_residuals(blk, j, k, cnt, 1, 6, res)
        order = 1
        for p in range(RAW_ORDERS):
            if p != 1:
                tot = raw_residuals(blk, j, k, cnt, p, 6, alt)
                if tot < best:
                    best = tot
                    order = p
                    tmp = res  # swap (a tuple swap could allocate on some ports)
                    res = alt
                    alt = tmp
        self._res = res
        self._alt = alt
        return order

    def _zigzag(self, cnt):
        """Map self._res[:cnt] in place to zigzag codes (0, -1, 1, -2 -> 0, 1, 2, 3);
        returns their sum."""
        res = self._res
        tot = 0
        for i in range(cnt):
            r = res[i]
            r = (r << 1) if r >= 0 else ((-r) << 1) - 1
            res[i] = r
            tot += r
        return tot

    def _rice_parameter(self, cnt, tot):
        """The Rice parameter for the cnt zigzag codes in self._res (sum tot): near
        log2(mean), then the one of the fewest bits among k - 1, k and k + 1."""
        res = self._res
        k = 0
        while k < RAW_K_MAX and (cnt << (k + 1)) <= tot:
            k += 1
        best = -1
        bk = k
        for kk in range(k - 1 if k else 0, k + 2 if k < RAW_K_MAX else k + 1):
            cost = cnt * kk
            for i in range(cnt):
                cost += res[i] >> kk
            if best < 0 or cost < best:
                best = cost
                bk = kk
        return bk

    def _put_partition(self, order, k, cnt):
        """Write one partition: its order and Rice parameter, then the cnt zigzag codes
        in self._res (unary z >> k and the k low bits, or the escape)."""
        res = self._res
        self._put((order << RAW_K_BITS) | k, RAW_ORDER_BITS + RAW_K_BITS)
        mask = (1 << k) - 1
        for i in range(cnt):
            z = res[i]
            q = z >> k
            if q < RAW_ESCAPE:
                self._put(((1 << q) - 1) << 1, q + 1)
                if k:
                    self._put(z & mask, k)
            else:
                self._put((1 << RAW_ESCAPE) - 1, RAW_ESCAPE)
                self._put(z, RAW_ESCAPE_BITS)


# ---------------------------------------------------------------------------- predictor
def _predictor(x, j, k, cnt, p, d, res, restore):
    """The one definition of the raw codec's predictor (the module docstring's formulas).

    Samples k .. k + cnt - 1 (k >= 1) of one axis, sample k at x[j] and each the next at
    d further (d = 6 in a block of interleaved samples, 1 in one axis' samples), under
    partition order p. restore false: res[i] = sample - prediction, returns the sum of
    |res[i]|. restore true: sample = prediction + res[i], in turn (each prediction uses
    the samples restored before it), returns 0.
    """
    d2 = d + d
    d3 = d2 + d
    tot = 0
    i = 0
    # the first samples of a block (k < 4) use a lower order: the general rule
    while i < cnt and k < 4:
        x1 = x[j - d]
        if p <= 1 or k == 1:
            pred = x1
        elif p == 2 or k == 2:
            pred = 2 * x1 - x[j - d2]
        else:
            pred = 3 * (x1 - x[j - d2]) + x[j - d3]
        if restore:
            x[j] = pred + res[i]
        else:
            r = x[j] - pred
            res[i] = r
            tot += r if r >= 0 else -r
        i += 1
        j += d
        k += 1
    # from sample 4 on the order alone decides: one loop per order (the decoder on the
    # laptop runs this for every value of a raw log)
    if restore:
        if p == 0:
            while i < cnt:
                x[j] = ((x[j - d] + x[j - d2] + x[j - d3] + x[j - d3 - d]) >> 2) + res[i]
                i += 1
                j += d
        elif p == 1:
            while i < cnt:
                x[j] = x[j - d] + res[i]
                i += 1
                j += d
        elif p == 2:
            while i < cnt:
                x[j] = 2 * x[j - d] - x[j - d2] + res[i]
                i += 1
                j += d
        else:
            while i < cnt:
                x[j] = 3 * (x[j - d] - x[j - d2]) + x[j - d3] + res[i]
                i += 1
                j += d
        return 0
    while i < cnt:
        x1 = x[j - d]
        if p == 0:
            pred = (x1 + x[j - d2] + x[j - d3] + x[j - d3 - d]) >> 2
        elif p == 1:
            pred = x1
        elif p == 2:
            pred = 2 * x1 - x[j - d2]
        else:
            pred = 3 * (x1 - x[j - d2]) + x[j - d3]
        r = x[j] - pred
        res[i] = r
        tot += r if r >= 0 else -r
        i += 1
        j += d
    return tot


def raw_residuals(x, j, k, cnt, p, d, res):
    """Residuals (sample - prediction) of cnt samples of one axis under predictor order
    p into res[:cnt]; their sum of |residual|. Sample k is x[j], the next x[j + d], ..."""
    return _predictor(x, j, k, cnt, p, d, res, False)


def raw_restore(x, j, k, cnt, p, d, res):
    """The inverse of raw_residuals: x[j + i * d] = prediction + res[i] for i < cnt, in
    turn; the samples before sample k must already be in x."""
    _predictor(x, j, k, cnt, p, d, res, True)


def _utf8(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    return b[:STRING_MAX]


def _exists(name):
    try:
        os.stat(name)
        return True
    except OSError:
        return False
