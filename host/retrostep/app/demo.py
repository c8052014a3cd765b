"""The demo: no hardware, one command.

`retrostep demo` walks the user's whole journey on a virtual board: a fresh board (the
real MicroPython VM with the IMU, motor and button emulated) gets the firmware
(`retrostep deploy`), walks the bundled trace (forward strides, a pause, then a
backward walk that curves off its line) with a short press to start the session and
one to stop it, buzzes its drift alert; then `retrostep sync` pulls the session log
into a library under `out/`, and `retrostep report` draws it. The board's counts are
scored against the walk's ground truth. `--replay-only` skips the board and replays
the trace through the engine on the laptop instead (with the engine's chart).

The bundled trace is made by the simulator (`retrostep.sim.demolog`) with a fixed seed
(`retrostep demo --regenerate` writes it again; a test checks it is unchanged).
"""

import os

from retrostep.errors import RetrostepError
from retrostep.sim.demolog import bundled_paths


def board_journey(out_dir, log=print):
    """Deploy, walk, sync, report on a virtual board. Returns (result, report paths)."""
    import shutil

    from retrostep.device import deploy
    from retrostep.analysis import report
    from retrostep.device import sync
    from retrostep.formats.logdecode import decode_file, to_result
    from retrostep.vm.vboard import VirtualBoard

    csv_path, _ = bundled_paths()
    # the demo owns its folders under out_dir: a fresh board and a fresh library on every
    # run, so a rerun walks the same journey and the library holds this run's session
    flash = os.path.join(out_dir, "virtual-board-flash")
    library = os.path.join(out_dir, "library")
    for folder in (flash, library):
        shutil.rmtree(folder, ignore_errors=True)
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
    if len(rep.fetched) != 1:
        raise RetrostepError("the virtual board logged no session; run the demo again, or "
                             "`retrostep demo --replay-only`")
    path = os.path.join(rep.folder, rep.fetched[-1])
    png, html, _ = report.write_report(path, out_dir)
    return to_result(decode_file(path)), (png, html)
