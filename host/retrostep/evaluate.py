"""Score a replay result against the ground-truth labels of a trace.

The result is the JSON of `retrostep replay --json` (DESIGN.md section 6); the labels
come from the simulator (`NAME.labels.json`) or from a hand-labelled recording with the
same fields. Every later accuracy figure of the project is computed here.

    retrostep eval RESULT.json LABELS.json     one trace
    retrostep eval CORPUS_DIR                  replay and score every labelled trace
"""

import json
import math
import os

from .errors import RetrostepError

MATCH_TOL_S = 0.35  # a detected stride matches a labelled landing within this time
ALERT_DEADLINE_M = 1.0  # a drift must be alerted before the true offset reaches this
ALERT_MIN_TRUE_M = 0.25  # an alert while the true offset is below this is a false alert


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
    for t, y in series:
        if abs(y) >= limit_m:
            return t
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

    for direction in ("forward", "backward"):
        pairs = [(i, j) for i, j in matched if lab[j]["direction"] == direction]
        right = sum(1 for i, j in pairs if det[i].get("direction") == direction)
        out[f"{direction}_strides"] = sum(1 for s in lab if s["direction"] == direction)
        out[f"{direction}_matched"] = len(pairs)
        out[f"{direction}_correct"] = right
        out[f"{direction}_accuracy"] = right / len(pairs) if pairs else None

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


def summarise(scores):
    """Aggregate per-trace scores (dict name -> score) into overall figures."""

    def ratio(num_key, den_key):
        num = sum(s[num_key] for s in scores.values())
        den = sum(s[den_key] for s in scores.values())
        return num / den if den else None

    walking = [s for s in scores.values() if s["true_steps"] > 0]
    errs = sorted(abs(s["step_error_pct"]) for s in walking)
    still = [s for s in scores.values() if s["true_steps"] == 0]
    drift = [s for s in scores.values() if s["drift_expected"]]
    return {
        "traces": len(scores),
        "step_error_pct_median": errs[len(errs) // 2] if errs else None,
        "step_error_pct_worst": errs[-1] if errs else None,
        "recall": ratio("matched", "true_strides"),
        "precision": ratio("matched", "strides"),
        "forward_accuracy": ratio("forward_correct", "forward_matched"),
        "backward_accuracy": ratio("backward_correct", "backward_matched"),
        "steps_on_non_walking": sum(s["steps"] for s in still),
        "drifts": len(drift),
        "drifts_caught": sum(1 for s in drift if s["drift_caught"]),
        "false_alerts": sum(s["false_alerts"] for s in scores.values()),
    }


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise RetrostepError(f"{path}: no such {what} file; check the path") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RetrostepError(
            f"{path}: not a valid {what} JSON file ({exc}); regenerate it"
        ) from None


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

    replay_fn(trace_path) -> result dict; defaults to retrostep.replay.replay_file.
    Returns (scores by name, summary).
    """
    if replay_fn is None:
        from .replay import replay_file as replay_fn
    scores = {}
    for name, trace_path, labels_path in labelled_traces(directory):
        labels = load_json(labels_path, "labels")
        s = score(replay_fn(trace_path), labels)
        s["kind"] = labels.get("kind", "")
        scores[name] = s
    return scores, summarise(scores)


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def print_scores(scores, summary, console=None):
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="retrostep accuracy", show_lines=False)
    for col in ("trace", "steps", "true", "err%", "recall", "prec", "fwd acc",
                "bwd acc", "alerts", "drift"):
        table.add_column(col, justify="left" if col == "trace" else "right")
    for name, s in scores.items():
        err = "-" if s["step_error_pct"] is None else f"{s['step_error_pct']:+.1f}"
        drift = {None: "-", True: "caught", False: "MISSED"}[s["drift_caught"]]
        table.add_row(name, str(s["steps"]), str(s["true_steps"]), err,
                      _pct(s["recall"]), _pct(s["precision"]),
                      _pct(s["forward_accuracy"]), _pct(s["backward_accuracy"]),
                      f"{s['alerts']} ({s['false_alerts']} false)", drift)
    console.print(table)
    med, worst = summary["step_error_pct_median"], summary["step_error_pct_worst"]
    console.print(
        f"overall: {summary['traces']} traces; step error median "
        f"{'-' if med is None else f'{med:.2f}%'}, worst "
        f"{'-' if worst is None else f'{worst:.2f}%'}; stride recall "
        f"{_pct(summary['recall'])}, precision {_pct(summary['precision'])}; direction "
        f"forward {_pct(summary['forward_accuracy'])}, backward "
        f"{_pct(summary['backward_accuracy'])}; steps on non-walking traces "
        f"{summary['steps_on_non_walking']}; drifts caught {summary['drifts_caught']}/"
        f"{summary['drifts']}; false alerts {summary['false_alerts']}"
    )


def do_eval(args):
    if args.labels is None:
        scores, summary = evaluate_directory(args.target)
    else:
        result = load_json(args.target, "replay result")
        labels = load_json(args.labels, "labels")
        scores = {os.path.basename(args.target): score(result, labels)}
        summary = summarise(scores)
    if args.json:
        print(json.dumps({"traces": scores, "summary": summary}, indent=2))
    else:
        print_scores(scores, summary)
    return 0


def register(sub):
    p = sub.add_parser(
        "eval",
        help="score replay results against labels",
        description="Score `retrostep replay --json` output against a labels JSON, or "
        "replay and score every NAME.csv + NAME.labels.json in a directory.",
    )
    p.add_argument("target", help="RESULT.json (with LABELS) or a directory of traces")
    p.add_argument("labels", nargs="?", help="LABELS.json for a single RESULT.json")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=do_eval)
