"""The result schema, in one place: event names, directions, counters, the result dict.

The result is the JSON of `retrostep replay --json` (its contract is in README.md,
"Replay JSON"). Replay of a trace, the decoding of a board's session log and the
virtual board's report all build it here, so a counter is added in one place:
`COUNTERS` and the three `counts_from_*` functions.

One sign convention, seen from above with x along the toe at the start: + is to the
left. heading_deg (-180, 180]: + = the foot turned left (counter-clockwise);
lateral_offset_m: + = the walker is left of the line (the walker's own left, whichever
way they walk); the report's path: + y = to the left.
"""

from retrostep.firmware import gait
from retrostep.units import bam16_to_deg, signed_deg

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
ALERT_CAUSES = {1: "offset", 2: "heading"}

# the result's counters, in the order the JSON lists them. Steps count both feet (two
# per stride of the instrumented foot); side-steps are steps but neither forward nor
# backward.
COUNTERS = ("steps", "strides", "forward_steps", "backward_steps", "forward_strides",
            "backward_strides", "sideways_steps", "sideways_strides", "drift_alerts")


def event_dict(raw, time_of):
    """One engine event (its EV_FIELDS ints) as a JSON dict; `time_of(sample)` -> s."""
    kind, sample = raw[0], raw[1]
    out = {"t_s": round(time_of(sample), 4), "type": EVENT_NAMES.get(kind, str(kind))}
    if kind == gait.EV_STRIDE:
        out["direction"] = DIRECTION_NAMES.get(raw[2], "unknown")
        out["confidence"] = raw[3]
        out["length_m"] = raw[4] / 1000
        out["heading_deg"] = round(signed_deg(bam16_to_deg(raw[5])), 1)
        out["lateral_offset_m"] = raw[6] / 1000
    elif kind in (gait.EV_DRIFT, gait.EV_ON_LINE):
        out["cause"] = ALERT_CAUSES.get(raw[3], "")
        out["lateral_offset_m"] = raw[4] / 1000
    elif kind == gait.EV_BOUT_END:
        out["strides"] = raw[4]
    elif kind == gait.EV_CALIBRATED:
        out["mount_yaw_deg"] = round(bam16_to_deg(raw[4]), 1)
    return out


def counts_from_engine(eng):
    """The counters of a running (or finished) `gait.Gait`."""
    return {"steps": eng.steps, "strides": eng.strides,
            "forward_steps": eng.forward_steps, "backward_steps": eng.backward_steps,
            "forward_strides": eng.forward_strides,
            "backward_strides": eng.backward_strides,
            "sideways_steps": eng.sideways_steps,
            "sideways_strides": eng.sideways_strides, "drift_alerts": eng.alerts}


def counts_from_summary(s):
    """The counters of a session log's summary record (the engine's own counters)."""
    counts = {k: s[k] for k in ("steps", "strides", "forward_steps", "backward_steps",
                                "forward_strides", "backward_strides")}
    counts["drift_alerts"] = s["alerts"]
    return _with_sideways(counts)


def counts_from_events(raw_events):
    """The counters of a list of raw events (a log cut short has no summary)."""
    strides = {d: 0 for d in DIRECTION_NAMES}
    alerts = 0
    for ev in raw_events:
        if ev[0] == gait.EV_STRIDE:
            strides[ev[2] if ev[2] in strides else gait.SIDEWAYS] += 1
        elif ev[0] == gait.EV_DRIFT:
            alerts += 1
    n = sum(strides.values())
    counts = {"steps": 2 * n, "strides": n,
              "forward_steps": 2 * strides[gait.FORWARD],
              "backward_steps": 2 * strides[gait.BACKWARD],
              "forward_strides": strides[gait.FORWARD],
              "backward_strides": strides[gait.BACKWARD], "drift_alerts": alerts}
    return _with_sideways(counts)


def _with_sideways(counts):
    counts["sideways_steps"] = (counts["steps"] - counts["forward_steps"]
                                - counts["backward_steps"])
    counts["sideways_strides"] = (counts["strides"] - counts["forward_strides"]
                                  - counts["backward_strides"])
    return counts


def add_counts(total, counts):
    """Add `counts` into `total` (a dict of COUNTERS); missing counters count 0."""
    for k in COUNTERS:
        total[k] = total.get(k, 0) + int(counts.get(k, 0) or 0)
    return total


def result(counts, n_samples, odr_hz, events, **extra):
    """The result dict: counters (COUNTERS order), duration, rate, events, then extras."""
    out = {k: counts[k] for k in COUNTERS}
    out.update(duration_s=round(n_samples / odr_hz, 3), odr_hz=odr_hz, events=events)
    out.update(extra)
    return out


def side_of(lateral_offset_m):
    """'left' or 'right' of the line for a lateral offset (see the sign convention),
    '' on it."""
    if lateral_offset_m > 0:
        return "left"
    if lateral_offset_m < 0:
        return "right"
    return ""
