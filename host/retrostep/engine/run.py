"""Run the board's engine source (`retrostep.firmware.gait`) on CPython, as the board
runs it: int16 samples fed in FIFO-sized batches, lost samples announced with `gap()`,
the input's end announced with `flush()`."""

import math
from array import array

from retrostep.schema import counts_from_engine, event_dict, result
from retrostep.errors import RetrostepError
from retrostep.firmware import gait
from retrostep.formats.samples import int16_flat
from retrostep.formats.trace import gap_rows, meta_value

# trace metadata the board writes about its calibration, honoured by a replay
META_SETTINGS = ("mount_yaw_deg",)
META_CALIBRATE = "calibrate_forward_strides"
CHUNK = 4096  # samples per feed() call: the board feeds FIFO batches the same way


def engine_settings(meta, settings=None):
    """Engine settings from a trace's metadata (the board's calibration) and overrides.

    Returns (settings dict, number of calibration strides at the start or 0).
    """
    out = {key: meta_value(key, meta[key]) for key in META_SETTINGS if key in meta}
    cal = meta_value(META_CALIBRATE, meta[META_CALIBRATE]) if META_CALIBRATE in meta else 0
    out.update(settings or {})
    return out, cal


def new_engine(odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, settings=None,
               calibrate_strides=0):
    """A fresh `gait.Gait`; bad settings are a RetrostepError naming the setting."""
    try:
        eng = gait.Gait(odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, **(settings or {}))
    except ValueError as exc:
        raise RetrostepError(f"gait settings: {exc}") from None
    if calibrate_strides:
        eng.calibrate(calibrate_strides)
    return eng


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
    flat = int16_flat(samples)
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


def heading_trust(eng):
    """Whether the engine trusts its heading for drift alerts now: None before the
    first stride (nothing to judge yet), else True or False."""
    return None if eng.landing_tilt_q14() < 0 else bool(eng.heading_trusted())


def engine_result(eng, raw, n_samples, odr_hz, time_of, **extra):
    """The result dict of a finished run (engine counters, events on `time_of`), with
    whether the heading could be trusted for drift alerts at the end (`heading_trusted`;
    None before any stride), the landings' tilt error behind it (`landing_tilt_deg`) and
    the level it is trusted under (`trust_tilt_deg`)."""
    tilt = eng.landing_tilt_q14()
    tilt_deg = None if tilt < 0 else round(math.degrees(math.asin(min(tilt, 16384) / 16384)), 1)
    return result(counts_from_engine(eng), n_samples, odr_hz,
                  [event_dict(e, time_of) for e in raw], heading_trusted=heading_trust(eng),
                  landing_tilt_deg=tilt_deg,
                  trust_tilt_deg=eng.settings()["trust_tilt_deg"], **extra)
