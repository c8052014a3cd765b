"""The labelled corpus: complete, deterministic, at the stated rates, sensible labels."""

import json
import subprocess
import sys

import numpy as np
import pytest

from retrostep import corpus
from retrostep.trace import read_trace

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
    assert set(corpus.CASES) == set(EXPECTED_RATES)
    for name, case in corpus.CASES.items():
        assert case.rate_hz == EXPECTED_RATES[name], name
    assert set(corpus.RATES_HZ) == {100.0, 104.0, 208.0, 400.0}
    tags = {t for case in corpus.CASES.values() for t in case.tags}
    for needed in ("walk", "jog", "shuffle", "still", "tapping", "swinging", "turning",
                   "mixed", "balance", "curve", "straight", "treadmill", "misaligned",
                   "forward", "backward"):
        assert needed in tags, needed
    assert len({case.subject for case in corpus.CASES.values()}) >= 3
    assert len({case.seed for case in corpus.CASES.values()}) == len(corpus.CASES)


def test_same_case_same_bytes(tmp_path):
    from retrostep.gaitsim import write_case

    for name in ("balance_10f_9b", "bwd_curve_left"):
        blobs = []
        for run in range(2):
            path = tmp_path / f"{name}_{run}.csv"
            write_case(path, *corpus.make_case(name))
            labels = (tmp_path / f"{name}_{run}.labels.json").read_bytes()
            blobs.append((path.read_bytes(), labels))
        assert blobs[0] == blobs[1], name


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
        assert abs(trace.rate_hz - EXPECTED_RATES[e["name"]]) < 0.05, e["name"]
        assert labels["rate_hz"] == e["rate_hz"] == EXPECTED_RATES[e["name"]]
        assert labels["kind"] == e["kind"] and labels["tags"] == e["tags"]
        assert len(trace.t_s) == e["samples"]
        assert labels["steps"] == e["steps"]
        total_s += e["duration_s"]
        total_bytes += (out / e["trace"]).stat().st_size
    assert 10 * 60 < total_s < 30 * 60
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
