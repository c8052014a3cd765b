"""Damaged and crafted session logs: nothing whose CRC failed is trusted, impossible
header values are refused before use, a lost raw block does not move later events, and
decoding stays linear in the file size."""

import numpy as np
import pytest

from retrostep.analysis.library import read_session, sessions
from retrostep.analysis.replay import replay_file, summary_text
from retrostep.errors import RetrostepError
from retrostep.firmware import logbook as lb
from retrostep.formats.logdecode import decode, decode_file, to_result
from retrostep.formats.samples import int16_flat
from retrostep.formats.trace import quantise
from retrostep.sim import corpus

BIG = lambda: 1 << 28  # noqa: E731  free bytes the fake filesystem reports


def raw_walk_log(folder, case="walk_bwd_slow"):
    """A session recorded with raw samples only (104 per block); returns its path."""
    b = quantise(corpus.make_case(case)[0])
    log = lb.Logbook(str(folder), fs_free_fn=BIG, raw_block=104)
    n = log.open_session(start_s=800_000_000, board_id="b", raw=True)
    flat = int16_flat(b.samples)
    for i in range(0, len(b.samples), 52):
        c = min(52, len(b.samples) - i)
        assert log.append_raw(flat[6 * i:6 * (i + c)], c)
    log.close_session({"samples": len(b.samples)})
    return log.file_name(n)


def test_a_lost_raw_block_keeps_later_events_on_time(tmp_path):
    path = raw_walk_log(tmp_path)
    whole = replay_file(path)
    data = bytearray(open(path, "rb").read())
    raws = [r for r in decode(bytes(data)).records if r.kind == "raw"]
    victim = raws[len(raws) // 2]  # a block in the middle of the walk
    data[victim.offset + 12] ^= 0x40  # its CRC fails: the block is skipped
    (tmp_path / "bad.rsl").write_bytes(bytes(data))
    got = replay_file(str(tmp_path / "bad.rsl"))
    assert got["raw_gaps"] == [{"t_s": round(victim.fields["t"] / 104, 4),
                                "lost_samples": victim.fields["n"]}]
    assert got["problems"] and got["duration_s"] == whole["duration_s"]
    cut = victim.fields["t"] / 104 + 3.0  # the engine needs a stride or two to settle
    late = [e["t_s"] for e in whole["events"] if e["type"] == "stride" and e["t_s"] > cut]
    late_got = [e["t_s"] for e in got["events"] if e["type"] == "stride" and e["t_s"] > cut]
    assert len(late) > 5 and late_got == late  # (they moved by the lost block before)
    text = summary_text(got, "bad.rsl")
    assert "raw samples missing" in text and "damaged log" in text


def crafted_header(odr_hz=104, accel=61, gyro=70000):
    """A header with a valid CRC but values of the crafter's choosing."""
    import struct

    fields = dict(major=lb.FORMAT_MAJOR, minor=0, header_len=0, odr_hz=odr_hz,
                  accel_ug_per_lsb=accel, gyro_udps_per_lsb=gyro)
    values = [fields.get(name, 0) for name in lb.HEADER_FIELDS]
    body = lb.MAGIC + struct.pack("<" + lb.HEADER_FMT.decode(), *values) + b"\x01b\x01v"
    values[lb.HEADER_FIELDS.index("header_len")] = len(body) + lb.REC_CRC
    body = lb.MAGIC + struct.pack("<" + lb.HEADER_FMT.decode(), *values) + b"\x01b\x01v"
    return body + lb.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize("odr,accel,gyro,words", [
    (0, 61, 70000, "sample rate 0 Hz"), (104, 0, 70000, "accelerometer scale 0"),
    (104, 61, 0, "gyroscope scale 0"), (65535, 61, 70000, "sample rate 65535")])
def test_impossible_header_values_are_refused_before_use(tmp_path, odr, accel, gyro, words):
    data = crafted_header(odr, accel, gyro) + b"\0" * 2000  # zero-filled after the header
    path = tmp_path / "lib" / "b" / "s00001.rsl"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    log = decode_file(path)
    assert any(words in p.reason for p in log.problems)
    with pytest.raises(RetrostepError, match="cannot be trusted"):
        to_result(log)
    with pytest.raises(RetrostepError, match="cannot be trusted"):
        replay_file(str(path))
    s, _ = read_session(path)  # the library lists it, named, with the reason
    assert s.error and words in s.error
    assert [x.path for x in sessions(tmp_path / "lib")] == [str(path)]


def test_the_crafted_header_is_accepted_when_its_values_are_possible():
    log = decode(crafted_header())
    assert log.header["crc_ok"] and log.header["faults"] == [] and log.problems == []


def test_a_crafted_log_of_sync_bytes_decodes_in_linear_work(monkeypatch):
    """Every 4th byte a sync byte with a known type and the largest length: each is a
    candidate record whose CRC would span 12 KB (a 64 KB file took 37 s). The CRC bytes
    spent are counted (speed is bench/faults.py's to measure): at most RESYNC_WORK (+2
    for the records themselves) per byte of the file, at every size."""
    from retrostep.formats import logdecode

    spent = [0]
    real_crc = logdecode._crc

    def counting_crc(data, start, end):
        spent[0] += end - start
        return real_crc(data, start, end)

    monkeypatch.setattr(logdecode, "_crc", counting_crc)
    unit = bytes([lb.SYNC, lb.REC_RAW]) + lb.MAX_PAYLOAD.to_bytes(2, "little")
    for size in (1 << 16, 1 << 18):
        data = crafted_header() + unit * (size // 4)
        spent[0] = 0
        log = decode(data)
        assert log.records == [] and "damaged beyond searching" in log.problems[-1].reason
        assert spent[0] <= (logdecode.RESYNC_WORK + 2) * len(data), (size, spent[0])


def test_the_search_budget_leaves_ordinary_damage_alone(tmp_path):
    """A real log with 50 KB of random bytes between two records: every record after
    them is still found."""
    import os

    data = open(raw_walk_log(tmp_path), "rb").read()
    full = decode(data)
    at = full.records[len(full.records) // 2].offset
    out = decode(data[:at] + os.urandom(50_000) + data[at:])
    assert [r.fields for r in out.records] == [r.fields for r in full.records]
    assert not any("beyond searching" in p.reason for p in out.problems)


def test_any_exception_while_reading_a_log_is_named_not_raised(tmp_path, monkeypatch):
    """The library's promise: a damaged file never stops a listing, whatever breaks."""
    from retrostep.formats import logdecode

    path = tmp_path / "lib" / "b" / "s00001.rsl"
    path.parent.mkdir(parents=True)
    path.write_bytes(crafted_header())

    def broken(_path):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(logdecode, "decode_file", broken)
    s, result = read_session(path)
    assert result is None and s.error == "unreadable (ZeroDivisionError: division by zero)"
