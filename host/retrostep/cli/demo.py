"""`retrostep demo`: the command line of `retrostep.app.demo`."""

import json
import os

import retrostep.app.demo as _lib
from retrostep.app.demo import board_journey
from retrostep.errors import RetrostepError
from retrostep.formats.files import output_dir, write_output
from retrostep.sim.demolog import bundled_paths, DEMO_NAME, regenerate


def do_demo(args):
    from retrostep.analysis.chart import plot_replay
    from retrostep.analysis.evaluate import print_scores, score, summarise
    from retrostep.analysis.replay import replay_trace, summary_text
    from retrostep.formats.trace import read_trace

    if args.regenerate:
        print(regenerate())
        return 0
    csv_path, labels_path = bundled_paths()
    if not os.path.exists(csv_path):
        raise RetrostepError(f"the bundled trace {csv_path} is missing; reinstall "
                             "retrostep or run `retrostep demo --regenerate`")
    output_dir(args.out)
    trace = read_trace(csv_path)
    if args.replay_only:
        result = replay_trace(trace)
        print(summary_text(result, f"bundled walk ({os.path.basename(csv_path)})"))
        outputs = [plot_replay(trace, os.path.join(args.out, "demo.png"),
                               title="bundled walk: forward, pause, backward curving off "
                                     "the line")]
    else:
        result, outputs = board_journey(args.out)
        print(summary_text(result, "the virtual board's session log"))
    with open(labels_path, encoding="utf-8") as f:
        labels = json.load(f)
    # the board's session began at the first press: put its events on the trace's clock
    offset = 0.0 if args.replay_only else _session_offset(result, labels)
    shifted = dict(result, events=[dict(e, t_s=e["t_s"] + offset) for e in result["events"]])
    s = score(shifted, labels)
    print_scores({DEMO_NAME: s}, summarise({DEMO_NAME: s}))
    out_json = os.path.join(args.out, "demo.json")
    write_output(out_json, json.dumps(result, indent=1))
    print("wrote " + ", ".join([out_json] + list(outputs)))
    return 0


def _session_offset(result, labels):
    """Seconds from the trace's start to the session's start: the shift that best
    lines the board's first stride up with the labelled ones (the press time is known
    only to within the firmware's button handling)."""
    first = [e["t_s"] for e in result["events"] if e["type"] == "stride"][:1]
    lab = [s["t_land_s"] for s in labels["strides"]][:1]
    return (lab[0] - first[0]) if first and lab else 0.0


def register(sub):
    p = sub.add_parser("demo", help="replay the bundled walk: counts, alerts, chart",
                       description=_lib.__doc__.split("\n\n")[1])
    p.add_argument("--out", default="out", help="folder for demo.json and demo.png")
    p.add_argument("--replay-only", action="store_true",
                   help="no virtual board: replay the trace through the engine here")
    p.add_argument("--regenerate", action="store_true",
                   help="write the bundled trace again from its scenario")
    p.set_defaults(func=do_demo)
