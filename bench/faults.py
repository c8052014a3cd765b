"""The fault table: hostile inputs and failing peers, tried against the real code.

    python bench/faults.py [--quick] [--only CATEGORY] [-v]

Runs every scenario of each category (all categories by default, in the order of
CATEGORIES; the firmware's run the virtual board, so they come last) and prints a table:
category, tried, handled, failed; then the figures measured on the way (the slowest log
decode per MB) and the failed scenarios with the first line of why. --quick runs a
sample of each category (under a minute). Exit status 1 when any failed.

A scenario is a callable taking a fresh temporary folder and returning True when the
code under fault kept its guarantee (False, or an exception, is a failure). The
categories other than sync live in tests/host/faults_scenarios.py:

- traces: hostile trace files through `retrostep check` and `retrostep replay` (the
  cases of tests/host/test_trace_errors.py and generated ones): exit 2, one line on
  stderr, no traceback, and both commands say the same.
- logs: session logs cut, bit-flipped, zero-filled, spliced, crafted headers: decode
  raises nothing but LogDecodeError, read_session never raises, `replay` and `report`
  exit 0 or 2 (one line), decoding under 1 s per MB.
- inputs: hostile JSON for `eval` and `deploy --config`, output paths that cannot be
  written for report / export / chart / history: exit 2, one line.
- security: board ids that try to leave the output folder, cells a spreadsheet would run.
- sync: tests/host/test_sync_faults.py's fake boards on the wire.
- firmware: tests/host/test_vboard_faults.py on the virtual board (I2C outages and
  bursts, full flash, /logs blocked, crash loop, deep /config.json).

Add a category: put its (name, callable) list in CATEGORIES (a function returning the
list keeps imports lazy).
"""

import argparse
import importlib.util
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


HOST_TESTS = ROOT / "tests" / "host"


def _scenarios(category):
    """A category of tests/host/faults_scenarios.py (imported on first use)."""
    def load():
        if str(HOST_TESTS) not in sys.path:
            sys.path.insert(0, str(HOST_TESTS))
        import faults_scenarios

        return getattr(faults_scenarios, category)()
    load.__doc__ = f"faults_scenarios.{category}()"
    return load


def _sync():
    """`retrostep sync` against misbehaving boards and laptops: the scenarios of
    tests/host/test_sync_faults.py (a fake board on the raw REPL; fault injection)."""
    spec = importlib.util.spec_from_file_location(
        "test_sync_faults", ROOT / "tests" / "host" / "test_sync_faults.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def handled(fn):
        def run(tmp):
            fn(tmp)  # asserts its guarantees
            return True
        return run
    return [(name, handled(fn)) for name, fn in mod.SCENARIOS]


# category -> function returning [(scenario name, callable(tmp_path) -> True if handled)]
CATEGORIES = {
    "traces": _scenarios("traces"),
    "logs": _scenarios("logs"),
    "inputs": _scenarios("inputs"),
    "security": _scenarios("security"),
    "sync": _sync,
    "firmware": _scenarios("firmware"),  # the virtual board: slowest, last
}

# --quick: at most this many scenarios of each category, spread over its list
QUICK = {"firmware": 4, "sync": 6}
QUICK_DEFAULT = 12


def sample(scenarios, k):
    """k scenarios spread evenly over the list (the first and last included)."""
    if len(scenarios) <= k:
        return scenarios
    return [scenarios[round(i * (len(scenarios) - 1) / (k - 1))] for i in range(k)]


def run_category(scenarios, category="", progress=False):
    rows = []
    for i, (name, fn) in enumerate(scenarios, 1):
        if progress:
            print(f"  {category} {i}/{len(scenarios)}: {name} ...", end="", file=sys.stderr,
                  flush=True)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="rstep-fault-") as tmp:
            try:
                ok = fn(Path(tmp)) is True
                why = "" if ok else "returned False"
            except Exception as exc:  # a failure of the tool, or of its guarantees
                ok = False
                why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
                if not isinstance(exc, AssertionError):
                    why = f"{type(exc).__name__}: {why}"
                    traceback.print_exc(limit=-3, file=sys.stderr)
        rows.append((name, ok, why, time.monotonic() - t0))
        if progress:
            print(f" {'handled' if ok else 'FAILED'} ({rows[-1][3]:.1f} s)", file=sys.stderr,
                  flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("categories", nargs="*", metavar="CATEGORY",
                    help=f"one of: {', '.join(CATEGORIES)} (default: all)")
    ap.add_argument("--only", action="append", default=[], metavar="CATEGORY",
                    help="run only this category (may be given more than once)")
    ap.add_argument("--quick", action="store_true",
                    help=f"a sample of each category (at most {QUICK_DEFAULT} scenarios)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a row per scenario")
    args = ap.parse_args()
    chosen = args.categories + [c for o in args.only for c in o.split(",") if c]
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        ap.error(f"unknown category {unknown[0]!r}: use one of {', '.join(CATEGORIES)}")
    start = time.monotonic()
    results = {}
    for c in CATEGORIES:
        if chosen and c not in chosen:
            continue
        t0 = time.monotonic()
        scenarios = CATEGORIES[c]()
        if args.quick:
            scenarios = sample(scenarios, QUICK.get(c, QUICK_DEFAULT))
        print(f"{c}: {len(scenarios)} scenarios ...", file=sys.stderr, flush=True)
        results[c] = run_category(scenarios, c, progress=args.verbose or c == "firmware")
        print(f"{c}: done in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"{'category':<12} {'tried':>6} {'handled':>8} {'failed':>7}")
    for cat, rows in results.items():
        good = sum(ok for _, ok, _, _ in rows)
        print(f"{cat:<12} {len(rows):>6} {good:>8} {len(rows) - good:>7}")
    total = sum(len(rows) for rows in results.values())
    good = sum(ok for rows in results.values() for _, ok, _, _ in rows)
    print(f"{'all':<12} {total:>6} {good:>8} {total - good:>7}")
    figures = getattr(sys.modules.get("faults_scenarios"), "FIGURES", {})
    if "decode" in figures:
        per_mb, name, size = figures["decode"]
        print(f"slowest log decode: {per_mb:.3f} s per MB ({name}, {size} bytes; files "
              "of 4 KB or more)")
    for name, (per_mb, size) in figures.get("speed", {}).items():
        print(f"  decode speed {per_mb:6.3f} s per MB: {name} ({size} bytes; best of 3)")
    for note in getattr(sys.modules.get("faults_scenarios"), "NOTES", []):
        print(f"note: {note}")
    print(f"{'quick sample' if args.quick else 'full run'} took "
          f"{time.monotonic() - start:.0f} s")
    if args.verbose:
        for cat, rows in results.items():
            for name, ok, why, secs in rows:
                print(f"  {cat}: {'handled' if ok else 'FAILED '} {secs:5.1f} s  {name}")
    failed = [(c, r) for c, rows in results.items() for r in rows if not r[1]]
    for cat, (name, _, why, secs) in failed:
        print(f"  FAILED {cat}: {name} ({secs:.1f} s): {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
