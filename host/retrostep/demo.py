"""The demo: no hardware, one command.

`retrostep demo` replays the bundled walk (forward strides, a pause, then a backward
walk that curves off its line) through the board's gait engine, prints what the board
would have counted and alerted, writes the replay JSON, its score against the walk's
ground truth, and a chart of what the engine saw.

The bundled trace is made by the simulator from `SCENARIO` with a fixed seed
(`retrostep demo --regenerate` writes it again; a test checks it is unchanged).
"""

import json
import os
from importlib import resources

from .corpus import DEVICES
from .errors import RetrostepError
from .gaitsim import SUBJECTS, Bout, Scenario, simulate, write_case

DEMO_SEED = 2026
DEMO_NAME = "demo_walk"


def scenario():
    return Scenario(
        bouts=[
            Bout("still", duration_s=3.0),
            Bout("walk", "forward", strides=8),
            Bout("still", duration_s=3.0),
            Bout("walk", "backward", strides=26, curve_deg_per_m=6.0, curve_from_stride=10),
            Bout("still", duration_s=2.0),
        ],
        subject=SUBJECTS["adult"], sensor=DEVICES["adult"], rate_hz=104.0, name=DEMO_NAME)


def bundled_paths():
    base = resources.files("retrostep") / "data"
    return str(base / f"{DEMO_NAME}.csv"), str(base / f"{DEMO_NAME}.labels.json")


def regenerate(out_dir=None):
    trace, labels = simulate(scenario(), DEMO_SEED)
    csv_path, _ = bundled_paths()
    if out_dir:
        csv_path = os.path.join(out_dir, f"{DEMO_NAME}.csv")
    write_case(csv_path, trace, labels)
    return csv_path


def do_demo(args):
    from .chart import plot_replay
    from .evaluate import print_scores, score, summarise
    from .replay import replay_trace, summary_text
    from .trace import read_trace

    if args.regenerate:
        print(regenerate())
        return 0
    csv_path, labels_path = bundled_paths()
    if not os.path.exists(csv_path):
        raise RetrostepError(f"the bundled trace {csv_path} is missing; reinstall "
                             "retrostep or run `retrostep demo --regenerate`")
    os.makedirs(args.out, exist_ok=True)
    trace = read_trace(csv_path)
    result = replay_trace(trace)
    print(summary_text(result, f"bundled walk ({os.path.basename(csv_path)})"))
    with open(labels_path, encoding="utf-8") as f:
        labels = json.load(f)
    s = score(result, labels)
    print_scores({DEMO_NAME: s}, summarise({DEMO_NAME: s}))
    out_json = os.path.join(args.out, "demo.json")
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    png = plot_replay(trace, os.path.join(args.out, "demo.png"),
                      title="bundled walk: forward, pause, backward curving off the line")
    print(f"wrote {out_json} and {png}")
    return 0


def register(sub):
    p = sub.add_parser("demo", help="replay the bundled walk: counts, alerts, chart",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--out", default="out", help="folder for demo.json and demo.png")
    p.add_argument("--regenerate", action="store_true",
                   help="write the bundled trace again from its scenario")
    p.set_defaults(func=do_demo)
