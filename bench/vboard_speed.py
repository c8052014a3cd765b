"""How fast does the virtual board run the firmware? Simulated seconds per wall second.

Boots a virtual board (retrostep.vm.vboard) with the firmware deployed as sources, walks
a trace (default: the demo walk, repeated to last --minutes), starts and stops a
session with the button, and prints the speed, the Node process's peak memory (the
VM frees garbage only between top-level calls, so a long run shows any allocation
per loop) and the firmware's counts. No asserts: a figure for sizing runs.

    python bench/vboard_speed.py [TRACE] [--minutes 5] [--board pico] [--imu dsox]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrostep.formats.trace import Trace, read_trace, write_trace
from retrostep.vm.vboard import VirtualBoard

DEMO = Path(__file__).resolve().parents[1] / "host" / "retrostep" / "data" / "demo_walk.csv"


def repeated(trace, minutes):
    """The trace played back to back until it lasts `minutes`."""
    reps = max(1, int(np.ceil(minutes * 60 / (trace.duration_s + 1 / trace.rate_hz))))
    dt = 1 / trace.rate_hz
    n = len(trace.t_s)
    t = np.arange(n * reps) * dt
    return Trace(t, np.tile(trace.accel_g, (reps, 1)), np.tile(trace.gyro_dps, (reps, 1)),
                 dict(trace.meta))


def peak_rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace", nargs="?", default=str(DEMO))
    ap.add_argument("--minutes", type=float, default=5.0,
                    help="length of the walk (default %(default)s)")
    ap.add_argument("--board", default="pico")
    ap.add_argument("--imu", default="dsox")
    args = ap.parse_args(argv)

    tr = repeated(read_trace(args.trace), args.minutes)
    with tempfile.TemporaryDirectory(prefix="vboard-bench-") as td:
        td = Path(td)
        csv = td / "walk.csv"
        write_trace(csv, tr)
        fs = td / "fs"
        fs.mkdir()
        (fs / "config.json").write_text(json.dumps({"board": args.board}))
        t0 = time.perf_counter()
        vb = VirtualBoard(fs, board=args.board, imu=args.imu, trace=csv, deploy=True,
                          presses=[(1.0, "short"), (tr.duration_s, "short")], serve=True)
        vb.start()
        try:
            rep = vb.report(timeout=3600)
            rss = peak_rss_mb(vb._proc.pid)
        finally:
            vb.stop()
        wall = time.perf_counter() - t0
    fw = rep["firmware"]
    reps = len(tr.t_s) / len(read_trace(args.trace).t_s)
    tinfo = rep["trace"]
    print(f"trace                 {args.trace} x{reps:.0f} = {tr.duration_s / 60:.1f} min, "
          f"{tinfo['samples']:,} samples at {tinfo['odr_hz']} Hz")
    print(f"board                 {args.board}, {rep['imu']['chip']}, "
          "firmware from firmware/ (sources)")
    print(f"simulated             {rep['sim_s']:8.1f} s   (run ended: {rep['reason']})")
    print(f"board's wall time     {rep['wall_s']:8.2f} s   -> "
          f"{rep['sim_s'] / rep['wall_s']:6.1f} simulated s per wall s")
    print(f"whole command         {wall:8.2f} s   (quantising, Node, VM boot, report)")
    if rss is not None:
        print(f"Node peak memory      {rss:8.0f} MB")
    print(f"IMU                   {rep['imu']['samples']:,} samples delivered, "
          f"{rep['imu']['words_lost']} FIFO words lost")
    print(f"firmware              {fw['sessions']} session(s), {fw['steps']} steps, "
          f"{fw['strides']} strides ({fw['forward_strides']} fwd / {fw['backward_strides']} bwd), "
          f"{fw['drift_alerts']} drift alerts; {len(rep['motor'])} motor changes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
