"""The session logbook (firmware/rstep/logbook.py) and its decoder (retrostep.formats.logdecode)."""

import binascii
import functools
import hashlib
import os
import random
import zlib
from array import array

import numpy as np
import pytest

from retrostep.sim import gaitsim
from retrostep.vm import mpvm
from retrostep.firmware import gait, logbook as lb, sensor
from retrostep.formats.logdecode import LogDecodeError, decode, to_result
from retrostep.engine.run import run_engine
from retrostep.schema import EVENT_NAMES, event_dict
from retrostep.formats.trace import quantise

BIG = lambda: 1 << 28  # noqa: E731  a filesystem with plenty of room

# one engine event of each kind (EV_FIELDS ints each, as Gait.pop fills them)
EVENTS = [
    (gait.EV_BOUT_START, 100, 0, 0, 0, 0, 0, 0),
    (gait.EV_CALIBRATED, 180, 0, 0, 63000, 4, 0, 0),
    (gait.EV_STRIDE, 210, gait.FORWARD, 97, 1350, 65000, 0, 1200),
    (gait.EV_STRIDE, 330, gait.BACKWARD, 64, 610, 32768, -512, -33000),
    (gait.EV_DRIFT, 330, 0, 1, -512, -2900, 7, 0),
    (gait.EV_ON_LINE, 450, 0, 0, 120, 300, 9, 0),
    (gait.EV_BOUT_END, 450, 0, 0, 9, 2, 7, 0),
]
STRIDE = EVENTS[2]


@functools.lru_cache(maxsize=None)
def _walk(seconds, seed):
    bouts = [gaitsim.Bout(kind="walk", strides=max(2, int(seconds / 2.2))),
             gaitsim.Bout(kind="walk", direction="backward", strides=max(2, int(seconds / 2.6)))]
    trace, _ = gaitsim.simulate(bouts, seed=seed)
    return quantise(trace).samples


def walk_samples(seconds=20, seed=2):
    """int16 samples of a simulated walk (forward then backward), as the board sees it."""
    return _walk(seconds, seed).copy()


def flat(samples):
    return array("h", np.ascontiguousarray(samples, dtype="<i2").tobytes())


def write_log(tmp_path, events=EVENTS, raw=None, raw_block=lb.RAW_BLOCK, extras=True,
              summary=None, **open_kw):
    """Write one session; returns (file bytes, Logbook)."""
    log = lb.Logbook(str(tmp_path / "log"), fs_free_fn=BIG, raw_block=raw_block)
    kw = dict(start_s=700000000, board_id="esp32-0a1b2c", fw_version="0.1.0",
              raw=raw is not None)
    kw.update(open_kw)
    n = log.open_session(**kw)
    ev = array("i", [0] * gait.EV_FIELDS)
    for e in events:
        for k, v in enumerate(e):
            ev[k] = v
        assert log.append_event(ev)
    if raw is not None:
        assert log.append_raw(flat(raw), len(raw))
    if extras:
        assert log.append_balance(500, 1900, 10, 9, True, max_lateral_mm=180)
        assert log.append_gap(520, 33)
    s = {"samples": 1000, "steps": 4, "forward_steps": 2, "backward_steps": 2, "strides": 2,
         "forward_strides": 1, "backward_strides": 1, "alerts": 1, "mount_yaw_bam": 63000,
         "gyro_bias_x_q4": 35, "gyro_bias_y_q4": -70, "gyro_bias_z_q4": 4}
    assert log.close_session(s if summary is None else summary, end_s=700000900)
    return (tmp_path / "log" / f"s{n:05d}.rsl").read_bytes(), log


def kinds(logfile):
    return [r.kind for r in logfile.records]


# ---------------------------------------------------------------------------- CRC


def test_crc32_equals_zlib_and_binascii():
    rng = random.Random(5)
    for n in (0, 1, 2, 3, 4, 7, 64, 255, 1000):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert lb.crc32(data) == zlib.crc32(data) == binascii.crc32(data)
    assert lb.crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value
    buf = bytearray(b"xx123456789....")
    lb._crc_store(buf, 2, 11)
    assert int.from_bytes(buf[11:15], "little") == 0xCBF43926


# ---------------------------------------------------------------------------- round trip


def test_header_round_trips_with_the_shared_sensor_constants(tmp_path):
    data, _ = write_log(tmp_path)
    h = decode(data).header
    assert data[:4] == lb.MAGIC
    assert h["major"] == lb.FORMAT_MAJOR and h["minor"] == lb.FORMAT_MINOR
    assert h["odr_hz"] == sensor.ODR_HZ
    assert h["accel_ug_per_lsb"] == sensor.accel_ug_per_lsb()
    assert h["gyro_udps_per_lsb"] == sensor.gyro_udps_per_lsb()
    assert (h["accel_fs_g"], h["gyro_fs_dps"]) == (sensor.ACCEL_FS_G, sensor.GYRO_FS_DPS)
    assert (h["session"], h["start_s"]) == (1, 700000000)
    assert (h["board_id"], h["fw_version"]) == ("esp32-0a1b2c", "0.1.0")
    assert h["crc_ok"] and h["header_len"] == data.index(bytes([lb.SYNC, lb.REC_SESSION_START]))


def test_every_record_type_round_trips(tmp_path):
    raw = walk_samples(3)[:250]
    data, log = write_log(tmp_path, raw=raw)
    out = decode(data)
    assert out.problems == []
    assert kinds(out) == (["session_start"] + [EVENT_NAMES[e[0]] for e in EVENTS]
                          + ["raw", "raw", "balance_check", "raw", "gap", "summary"])
    # every record type of the layout appears
    assert {r.type for r in out.records} == set(lb.RECORD_LAYOUT)
    # engine events come back as the very ints the engine produced
    assert [r.event() for r in out.records if r.event()] == EVENTS
    f = {r.kind: r.fields for r in out.records}
    assert f["session_start"] == {"session": 1, "start_s": 700000000, "raw": 1,
                                  "raw_block": lb.RAW_BLOCK}
    assert f["calibrated"] == {"t": 180, "mount_yaw_bam": 63000, "strides": 4}
    assert f["balance_check"] == {"t": 500, "duration_samples": 1900, "forward_steps": 10,
                                  "backward_steps": 9, "target_forward": 10,
                                  "target_backward": 9, "passed": 1, "max_lateral_mm": 180}
    assert f["gap"] == {"t": 520, "lost_samples": 33}
    s = f["summary"]
    assert (s["start_s"], s["end_s"], s["samples"], s["steps"], s["alerts"]) == (
        700000000, 700000900, 1000, 4, 1)
    assert (s["bouts"], s["lost_samples"], s["raw_blocks"], s["flags"]) == (1, 33, 3, 0)
    assert (s["mount_yaw_bam"], s["gyro_bias_y_q4"]) == (63000, -70)
    # raw blocks: 104 + 104 samples, then the 42 pending ones written at the gap
    blocks = out.of_kind("raw")
    assert [(b.fields["t"], b.fields["n"]) for b in blocks] == [(0, 104), (104, 104), (208, 42)]
    assert np.array_equal(out.raw_samples(), raw)
    assert log.records == len(out.records)


def test_engine_summary_feeds_close_session(tmp_path):
    eng = gait.Gait(mount_yaw_deg=90)
    eng.steps, eng.strides, eng.n = 8, 4, 777
    data, _ = write_log(tmp_path, summary=lb.engine_summary(eng))
    s = decode(data).of_kind("summary")[0].fields
    assert (s["steps"], s["strides"], s["samples"], s["mount_yaw_bam"]) == (8, 4, 777, 16384)


# ---------------------------------------------------------------------------- damage


def small_log(tmp_path):
    """A small file holding every record type (raw blocks of 6 samples)."""
    raw = walk_samples(3)[200:209]
    data, _ = write_log(tmp_path, raw=raw, raw_block=6)
    return data


def test_file_cut_at_every_offset_keeps_every_complete_record(tmp_path):
    data = small_log(tmp_path)
    full = decode(data)
    ends = [r.offset for r in full.records[1:]] + [len(data)]
    hlen = full.header["header_len"]
    for cut in range(len(data) + 1):
        out = decode(data[:cut])
        if cut < hlen:
            assert out.header is None and out.records == []
            if cut:
                assert out.problems and "cut short" in out.problems[0].reason
            continue
        complete = [r for r, end in zip(full.records, ends) if end <= cut]
        assert out.records == complete, cut
        if cut in ends or cut == hlen:
            assert out.problems == []
        else:  # the record being written when the power went
            assert len(out.problems) == 1
            p = out.problems[0]
            start = max([hlen] + [e for e in ends if e <= cut])
            assert p.offset == start and "cut short" in p.reason


def test_one_flipped_bit_loses_only_its_record(tmp_path):
    data = small_log(tmp_path)
    full = decode(data)
    starts = [r.offset for r in full.records]
    ends = starts[1:] + [len(data)]
    for i, (a, b) in enumerate(zip(starts, ends)):
        expect = full.records[:i] + full.records[i + 1:]
        for bit in range(8 * a, 8 * b):
            bad = bytearray(data)
            bad[bit // 8] ^= 1 << (bit % 8)
            out = decode(bad)
            assert out.records == expect, (i, bit)
            assert [p.offset for p in out.problems] == [a], (i, bit)
            raw = [r.samples for r in expect if r.samples is not None]
            assert np.array_equal(out.raw_samples(), np.concatenate(raw))


def test_flipped_header_bit_is_reported_and_every_record_still_decoded(tmp_path):
    data = small_log(tmp_path)
    full = decode(data)
    for bit in range(8 * len(lb.MAGIC), 8 * full.header["header_len"]):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        out = decode(bad)
        assert out.records == full.records, bit
        assert [p.offset for p in out.problems] == [0]
        assert "header" in out.problems[0].reason and not out.header["crc_ok"]


def test_garbage_between_records_is_skipped_and_reported(tmp_path):
    data = small_log(tmp_path)
    full = decode(data)
    at = full.records[3].offset
    bad = data[:at] + bytes([lb.SYNC, 7, 3]) + os.urandom(40) + data[at:]
    out = decode(bad)
    assert out.records[:3] == full.records[:3]
    assert [r.kind for r in out.records] == kinds(full)
    assert [p.offset for p in out.problems] == [at]


def header_with(data, **values):
    """The file with header fields replaced and the header CRC recomputed."""
    h0 = decode(data).header
    h = dict(h0, **values)
    fixed = bytearray(lb.MAGIC) + bytearray(lb.payload_size(lb.HEADER_FMT))
    lb._pack(fixed, 4, lb.HEADER_FMT, [h[k] for k in lb.HEADER_FIELDS], None)
    rest = data[len(fixed):h0["header_len"] - 4]
    head = bytearray(fixed + rest + b"\0\0\0\0")
    lb._crc_store(head, 0, len(head) - 4)
    return bytes(head), data[h0["header_len"]:]


def test_other_major_version_is_a_clear_error(tmp_path):
    data, _ = write_log(tmp_path, extras=False)
    head, body = header_with(data, major=lb.FORMAT_MAJOR + 1)
    with pytest.raises(LogDecodeError, match=r"version 2\.0 .*update retrostep"):
        decode(head + body)
    with pytest.raises(LogDecodeError, match="not a retrostep log"):
        decode(b"PK\x03\x04" + data[4:])


def test_newer_minor_version_skips_header_additions_and_unknown_records(tmp_path):
    data, _ = write_log(tmp_path, extras=False)
    h0 = decode(data).header
    # a minor version 1 header with 3 more bytes, and a record type this decoder lacks
    head, body = header_with(data, minor=1, header_len=h0["header_len"] + 3)
    head = head[:-4] + b"new" + b"\0\0\0\0"
    head = bytearray(head)
    lb._crc_store(head, 0, len(head) - 4)
    rec = bytearray([lb.SYNC, 200, 2, 0, 9, 9, 0, 0, 0, 0])
    lb._crc_store(rec, 0, 6)
    out = decode(bytes(head) + bytes(rec) + body)
    assert out.header["minor"] == 1 and out.header["crc_ok"]
    assert kinds(out) == kinds(decode(data))
    assert len(out.problems) == 1 and "unknown type 200" in out.problems[0].reason


def test_empty_and_tiny_files_do_not_raise():
    for data in (b"", b"R", b"RSL", b"RSLG", b"RSLG\x01"):
        out = decode(data)
        assert out.header is None and out.records == []


# ---------------------------------------------------------------------------- raw codec


def raw_round_trip(tmp_path, samples, raw_block=lb.RAW_BLOCK, chunks=(1, 7, 50, 300)):
    """Write samples in uneven chunks; returns (decoded log, raw record bytes)."""
    log = lb.Logbook(str(tmp_path / "raw"), fs_free_fn=BIG, raw_block=raw_block)
    n = log.open_session(raw=True)
    buf = flat(samples)
    i = j = 0
    while i < len(samples):
        c = min(chunks[j % len(chunks)], len(samples) - i)
        assert log.append_raw(buf, c, start=i)
        i += c
        j += 1
    log.close_session({})
    out = decode((tmp_path / "raw" / f"s{n:05d}.rsl").read_bytes())
    assert out.problems == []
    assert np.array_equal(out.raw_samples(), samples)
    offsets = [r.offset for r in out.records]
    size = sum(offsets[i + 1] - r.offset for i, r in enumerate(out.records) if r.kind == "raw")
    return out, size


@pytest.mark.parametrize("block", [1, 2, 3, 17, lb.RAW_BLOCK])
def test_raw_random_data_round_trips_bit_exact(tmp_path, block):
    rng = np.random.default_rng(block)
    parts = [rng.normal(0, 3, (150, 6)), rng.normal(0, 2000, (150, 6)),
             np.cumsum(rng.normal(0, 40, (150, 6)), axis=0), rng.laplace(0, 30, (150, 6))]
    samples = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)
    raw_round_trip(tmp_path, samples, raw_block=block)


def test_raw_extremes_round_trip_bit_exact(tmp_path):
    lo, hi = -32768, 32767
    pattern = [lo, hi, lo, lo, hi, hi, lo, hi, 0, hi, lo, 0, 1, -1]
    x = np.array(pattern * 20, dtype=np.int64)
    samples = np.stack([x, -x - 1, np.roll(x, 3), np.full_like(x, hi), np.full_like(x, lo),
                        np.where(np.arange(len(x)) % 16 < 8, lo, hi)], axis=1).astype(np.int16)
    raw_round_trip(tmp_path, samples)
    raw_round_trip(tmp_path, samples[:1])


def test_raw_rare_full_scale_spikes_take_the_escape_and_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    samples = rng.integers(-2, 3, (400, 6))
    spikes = rng.random((400, 6)) < 0.03
    samples[spikes] = rng.choice([-32768, 32767], spikes.sum())
    out, size = raw_round_trip(tmp_path, samples.astype(np.int16))
    assert all(r.fields["codec"] == lb.RAW_RICE for r in out.of_kind("raw"))
    assert size < 2 * samples.size / 1.5  # still smaller than plain, escapes included


def test_raw_walking_data_round_trips_and_compresses(tmp_path):
    samples = walk_samples(40)
    out, size = raw_round_trip(tmp_path, samples)
    ratio = samples.nbytes / size
    assert all(r.fields["codec"] == lb.RAW_RICE for r in out.of_kind("raw"))
    assert ratio > 2.3, ratio


def test_raw_full_range_noise_falls_back_to_plain_blocks(tmp_path):
    rng = np.random.default_rng(9)
    samples = rng.integers(-32768, 32768, (1000, 6)).astype(np.int16)
    out, size = raw_round_trip(tmp_path, samples)
    blocks = out.of_kind("raw")
    assert all(r.fields["codec"] == lb.RAW_PLAIN for r in blocks)
    overhead = lb.REC_OVERHEAD + lb.RAW_PREFIX
    assert size == samples.nbytes + overhead * len(blocks)


def documented_prediction(x, k, p):
    """The prediction of x[k] as logbook's docstring defines it (written from the text)."""
    if p == 0:
        return (x[k - 1] + x[k - 2] + x[k - 3] + x[k - 4]) // 4 if k >= 4 else x[k - 1]
    p = min(p, k)
    if p == 1:
        return x[k - 1]
    if p == 2:
        return 2 * x[k - 1] - x[k - 2]
    return 3 * x[k - 1] - 3 * x[k - 2] + x[k - 3]


@pytest.mark.parametrize("order", range(lb.RAW_ORDERS))
def test_raw_predictor_is_the_documented_one_and_restore_inverts_it(order):
    rng = random.Random(order)
    for trial in range(40):
        n = rng.randrange(2, 60)
        x = [rng.randrange(-32768, 32768) if trial % 2 else rng.randrange(-50, 50)
             for _ in range(n)]
        want = [x[k] - documented_prediction(x, k, order) for k in range(1, n)]
        for d in (1, 6):  # one axis alone, and interleaved as in the board's block
            a = rng.randrange(d)
            xs = array("h", [rng.randrange(-9, 9) for _ in range(d * n)])
            for k in range(n):
                xs[d * k + a] = x[k]
            start = rng.randrange(1, n)  # a partition from sample `start` on
            cnt = n - start
            res = array("i", [0] * cnt)
            tot = lb.raw_residuals(xs, d * start + a, start, cnt, order, d, res)
            assert list(res) == want[start - 1:], (order, trial, d)
            assert tot == sum(abs(r) for r in res)
            back = array("h", xs)
            for k in range(start, n):
                back[d * k + a] = 12345  # restored only from the samples before it
            lb.raw_restore(back, d * start + a, start, cnt, order, d, res)
            assert back == xs


def pinned_signal(n):
    """Integer test signal, all six axes different: noise from an LCG, ramps, parabolas,
    steps and full-scale spikes (so every order, escapes and plain blocks occur)."""
    seed = 12345
    out = np.zeros((n, 6), np.int64)
    for i in range(n):
        row = []
        for a in range(6):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            noise = (seed >> 16) % 7 - 3
            seg = 3 if 700 <= i < 920 else (i // 97 + a) % 5  # 3: full-range noise
            if seg == 0:
                v = noise
            elif seg == 1:
                v = 37 * i - 9000 + noise
            elif seg == 2:
                v = (i % 97) ** 2 - 4000 + (noise >> 1)
            elif seg == 3:
                v = (seed >> 8) % 65536 - 32768
            else:
                v = 2000 * ((i // 9) % 3) + noise
            if (seed >> 4) % 61 == 0:
                v = 32767 if a % 2 else -32768
            row.append(v)
        out[i] = row
    return np.clip(out, -32768, 32767).astype(np.int16)


def test_raw_encoder_bytes_are_pinned(tmp_path, monkeypatch):
    # the encoder's choices (order, Rice parameter) are the board's, not the format's:
    # this pins them so a refactoring of the encoder cannot change a byte unnoticed
    orders = set()
    choose = lb.Logbook._choose_order

    def spy(self, j, k, cnt):
        order = choose(self, j, k, cnt)
        orders.add(order)
        return order

    escapes = [0]
    put = lb.Logbook._put

    def put_spy(self, v, w):
        escapes[0] += w == lb.RAW_ESCAPE_BITS
        put(self, v, w)

    monkeypatch.setattr(lb.Logbook, "_choose_order", spy)
    monkeypatch.setattr(lb.Logbook, "_put", put_spy)
    samples = pinned_signal(1500)
    digests = []
    for block in (5, lb.RAW_BLOCK):
        d = tmp_path / str(block)
        d.mkdir()
        out, _ = raw_round_trip(d, samples, raw_block=block)
        digests.append(hashlib.sha256((d / "raw" / "s00001.rsl").read_bytes()).hexdigest()[:16])
        assert {r.fields["codec"] for r in out.of_kind("raw")} == {lb.RAW_PLAIN, lb.RAW_RICE}
    assert orders == set(range(lb.RAW_ORDERS))
    assert escapes[0] > 0
    # computed with the encoder as it was before its split into phases (commit c704579)
    assert digests == ["e576934105d62269", "c5b60c20de6de10f"]


# ---------------------------------------------------------------------------- policies


def test_sessions_are_numbered_and_never_overwritten(tmp_path):
    d = tmp_path / "log"
    log = lb.Logbook(str(d), fs_free_fn=BIG)
    assert [log.open_session() for _ in range(2)] == [1, 2]
    log.close_session({})
    first = (d / "s00001.rsl").read_bytes()
    assert decode(first).of_kind("summary")  # closed when session 2 opened
    for f in ("s00001.rsl", "s00002.rsl"):  # synced and deleted
        (d / f).unlink()
    assert log.open_session() == 3  # the counter remembers
    log.close_session({})
    (d / "s00007.rsl").write_bytes(b"someone else's")
    (d / lb.LAST_FILE).write_text("garbage")  # a counter cut by a power cut
    assert log.open_session() == 8
    log.close_session({})
    assert (d / "s00007.rsl").read_bytes() == b"someone else's"


def test_flush_at_bout_end_and_every_n_records(tmp_path):
    log = lb.Logbook(str(tmp_path), fs_free_fn=BIG, flush_every=5)
    n = log.open_session()
    path = tmp_path / f"s{n:05d}.rsl"
    ev = array("i", STRIDE)
    assert kinds(decode(path.read_bytes())) == ["session_start"]  # flushed at open
    for i in range(4):
        log.append_event(ev)
    assert kinds(decode(path.read_bytes())) == ["session_start"]
    log.append_event(ev)  # the 5th record since the last flush
    assert len(decode(path.read_bytes()).records) == 6
    log.append_event(ev)
    log.append_event(array("i", EVENTS[-1]))  # bout end: flushed at once
    assert kinds(decode(path.read_bytes()))[-2:] == ["stride", "bout_end"]
    log.close_session({})


def test_full_filesystem_stops_raw_first_and_still_writes_the_summary(tmp_path):
    capacity = 30000
    holder = {}

    def free():
        return capacity - holder["log"].written

    log = lb.Logbook(str(tmp_path), fs_free_fn=free, raw_reserve=20000, event_reserve=3000)
    holder["log"] = log
    n = log.open_session(raw=True)
    walk = walk_samples(12)
    samples = flat(walk)
    ev = array("i", STRIDE)
    raw_ok = []
    for k in range(400):  # a second of raw samples, then strides
        raw_ok.append(log.append_raw(samples, 104, start=(104 * k) % (len(walk) - 104)))
        for _ in range(3):
            log.append_event(ev)
    assert log.close_session({"steps": 2})
    out = decode((tmp_path / f"s{n:05d}.rsl").read_bytes())
    assert out.problems == []
    names = kinds(out)
    assert names[-1] == "summary"
    s = out.records[-1].fields
    assert s["flags"] == lb.FLAG_RAW_STOPPED | lb.FLAG_EVENTS_DROPPED
    assert s["dropped_records"] > 0 and s["steps"] == 2
    # raw went first: strides kept being logged after the last raw block
    last_raw = max(i for i, k in enumerate(names) if k == "raw")
    assert names[last_raw + 1:-1].count("stride") > 10
    assert raw_ok.index(False) > 0 and not any(raw_ok[raw_ok.index(False):])
    # the events stopped at the reserve, which still holds the summary
    assert len(out.records) == log.records
    summary_size = lb.payload_size(lb.RECORD_LAYOUT[lb.REC_SUMMARY][0]) + lb.REC_OVERHEAD
    assert 3000 - summary_size <= capacity - log.written < 3000


def test_write_errors_never_raise(tmp_path):
    log = lb.Logbook(str(tmp_path), fs_free_fn=BIG)
    log.open_session()

    class Broken:
        def write(self, *a):
            raise OSError(28, "No space left on device")

        def flush(self):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    log._f = Broken()
    assert log.append_event(array("i", STRIDE)) is False
    assert log.close_session({}) is False
    assert log.flags & lb.FLAG_WRITE_FAILED


# ---------------------------------------------------------------------------- results


def test_to_result_equals_replay_of_the_same_engine_events(tmp_path):
    samples = walk_samples(30, seed=4)
    eng, raw_events = run_engine(samples, sensor.ODR_HZ, sensor.accel_ug_per_lsb(),
                                 sensor.gyro_udps_per_lsb())
    assert eng.strides > 5 and eng.backward_strides > 0
    data, _ = write_log(tmp_path, events=raw_events, extras=False,
                        summary=lb.engine_summary(eng))
    res = to_result(decode(data))
    assert res["events"] == [event_dict(e, lambda k: k / sensor.ODR_HZ) for e in raw_events]
    for key in ("steps", "strides", "forward_steps", "backward_steps"):
        assert res[key] == getattr(eng, key)
    assert res["drift_alerts"] == eng.alerts
    assert res["duration_s"] == round(len(samples) / sensor.ODR_HZ, 3)
    strides = [e for e in res["events"] if e["type"] == "stride"]
    assert {e["direction"] for e in strides} == {"forward", "backward"}
    assert res["session"]["complete"] and res["problems"] == []


def test_to_result_of_a_session_cut_by_a_power_cut_counts_its_strides(tmp_path):
    data, _ = write_log(tmp_path)
    cut = data[:decode(data).of_kind("summary")[0].offset + 5]
    res = to_result(decode(cut))
    assert not res["session"]["complete"]
    assert (res["strides"], res["steps"], res["forward_steps"], res["backward_steps"]) == (
        2, 4, 2, 2)
    assert res["drift_alerts"] == 1 and len(res["problems"]) == 1
    assert [e["type"] for e in res["events"]] == [EVENT_NAMES[e[0]] for e in EVENTS]
    assert res["gaps"] == [{"t_s": round(520 / sensor.ODR_HZ, 4), "lost_samples": 33}]


# ---------------------------------------------------------------------------- MicroPython

# The same session, written on the MicroPython VM and on CPython. The appends run under
# heap_lock inside a function (a MemoryError at module level would hang the VM).
SCENARIO = """
import sys
from array import array
from {pkg}.logbook import Logbook
if sys.implementation.name == "micropython":
    import micropython
else:  # CPython (where a "micropython" stub module may exist)
    micropython = None

def free():
    return 1 << 28

def locked(fn):
    if micropython is None:
        return fn()
    micropython.heap_lock()
    try:
        return fn()
    finally:
        micropython.heap_unlock()

log = Logbook({logdir!r}, fs_free_fn=free)
n = log.open_session(start_s=700000000, board_id="vm", fw_version="0.1.0", raw=True)
with open({rawfile!r}, "rb") as f:
    raw = array("h", f.read())
nraw = len(raw) // 6
events = array("i", {events!r})
ev = array("i", [0] * 8)

def appends():
    ok = 0
    for i in range(len(events) // 8):
        for k in range(8):
            ev[k] = events[8 * i + k]
        ok += log.append_event(ev)
    half = nraw // 2
    ok += log.append_raw(raw, half)
    ok += log.append_gap(events[1], 13)
    ok += log.append_raw(raw, nraw - half, half)
    return ok

ok = locked(appends)
log.close_session({{"steps": 4, "strides": 2}}, end_s=700000100)
# the default free-space query (os.statvfs) works on this port too
other = Logbook({logdir!r} + "2")
other.open_session()
print(ok, log.file_name(n), other.close_session({{}}))
"""


@pytest.mark.vm
def test_micropython_vm_writes_the_same_bytes_without_allocating(tmp_path):
    samples = walk_samples(6)[:450]
    events = [v for e in EVENTS for v in e]
    code = SCENARIO.format(pkg="rstep", logdir="/log", rawfile="/data/raw.bin", events=events)
    res = mpvm.run(code, files={"/data/raw.bin": samples.astype("<i2")},
                   outputs=["/log/s00001.rsl"], timeout_s=60)
    ok, name, other_ok = res.stdout.split()
    assert name == "/log/s00001.rsl" and int(ok) == len(EVENTS) + 3 and other_ok == "True"
    vm_bytes = res.files["/log/s00001.rsl"]

    rawfile = tmp_path / "raw.bin"
    rawfile.write_bytes(samples.astype("<i2").tobytes())
    exec(SCENARIO.format(pkg="retrostep.firmware", logdir=str(tmp_path / "log"),
                         rawfile=str(rawfile), events=events), {})
    cpython_bytes = (tmp_path / "log" / "s00001.rsl").read_bytes()

    assert vm_bytes == cpython_bytes
    out = decode(vm_bytes)
    assert out.problems == [] and np.array_equal(out.raw_samples(), samples)
    assert [r.event() for r in out.records if r.event()] == EVENTS
