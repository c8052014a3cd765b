"""`retrostep replay`: the command line of `retrostep.analysis.replay`."""

import json

from retrostep.analysis.replay import replay_file, summary_text


def do_replay(args):
    result = replay_file(args.trace)
    if args.json:
        print(json.dumps(result))
    else:
        print(summary_text(result, args.trace))
    return 0


def register(sub):
    p = sub.add_parser(
        "replay",
        help="run the gait engine on a trace",
        description="Quantise a trace as the board would see it and run the board's gait "
        "engine on it: steps, stride directions and drift alerts.",
    )
    p.add_argument("trace", help="trace CSV (format: README.md, 'Trace format')")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=do_replay)
