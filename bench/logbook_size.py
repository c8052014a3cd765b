"""How big do session logs get? Bytes per hour with and without raw recording.

    python bench/logbook_size.py [--minutes 10] [--seed 1]

Simulates a walk (retrostep.sim.gaitsim when it is there, else a synthetic stride signal;
the output says which), quantises it as the board's IMU would, runs the board's gait
engine on it, and writes the session twice with the board's logbook code: events only,
and events plus raw samples (fed in FIFO-sized batches, as the firmware does). Sizes
are scaled to one hour. A minute of standing still is measured too, since raw blocks
of a resting foot are mostly sensor noise.
"""

import argparse
import math
import os
import sys
import tempfile
import time
from array import array

import numpy as np

from retrostep.firmware import logbook as lb
from retrostep.firmware import sensor
from retrostep.formats.logdecode import decode
from retrostep.formats.samples import int16_flat
from retrostep.engine.run import run_engine

FIFO_BATCH = 26  # samples per FIFO read (a quarter second at 104 Hz)


def simulated(minutes, seed, still=False):
    """(int16 samples (n, 6), description) of `minutes` of walking (or standing)."""
    try:
        from retrostep.sim import gaitsim
        from retrostep.formats.trace import quantise
    except ImportError:
        return synthetic(minutes, seed, still), "synthetic stride signal (no retrostep.sim.gaitsim)"
    if still:
        bouts = [gaitsim.Bout(kind="still", duration_s=60.0 * minutes)]
        what = "gaitsim: standing still"
    else:
        # forward and backward bouts back to back: about 2/3 of the time forward
        bouts = []
        t = 0.0
        while t < 60.0 * minutes:
            bouts.append(gaitsim.Bout(kind="walk", strides=110))
            bouts.append(gaitsim.Bout(kind="walk", direction="backward", strides=50))
            t += 110 * 1.09 + 50 * 1.28
        what = "gaitsim: adult walking, forward and backward bouts"
    trace, _ = gaitsim.simulate(bouts, seed=seed)
    samples = quantise(trace).samples
    n = min(len(samples), int(60 * minutes * sensor.ODR_HZ))
    return samples[:n], what


def synthetic(minutes, seed, still=False):
    """A crude stand-in: 1.1 s strides, 60 % stance, smooth swing bumps, sensor noise."""
    rng = np.random.default_rng(seed)
    fs = sensor.ODR_HZ
    n = int(60 * minutes * fs)
    t = np.arange(n) / fs
    g = 1e6 / sensor.accel_ug_per_lsb()
    dps = 1e6 / sensor.gyro_udps_per_lsb()
    x = np.zeros((n, 6))
    x[:, 2] = g
    if not still:
        phase = (t % 1.1) / 1.1
        swing = np.clip((phase - 0.6) / 0.4, 0, 1)
        bump = np.sin(np.pi * swing) ** 2
        x[:, 0] += 1.5 * g * np.sin(2 * np.pi * swing) * bump
        x[:, 2] += 2.0 * g * np.sin(4 * np.pi * swing) * bump
        x[:, 4] += 400 * dps * np.sin(2 * np.pi * swing) * bump
        x[:, 3] += 40 * dps * np.sin(np.pi * swing) * bump
    x[:, :3] += rng.normal(0, 1.3, (n, 3))
    x[:, 3:] += rng.normal(0, 0.8, (n, 3))
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def write_session(samples, events, raw, tmp):
    """Bytes of the session file and the bytes of its raw records."""
    log = lb.Logbook(tmp, fs_free_fn=lambda: 1 << 28)
    n = log.open_session(start_s=0, board_id="bench", fw_version="bench", raw=raw)
    flat = int16_flat(samples)
    ev = array("i", [0] * 8)
    e = 0
    for start in range(0, len(samples), FIFO_BATCH):
        end = min(len(samples), start + FIFO_BATCH)
        if raw:
            log.append_raw(flat, end - start, start)
        while e < len(events) and events[e][1] < end:
            ev[:] = array("i", events[e])
            log.append_event(ev)
            e += 1
    log.close_session({})
    data = open(log.file_name(n), "rb").read()
    out = decode(data)
    assert not out.problems
    if raw:
        assert np.array_equal(out.raw_samples(), samples), "raw samples did not come back"
    offsets = [r.offset for r in out.records] + [len(data)]
    raw_bytes = sum(offsets[i + 1] - r.offset for i, r in enumerate(out.records)
                    if r.type == lb.REC_RAW)
    return len(data), raw_bytes


def per_hour(nbytes, seconds):
    return nbytes * 3600.0 / seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of walking to simulate")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    samples, what = simulated(args.minutes, args.seed)
    seconds = len(samples) / sensor.ODR_HZ
    eng, events = run_engine(samples, sensor.ODR_HZ, sensor.accel_ug_per_lsb(),
                             sensor.gyro_udps_per_lsb())
    with tempfile.TemporaryDirectory() as tmp:
        ev_bytes, _ = write_session(samples, events, False, os.path.join(tmp, "a"))
        t0 = time.perf_counter()
        all_bytes, raw_bytes = write_session(samples, events, True, os.path.join(tmp, "b"))
        took = time.perf_counter() - t0
        still, still_what = simulated(1.0, args.seed, still=True)
        _, still_raw = write_session(still, [], True, os.path.join(tmp, "c"))
    plain = samples.size * 2
    print(f"signal: {what}; {seconds:.0f} s at {sensor.ODR_HZ} Hz, int16 at "
          f"+-{sensor.ACCEL_FS_G} g / +-{sensor.GYRO_FS_DPS} dps")
    print(f"engine: {eng.strides} strides ({eng.forward_strides} forward, "
          f"{eng.backward_strides} backward), one per {seconds / max(1, eng.strides):.2f} s; "
          f"{len(events)} events")
    print(f"events only:      {per_hour(ev_bytes, seconds) / 1e3:8.1f} kB per hour")
    print(f"events + raw:     {per_hour(all_bytes, seconds) / 1e6:8.3f} MB per hour "
          f"(raw uncompressed would be {per_hour(plain, seconds) / 1e6:.3f} MB)")
    print(f"raw compression:  {plain / raw_bytes:8.2f} : 1 walking "
          f"({8 * raw_bytes / samples.size:.2f} bits per value, framing included); "
          f"standing still {still.size * 2 / still_raw:.2f} : 1 "
          f"({per_hour(still_raw, len(still) / sensor.ODR_HZ) / 1e6:.3f} MB per hour)")
    print(f"(CPython wrote the raw log in {took:.1f} s, "
          f"{1e3 * took / math.ceil(seconds):.2f} ms per second of samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
