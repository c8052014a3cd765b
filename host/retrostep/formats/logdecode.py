"""Decode the board's session logs (retrostep.firmware.logbook) on the laptop.

The layout, the record types, the CRC and the raw-sample predictor all come from the
firmware's logbook module: this file holds no copy of any of them. Damage is reported,
never raised: a record cut short by the end of the file, or whose CRC does not match,
goes into ``problems`` with its byte offset, and decoding carries on at the next valid
record (its sync byte, a plausible length and a matching CRC), so one flipped bit
costs one record.

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


class _Bits:
    """Most-significant-first bit reader over a bytes object."""

    def __init__(self, data):
        data = bytes(data)
        self.bits = bin(int.from_bytes(data, "big"))[2:].zfill(8 * len(data)) if data else ""
        self.pos = 0

    def take(self, w):
        if w == 0:
            return 0
        end = self.pos + w
        if end > len(self.bits):
            raise ValueError("raw block data ends early")
        v = int(self.bits[self.pos:end], 2)
        self.pos = end
        return v

    def rice(self, k, cnt, res):
        """Read `cnt` Rice-coded residuals with parameter k into res[:cnt]: a unary
        quotient (RAW_ESCAPE ones: an escape, then the value in RAW_ESCAPE_BITS bits),
        k low bits, zigzag. Written out in one loop: it reads every value of a log."""
        s, pos, size = self.bits, self.pos, len(self.bits)
        esc, esc_bits = lb.RAW_ESCAPE, lb.RAW_ESCAPE_BITS
        find = s.find
        for i in range(cnt):
            stop = find("0", pos, pos + esc)
            if stop >= 0:
                z = stop - pos
                pos = stop + 1
                if k:
                    end = pos + k
                    if end > size:
                        raise ValueError("raw block data ends early")
                    z = (z << k) | int(s[pos:end], 2)
                    pos = end
            else:
                end = pos + esc + esc_bits
                if end > size:
                    raise ValueError("raw block data ends early")
                z = int(s[pos + esc:end], 2)
                pos = end
            res[i] = (z >> 1) if not z & 1 else -((z + 1) >> 1)
        self.pos = pos


def decode_raw(codec, n, data):
    """Samples (n, 6) int16 of a raw block's codec data (bit-exact inverse of the board)."""
    if n < 1:
        raise ValueError("raw block with no samples")
    if codec == lb.RAW_PLAIN:
        if len(data) != 12 * n:
            raise ValueError(f"plain raw block of {n} samples has {len(data)} bytes")
        return np.frombuffer(bytes(data), dtype="<i2").reshape(n, 6).astype(np.int16)
    if codec != lb.RAW_RICE:
        raise ValueError(f"unknown raw codec {codec}")
    if len(data) < 12:
        raise ValueError("raw block too short")
    first = np.frombuffer(bytes(data[:12]), dtype="<i2")
    bits = _Bits(data[12:])
    axes = []  # each axis' samples as Python ints: damaged data cannot overflow
    res = [0] * lb.RAW_PARTITION
    for a in range(6):
        x = [0] * n
        x[0] = int(first[a])
        for s in range(1, n, lb.RAW_PARTITION):
            cnt = min(lb.RAW_PARTITION, n - s)
            order = bits.take(lb.RAW_ORDER_BITS)
            k = bits.take(lb.RAW_K_BITS)
            bits.rice(k, cnt, res)
            lb.raw_restore(x, s, s, cnt, order, 1, res)  # the board's own predictor
        axes.append(x)
    if min(map(min, axes)) < -32768 or max(map(max, axes)) > 32767:
        raise ValueError("raw block decodes outside int16")
    return np.array(axes, np.int16).T.copy()


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


def _parse(data, p, end, problems):
    """The Record for the valid record spanning data[p:end], or None (with a problem)."""
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
        try:
            rec.samples = decode_raw(f["codec"], f["n"], payload[st.size:])
        except ValueError as exc:
            problems.append(Problem(p, f"raw block not decodable: {exc}"))
            return None
    return rec


def decode(data) -> LogFile:
    """Decode a whole log file's bytes into its header, records and problems."""
    data = bytes(data)
    problems = []
    budget = _Budget(len(data))
    header, p = _header(data, problems, budget)
    out = LogFile(header, [], problems)
    size = len(data)
    while p < size:
        end = _record_end(data, p)
        if end is not None:
            rec = _parse(data, p, end, problems)
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
