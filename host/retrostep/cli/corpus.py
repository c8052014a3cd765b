"""`retrostep corpus`: the command line of `retrostep.sim.corpus`."""

import os
import sys
import time

from retrostep.errors import RetrostepError
from retrostep.sim.corpus import SETS, write_corpus, write_test_set


def register(subparsers):
    p = subparsers.add_parser(
        "corpus",
        help="write a labelled corpus of simulated traces (tuning or frozen test set)",
        description="Write a fixed, labelled corpus of simulated traces (NAME.csv, "
        "NAME.labels.json, index.json) into OUT_DIR. Same files every run. --set tune "
        "(default) is the tuning set; --set dev is drawn like the test set from other seeds "
        "(develop on it); --set test is the frozen test set: judge the engine "
        "on it, never tune on it.",
    )
    p.add_argument("out_dir", nargs="?", metavar="OUT_DIR")
    p.add_argument("--set", dest="which", choices=sorted(SETS), default="tune",
                   help="tune (default): the tuning set; test: the frozen test set")
    p.add_argument("--only", nargs="+", metavar="NAME", help="write only these cases")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.set_defaults(func=do_corpus)


def do_corpus(args):
    if args.list:
        for case in SETS[args.which].values():
            print(f"{case.name:22s} {case.rate_hz:5g} Hz  {case.subject:8s} "
                  f"{','.join(case.tags)}: {case.description}")
        return 0
    if not args.out_dir:
        raise RetrostepError("give OUT_DIR, the folder to write the corpus into")
    start = time.perf_counter()
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.which == "test" and not args.only:
        index = write_test_set(args.out_dir, log=log)
    else:
        index = write_corpus(args.out_dir, args.only, log=log, which=args.which)
    total = sum(e["duration_s"] for e in index["cases"])
    what = {"test": "frozen test", "dev": "development"}.get(args.which, "tuning")
    print(f"wrote {len(index['cases'])} {what} cases ({total / 60:.1f} min of motion) and "
          f"{os.path.join(args.out_dir, 'index.json')} in {time.perf_counter() - start:.1f} s")
    if "labels_sha256" in index:
        print(f"labels sha256 {index['labels_sha256']} (frozen: never tune on this set)")
    return 0
