"""Replay a trace through the gait engine, exactly as the board would run it.

The trace is quantised to the firmware's ODR and full scale (`retrostep.formats.trace.quantise`),
then fed to the very file that runs on the board (`retrostep.firmware.gait`).

    retrostep replay TRACE.csv [--json]
"""

import os

from retrostep.engine.run import engine_result, engine_settings, run_engine
from retrostep.firmware import logbook
from retrostep.formats.logdecode import decode_file, to_result
from retrostep.formats.trace import quantise, read_trace
from retrostep.schema import side_of
from retrostep.term import plural

MAX_PROBLEMS_SHOWN = 5


def replay_trace(trace, settings=None):
    """Replay a Trace; returns the result dict (`retrostep.schema.result`)."""
    board = quantise(trace)
    settings, cal = engine_settings(trace.meta, settings)
    eng, raw = run_engine(board.samples, board.odr_hz, board.accel_ug_per_lsb,
                          board.gyro_udps_per_lsb, settings, cal, board.gaps)
    result = engine_result(eng, raw, len(board.samples) + board.lost, board.odr_hz,
                           board.time_of)
    if trace.gaps:
        result["gaps"] = [[round(a, 6), round(b, 6)] for a, b in trace.gaps]
    return result


def replay_file(path, settings=None):
    """Replay a trace CSV, or a board's session log (.rsl).

    A session log recorded with raw samples is re-run through the engine from those
    samples (and the result says whether it matches what the board logged); without
    raw samples, the board's own logged result is returned.
    """
    if _is_session_log(path):
        return replay_log(path, settings)
    return replay_trace(read_trace(path), settings)


def _is_session_log(path):
    if not os.path.isfile(path):
        return False  # read_trace says what the path is (a pipe would block here)
    try:
        with open(path, "rb") as f:
            return f.read(len(logbook.MAGIC)) == logbook.MAGIC
    except OSError:
        return False  # read_trace says what is wrong with the path


def replay_log(path, settings=None):
    log = decode_file(path)
    logged = to_result(log)
    raw = log.raw_samples()
    if raw is None or not len(raw):
        logged["source"] = "the board's logged events (recorded without raw samples)"
        return logged
    h = log.header
    gaps = log.raw_gaps()  # raw blocks lost to damage keep later events on time
    eng, events = run_engine(raw, h["odr_hz"], h["accel_ug_per_lsb"], h["gyro_udps_per_lsb"],
                             settings, gaps=gaps)
    lost = sum(n for _, n in gaps)
    result = engine_result(eng, events, len(raw) + lost, h["odr_hz"],
                           lambda k: k / h["odr_hz"])
    board_events = [r.event() for r in log.records if r.event() is not None]
    result["source"] = "the engine re-run on the session's raw samples"
    result["matches_board"] = board_events == events
    result["raw_gaps"] = []
    before = 0  # samples lost before this gap
    for i, n in gaps:
        result["raw_gaps"].append({"t_s": round((i + before) / h["odr_hz"], 4),
                                   "lost_samples": n})
        before += n
    result["problems"] = logged["problems"]
    return result


def summary_text(result, name=""):
    lines = [
        f"{name}: {result['duration_s']:.1f} s at {result['odr_hz']} Hz" if name else "",
        f"steps {result['steps']} (forward {result['forward_steps']}, backward "
        f"{result['backward_steps']}); strides of this foot {result['strides']}; "
        + plural(result["drift_alerts"], "drift alert"),
    ]
    bouts = [e for e in result["events"] if e["type"] in ("bout_start", "bout_end")]
    for e in bouts:
        lines.append(f"  {e['t_s']:8.2f} s  {e['type'].replace('_', ' ')}")
    for e in result["events"]:
        if e["type"] == "drift_alert":
            lines.append(f"  {e['t_s']:8.2f} s  drift alert ({e['cause']}, "
                         f"{abs(e['lateral_offset_m']):.2f} m to the walker's "
                         f"{side_of(e['lateral_offset_m'])})")
    if result.get("heading_trusted") is False:
        lines.append(f"  drift alerts withheld: at each landing the gyro's attitude was "
                     f"{result['landing_tilt_deg']:.1f} deg off gravity (trusted under "
                     f"{result['trust_tilt_deg']} deg), so the heading cannot tell a drift "
                     "from its own error")
    for g in result.get("raw_gaps", []):
        lines.append(f"  {g['t_s']:8.2f} s  {g['lost_samples']} raw samples missing (the "
                     "engine was told: later events keep their times)")
    problems = result.get("problems", [])
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        lines.append(f"  damaged log: {p['reason']} (byte {p['offset']})")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
    return "\n".join(x for x in lines if x)
