"""The bundled demo data: the demo walk (a simulated trace with its labels) and its
session log, "recorded on a virtual board".

The walk is simulated from `scenario()` with a fixed seed (`regenerate()`; the files are
`bundled_paths()`). `make_demo_session(path)` replays the bundled trace
through the board's gait engine on CPython, fed in FIFO-sized batches as the board's
loop feeds it, and writes every event with the board's own logbook code
(`retrostep.firmware.logbook`), exactly as the board would write them: the result is a
session file byte for byte like one the board would have written for that walk, with
no raw samples (the board's default). Until the virtual board runs the firmware on a
MicroPython VM, this file is what `retrostep report demo` and the tests use.

    python -m retrostep.sim.demolog                  # rewrite host/retrostep/data/demo_session.rsl
    python -m retrostep.sim.demolog /tmp/demo.rsl    # or write it elsewhere

tests/test_report.py checks the bundled file equals a fresh regeneration.
"""

import os
import shutil
import sys
import tempfile
from array import array
from datetime import datetime
from importlib import resources

from retrostep.firmware import gait
from retrostep.formats.clock import rtc_seconds
from retrostep.formats.samples import int16_flat
from retrostep.sim.corpus import DEVICES
from retrostep.sim.gaitsim import SUBJECTS, Bout, Scenario, simulate, write_case
from retrostep.firmware import logbook as lb
from retrostep.engine.run import engine_settings, new_engine
from retrostep.formats.trace import quantise, read_trace

DEMO_SESSION_NAME = "demo_session.rsl"
DEMO_BOARD_ID = "virtual-demo"
DEMO_FW_VERSION = "0.1.0"  # fixed, so a version bump does not change the bundled bytes
DEMO_START = datetime(2026, 3, 2, 9, 30)  # the board's RTC at the session start (local)
FIFO_BATCH = 52  # samples per FIFO burst (half a second at 104 Hz), as the board reads
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


def bundled_session_path():
    return str(resources.files("retrostep") / "data" / DEMO_SESSION_NAME)


def make_demo_session(path=None):
    """Write the demo session log to `path` (default: the bundled file); returns the path."""
    path = path or bundled_session_path()
    csv_path, _ = bundled_paths()
    trace = read_trace(csv_path)
    board = quantise(trace)
    settings, cal = engine_settings(trace.meta)
    eng = new_engine(board.odr_hz, board.accel_ug_per_lsb, board.gyro_udps_per_lsb,
                     settings, cal)
    flat = int16_flat(board.samples)
    n = len(flat) // 6
    start_s = rtc_seconds(DEMO_START)
    with tempfile.TemporaryDirectory() as tmp:
        log = lb.Logbook(tmp, fs_free_fn=lambda: 1 << 28)
        number = log.open_session(start_s=start_s, board_id=DEMO_BOARD_ID,
                                  fw_version=DEMO_FW_VERSION, raw=False)
        ev = array("i", [0] * gait.EV_FIELDS)
        done = 0
        while done < n:
            done = eng.feed(flat, done, min(n, done + FIFO_BATCH))
            while eng.pop(ev):
                log.append_event(ev)
        eng.flush()  # as the board does when a session stops
        while eng.pop(ev):
            log.append_event(ev)
        end_s = start_s + (n + board.odr_hz - 1) // board.odr_hz
        log.close_session(lb.engine_summary(eng), end_s=end_s)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        shutil.copyfile(log.file_name(number), path)
    return path


if __name__ == "__main__":
    print(make_demo_session(sys.argv[1] if len(sys.argv) > 1 else None))
