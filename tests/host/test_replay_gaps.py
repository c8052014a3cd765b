"""Replay of traces from real loggers: jittered stamps and lost samples (README.md,
"Trace format"). The engine is told of each gap, so its sample count, and the times of its
events, stay on the trace's time base."""

import json
import subprocess
import sys

import numpy as np
import pytest

from retrostep.sim import gaitsim as gs
from retrostep.firmware import gait
from retrostep.engine.run import feed_engine
from retrostep.analysis.replay import replay_file, replay_trace
from retrostep.formats.trace import Trace, quantise, write_trace

ODR = 104


class FakeEngine:
    """Records how it is fed; takes at most `bite` samples per feed() like a full
    event queue would make the real engine stop early."""

    def __init__(self, bite=7):
        self.n = 0
        self.bite = bite
        self.fed = []  # (first row, end row, n at the first row)
        self.gaps = []  # (n when told, lost)

    def feed(self, buf, start, end):
        end = min(end, start + self.bite)
        self.fed.append((start, end, self.n))
        self.n += end - start
        return end

    def pop(self, ev):
        return False

    def gap(self, lost):
        self.gaps.append((self.n, lost))
        self.n += lost

    def flush(self):
        self.flushed_at = self.n  # the input ended here


def test_feeding_tells_the_engine_of_each_gap():
    samples = np.zeros((40, 6), dtype=np.int16)
    eng = FakeEngine()
    feed_engine(eng, samples, gaps=[(10, 3), (25, 7)])
    assert eng.gaps == [(10, 3), (25, 7)]
    assert eng.n == 40 + 3 + 7
    assert eng.flushed_at == eng.n  # told once every sample was fed
    # every row fed once, in order, and never a batch across a gap
    assert [r for start, end, _ in eng.fed for r in range(start, end)] == list(range(40))
    for start, end, n in eng.fed:
        lost_before = 0 if end <= 10 else 3 if end <= 22 else 10
        assert n == start + lost_before  # the engine's count is the board's index


def test_feeding_without_gaps_is_unchanged():
    eng = FakeEngine(bite=10**9)
    feed_engine(eng, np.zeros((10000, 6), dtype=np.int16))
    assert eng.gaps == []
    assert [(s, e) for s, e, _ in eng.fed] == [(0, 4096), (4096, 8192), (8192, 10000)]


# ---------------------------------------------------------------------------- real engine


def walk_416():
    """A labelled forward walk, exact and noise-free at 416 Hz (4 x the ODR)."""
    bouts = [gs.Bout("still", duration_s=3.0), gs.Bout("walk", "forward", strides=14),
             gs.Bout("still", duration_s=3.0)]
    return gs.simulate(gs.Scenario(bouts, rate_hz=4 * ODR, ideal=True), seed=4)


def resampled(trace, t):
    """The trace's signals at times t (linear between its 416 Hz samples)."""
    accel = np.column_stack([np.interp(t, trace.t_s, trace.accel_g[:, j]) for j in range(3)])
    gyro = np.column_stack([np.interp(t, trace.t_s, trace.gyro_dps[:, j]) for j in range(3)])
    return Trace(t, accel, gyro, dict(trace.meta))


def strides(result):
    return [(e["t_s"], e["direction"]) for e in result["events"] if e["type"] == "stride"]


@pytest.fixture(scope="module")
def walk():
    fine, labels = walk_416()
    clean = resampled(fine, fine.t_s[::4])
    return fine, clean, replay_trace(clean)


def test_jittered_stamps_replay_like_clean_ones(walk):
    fine, clean, want = walk
    rng = np.random.default_rng(9)
    t = clean.t_s + rng.normal(0.0, 0.03, len(clean.t_s)) / ODR  # 3 % rms
    jittered = resampled(fine, np.clip(t, fine.t_s[0], fine.t_s[-1]))
    assert 0.03 < jittered.jitter < 0.05 and jittered.gaps == []
    got = replay_trace(jittered)
    assert "gaps" not in got
    assert abs(got["strides"] - want["strides"]) <= 1, (got["strides"], want["strides"])
    a, b = strides(got), strides(want)
    matched = [(x, y) for x in a for y in b if abs(x[0] - y[0]) <= 2 / ODR]
    assert len(matched) >= min(len(a), len(b)) - 1
    assert all(x[1] == y[1] for x, y in matched)


def test_a_lost_half_second_reaches_the_engine(walk, tmp_path, monkeypatch):
    fine, clean, want = walk
    told = []
    real_gap = gait.Gait.gap

    def spy(self, lost):
        told.append((self.n, lost))
        real_gap(self, lost)

    monkeypatch.setattr(gait.Gait, "gap", spy)
    ends = [t for t, _ in strides(want)]
    assert len(ends) >= 6, "the engine finds too few strides to test a gap mid-walk"
    # lose 0.5 s starting a quarter stride after a stride ends, half way through the walk
    t_from = ends[len(ends) // 2] + 0.25 * (ends[1] - ends[0])
    first = int(np.searchsorted(clean.t_s, t_from))
    keep = np.r_[0:first, first + ODR // 2 : len(clean.t_s)]
    dropped = Trace(clean.t_s[keep], clean.accel_g[keep], clean.gyro_dps[keep], clean.meta)
    path = tmp_path / "dropped.csv"
    write_trace(path, dropped)

    got = replay_file(path)
    before, after = clean.t_s[first - 1], clean.t_s[first + ODR // 2]
    assert got["gaps"] == [[round(before, 6), round(after, 6)]]
    assert told == [(first, ODR // 2)]  # at the sample count where the loss began
    assert got["duration_s"] == want["duration_s"]
    # strides the loss did not touch end when they did without it: same time base
    touched = (before, after + 1.5 * (ends[1] - ends[0]))
    untouched = [s for s in strides(want) if not touched[0] < s[0] < touched[1]]
    assert [s for s in strides(got) if not touched[0] < s[0] < touched[1]] == untouched
    assert not [s for s in strides(got) if before < s[0] < after]
    assert got["strides"] < want["strides"]

    result = subprocess.run([sys.executable, "-m", "retrostep.cli", "replay", str(path),
                             "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gaps"] == got["gaps"]


def test_board_samples_of_the_dropped_walk(walk):
    """The board gets every sample the trace has, and none for the lost half second."""
    _, clean, _ = walk
    first = 10 * ODR
    keep = np.r_[0:first, first + ODR // 2 : len(clean.t_s)]
    board = quantise(Trace(clean.t_s[keep], clean.accel_g[keep], clean.gyro_dps[keep]))
    whole = quantise(clean)
    assert board.gaps == [(first, ODR // 2)]
    np.testing.assert_array_equal(board.samples, whole.samples[keep])


def test_chart_timeline_tells_the_engine_too(walk, tmp_path):
    """The chart's sample-by-sample run sees the same gap, so it finds what replay finds."""
    from retrostep.analysis.chart import engine_timeline, plot_replay
    from retrostep.engine.run import run_engine

    _, clean, _ = walk
    first = 10 * ODR
    keep = np.r_[0:first, first + ODR // 2 : len(clean.t_s)]
    dropped = Trace(clean.t_s[keep], clean.accel_g[keep], clean.gyro_dps[keep])
    board = quantise(dropped)
    timeline, events = engine_timeline(board)
    _, raw = run_engine(board.samples, board.odr_hz, board.accel_ug_per_lsb,
                        board.gyro_udps_per_lsb, gaps=board.gaps)
    assert events == raw
    assert len(timeline["stance"]) == len(board)
    assert plot_replay(dropped, tmp_path / "chart.png") == tmp_path / "chart.png"
    assert (tmp_path / "chart.png").stat().st_size > 10_000


def test_chart_timeline_marks_where_the_heading_was_not_trusted():
    from retrostep.analysis.chart import engine_timeline
    from retrostep.sim import corpus

    trace, _ = corpus.make_case("bwd_curve_left")
    board = quantise(trace)
    timeline, events = engine_timeline(board)
    assert not timeline["untrusted"].any()
    assert any(e[0] == gait.EV_DRIFT for e in events)
    timeline, events = engine_timeline(board, {"trust_tilt_deg": 0})
    first = next(e[1] for e in events if e[0] == gait.EV_STRIDE)
    assert not timeline["untrusted"][:first].any()  # nothing to judge before a stride
    assert timeline["untrusted"][-100:].all()
    assert not any(e[0] in (gait.EV_DRIFT, gait.EV_ON_LINE) for e in events)
