"""Gait engine benchmark: accuracy on three sets kept apart, speed on CPython and on the
real MicroPython VM, and the engine's RAM. Prints figures and ratios; asserts nothing.

    python bench/engine_bench.py [--sets tune,test,real] [--skip-vm] [--per-trace]

The sets (issue 9):
- tune: the labelled tuning corpus (`retrostep corpus DIR`), what the engine was
  developed on; its figures are unit tests, not evidence;
- dev: drawn exactly like the test set from other seeds (`--set dev`): develop on it
  without looking at the test set; not shown unless asked for;
- test: the frozen test set (`retrostep corpus DIR --set test`), other seeds and wider
  ranges, pinned by a fingerprint; nobody tunes on it;
- real: the public treadmill recordings in ../shared/realdata, converted at run time
  by bench/realdata.py into a temporary folder (skipped when the folder is absent).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from retrostep.sim import corpus
from retrostep.vm.enginevm import run_engine_vm
from retrostep.analysis.evaluate import evaluate_directory, print_scores, summary_lines
from retrostep.engine.run import run_engine
from retrostep.analysis.replay import replay_trace
from retrostep.formats.trace import Trace, quantise, read_trace, write_trace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realdata  # noqa: E402  (bench/realdata.py)

# issue 9's targets, for the frozen test set and the real recordings
TARGETS = [
    ("recall", ">=", 0.98), ("precision", ">=", 0.98),
    ("forward_accuracy", ">=", 0.98), ("backward_accuracy", ">=", 0.98),
    ("sideways_accuracy", ">=", 0.98), ("step_error_pct_median", "<=", 2.0),
    ("timing_error_ms_median", "<=", 60.0), ("steps_on_non_walking", "<=", 0),
    ("straight_walks_alerted", "<=", 0),
]


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def check_targets(summary):
    """One line per target: the figure, the target and whether it is met."""
    out = []
    for key, op, goal in TARGETS:
        v = summary.get(key)
        if v is None:
            out.append(f"  {key:24s} -")
            continue
        ok = v >= goal if op == ">=" else v <= goal
        out.append(f"  {key:24s} {v:9.3f}  target {op} {goal:g}  {'met' if ok else 'MISSED'}")
    d, c = summary.get("drifts", 0), summary.get("drifts_caught", 0)
    out.append(f"  {'drifts alerted < 1.0 m':24s} {c:5d}/{d:<3d}  target all  "
               f"{'met' if c == d else 'MISSED'}")
    return out


def per_kind(scores):
    kinds = {}
    for s in scores.values():
        kinds.setdefault(s["kind"], []).append(s)
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


def accuracy(name, directory, per_trace=False):
    t0 = time.perf_counter()
    scores, summary = evaluate_directory(directory)
    print(f"\n=== {name} ({time.perf_counter() - t0:.1f} s)")
    if per_trace:
        print_scores(scores, summary)
    else:
        for line in summary_lines(summary):
            print("  " + line)
    per_kind(scores)
    print("  against issue 9's targets:")
    for line in check_targets(summary):
        print(line)
    return summary


def accuracy_sets(sets, per_trace, dev_draws=0, dev_kinds=()):
    with tempfile.TemporaryDirectory() as tmp:
        if "tune" in sets:
            d = os.path.join(tmp, "tune")
            corpus.write_corpus(d)
            accuracy("tuning set (developed on: a unit test, not evidence)", d, per_trace)
        if "dev" in sets:
            d = os.path.join(tmp, "dev")
            corpus.write_corpus(d, which="dev")
            accuracy("development set (drawn like the test set, other seeds; developed on)",
                     d, per_trace)
        for kind, count in dev_kinds:
            d = os.path.join(tmp, f"dev_{kind}")
            corpus.write_cases(d, corpus.development_kind(kind, count))
            accuracy(f"{count} development {kind} traces (drawn like the test set's, other "
                     "seeds; developed on)", d, per_trace)
        for k in range(1, dev_draws + 1):
            d = os.path.join(tmp, f"dev{k}")
            corpus.write_cases(d, corpus.development_draw(k))
            accuracy(f"development draw {k} (drawn like the test set, other seeds; "
                     "developed on)", d, per_trace)
        if "test" in sets:
            d = os.path.join(tmp, "test")
            corpus.write_test_set(d)
            accuracy("frozen test set (never tuned on)", d, per_trace)
        if "real" in sets:
            if realdata.find_realdata() is None:
                print("\n=== real recordings: skipped (no ../shared/realdata; set "
                      "RETROSTEP_REALDATA)")
            else:
                d = os.path.join(tmp, "real")
                realdata.convert(d)
                accuracy("real treadmill recordings (urigott, converted at run time)", d,
                         per_trace)


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
          f"at {board.odr_hz} Hz (target >= 55,000 samples/s: under 5 % of an RP2040); "
          f"CPython/VM speed ratio "
          f"{rate / vrate:.1f}")
    print(f"  engine state on the MicroPython heap: {vm.engine_heap_bytes} bytes "
          f"(target <= 4096)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="tune,test,real",
                    help="comma-separated: tune, dev, test, real (default: tune, test, "
                         "real; dev is drawn like the test set from other seeds)")
    ap.add_argument("--per-trace", action="store_true", help="a table row per trace")
    ap.add_argument("--dev-draws", type=int, default=0, metavar="N",
                    help="also score N more development draws (50 traces each, ~15 s)")
    ap.add_argument("--dev-kind", action="append", default=[], metavar="KIND=N",
                    help="also score N development traces of one test-set kind, e.g. "
                         "tapping=120 or shuffle=60 (repeatable)")
    ap.add_argument("--skip-vm", action="store_true")
    args = ap.parse_args()
    kinds = []
    for spec in args.dev_kind:
        kind, _, count = spec.partition("=")
        if kind not in dict(corpus.FROZEN_PLAN) or not count.isdigit():
            ap.error(f"--dev-kind {spec!r}: use KIND=N with KIND one of "
                     f"{', '.join(k for k, _ in corpus.FROZEN_PLAN)}")
        kinds.append((kind, int(count)))
    accuracy_sets({x.strip() for x in args.sets.split(",") if x.strip()}, args.per_trace,
                  args.dev_draws, kinds)
    speed(args.skip_vm)


if __name__ == "__main__":
    main()
