"""The laptop's raw-block decoder (retrostep.formats.logdecode: all of a file's blocks at
once, vectorised) gives bit for bit what the straightforward decoder gives: the one
below, a bit at a time with the board's own lb.raw_restore (the decoder before the fast
one, kept here as the reference). Same samples for valid blocks, the same refusal (a
ValueError, the same message) for damaged or crafted ones.

Blocks come from a test-side encoder that may choose any order, any k and escapes (the
board's encoder chooses for itself, so it would never show some), from the board's
encoder itself, and from garbling both. Each comparison runs with the decoder's switches
at their defaults and forced both ways: every block stepped together, and every block
one by one (the paths a file of one block, or a crafted long one, takes).
"""

import random
import re
import zlib

import numpy as np
import pytest

from retrostep.firmware import logbook as lb
from retrostep.formats import logdecode

# ---------------------------------------------------------------------------- reference


class RefBits:
    """Most-significant-first bit reader over a bytes object (the decoder before)."""

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
        s, pos, size = self.bits, self.pos, len(self.bits)
        esc, esc_bits = lb.RAW_ESCAPE, lb.RAW_ESCAPE_BITS
        for i in range(cnt):
            stop = s.find("0", pos, pos + esc)
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


def ref_decode_raw(codec, n, data):
    if n < 1:
        raise ValueError("raw block with no samples")
    if n > lb.RAW_BLOCK_MAX:
        raise ValueError(f"raw block of {n} samples (the board writes at most "
                         f"{lb.RAW_BLOCK_MAX})")
    if codec == lb.RAW_PLAIN:
        if len(data) != 12 * n:
            raise ValueError(f"plain raw block of {n} samples has {len(data)} bytes")
        return np.frombuffer(bytes(data), dtype="<i2").reshape(n, 6).astype(np.int16)
    if codec != lb.RAW_RICE:
        raise ValueError(f"unknown raw codec {codec}")
    if len(data) < 12:
        raise ValueError("raw block too short")
    first = np.frombuffer(bytes(data[:12]), dtype="<i2")
    bits = RefBits(data[12:])
    axes = []
    res = [0] * lb.RAW_PARTITION
    for a in range(6):
        x = [0] * n
        x[0] = int(first[a])
        for s in range(1, n, lb.RAW_PARTITION):
            cnt = min(lb.RAW_PARTITION, n - s)
            order = bits.take(lb.RAW_ORDER_BITS)
            k = bits.take(lb.RAW_K_BITS)
            bits.rice(k, cnt, res)
            lb.raw_restore(x, s, s, cnt, order, 1, res)
        axes.append(x)
    if min(map(min, axes)) < -32768 or max(map(max, axes)) > 32767:
        raise ValueError("raw block decodes outside int16")
    return np.array(axes, np.int16).T.copy()


def ref_outcome(codec, n, data):
    try:
        return ref_decode_raw(codec, n, data)
    except ValueError as exc:
        return exc


# ---------------------------------------------------------------------------- encoders


class BitWriter:
    def __init__(self):
        self.bits = []

    def put(self, v, w):
        self.bits += [(v >> (w - 1 - i)) & 1 for i in range(w)]

    def data(self):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def encode(samples, rng, escape_rate=0.0, orders=None, ks=None):
    """RAW_RICE codec data of samples (n, 6), each partition's order and k chosen at
    random (or from orders / ks), some residuals escaped though they need not be."""
    samples = np.asarray(samples)
    n = len(samples)
    w = BitWriter()
    out = b"".join(int(v).to_bytes(2, "little", signed=True) for v in samples[0])
    for a in range(6):
        x = [int(v) for v in samples[:, a]]
        for s in range(1, n, lb.RAW_PARTITION):
            cnt = min(lb.RAW_PARTITION, n - s)
            order = rng.randrange(lb.RAW_ORDERS) if orders is None else rng.choice(orders)
            k = rng.randrange(1 << lb.RAW_K_BITS) if ks is None else rng.choice(ks)
            res = [0] * cnt
            lb.raw_residuals(x, s, s, cnt, order, 1, res)
            w.put(order, lb.RAW_ORDER_BITS)
            w.put(k, lb.RAW_K_BITS)
            for r in res:
                z = 2 * r if r >= 0 else -2 * r - 1
                q = z >> k
                if q < lb.RAW_ESCAPE and rng.random() >= escape_rate:
                    w.put((1 << (q + 1)) - 2, q + 1)
                    w.put(z & ((1 << k) - 1), k)
                else:
                    assert z < 1 << lb.RAW_ESCAPE_BITS
                    w.put((1 << lb.RAW_ESCAPE) - 1, lb.RAW_ESCAPE)
                    w.put(z, lb.RAW_ESCAPE_BITS)
    return out + w.data()


def board_encode(samples):
    """The board's own encoder's codec data for samples (n, 6), or None when it stores
    the block plain (it would not come out smaller)."""
    n = len(samples)
    book = lb.Logbook("/nonexistent", raw_block=lb.RAW_BLOCK_MAX)
    for i, v in enumerate(np.asarray(samples).ravel()):
        book._blk[i] = int(v)
    size = book._encode_rice(n)
    if size == 0:
        return None
    start = lb.REC_HEAD + lb.RAW_PREFIX
    return bytes(book._rec[start:start + size])


def signal(rng, n, kind):
    """Samples (n, 6) of one kind: smooth, noisy, extreme (full scale, alternating
    -32768/32767), or ramps that end at the int16 limits."""
    t = np.arange(n)[:, None]
    if kind == "smooth":
        out = (rng.uniform(500, 9000) * np.sin(t / rng.uniform(3, 40) + np.arange(6))
               + rng.uniform(-2, 2, (n, 6)))
    elif kind == "noisy":
        out = rng.uniform(-300, 300, (n, 6)) + rng.uniform(-20000, 20000)
    elif kind == "extreme":
        out = rng.choice([-32768, 32767, 0, -32767, 32766], (n, 6))
    else:
        out = np.clip(rng.choice([-1, 1]) * (32000 + 97 * t - 5 * n) + np.zeros((1, 6)),
                      -32768, 32767)
    return np.clip(np.round(out), -32768, 32767).astype(np.int64)


KINDS = ("smooth", "noisy", "extreme", "ramp")


def random_lengths(rng, count):
    """Block lengths: 1..40 (partial partitions, the first samples' rule), the board's
    104, and a few longer."""
    return [rng.choice([rng.randint(1, 40), 104, rng.randint(41, 300)]) for _ in range(count)]


def garble(data, rng):
    """Damage the codec data in one of the ways a crafted or broken block could be."""
    d = bytearray(data)
    how = rng.randrange(5)
    if how == 0 and len(d) > 12:  # flip a few bits
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(12, len(d))
            d[i] ^= 1 << rng.randrange(8)
    elif how == 1:  # cut short
        del d[rng.randrange(len(d) + 1):]
    elif how == 2:  # bytes appended (ignored) or random bits throughout
        d += bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
    elif how == 3 and len(d) > 12:
        for i in range(12, len(d)):
            d[i] = rng.randrange(256)
    else:  # all ones from somewhere on: unary runs into escapes and the end
        for i in range(rng.randrange(12, len(d) + 1), len(d)):
            d[i] = 0xFF
    return bytes(d)


# ---------------------------------------------------------------------------- checking


PATHS = {
    "default": {},
    "stepped together": {"_WALK_MIN": 1, "_RESTORE_MIN": 1},
    "one by one": {"_WALK_MIN": 10**9, "_RESTORE_MIN": 10**9},
}


@pytest.fixture(params=list(PATHS))
def path(request, monkeypatch):
    for name, value in PATHS[request.param].items():
        monkeypatch.setattr(logdecode, name, value)
    return request.param


def same(got, want, what):
    if isinstance(want, ValueError):
        assert isinstance(got, ValueError), (what, "decoded, the reference refuses", want)
        assert str(got) == str(want), what
    else:
        assert not isinstance(got, ValueError), (what, "refused", got)
        assert got.dtype == np.int16 and got.shape == want.shape, what
        assert got.flags.c_contiguous, what
        assert np.array_equal(got, want), (what, np.argwhere(got != want)[:5])


def check_batch(blocks, what):
    """decode_raw_blocks over all the blocks at once, and decode_raw of each, equal the
    reference; returns how many blocks decoded."""
    got = logdecode.decode_raw_blocks(blocks)
    assert len(got) == len(blocks)
    ok = 0
    for i, (block, g) in enumerate(zip(blocks, got)):
        want = ref_outcome(*block)
        same(g, want, (what, i, block[1]))
        ok += not isinstance(want, ValueError)
    return ok


def test_chosen_orders_ks_and_escapes_round_trip(path):
    rng = random.Random(1)
    nrng = np.random.default_rng(1)
    blocks, want = [], []
    for i in range(160):
        n = random_lengths(rng, 1)[0]
        s = signal(nrng, n, KINDS[i % len(KINDS)])
        blocks.append((lb.RAW_RICE, n, encode(s, rng, escape_rate=rng.choice([0, 0, 0.1, 1]))))
        want.append(s)
    got = logdecode.decode_raw_blocks(blocks)
    for i, (g, s) in enumerate(zip(got, want)):
        same(g, s.astype(np.int16), (path, i))
    assert check_batch(blocks, path) == len(blocks)


@pytest.mark.parametrize("order", range(lb.RAW_ORDERS))
def test_every_order_with_every_k(order, path):
    rng = random.Random(10 + order)
    nrng = np.random.default_rng(10 + order)
    blocks = []
    for k in range(1 << lb.RAW_K_BITS):
        for n in (1, 2, 3, 4, 5, 17, 18, 33, 104):
            s = signal(nrng, n, KINDS[(k + n) % len(KINDS)])
            blocks.append((lb.RAW_RICE, n, encode(s, rng, orders=[order], ks=[k])))
    assert check_batch(blocks, (path, order)) == len(blocks)


def test_the_boards_encoder_round_trips(path):
    rng = np.random.default_rng(3)
    blocks = []
    for i in range(60):
        n = [1, 2, 5, 16, 17, 104, 104, 250][i % 8]
        s = signal(rng, n, KINDS[i % len(KINDS)])
        data = board_encode(s)
        if data is not None:
            blocks.append((lb.RAW_RICE, n, data))
            assert np.array_equal(logdecode.decode_raw(lb.RAW_RICE, n, data), s)
    assert len(blocks) > 30
    assert check_batch(blocks, path) == len(blocks)


def test_garbled_blocks_are_refused_or_decoded_as_the_reference_does(path):
    rng = random.Random(4)
    nrng = np.random.default_rng(4)
    blocks = []
    for i in range(400):
        n = random_lengths(rng, 1)[0]
        data = encode(signal(nrng, n, KINDS[i % len(KINDS)]), rng,
                      escape_rate=rng.choice([0, 0.05]))
        if i % 7 == 0:  # a length that does not match the data
            n = max(1, n + rng.choice([-17, -1, 1, 5, 300]))
        blocks.append((lb.RAW_RICE, n, garble(data, rng)))
    ok = check_batch(blocks, path)
    assert 20 < ok < len(blocks) - 100  # both outcomes happen


def test_random_bytes_and_every_cut_are_handled_as_the_reference_does(path):
    rng = random.Random(5)
    blocks = [(lb.RAW_RICE, rng.randint(1, 120), rng.randbytes(rng.randint(0, 400)))
              for _ in range(200)]
    data = encode(signal(np.random.default_rng(5), 40, "smooth"), rng, escape_rate=0.1)
    blocks += [(lb.RAW_RICE, 40, data[:cut]) for cut in range(len(data) + 1)]
    check_batch(blocks, path)


def test_blocks_of_many_lengths_mixed_take_every_path():
    """At the defaults: many short blocks and a few long ones, so the blocks are walked
    and restored together, then the long ones finish one by one (from mid-partition)."""
    rng = random.Random(6)
    nrng = np.random.default_rng(6)
    blocks = []
    for i in range(80):
        n = rng.choice([104, 104, 104, 6, 1]) if i % 20 else rng.randint(400, 1024)
        s = signal(nrng, n, KINDS[i % len(KINDS)])
        data = encode(s, rng, escape_rate=0.02)
        blocks.append((lb.RAW_RICE, n, garble(data, rng) if i % 9 == 0 else data))
    assert check_batch(blocks, "mixed") > 60


def test_samples_outside_int16_are_refused(path):
    blocks = []
    for order in range(lb.RAW_ORDERS):
        for n in (2, 3, 4, 5, 40, 104):
            for sign in (1, -1):
                w = BitWriter()
                for a in range(6):
                    for s in range(1, n, lb.RAW_PARTITION):
                        w.put(order, lb.RAW_ORDER_BITS)
                        w.put(0, lb.RAW_K_BITS)
                        for j in range(min(lb.RAW_PARTITION, n - s)):
                            # one axis, at one sample, one step past the limit
                            z = 2 if sign > 0 else 1
                            if a != 3 or s + j != n - 1:
                                z = 0
                            w.put((1 << (z + 1)) - 2, z + 1)
                first = int(32767 if sign > 0 else -32768).to_bytes(2, "little", signed=True)
                blocks.append((lb.RAW_RICE, n, first * 6 + w.data()))
    # and escaped residuals that climb far outside (values that would overflow int64
    # long before the end of a 1000-sample order-3 block)
    big = BitWriter()
    for a in range(6):
        for s in range(1, 1000, lb.RAW_PARTITION):
            big.put(3, lb.RAW_ORDER_BITS)
            big.put(0, lb.RAW_K_BITS)
            for _ in range(min(lb.RAW_PARTITION, 1000 - s)):
                big.put((1 << lb.RAW_ESCAPE) - 1, lb.RAW_ESCAPE)
                big.put((1 << lb.RAW_ESCAPE_BITS) - 2, lb.RAW_ESCAPE_BITS)
    blocks.append((lb.RAW_RICE, 1000, bytes(12) + big.data()))
    got = logdecode.decode_raw_blocks(blocks)
    for i, g in enumerate(got):
        assert isinstance(g, ValueError) and str(g) == "raw block decodes outside int16", i
    check_batch(blocks, path)
    for block in blocks[:3]:
        with pytest.raises(ValueError, match="outside int16"):
            logdecode.decode_raw(*block)


def test_blocks_refused_before_their_bits():
    rng = random.Random(8)
    good = encode(signal(np.random.default_rng(8), 10, "smooth"), rng)
    blocks = [(lb.RAW_RICE, 0, good), (lb.RAW_RICE, 10, good[:11]),
              (lb.RAW_PLAIN, 3, bytes(35)), (lb.RAW_PLAIN, 3, bytes(range(36))), (7, 10, good),
              (lb.RAW_RICE, 65535, good), (lb.RAW_RICE, 1, bytes(12)),
              (lb.RAW_RICE, 1, bytes(range(12)) + b"\xff"), (lb.RAW_RICE, 10, good)]
    assert check_batch(blocks, "checks") == 4
    # a crafted count past what the board writes is refused, whatever the bits: a 12 KB
    # block claiming 11,900 samples cost seconds per MB to walk
    big = (lb.RAW_RICE, lb.RAW_BLOCK_MAX + 1, bytes(12) + bytes(12000))
    with pytest.raises(ValueError, match="the board writes at most 1024"):
        logdecode.decode_raw(*big)
    assert isinstance(logdecode.decode_raw(lb.RAW_RICE, lb.RAW_BLOCK_MAX,
                                           bytes(12) + bytes(12000)), np.ndarray)
    for block in blocks:
        want = ref_outcome(*block)
        if isinstance(want, ValueError):
            with pytest.raises(ValueError, match=re.escape(str(want))):
                logdecode.decode_raw(*block)


# ---------------------------------------------------------------------------- files


def record(rtype, payload):
    body = bytes([lb.SYNC, rtype]) + len(payload).to_bytes(2, "little") + payload
    return body + zlib.crc32(body).to_bytes(4, "little")


def raw_record(t, n, codec, data):
    return record(lb.REC_RAW, t.to_bytes(4, "little") + n.to_bytes(2, "little")
                  + bytes([codec]) + data)


def test_a_file_of_good_and_bad_blocks_decodes_as_block_by_block(monkeypatch):
    """decode() reads all raw blocks together: the records, samples and problems (in
    their places among the others) are those of decoding each block as it is read."""
    from test_damaged_logs import crafted_header

    rng = random.Random(9)
    nrng = np.random.default_rng(9)
    body, t = b"", 0
    for i in range(120):
        n = rng.choice([104, 104, 33, 1])
        data = encode(signal(nrng, n, KINDS[i % len(KINDS)]), rng)
        if i % 5 == 0:
            data = garble(data, rng)
        body += raw_record(t, n, lb.RAW_RICE, data)
        t += n
        if i % 11 == 0:
            body += bytes([lb.SYNC, 0x33, 0x01])  # junk between records: a problem
        if i % 17 == 0:
            body += raw_record(t, 2, lb.RAW_PLAIN, bytes(23))  # bad plain block
    data = crafted_header() + body + bytes(5)  # (a problem after the last raw one)
    fast = logdecode.decode(data)

    real_parse = logdecode._parse

    def parse_now(data, p, end, problems, raws):
        """_parse as it was: the raw block decoded (by the reference) as it is read."""
        mine = []
        rec = real_parse(data, p, end, problems, mine)
        for r, _, (codec, n, codec_data) in mine:
            got = ref_outcome(codec, n, codec_data)
            if isinstance(got, ValueError):
                problems.append(logdecode.Problem(p, f"raw block not decodable: {got}"))
                return None
            r.samples = got
        return rec
    monkeypatch.setattr(logdecode, "_parse", parse_now)
    slow = logdecode.decode(data)
    assert fast.problems == slow.problems
    assert [p.offset for p in fast.problems] == sorted(p.offset for p in fast.problems)
    assert sum("raw block not decodable" in p.reason for p in fast.problems) > 20
    assert fast.records == slow.records
    for a, b in zip(fast.records, slow.records):
        if b.samples is not None:
            assert np.array_equal(a.samples, b.samples) and a.samples.dtype == np.int16
    assert logdecode.to_result(fast) == logdecode.to_result(slow)
