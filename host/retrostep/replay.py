"""Replay a trace through the gait engine, exactly as the board would run it.

The trace is quantised to the firmware's ODR and full scale (`retrostep.trace.quantise`),
then fed to the very file that runs on the board (`retrostep.firmware.gait`).

    retrostep replay TRACE.csv [--json]
"""

import json
from array import array

from .errors import RetrostepError
from .firmware import gait
from .trace import gap_rows, quantise, read_trace

EVENT_NAMES = {
    gait.EV_STRIDE: "stride",
    gait.EV_DRIFT: "drift_alert",
    gait.EV_ON_LINE: "back_on_line",
    gait.EV_BOUT_START: "bout_start",
    gait.EV_BOUT_END: "bout_end",
    gait.EV_CALIBRATED: "calibrated",
}
DIRECTION_NAMES = {gait.FORWARD: "forward", gait.BACKWARD: "backward",
                   gait.SIDEWAYS: "sideways"}
# trace metadata the board writes about its calibration, honoured by a replay
META_SETTINGS = ("mount_yaw_deg",)
META_CALIBRATE = "calibrate_forward_strides"
CHUNK = 4096  # samples per feed() call: the board feeds FIFO batches the same way


def engine_settings(meta, settings=None):
    """Engine settings from a trace's metadata (the board's calibration) and overrides.

    Returns (settings dict, number of calibration strides at the start or 0).
    """
    out = {}
    for key in META_SETTINGS:
        if key in meta:
            try:
                out[key] = int(float(meta[key]))
            except ValueError:
                raise RetrostepError(f"trace metadata {key}: {meta[key]!r} is not a "
                                     "number; fix or delete that '# ' line") from None
    cal = meta.get(META_CALIBRATE, "0")
    if not cal.isdigit():
        raise RetrostepError(f"trace metadata {META_CALIBRATE}: {cal!r} is not a whole "
                             "number; fix or delete that '# ' line")
    out.update(settings or {})
    return out, int(cal)


def run_engine(samples, odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, settings=None,
               calibrate_strides=0, gaps=()):
    """Feed int16 samples (n x 6: ax ay az gx gy gz) to a fresh engine.

    `gaps` are the samples lost, as BoardSamples.gaps: [(sample index, number lost)];
    the engine is told of each (`gap()`) where it falls, so its sample count stays on
    the trace's time base. Returns (engine, raw events): each raw event is the engine's
    EV_FIELDS ints.
    """
    eng = new_engine(odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, settings,
                     calibrate_strides)
    return eng, feed_engine(eng, samples, gaps)


def feed_engine(eng, samples, gaps=()):
    """Feed `samples` to `eng` in CHUNK batches, calling eng.gap(lost) at each gap.

    Returns the raw events popped.
    """
    flat = array("h")
    flat.frombytes(samples.astype("<i2").tobytes())
    n = len(flat) // 6
    ev = array("i", [0] * gait.EV_FIELDS)
    events = []
    done = 0
    for stop, lost in [*gap_rows(gaps), (n, 0)]:
        while done < stop:
            done = eng.feed(flat, done, min(stop, done + CHUNK))
            while eng.pop(ev):
                events.append(tuple(ev))
        if lost:
            eng.gap(lost)
    eng.flush()  # the input ends: a stride waiting for its stance is decided now
    while eng.pop(ev):
        events.append(tuple(ev))
    return events


def new_engine(odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, settings=None,
               calibrate_strides=0):
    try:
        eng = gait.Gait(odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, **(settings or {}))
    except ValueError as exc:
        raise RetrostepError(f"gait settings: {exc}") from None
    if calibrate_strides:
        eng.calibrate(calibrate_strides)
    return eng


def event_dict(raw, time_of):
    """One engine event as the JSON of DESIGN.md section 6 (plus extra fields)."""
    kind, sample = raw[0], raw[1]
    out = {"t_s": round(time_of(sample), 4), "type": EVENT_NAMES.get(kind, str(kind))}
    if kind == gait.EV_STRIDE:
        out["direction"] = DIRECTION_NAMES.get(raw[2], "unknown")
        out["confidence"] = raw[3]
        out["length_m"] = raw[4] / 1000
        out["heading_deg"] = round(raw[5] * 360 / 65536, 1)
        out["lateral_offset_m"] = raw[6] / 1000
    elif kind in (gait.EV_DRIFT, gait.EV_ON_LINE):
        out["cause"] = {1: "offset", 2: "heading"}.get(raw[3], "")
        out["lateral_offset_m"] = raw[4] / 1000
    elif kind == gait.EV_BOUT_END:
        out["strides"] = raw[4]
    elif kind == gait.EV_CALIBRATED:
        out["mount_yaw_deg"] = round(raw[4] * 360 / 65536, 1)
    return out


def replay_trace(trace, settings=None):
    """Replay a Trace; returns the result dict (DESIGN.md section 6)."""
    board = quantise(trace)
    settings, cal = engine_settings(trace.meta, settings)
    eng, raw = run_engine(board.samples, board.odr_hz, board.accel_ug_per_lsb,
                          board.gyro_udps_per_lsb, settings, cal, board.gaps)
    result = _result(eng, raw, len(board.samples) + board.lost, board.odr_hz,
                     board.time_of)
    if trace.gaps:
        result["gaps"] = [[round(a, 6), round(b, 6)] for a, b in trace.gaps]
    return result


def _result(eng, raw, n_samples, odr_hz, time_of):
    events = [event_dict(e, time_of) for e in raw]
    return {
        "steps": eng.steps,
        "strides": eng.strides,
        "forward_steps": eng.forward_steps,
        "backward_steps": eng.backward_steps,
        "forward_strides": eng.forward_strides,
        "backward_strides": eng.backward_strides,
        "sideways_steps": eng.sideways_steps,
        "sideways_strides": eng.sideways_strides,
        "drift_alerts": eng.alerts,
        "duration_s": round(n_samples / odr_hz, 3),
        "odr_hz": odr_hz,
        "events": events,
    }


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
    from .firmware import logbook

    try:
        with open(path, "rb") as f:
            return f.read(len(logbook.MAGIC)) == logbook.MAGIC
    except OSError:
        return False  # read_trace says what is wrong with the path


def replay_log(path, settings=None):
    from .logdecode import decode_file, to_result

    log = decode_file(path)
    logged = to_result(log)
    raw = log.raw_samples()
    if raw is None or not len(raw):
        logged["source"] = "the board's logged events (recorded without raw samples)"
        return logged
    h = log.header
    eng, events = run_engine(raw, h["odr_hz"], h["accel_ug_per_lsb"], h["gyro_udps_per_lsb"],
                             settings)
    result = _result(eng, events, len(raw), h["odr_hz"], lambda k: k / h["odr_hz"])
    board_events = [r.event() for r in log.records if r.event() is not None]
    result["source"] = "the engine re-run on the session's raw samples"
    result["matches_board"] = board_events == events
    return result


def summary_text(result, name=""):
    lines = [
        f"{name}: {result['duration_s']:.1f} s at {result['odr_hz']} Hz" if name else "",
        f"steps {result['steps']} (forward {result['forward_steps']}, backward "
        f"{result['backward_steps']}); strides of this foot {result['strides']}; "
        f"drift alerts {result['drift_alerts']}",
    ]
    bouts = [e for e in result["events"] if e["type"] in ("bout_start", "bout_end")]
    for e in bouts:
        lines.append(f"  {e['t_s']:8.2f} s  {e['type'].replace('_', ' ')}")
    for e in result["events"]:
        if e["type"] == "drift_alert":
            lines.append(f"  {e['t_s']:8.2f} s  drift alert ({e['cause']}, lateral "
                         f"{e['lateral_offset_m']:+.2f} m)")
    return "\n".join(x for x in lines if x)


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
    p.add_argument("trace", help="trace CSV (DESIGN.md section 6)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=do_replay)
