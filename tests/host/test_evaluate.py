"""The scorer: matching, direction accuracy, step error and drift alerts."""

import json
import os
import subprocess
import sys

import pytest

from retrostep.analysis.evaluate import match_strides, score, summarise

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


# ---------------------------------------------------------------------------- new figures

SIDE_LABELS = {
    "steps": 8, "sideways_steps": 4, "forward_steps": 4,
    "strides": [
        {"t_land_s": 1.0, "direction": "forward"},
        {"t_land_s": 2.0, "direction": "forward"},
        {"t_land_s": 3.0, "direction": "sideways"},
        {"t_land_s": 4.0, "direction": "sideways"},
    ],
    "drift": {"lateral_offset_m": [], "leaves_line_t_s": None},
}


def test_sideways_strides_have_their_own_direction_accuracy_and_confusion():
    result = {"steps": 8, "events": [stride(1.0, "forward"), stride(2.0, "forward"),
                                     stride(3.0, "sideways"), stride(4.0, "forward")]}
    s = score(result, SIDE_LABELS)
    assert s["sideways_strides"] == 2 and s["sideways_matched"] == 2
    assert s["sideways_correct"] == 1 and s["sideways_accuracy"] == 0.5
    assert s["forward_accuracy"] == 1.0 and s["backward_accuracy"] is None
    assert s["true_steps"] == 8  # side-steps are steps
    assert s["confusion"] == {"forward": {"forward": 2},
                              "sideways": {"sideways": 1, "forward": 1}}
    assert summarise({"a": s})["sideways_accuracy"] == 0.5


def test_stride_timing_errors_per_trace_and_pooled_median_in_ms():
    early = score({"steps": 8, "events": [stride(0.95, "forward"), stride(1.97, "forward"),
                                          stride(3.10, "sideways")]}, SIDE_LABELS)
    assert [round(e, 6) for e in early["timing_errors_s"]] == [-0.05, -0.03, 0.10]
    assert abs(early["timing_error_median_s"] + 0.03) < 1e-9
    late = score({"steps": 8, "events": [stride(1.02, "forward"), stride(2.2, "forward")]},
                 SIDE_LABELS)
    assert abs(late["timing_error_median_s"] - 0.11) < 1e-9  # even count: mean of the two
    # pooled over all matched strides of all traces: |errors| 50, 30, 100, 20, 200 ms
    summ = summarise({"early": early, "late": late})
    assert abs(summ["timing_error_ms_median"] - 50.0) < 1e-6
    none = score({"steps": 0, "events": []}, SIDE_LABELS)
    assert none["timing_errors_s"] == [] and none["timing_error_median_s"] is None
    assert summarise({"none": none})["timing_error_ms_median"] is None


def walk_score(true_steps, counted):
    labels = {"steps": true_steps, "strides": [], "drift": {}}
    return score({"steps": counted, "events": []}, labels)


def test_step_error_median_and_p90_are_absolute_percentages():
    errors = [1, -2, 3, -4, 5, -6, 7, -8, 9, -30]  # % on ten walks of 100 steps
    scores = {f"w{i}": walk_score(100, 100 + e) for i, e in enumerate(errors)}
    summ = summarise(scores)
    assert summ["step_error_pct_median"] == 6.0  # upper median of 1..9, 30
    assert summ["step_error_pct_p90"] == 9.0  # nearest rank: the 9th of 10
    assert summ["step_error_pct_worst"] == 30.0


def drift_labels(drifting):
    series = [[0, 0.0], [2, 0.3], [4, 0.8], [6, 1.4]] if drifting else [[0, 0.0], [6, 0.05]]
    return {"steps": 12, "strides": [], "drift": {
        "lateral_offset_m": series, "leaves_line_t_s": 3.5 if drifting else None}}


def alerts(*times):
    return {"steps": 12, "events": [{"t_s": t, "type": "drift_alert"} for t in times]}


def test_drifting_walks_alerted_in_time_and_straight_walks_with_alerts():
    scores = {
        "drift_early": score(alerts(3.8), drift_labels(True)),  # 0.72 m: in time
        "drift_late": score(alerts(5.5), drift_labels(True)),  # 1.25 m: too late
        "drift_silent": score(alerts(), drift_labels(True)),
        "straight_quiet": score(alerts(), drift_labels(False)),
        "straight_buzzed": score(alerts(4.0), drift_labels(False)),
        "standing": score({"steps": 3, "events": [{"t_s": 1, "type": "drift_alert"}]},
                          {"steps": 0, "strides": []}),
    }
    assert scores["straight_buzzed"]["straight_walk"] is True
    assert scores["drift_early"]["straight_walk"] is False
    assert scores["standing"]["walking"] is False
    summ = summarise(scores)
    assert (summ["drifts_caught"], summ["drifts"]) == (1, 3)
    assert (summ["straight_walks_alerted"], summ["straight_walks"]) == (1, 2)
    assert summ["steps_on_non_walking"] == 3 and summ["non_walking_traces"] == 1


def test_cli_prints_every_summary_figure(tmp_path):
    r, lab = tmp_path / "r.json", tmp_path / "l.json"
    r.write_text(json.dumps({"steps": 8, "events": [stride(1.0, "forward"),
                                                    stride(3.05, "sideways")]}))
    lab.write_text(json.dumps(SIDE_LABELS))
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "eval", str(r), str(lab)],
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert p.returncode == 0, p.stderr
    for text in ("recall 50.0%", "sideways 100.0%", "median |detected - labelled contact| 25 ms",
                 "p90 0.00%", "steps counted on non-walking traces: 0",
                 "alerted before 1.0 m of true offset: 0/0",
                 "straight walks with any drift alert: 0/1"):
        assert text in p.stdout, (text, p.stdout)


GOOD_RESULT = {"steps": 2, "events": [{"t_s": 1.0, "type": "stride", "direction": "backward"}]}
GOOD_LABELS = {"steps": 2, "strides": [{"t_land_s": 1.0, "direction": "backward"}]}
HOSTILE = [  # (which file is bad, its JSON text, words of the one-line error)
    ("result", "[1, 2]", ["a list, not an object"]),
    ("result", "{}", ["'steps'"]),
    ("result", '{"steps": "2", "events": []}', ["'steps'"]),
    ("result", '{"steps": true, "events": []}', ["'steps'"]),
    ("result", '{"steps": 2, "events": {}}', ["'events'"]),
    ("result", '{"steps": 2, "events": [{"t_s": "1"}]}', ["event 0"]),
    ("result", '{"steps": 2, "events": [7]}', ["event 0"]),
    ("result", "[" * 100000 + "]" * 100000, ["nested too deeply"]),
    ("result", '{"steps": 2, "events": [', ["not a valid"]),
    ("labels", '"text"', ["a str, not an object"]),
    ("labels", '{"strides": {}}', ["'strides' is not a list"]),
    ("labels", '{"strides": [{"t_land_s": "1", "direction": "backward"}]}', ["stride 0"]),
    ("labels", '{"strides": [{"t_land_s": 1}]}', ["stride 0"]),
    ("labels", '{"steps": -1, "strides": []}', ["'steps'"]),
    ("labels", '{"strides": [], "drift": []}', ["'drift'"]),
    ("labels", '{"strides": [], "drift": {"lateral_offset_m": [[1]]}}', ["lateral_offset_m"]),
    ("labels", '{"strides": [], "drift": {"leaves_line_t_s": "soon"}}', ["leaves_line_t_s"]),
]


@pytest.mark.parametrize("which,text,words", HOSTILE)
def test_hostile_json_is_one_line_and_exit_2(tmp_path, capsys, which, text, words):
    from retrostep import cli

    files = {"result": json.dumps(GOOD_RESULT), "labels": json.dumps(GOOD_LABELS)}
    files[which] = text
    for name, body in files.items():
        (tmp_path / f"{name}.json").write_text(body)
    assert cli.main(["eval", str(tmp_path / "result.json"), str(tmp_path / "labels.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("retrostep eval: error: "), err
    assert f"{which}.json" in err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.parametrize("kind", ["directory", "pipe"])
def test_a_result_that_is_not_a_file_is_refused_not_read(tmp_path, capsys, kind):
    from retrostep import cli

    target = tmp_path / "result.json"
    target.mkdir() if kind == "directory" else os.mkfifo(target)
    (tmp_path / "labels.json").write_text(json.dumps(GOOD_LABELS))
    assert cli.main(["eval", str(target), str(tmp_path / "labels.json")]) == 2
    assert "not a replay result JSON file" in capsys.readouterr().err


def test_the_good_pair_of_the_hostile_tests_scores():
    s = score(GOOD_RESULT, GOOD_LABELS)
    assert s["recall"] == 1.0 and s["backward_accuracy"] == 1.0
