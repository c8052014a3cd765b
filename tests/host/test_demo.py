"""The README's main command: the bundled walk, replayed, scored and charted."""

import filecmp
import json
import subprocess
import sys

import pytest

from retrostep.sim import demolog


def test_bundled_trace_is_what_its_scenario_makes(tmp_path):
    csv_path, _ = demolog.bundled_paths()
    fresh = demolog.regenerate(str(tmp_path))
    assert filecmp.cmp(csv_path, fresh, shallow=False)


def test_demo_replay_only_counts_alerts_and_charts(tmp_path):
    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "demo", "--replay-only",
                        "--out", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    result = json.loads((tmp_path / "demo.json").read_text())
    assert result["forward_steps"] == 16 and result["backward_steps"] == 52
    assert [e["type"] for e in result["events"]].count("drift_alert") == 1
    assert (tmp_path / "demo.png").stat().st_size > 50_000
    assert "drift alert" in p.stdout


@pytest.mark.vm
@pytest.mark.slow
def test_demo_walks_the_journey_on_the_virtual_board(tmp_path):
    """The README's main command: deploy, walk, sync, report on a virtual board; run
    three times in the same folder, it passes each time and the library holds one
    session (it failed on reruns and piled up duplicates)."""
    for _ in range(3):
        p = subprocess.run([sys.executable, "-m", "retrostep.cli", "demo", "--out",
                            str(tmp_path)], capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
    result = json.loads((tmp_path / "demo.json").read_text())
    assert result["forward_steps"] == 16 and result["backward_steps"] == 52
    assert [e["type"] for e in result["events"]].count("drift_alert") == 1
    logs = list((tmp_path / "library").rglob("s*.rsl"))
    assert len(logs) == 1  # synced, verified
    html = list(tmp_path.glob("*_s00001.html"))
    assert html and "data:image/png;base64" in html[0].read_text()
    assert "drifting walks alerted before 1.0 m of true offset: 1/1" in p.stdout  # (scored)
