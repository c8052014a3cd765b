"""The demo: no hardware, one command.

`retrostep demo` walks the user's whole journey on a virtual board: a fresh board (the
real MicroPython VM with the IMU, motor and button emulated) gets the firmware
(`retrostep deploy`), walks the bundled trace (forward strides, a pause, then a
backward walk that curves off its line) with a short press to start the session and
one to stop it, buzzes its drift alert; then `retrostep sync` pulls the session log
into a library under `out/`, and `retrostep report` draws it. The board's counts are
scored against the walk's ground truth. `--replay-only` skips the board and replays
the trace through the engine on the laptop instead (with the engine's chart).

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


def board_journey(out_dir, log=print):
    """Deploy, walk, sync, report on a virtual board. Returns (result, report paths)."""
    import shutil

    from . import deploy, report, sync
    from .logdecode import decode_file, to_result
    from .vboard import VirtualBoard

    csv_path, _ = bundled_paths()
    flash = os.path.join(out_dir, "virtual-board-flash")
    shutil.rmtree(flash, ignore_errors=True)  # a fresh board every time
    library = os.path.join(out_dir, "library")
    end_s = 52.0  # the bundled walk lasts 51 s
    log("virtual board: starting (MicroPython VM, emulated LSM6DSOX, motor, button)")
    with VirtualBoard(flash, trace=csv_path, presses=["0.5:short", f"{end_s}:short"],
                      serve=True, grace_s=4, board_id="demo") as vb:
        log(f"virtual board: REPL at {vb.url}; deploying the firmware")
        written = deploy.deploy(vb.url, log=lambda *_: None)
        log(f"  {len(written)} files written; the board restarts and walks the trace")
        run = vb.report()
        on = [m["t_s"] for m in run["motor"] if m["duty_u16"] > 0 and m["t_s"] is not None]
        log(f"  walked {run.get('sim_s', 0):.0f} s of board time; the motor was switched "
            f"on {len(on)} times (start, drift alert, stop patterns)")
        rep = sync.sync(vb.url, library)
    log(f"sync: {len(rep.fetched)} session log(s) verified into {rep.folder}")
    if not rep.fetched:
        raise RetrostepError("the virtual board logged no session; run the demo again, or "
                             "`retrostep demo --replay-only`")
    path = os.path.join(rep.folder, rep.fetched[-1])
    png, html, _ = report.write_report(path, out_dir)
    return to_result(decode_file(path)), (png, html)


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
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
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
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--out", default="out", help="folder for demo.json and demo.png")
    p.add_argument("--replay-only", action="store_true",
                   help="no virtual board: replay the trace through the engine here")
    p.add_argument("--regenerate", action="store_true",
                   help="write the bundled trace again from its scenario")
    p.set_defaults(func=do_demo)
