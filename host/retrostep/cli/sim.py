"""`retrostep sim`: the command line of `retrostep.vm.vboard`."""

import json
import sys
import time

from retrostep.errors import RetrostepError
from retrostep.firmware import boards, sensor
from retrostep.vm.vboard import (DEFAULT_BOARD, DEFAULT_DIR, IMUS, load_presses,
    parse_press, VirtualBoard, VirtualBoardError)


# ---------------------------------------------------------------------------- command
def register(subparsers):
    p = subparsers.add_parser(
        "sim",
        help="run the firmware on a virtual board (trace in, REPL on a socket)",
        description="Boot a virtual board from a flash folder, as a real board boots "
        "(boot.py, main.py, REPL), on the real MicroPython VM with the hardware "
        "emulated. The trace is fed through the emulated IMU; the REPL listens on "
        "127.0.0.1 for mpremote (mpremote connect socket://127.0.0.1:PORT). When the "
        "trace has played, one JSON object (firmware counts and events, motor "
        "timeline) is printed on stdout.",
    )
    a = p.add_argument
    a("--trace", metavar="CSV", help="trace CSV to walk (format: README.md, 'Trace format')")
    a("--fs", metavar="DIR",
      help=f"the board's flash folder (default {DEFAULT_DIR}/<board id>/fs)")
    a("--board", default=DEFAULT_BOARD, choices=boards.names(),
      help="board profile (default %(default)s)")
    a("--board-id", default="vboard",
      help="names the board: its flash folder, machine.unique_id()")
    a("--imu", default="dsox", choices=sorted(IMUS), help="IMU chip emulated (default %(default)s)")
    a("--odr", type=int, default=None,
      help=f"rate the trace is quantised at (default {sensor.ODR_HZ} Hz, the firmware's)")
    a("--trace-start", type=float, default=None, metavar="S",
      help="trace t=0 at S seconds after power-on (default: when the firmware starts the IMU)")
    a("--press", action="append", default=[], metavar="T:KIND",
      help="press the button T seconds into the trace: short, long or double (repeatable)")
    a("--presses", metavar="JSON",
      help='press timeline file: [{"t_s": 12.5, "kind": "short"}, ...]')
    a("--session", action="store_true",
      help="short presses 1 s into the trace and at its end (start and stop a session)")
    a("--battery-v", type=float, default=3.9, help="battery voltage (default %(default)s V)")
    a("--realtime", action="store_true",
      help="pace the board to the wall clock (default without --trace; with a trace the "
      "board runs as fast as it can)")
    a("--serve", action="store_true",
      help="keep the board and its REPL running after the trace")
    a("--port", type=int, default=0,
      help="TCP port on 127.0.0.1 (default: a free one); implies --serve")
    a("--grace", type=float, default=2.0, metavar="S",
      help="seconds run after the trace (default %(default)s)")
    a("--deploy", action="store_true",
      help="copy the firmware sources onto the flash before booting")
    a("--quiet", action="store_true", help="do not echo the board's console on stderr")
    p.set_defaults(func=do_sim)


def do_sim(args):
    presses = [parse_press(x) for x in args.press]
    if args.presses:
        presses += load_presses(args.presses)
    if args.session:
        if not args.trace:
            raise RetrostepError("--session needs --trace: it presses at the trace's start and end")
        from retrostep.formats.trace import read_trace

        presses += [(1.0, "short"), (read_trace(args.trace).duration_s, "short")]
    serve = args.serve or bool(args.port) or not args.trace
    vb = VirtualBoard(
        args.fs, board=args.board, board_id=args.board_id, imu=args.imu, trace=args.trace,
        odr_hz=args.odr, presses=presses, battery_v=args.battery_v,
        realtime=args.realtime or not args.trace,
        trace_start_s=args.trace_start, port=args.port, serve=serve, grace_s=args.grace,
        deploy=args.deploy, echo=not args.quiet,
    )
    if args.trace and not args.deploy and not (vb.fs_dir / "main.py").exists():
        # a fresh board has no firmware to walk the trace with: give it the sources
        vb.deploy = True
        print(f"vboard: the flash {vb.fs_dir} has no main.py: the firmware sources are "
              "copied onto it first (as --deploy does)", file=sys.stderr, flush=True)
    vb.start()
    print(f"vboard: {vb.board} board {vb.board_id!r}, flash {vb.fs_dir}; REPL on {vb.url} "
          f"(mpremote connect {vb.url})", file=sys.stderr, flush=True)
    try:
        if args.trace:
            rep = vb.report()
            print(json.dumps(rep), flush=True)
        if serve:
            print("vboard: serving; Ctrl-C stops the board", file=sys.stderr, flush=True)
            while vb.alive():
                time.sleep(0.2)
    except KeyboardInterrupt:
        if not serve:
            raise
    finally:
        vb.stop()
    if vb._error:
        raise VirtualBoardError(vb._error)
    return 0
