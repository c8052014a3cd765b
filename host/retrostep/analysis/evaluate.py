"""Score a replay result against the ground-truth labels of a trace.

The result is the JSON of `retrostep replay --json` (`retrostep.schema`); the labels
come from the simulator (`NAME.labels.json`) or from a hand-labelled recording with the
same fields. Every later accuracy figure of the project is computed here.

    retrostep eval RESULT.json LABELS.json     one trace
    retrostep eval CORPUS_DIR                  replay and score every labelled trace

What the summary reports (`summarise`): stride recall and precision; direction
accuracy of forward, backward and sideways strides; stride timing (detected minus
labelled initial contact, median absolute in ms, pooled); step error median and p90
(absolute %, walking traces); steps counted on non-walking traces (standing, tapping,
swinging, turning on the spot); drifting walks alerted before 1.0 m of true offset out
of all drifting walks; straight (non-drifting) walks with any drift alert.
"""

import math
import os

from retrostep.errors import RetrostepError
from retrostep.formats.files import load_json

MATCH_TOL_S = 0.35  # a detected stride matches a labelled landing within this time
ALERT_DEADLINE_M = 1.0  # a drift must be alerted before the true offset reaches this
ALERT_MIN_TRUE_M = 0.25  # an alert while the true offset is below this is a false alert
STRIDE_DIRECTIONS = ("forward", "backward", "sideways")


def match_strides(detected_t, labelled_t, tol_s=MATCH_TOL_S):
    """One-to-one matching of detected to labelled stride times, closest pairs first.

    Returns a list of (detected_index, labelled_index) pairs.
    """
    pairs = []
    for i, td in enumerate(detected_t):
        for j, tl in enumerate(labelled_t):
            d = abs(td - tl)
            if d <= tol_s:
                pairs.append((d, i, j))
    pairs.sort()
    used_d, used_l, matched = set(), set(), []
    for _, i, j in pairs:
        if i not in used_d and j not in used_l:
            used_d.add(i)
            used_l.add(j)
            matched.append((i, j))
    matched.sort()
    return matched


def _offset_at(series, t_s):
    """True lateral offset (m) at time t_s, linearly interpolated; 0 before the series."""
    if not series:
        return 0.0
    if t_s <= series[0][0]:
        return 0.0
    for (t0, y0), (t1, y1) in zip(series, series[1:]):
        if t0 <= t_s <= t1:
            return y0 if t1 == t0 else y0 + (y1 - y0) * (t_s - t0) / (t1 - t0)
    return series[-1][1]


def _first_time_beyond(series, limit_m):
    """When |offset| first reaches limit_m, interpolated between the series' points."""
    prev = None
    for t, y in series:
        if abs(y) >= limit_m:
            if prev is None or prev[1] == y:
                return t
            t0, y0 = prev
            # the linear piece from (t0, y0) reaches +-limit (same sign as y) at:
            target = math.copysign(limit_m, y)
            return t0 + (t - t0) * (target - y0) / (y - y0)
        prev = (t, y)
    return None


def score(result, labels, tol_s=MATCH_TOL_S):
    """Compare one replay result with its labels; returns a dict of counts and rates.

    Labelled strides that go nowhere (direction "in_place": turning on the spot) are
    not steps the engine should count: they are left out of the expected steps and
    strides, so a detection there costs precision. Rates whose denominator is zero are
    None (e.g. backward accuracy on a forward walk).
    """
    events = result.get("events", [])
    det = [e for e in events if e.get("type") == "stride"]
    det_t = [float(e["t_s"]) for e in det]
    lab = [s for s in labels.get("strides", []) if s.get("direction") != "in_place"]
    lab_t = [float(s["t_land_s"]) for s in lab]
    matched = match_strides(det_t, lab_t, tol_s)

    out = {
        "true_steps": int(labels.get("steps", 0)) - int(labels.get("in_place_steps", 0)),
        "steps": int(result.get("steps", 0)),
        "true_strides": len(lab),
        "strides": len(det),
        "matched": len(matched),
    }
    out["step_error"] = out["steps"] - out["true_steps"]
    out["step_error_pct"] = (
        100.0 * out["step_error"] / out["true_steps"] if out["true_steps"] else None
    )
    out["recall"] = len(matched) / len(lab) if lab else None
    out["precision"] = len(matched) / len(det) if det else None

    out.update(_direction_scores(det, lab, matched))
    out.update(_timing_scores(det_t, lab_t, matched))
    out.update(_drift_scores(events, labels))
    out["walking"] = out["true_steps"] > 0
    out["straight_walk"] = out["walking"] and not out["drift_expected"]
    return out


def _direction_scores(det, lab, matched):
    """Per labelled direction: strides, matched, correct, accuracy; and a confusion
    table {labelled: {detected: count}} over matched strides."""
    out, confusion = {}, {}
    for i, j in matched:
        row = confusion.setdefault(lab[j]["direction"], {})
        got = det[i].get("direction", "?")
        row[got] = row.get(got, 0) + 1
    for direction in STRIDE_DIRECTIONS:
        pairs = [(i, j) for i, j in matched if lab[j]["direction"] == direction]
        right = sum(1 for i, j in pairs if det[i].get("direction") == direction)
        out[f"{direction}_strides"] = sum(1 for s in lab if s["direction"] == direction)
        out[f"{direction}_matched"] = len(pairs)
        out[f"{direction}_correct"] = right
        out[f"{direction}_accuracy"] = right / len(pairs) if pairs else None
    out["confusion"] = confusion
    return out


def _median(values):
    v = sorted(values)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def _timing_scores(det_t, lab_t, matched):
    """Detected minus labelled contact time (s) of every matched stride, and the median."""
    errors = [det_t[i] - lab_t[j] for i, j in matched]
    return {"timing_errors_s": errors, "timing_error_median_s": _median(errors)}


def _drift_scores(events, labels):
    out = {}
    drift = labels.get("drift") or {}
    series = [tuple(p) for p in drift.get("lateral_offset_m", [])]
    alerts = [float(e["t_s"]) for e in events if e.get("type") == "drift_alert"]
    deadline = _first_time_beyond(series, ALERT_DEADLINE_M)
    leaves = drift.get("leaves_line_t_s")
    true_alerts = [t for t in alerts if abs(_offset_at(series, t)) >= ALERT_MIN_TRUE_M]
    out["alerts"] = len(alerts)
    out["false_alerts"] = len(alerts) - len(true_alerts)
    out["drift_expected"] = leaves is not None
    if leaves is not None:
        limit = deadline if deadline is not None else math.inf
        caught = [t for t in true_alerts if t <= limit]
        out["drift_caught"] = bool(caught)
        out["alert_delay_s"] = (caught[0] - leaves) if caught else None
        out["offset_at_alert_m"] = abs(_offset_at(series, caught[0])) if caught else None
    else:
        out["drift_caught"] = None
    return out


def _percentile(sorted_values, q):
    """Nearest-rank percentile (q in 0..100) of an ascending list; None if empty."""
    if not sorted_values:
        return None
    k = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


def summarise(scores):
    """Aggregate per-trace scores (dict name -> score) into overall figures.

    Rates pool strides over all traces. drifts_caught / drifts: drifting walks alerted
    before the true offset passed 1.0 m / all drifting walks; straight_walks_alerted /
    straight_walks: walking traces that do not drift with any drift alert.
    """

    def ratio(num_key, den_key):
        num = sum(s.get(num_key, 0) for s in scores.values())
        den = sum(s.get(den_key, 0) for s in scores.values())
        return num / den if den else None

    walking = [s for s in scores.values() if s["true_steps"] > 0]
    errs = sorted(abs(s["step_error_pct"]) for s in walking)
    still = [s for s in scores.values() if s["true_steps"] == 0]
    drift = [s for s in scores.values() if s["drift_expected"]]
    straight = [s for s in walking if not s["drift_expected"]]
    timing = [abs(e) for s in scores.values() for e in s.get("timing_errors_s", [])]
    median_timing = _median(timing)
    return {
        "traces": len(scores),
        "step_error_pct_median": errs[len(errs) // 2] if errs else None,
        "step_error_pct_p90": _percentile(errs, 90),
        "step_error_pct_worst": errs[-1] if errs else None,
        "recall": ratio("matched", "true_strides"),
        "precision": ratio("matched", "strides"),
        "forward_accuracy": ratio("forward_correct", "forward_matched"),
        "backward_accuracy": ratio("backward_correct", "backward_matched"),
        "sideways_accuracy": ratio("sideways_correct", "sideways_matched"),
        "timing_error_ms_median": None if median_timing is None else 1000.0 * median_timing,
        "steps_on_non_walking": sum(s["steps"] for s in still),
        "non_walking_traces": len(still),
        "drifts": len(drift),
        "drifts_caught": sum(1 for s in drift if s["drift_caught"]),
        "straight_walks": len(straight),
        "straight_walks_alerted": sum(1 for s in straight if s["alerts"] > 0),
        "false_alerts": sum(s["false_alerts"] for s in scores.values()),
    }


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def check_result(result, path="result"):
    """Refuse (one line) a JSON value that is not a replay result score() can read."""
    def bad(what):
        raise RetrostepError(f"{path}: not a replay result ({what}); make it with "
                             "`retrostep replay TRACE --json`")

    if not isinstance(result, dict):
        bad(f"the JSON is a {type(result).__name__}, not an object")
    if not _is_count(result.get("steps")):
        bad("'steps' is missing or not a whole number")
    events = result.get("events")
    if not isinstance(events, list):
        bad("'events' is missing or not a list")
    for k, e in enumerate(events):
        if not isinstance(e, dict) or not _is_number(e.get("t_s")):
            bad(f"event {k} has no number 't_s'")
    return result


def check_labels(labels, path="labels"):
    """Refuse (one line) a JSON value that is not a labels file score() can read."""
    def bad(what):
        raise RetrostepError(f"{path}: not a labels file ({what}); make it with "
                             "`retrostep simulate` or `retrostep corpus`")

    if not isinstance(labels, dict):
        bad(f"the JSON is a {type(labels).__name__}, not an object")
    for key in ("steps", "in_place_steps"):
        if key in labels and not _is_count(labels[key]):
            bad(f"'{key}' is not a whole number")
    strides = labels.get("strides", [])
    if not isinstance(strides, list):
        bad("'strides' is not a list")
    for k, s in enumerate(strides):
        if not (isinstance(s, dict) and _is_number(s.get("t_land_s"))
                and isinstance(s.get("direction"), str)):
            bad(f"stride {k} needs a number 't_land_s' and a 'direction'")
    drift = labels.get("drift")
    if drift is not None:
        if not isinstance(drift, dict):
            bad("'drift' is not an object")
        leaves = drift.get("leaves_line_t_s")
        if leaves is not None and not _is_number(leaves):
            bad("'drift.leaves_line_t_s' is not a number")
        series = drift.get("lateral_offset_m", [])
        if not (isinstance(series, list) and all(
                isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p)
                for p in series)):
            bad("'drift.lateral_offset_m' is not a list of [t_s, metres] pairs")
    return labels


def labelled_traces(directory):
    """(name, trace_path, labels_path) of every trace in a directory that has labels."""
    if not os.path.isdir(directory):
        raise RetrostepError(f"{directory}: not a directory of traces")
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".csv"):
            stem = name[:-4]
            labels = os.path.join(directory, stem + ".labels.json")
            if os.path.exists(labels):
                found.append((stem, os.path.join(directory, name), labels))
    if not found:
        raise RetrostepError(
            f"{directory}: no NAME.csv with a NAME.labels.json beside it; "
            "make a corpus with `retrostep corpus DIR`"
        )
    return found


def evaluate_directory(directory, replay_fn=None):
    """Replay every labelled trace in a directory and score it.

    replay_fn(trace_path) -> result dict; defaults to retrostep.analysis.replay.replay_file.
    Returns (scores by name, summary).
    """
    if replay_fn is None:
        from retrostep.analysis.replay import replay_file as replay_fn
    scores = {}
    for name, trace_path, labels_path in labelled_traces(directory):
        labels = check_labels(load_json(labels_path, "labels"), labels_path)
        s = score(replay_fn(trace_path), labels)
        s["kind"] = labels.get("kind", "")
        scores[name] = s
    return scores, summarise(scores)


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def _ms(x):
    return "-" if x is None else f"{1000 * x:+.0f}"


def print_scores(scores, summary, console=None):
    from retrostep import term
    from rich.table import Table

    console = console or term.console()
    table = Table(title="retrostep accuracy", show_lines=False)
    for col in ("trace", "steps", "true", "err%", "recall", "prec", "fwd acc",
                "bwd acc", "side acc", "dt ms", "alerts", "drift"):
        table.add_column(col, justify="left" if col == "trace" else "right")
    for name, s in scores.items():
        err = "-" if s["step_error_pct"] is None else f"{s['step_error_pct']:+.1f}"
        drift = {None: "-", True: "caught", False: "MISSED"}[s["drift_caught"]]
        table.add_row(name, str(s["steps"]), str(s["true_steps"]), err,
                      _pct(s["recall"]), _pct(s["precision"]),
                      _pct(s["forward_accuracy"]), _pct(s["backward_accuracy"]),
                      _pct(s.get("sideways_accuracy")), _ms(s.get("timing_error_median_s")),
                      f"{s['alerts']} ({s['false_alerts']} false)", drift)
    console.print(table)
    for line in summary_lines(summary):
        console.print(line)


def summary_lines(summary):
    """The summary as lines of plain text, one figure per line."""
    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    return [
        f"traces: {summary['traces']}",
        f"stride recall {_pct(summary['recall'])}, precision {_pct(summary['precision'])}",
        f"direction accuracy: forward {_pct(summary['forward_accuracy'])}, backward "
        f"{_pct(summary['backward_accuracy'])}, sideways "
        f"{_pct(summary.get('sideways_accuracy'))}",
        f"stride timing: median |detected - labelled contact| "
        f"{num(summary.get('timing_error_ms_median'), '.0f')} ms",
        f"step error (abs, walking traces): median "
        f"{num(summary['step_error_pct_median'], '.2f')}%, p90 "
        f"{num(summary.get('step_error_pct_p90'), '.2f')}%, worst "
        f"{num(summary['step_error_pct_worst'], '.2f')}%",
        f"steps counted on non-walking traces: {summary['steps_on_non_walking']}"
        f" ({summary.get('non_walking_traces', '-')} traces)",
        f"drifting walks alerted before 1.0 m of true offset: {summary['drifts_caught']}/"
        f"{summary['drifts']}",
        f"straight walks with any drift alert: {summary.get('straight_walks_alerted', '-')}/"
        f"{summary.get('straight_walks', '-')}; false alerts {summary['false_alerts']}",
    ]
