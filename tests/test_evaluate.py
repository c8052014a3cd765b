"""The scorer: matching, direction accuracy, step error and drift alerts."""

import json
import subprocess
import sys

from retrostep.evaluate import match_strides, score, summarise

LABELS = {
    "steps": 8,
    "strides": [
        {"t_land_s": 1.0, "direction": "forward"},
        {"t_land_s": 2.0, "direction": "forward"},
        {"t_land_s": 3.0, "direction": "backward"},
        {"t_land_s": 4.0, "direction": "backward"},
    ],
    "drift": {"lateral_offset_m": [[0, 0.0], [3, 0.1], [4, 0.6], [5, 1.2]],
              "leaves_line_t_s": 3.9},
}


def stride(t, d):
    return {"t_s": t, "type": "stride", "direction": d}


def test_matching_is_one_to_one_and_within_tolerance():
    assert match_strides([1.0, 1.1, 2.5], [1.05, 2.0]) == [(0, 0)]
    assert match_strides([1.0, 1.1], [1.08, 0.9]) == [(0, 1), (1, 0)]


def test_perfect_result_scores_perfect():
    result = {"steps": 8, "events": [stride(1.02, "forward"), stride(2.0, "forward"),
                                     stride(2.9, "backward"), stride(4.1, "backward"),
                                     {"t_s": 4.5, "type": "drift_alert"}]}
    s = score(result, LABELS)
    assert s["recall"] == 1 and s["precision"] == 1
    assert s["forward_accuracy"] == 1 and s["backward_accuracy"] == 1
    assert s["step_error"] == 0 and s["step_error_pct"] == 0
    assert s["drift_caught"] is True and s["false_alerts"] == 0
    assert abs(s["offset_at_alert_m"] - 0.9) < 1e-9


def test_wrong_direction_missed_stride_extra_stride_and_late_alert():
    result = {"steps": 7, "events": [stride(1.0, "backward"), stride(2.0, "forward"),
                                     stride(2.5, "backward"), stride(3.5, "backward"),
                                     stride(4.0, "backward"),
                                     {"t_s": 1.5, "type": "drift_alert"},
                                     {"t_s": 5.5, "type": "drift_alert"}]}
    s = score(result, LABELS)
    assert s["matched"] == 3  # 2.5 and 3.5 both > 0.35 s from 3.0
    assert s["recall"] == 0.75 and s["precision"] == 3 / 5
    assert s["forward_accuracy"] == 0.5
    assert s["backward_accuracy"] == 1.0
    assert s["step_error"] == -1 and abs(s["step_error_pct"] + 12.5) < 1e-9
    assert s["false_alerts"] == 1  # the alert at 1.5 s, offset 0.05 m
    assert s["drift_caught"] is False  # 5.5 s is after the offset passed 1.0 m


def test_summary_pools_strides_and_counts_steps_on_still_traces():
    still = {"steps": 0, "strides": []}
    scores = {"walk": score({"steps": 8, "events": [stride(1.0, "forward")]}, LABELS),
              "still": score({"steps": 2, "events": []}, still)}
    summ = summarise(scores)
    assert summ["recall"] == 0.25 and summ["steps_on_non_walking"] == 2
    assert summ["drifts"] == 1 and summ["drifts_caught"] == 0


def test_cli_scores_files_and_reports_bad_json(tmp_path):
    r, lab = tmp_path / "r.json", tmp_path / "l.json"
    r.write_text(json.dumps({"steps": 8, "events": []}))
    lab.write_text(json.dumps(LABELS))
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "eval", str(r), str(lab),
                        "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["summary"]["recall"] == 0.0
    r.write_text("{not json")
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "eval", str(r), str(lab)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not a valid replay result JSON" in p.stderr
    assert "Traceback" not in p.stderr


def test_turning_in_place_is_not_expected_to_count():
    labels = {"steps": 4, "in_place_steps": 4,
              "strides": [{"t_land_s": 1.0, "direction": "in_place"},
                          {"t_land_s": 2.0, "direction": "in_place"}]}
    quiet = score({"steps": 0, "events": []}, labels)
    assert quiet["true_steps"] == 0 and quiet["true_strides"] == 0
    busy = score({"steps": 2, "events": [stride(1.0, "forward")]}, labels)
    assert busy["precision"] == 0.0 and busy["step_error"] == 2
    assert summarise({"turn": busy})["steps_on_non_walking"] == 2
