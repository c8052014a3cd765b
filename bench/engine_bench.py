"""Gait engine benchmark: accuracy on the corpus, speed on CPython and on the real
MicroPython VM, and the engine's RAM. Prints figures and ratios; asserts nothing.

    python bench/engine_bench.py [--corpus DIR] [--skip-vm]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from retrostep import corpus
from retrostep.enginevm import run_engine_vm
from retrostep.evaluate import evaluate_directory, print_scores
from retrostep.replay import replay_trace, run_engine
from retrostep.trace import Trace, quantise, read_trace, write_trace


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def accuracy(corpus_dir):
    scores, summary = evaluate_directory(corpus_dir)
    print_scores(scores, summary)
    kinds = {}
    for name, s in scores.items():
        kinds.setdefault(s["kind"], []).append(s)
    print("\nper kind:")
    print(f"  {'kind':10} {'traces':>6} {'steps':>7} {'true':>7} {'recall':>8} "
          f"{'fwd acc':>8} {'bwd acc':>8} {'alerts':>7}")
    for kind, group in sorted(kinds.items()):
        def ratio(a, b):
            den = sum(s[b] for s in group)
            return sum(s[a] for s in group) / den if den else None
        print(f"  {kind:10} {len(group):6d} {sum(s['steps'] for s in group):7d} "
              f"{sum(s['true_steps'] for s in group):7d} {pct(ratio('matched', 'true_strides')):>8} "
              f"{pct(ratio('forward_correct', 'forward_matched')):>8} "
              f"{pct(ratio('backward_correct', 'backward_matched')):>8} "
              f"{sum(s['alerts'] for s in group):7d}")


def one_hour(case="mixed_pauses", odr_note=""):
    trace, _ = corpus.make_case(case)
    reps = int(np.ceil(3600 / trace.duration_s))
    dt = 1 / trace.rate_hz
    n = len(trace.t_s)
    t = np.arange(n * reps) * dt
    hour = Trace(t, np.tile(trace.accel_g, (reps, 1)), np.tile(trace.gyro_dps, (reps, 1)),
                 dict(trace.meta))
    return hour


def speed(skip_vm):
    hour = one_hour()
    t0 = time.perf_counter()
    board = quantise(hour)
    t1 = time.perf_counter()
    eng, events = run_engine(board.samples, board.odr_hz, board.accel_ug_per_lsb,
                             board.gyro_udps_per_lsb)
    t2 = time.perf_counter()
    n = len(board.samples)
    rate = n / (t2 - t1)
    print(f"\nCPython {sys.version.split()[0]}: {hour.duration_s / 3600:.2f} h of trace at "
          f"{board.odr_hz} Hz = {n} samples")
    print(f"  quantise {t1 - t0:.2f} s, engine {t2 - t1:.2f} s: {rate:,.0f} samples/s, "
          f"{rate / board.odr_hz:,.0f}x real time; {eng.strides} strides")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hour.csv")
        write_trace(path, hour)
        t3 = time.perf_counter()
        replay_trace(read_trace(path))
        t4 = time.perf_counter()
    print(f"  replay of the hour from its CSV (read + quantise + engine): {t4 - t3:.2f} s "
          f"(target < 10 s)")
    if skip_vm:
        return
    part = board.samples[: 60 * board.odr_hz * 10]  # ten minutes
    vm = run_engine_vm(part, board.odr_hz, board.accel_ug_per_lsb, board.gyro_udps_per_lsb)
    vrate = vm.samples / vm.loop_s
    print(f"MicroPython VM (WebAssembly, Node.js), heap locked: {vm.samples} samples in "
          f"{vm.loop_s:.2f} s: {vrate:,.0f} samples/s, {vrate / board.odr_hz:,.0f}x real time "
          f"at {board.odr_hz} Hz (target >= 20,000 samples/s); CPython/VM speed ratio "
          f"{rate / vrate:.1f}")
    print(f"  engine state on the MicroPython heap: {vm.engine_heap_bytes} bytes "
          f"(target <= 4096)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="corpus directory (default: generate one in a temp dir)")
    ap.add_argument("--skip-vm", action="store_true")
    args = ap.parse_args()
    if args.corpus:
        accuracy(args.corpus)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            corpus.write_corpus(tmp)
            accuracy(tmp)
    speed(args.skip_vm)


if __name__ == "__main__":
    main()
