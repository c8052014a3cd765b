"""The labelled corpus: complete, deterministic, at the stated rates, sensible labels."""

import json
import subprocess
import sys

import numpy as np
import pytest

from retrostep.sim import corpus
from retrostep.formats.trace import read_trace

# what the corpus promises: name -> sample rate
EXPECTED_RATES = {
    "walk_fwd_slow": 104, "walk_fwd_normal": 104, "walk_fwd_fast": 208,
    "walk_bwd_slow": 104, "walk_bwd_normal": 104, "jog_bwd": 208, "shuffle_bwd": 100,
    "mixed_pauses": 104, "balance_10f_9b": 104, "still_standing": 100,
    "seated_tapping": 104, "seated_leg_swing": 104, "turning_in_place": 208,
    "bwd_straight_long": 208, "bwd_curve_left": 104, "bwd_curve_right_slow": 100,
    "treadmill_fwd": 400, "treadmill_bwd": 400, "misaligned_mount": 104,
    "mount_reversed": 208,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    index = corpus.write_corpus(out)
    return out, index


def test_cases_are_the_promised_ones_at_their_rates():
    assert corpus.CORE_NAMES == tuple(EXPECTED_RATES)
    assert list(corpus.CASES)[:len(EXPECTED_RATES)] == list(EXPECTED_RATES)
    for name, rate in EXPECTED_RATES.items():
        assert corpus.CASES[name].rate_hz == rate, name
    assert set(corpus.RATES_HZ) == {100.0, 104.0, 208.0, 400.0}
    tags = {t for case in corpus.CASES.values() for t in case.tags}
    for needed in ("walk", "jog", "shuffle", "still", "tapping", "swinging", "turning",
                   "mixed", "balance", "curve", "straight", "treadmill", "misaligned",
                   "forward", "backward", "sidestep", "sideways", "vibration", "midwalk",
                   "heel_mount", "side_mount", "sensor_errors", "clock"):
        assert needed in tags, needed
    assert len({case.subject for case in corpus.CASES.values()}) >= 3
    assert len({case.seed for case in corpus.CASES.values()}) == len(corpus.CASES)


def test_tuning_and_test_sets_share_no_seed_and_no_name():
    tune = {c.seed for c in corpus.CASES.values()}
    test = {c.seed for c in corpus.FROZEN_CASES.values()}
    assert len(test) == len(corpus.FROZEN_CASES) and not tune & test
    assert not set(corpus.CASES) & set(corpus.FROZEN_CASES)
    assert 40 <= len(corpus.FROZEN_CASES) <= 60


def test_same_case_same_bytes(tmp_path):
    from retrostep.sim.gaitsim import write_case

    for name in ("balance_10f_9b", "bwd_curve_left"):
        blobs = []
        for run in range(2):
            path = tmp_path / f"{name}_{run}.csv"
            write_case(path, *corpus.make_case(name))
            labels = (tmp_path / f"{name}_{run}.labels.json").read_bytes()
            blobs.append((path.read_bytes(), labels))
        assert blobs[0] == blobs[1], name


@pytest.mark.slow
def test_every_case_is_written_and_indexed(written):
    out, index = written
    names = [e["name"] for e in index["cases"]]
    assert names == list(corpus.CASES)
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk == json.loads(json.dumps(index))
    total_s = total_bytes = 0
    for e in index["cases"]:
        trace = read_trace(out / e["trace"])
        labels = json.loads((out / e["labels"]).read_text())
        rate = corpus.CASES[e["name"]].rate_hz
        assert abs(trace.rate_hz - rate) < 0.05, e["name"]  # stamped at the nominal rate
        assert labels["rate_hz"] == e["rate_hz"] == rate
        assert labels["kind"] == e["kind"] and labels["tags"] == e["tags"]
        assert len(trace.t_s) == e["samples"]
        assert labels["steps"] == e["steps"]
        total_s += e["duration_s"]
        total_bytes += (out / e["trace"]).stat().st_size
    assert 20 * 60 < total_s < 40 * 60
    assert total_bytes < 40e6


def test_labels_say_what_the_case_is(written):
    out, index = written
    by = {e["name"]: e for e in index["cases"]}
    assert by["balance_10f_9b"]["forward_steps"] == 10
    assert by["balance_10f_9b"]["backward_steps"] == 9
    for name in ("still_standing", "seated_tapping", "seated_leg_swing"):
        assert by[name]["steps"] == 0 and by[name]["strides"] == 0
    assert by["turning_in_place"]["steps"] > 0
    assert by["turning_in_place"]["forward_steps"] == by["turning_in_place"]["backward_steps"] == 0
    for name, e in by.items():
        if "curve" in e["tags"]:
            assert e["leaves_line_t_s"] is not None, name
        if "straight" in e["tags"]:
            assert e["leaves_line_t_s"] is None, name
        if "walk" in e["tags"] and "backward" in e["tags"] and "forward" not in e["tags"]:
            assert e["backward_steps"] == e["steps"] > 0
    shuffle = json.loads((out / "shuffle_bwd.labels.json").read_text())
    assert all(s["length_m"] < 0.3 for s in shuffle["strides"])
    treadmill = json.loads((out / "treadmill_bwd.labels.json").read_text())
    pos = np.array([s["position_m"] for s in treadmill["strides"]])
    assert np.abs(pos[:, :2]).max() < 1.0


def test_cli_lists_and_writes_one_case(tmp_path):
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", "--list"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "bwd_curve_left" in p.stdout
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", str(tmp_path),
                        "--only", "walk_bwd_slow"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "walk_bwd_slow.csv").exists()
    assert json.loads((tmp_path / "index.json").read_text())["cases"][0]["name"] == "walk_bwd_slow"
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", str(tmp_path),
                        "--only", "nope"], capture_output=True, text=True)
    assert p.returncode == 2 and "no corpus case" in p.stderr


def test_added_tuning_cases_are_what_they_say(written):
    out, index = written
    lab = {e["name"]: json.loads((out / e["labels"]).read_text()) for e in index["cases"]}
    side = lab["sidestep_left_right"]
    assert side["sideways_steps"] == side["steps"] == 32
    assert {b.get("side") for b in side["bouts"]} >= {"left", "right"}
    for name in ("midwalk_fwd", "midwalk_bwd"):
        assert lab[name]["bouts"][0]["kind"] == "walk" and lab[name]["bouts"][0]["t_start_s"] == 0
        assert lab[name]["strides"][0]["t_land_s"] < 1.5
    assert lab["clock_fast_bwd"]["sensor"]["clock_error"] == 0.007
    assert lab["clock_slow_fwd"]["sensor"]["clock_error"] == -0.007
    assert lab["heel_mount_mixed"]["mount"]["placement"] == "heel"
    assert lab["side_mount_mixed"]["mount"]["placement"] == "side"
    assert abs(np.array(lab["worn_part_mixed"]["sensor"]["gyro_cross_axis"])).max() == 0.005
    shaken = [b for b in lab["treadmill_deck_shake"]["bouts"] if b["kind"] == "walk"]
    assert len(shaken) == 2
    jog = lab["jog_bwd_3hz"]["strides"]
    assert abs(np.median(np.diff([s["t_land_s"] for s in jog])) - 1 / 3) < 0.02
    for name in ("shuffle_bwd_10cm", "shuffle_fwd_10cm"):
        assert all(0.06 < s["length_m"] < 0.14 for s in lab[name]["strides"])
    heel = read_trace(out / "heel_mount_athlete.csv")
    assert np.isclose(np.abs(heel.accel_g).max(), 16.0, atol=0.01)  # heel strikes clip


# ---------------------------------------------------------------------------- frozen test set


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("testset")
    index = corpus.write_test_set(out)  # raises unless it is the frozen one
    labels = {e["name"]: json.loads((out / e["labels"]).read_text()) for e in index["cases"]}
    return out, index, labels


@pytest.mark.slow
def test_frozen_test_set_is_what_was_frozen(test_set):
    out, index, labels = test_set
    assert index["labels_sha256"] == corpus.FROZEN_SHA256
    assert index["set"] == "test" and "never tune" in index["frozen"]
    texts = [(e["name"], (out / e["labels"]).read_text()) for e in index["cases"]]
    assert corpus.fingerprint(texts) == corpus.FROZEN_SHA256
    assert "never" in corpus.__doc__ and "tunes" in corpus.__doc__


def test_test_set_draws_each_trace_from_wide_ranges(test_set):
    _, index, labels = test_set
    kinds = {e["kind"] for e in index["cases"]}
    assert {"walk", "mixed", "jog", "shuffle", "sidestep", "still", "tapping", "swinging",
            "turning"} <= kinds
    rates = {lab["rate_hz"] for lab in labels.values()}
    assert min(rates) == 52 and max(rates) == 400 and len(rates) >= 6
    spread = lambda key: np.ptp([lab["subject"][key] for lab in labels.values()])  # noqa
    assert spread("stride_m") > 0.6 and spread("cadence_spm") > 25
    assert spread("heel_strike_pitch_deg") > 15 and spread("impact_g") > 1.5
    assert spread("toe_out_deg") > 10
    places = [lab["mount"]["placement"] for lab in labels.values()]
    assert {"laces", "heel", "side"} == set(places)
    tilt = [max(abs(a) for a in lab["mount"]["misalign_rpy_deg"]) for lab in labels.values()]
    assert 5 < max(tilt) <= 10.0
    clocks = [abs(lab["sensor"]["clock_error"]) for lab in labels.values()]
    assert max(clocks) > 0.006 and max(clocks) <= 0.007
    coupling = [abs(np.array(lab["sensor"]["gyro_cross_axis"])).max() for lab in labels.values()]
    assert max(coupling) <= 0.005 and min(coupling) > 0
    bias = [abs(np.array(lab["sensor"]["gyro_bias_dps"])).max() for lab in labels.values()]
    assert max(bias) > 0.9
    assert sum("vibration" in e["tags"] for e in index["cases"]) >= 10
    assert sum("midwalk" in e["tags"] for e in index["cases"]) >= 8


def test_test_set_walks_are_straight_or_clearly_drift(test_set):
    _, index, labels = test_set
    straight = drifting = 0
    for e in index["cases"]:
        lab = labels[e["name"]]
        offsets = [abs(o) for _, o in lab["drift"]["lateral_offset_m"]]
        if "curve" in e["tags"]:
            drifting += 1
            assert lab["drift"]["leaves_line_t_s"] is not None and max(offsets) > 1.5
        elif lab["backward_steps"]:
            straight += 1
            assert max(offsets) < 0.1, e["name"]
        # labels only inside the trace
        assert all(0 <= s["t_land_s"] <= lab["duration_s"] + 1e-6 for s in lab["strides"])
    assert drifting >= 6 and straight >= 10
    non_walking = [e for e in index["cases"] if e["kind"] in ("still", "tapping", "swinging",
                                                               "turning")]
    assert len(non_walking) >= 6
    assert all(labels[e["name"]]["steps"] == labels[e["name"]]["in_place_steps"]
               for e in non_walking)


def test_cli_writes_one_test_case_and_lists_the_sets(tmp_path):
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", "--list", "--set",
                        "test"], capture_output=True, text=True)
    assert p.returncode == 0 and "t01_fwd_walk" in p.stdout and "walk_fwd_slow" not in p.stdout
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", str(tmp_path),
                        "--set", "test", "--only", "t43_standing"], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["set"] == "test" and index["cases"][0]["name"] == "t43_standing"
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "corpus", str(tmp_path),
                        "--only", "t43_standing"], capture_output=True, text=True)
    assert p.returncode == 2 and "in the tune set" in p.stderr
