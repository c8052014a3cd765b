"""`retrostep evaluate`: the command line of `retrostep.analysis.evaluate`."""

import json
import os

from retrostep.analysis.evaluate import (check_labels, check_result, evaluate_directory,
                                         print_scores, score, summarise)
from retrostep.formats.files import load_json


def do_eval(args):
    if args.labels is None:
        scores, summary = evaluate_directory(args.target)
    else:
        result = check_result(load_json(args.target, "replay result"), args.target)
        labels = check_labels(load_json(args.labels, "labels"), args.labels)
        scores = {os.path.basename(args.target): score(result, labels)}
        summary = summarise(scores)
    if args.json:
        print(json.dumps({"traces": scores, "summary": summary}, indent=2))
    else:
        print_scores(scores, summary)
    return 0


def register(sub):
    p = sub.add_parser(
        "eval",
        help="score replay results against labels",
        description="Score `retrostep replay --json` output against a labels JSON, or "
        "replay and score every NAME.csv + NAME.labels.json in a directory.",
    )
    p.add_argument("target", help="RESULT.json (with LABELS) or a directory of traces")
    p.add_argument("labels", nargs="?", help="LABELS.json for a single RESULT.json")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=do_eval)
