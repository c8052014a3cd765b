"""The fault table: hostile inputs and failing peers, tried against the host tools.

    python bench/faults.py [CATEGORY ...]

Runs every scenario of each category (all categories by default) and prints a table:
category, tried, handled, failed; then the failed scenarios with the first line of why.
A scenario is a callable taking a fresh temporary folder and returning True when the
tool handled the fault (False, or an exception, is a failure). Exit status 1 when any
failed.

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
    "sync": _sync,
}


def run_category(scenarios):
    rows = []
    for name, fn in scenarios:
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
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("categories", nargs="*", metavar="CATEGORY",
                    help=f"one of: {', '.join(CATEGORIES)} (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a row per scenario")
    args = ap.parse_args()
    unknown = [c for c in args.categories if c not in CATEGORIES]
    if unknown:
        ap.error(f"unknown category {unknown[0]!r}: use one of {', '.join(CATEGORIES)}")
    results = {c: run_category(CATEGORIES[c]()) for c in (args.categories or CATEGORIES)}
    print(f"{'category':<12} {'tried':>6} {'handled':>8} {'failed':>7}")
    for cat, rows in results.items():
        good = sum(ok for _, ok, _, _ in rows)
        print(f"{cat:<12} {len(rows):>6} {good:>8} {len(rows) - good:>7}")
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
