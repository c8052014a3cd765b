"""Real loggers' timestamps (README.md, "Trace format"): jitter is resampled over, lost samples
are reported as gaps, and the board's samples say where the engine must be told."""

import subprocess
import sys

import numpy as np
import pytest

from retrostep.formats.trace import GAP_PERIODS, Trace, quantise, read_trace, timing, write_trace

ODR = 104
AMP_DPS = 500.0  # gyro x: AMP_DPS * sin(2 pi F_HZ t), 7143 LSB at +-2000 deg/s
F_HZ = 3.0  # a brisk stride rate: the gait band
AMP_LSB = AMP_DPS * 1e6 / 70000


def sine_trace(t):
    t = np.asarray(t, dtype=np.float64)
    gyro = np.column_stack([AMP_DPS * np.sin(2 * np.pi * F_HZ * t), 0 * t, 0 * t])
    return Trace(t, np.tile([0.0, 0.0, 1.0], (len(t), 1)), gyro)


def grid_times(rate, duration_s, t0=0.0):
    return t0 + np.arange(int(round(duration_s * rate)) + 1) / rate


def jittered_times(rate, duration_s, kind, seed=0, t0=0.0):
    """Timestamps of a logger at `rate`: 3 % rms normal, or uniform +-20 % of a period."""
    n = int(round(duration_s * rate)) + 1
    rng = np.random.default_rng(seed)
    if kind == "3% rms":
        noise = rng.normal(0.0, 0.03, n)
    else:
        noise = rng.uniform(-0.2, 0.2, n)
    return t0 + (np.arange(n) + noise) / rate


def drop(trace, t_from, t_to):
    """`trace` without its samples in [t_from, t_to)."""
    keep = (trace.t_s < t_from) | (trace.t_s >= t_to)
    return Trace(trace.t_s[keep], trace.accel_g[keep], trace.gyro_dps[keep], dict(trace.meta))


def sine_error_lsb(board):
    """Largest difference of gyro x from the sine at the time each sample is said to be."""
    want = AMP_LSB * np.sin(2 * np.pi * F_HZ * board.time_of(board.indices()))
    return float(np.max(np.abs(board.samples[:, 3] - want)))


# ---------------------------------------------------------------------------- reading


def test_regular_times():
    tm = timing(grid_times(104, 10.0, t0=3.0))
    assert len(tm.gap_after) == 0
    assert tm.rate_hz == pytest.approx(104, rel=1e-12)
    assert tm.jitter < 1e-9


def test_jittered_trace_is_read(tmp_path):
    path = tmp_path / "jitter.csv"
    write_trace(path, sine_trace(jittered_times(104, 60.0, "3% rms")))
    trace = read_trace(path)
    assert trace.gaps == []
    assert trace.rate_hz == pytest.approx(104, rel=1e-4)
    # an interval is the difference of two independent stamps: sqrt(2) times their jitter
    assert trace.jitter == pytest.approx(0.03 * np.sqrt(2), rel=0.05)


def test_gap_threshold():
    t = grid_times(100, 1.0)
    just_under = np.concatenate([t[:50], t[50:] + (GAP_PERIODS - 1.01) / 100])
    just_over = np.concatenate([t[:50], t[50:] + (GAP_PERIODS - 0.99) / 100])
    assert sine_trace(just_under).gaps == []
    assert sine_trace(just_over).gaps == [(just_over[49], just_over[50])]
    # one sample dropped is an interval of 2 periods: resampled over; two dropped: a gap
    assert sine_trace(np.delete(t, 50)).gaps == []
    assert sine_trace(np.delete(t, [50, 51])).gaps == [(t[49], t[52])]


def test_dropped_half_second_is_one_gap(tmp_path):
    full = sine_trace(jittered_times(400, 10.0, "3% rms", t0=2.0))
    path = tmp_path / "dropped.csv"
    write_trace(path, drop(full, 5.0, 5.5))
    trace = read_trace(path)
    before = full.t_s[full.t_s < 5.0][-1]
    after = full.t_s[full.t_s >= 5.5][0]
    assert trace.gaps == [(pytest.approx(before, abs=1e-6), pytest.approx(after, abs=1e-6))]
    assert trace.rate_hz == pytest.approx(400, rel=1e-3)  # the gap is left out

    result = subprocess.run(
        [sys.executable, "-m", "retrostep.cli", "check", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert ", 1 gap (0.5" in out[0] and "interval jitter 4." in out[0], out
    assert out[1:] == [f"  gap of {after - before:.4g} s: no samples between "
                       f"t_s {before:.6g} and {after:.6g}"]


def test_check_caps_the_gap_lines(tmp_path):
    full = sine_trace(grid_times(100, 20.0))
    for k in range(15):
        full = drop(full, 1.0 + k, 1.1 + k)
    path = tmp_path / "many.csv"
    write_trace(path, full)
    result = subprocess.run(
        [sys.executable, "-m", "retrostep.cli", "check", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert ", 15 gaps (1.65 s)" in out[0], out[0]
    assert len(out) == 1 + 10 + 1
    assert out[-1] == "  ... and 5 more gaps"


# ---------------------------------------------------------------------------- quantise


@pytest.mark.parametrize("kind", ["3% rms", "uniform 20%"])
@pytest.mark.parametrize("rate", [100, 208, 400])
def test_jittered_sine_is_resampled_onto_the_odr_grid(rate, kind):
    """A sine sampled at jittered times comes out as the sine on the uniform ODR grid.

    Tolerance: the same sine sampled on an exact grid comes out within `clean` LSB (the
    resampling filter and rounding). Jitter adds the error of linear interpolation
    between the stamped samples, at most A (2 pi f h)^2 / 8 for intervals up to h; the
    resampling filter passes that on with a gain below 2 (the L1 norm of its polyphase
    branches). Without the interpolation the error would be about A 2 pi f times the
    timestamp error: 3 to 10 times more.
    """
    t = jittered_times(rate, 20.0, kind, seed=rate)
    h = np.max(np.diff(t))
    interpolation = AMP_LSB * (2 * np.pi * F_HZ * h) ** 2 / 8
    clean = sine_error_lsb(quantise(sine_trace(grid_times(rate, 20.0)), ODR))
    board = quantise(sine_trace(t), ODR)
    assert board.gaps == []
    assert board.dt_s == pytest.approx(1 / ODR, rel=1e-3)
    assert sine_error_lsb(board) <= clean + 2 * interpolation + 1


def test_regular_trace_with_a_gap_keeps_its_samples():
    """At the ODR on an exact grid: the board gets the very samples, minus the lost ones."""
    full = sine_trace(grid_times(ODR, 10.0, t0=1.0))
    whole = quantise(full)
    first, lost = 4 * ODR, ODR // 2  # 0.5 s from t = 5 s
    board = quantise(drop(full, full.t_s[first] - 1e-9, full.t_s[first + lost] - 1e-9))
    assert board.gaps == [(first, lost)]
    assert board.lost == lost
    assert len(board) + lost == len(whole)
    kept = np.r_[0:first, first + lost : len(whole)]
    np.testing.assert_array_equal(board.indices(), kept)
    np.testing.assert_array_equal(board.samples, whole.samples[kept])
    np.testing.assert_allclose(board.time_of(board.indices()), full.t_s[kept], atol=1e-9)


def test_jittered_gap_is_not_interpolated_across():
    full = sine_trace(jittered_times(400, 10.0, "3% rms", t0=2.0))
    trace = drop(full, 5.0, 5.5)
    (before, after), = trace.gaps
    board = quantise(trace, ODR)
    (index, lost), = board.gaps
    assert lost == pytest.approx((after - before) * ODR, abs=1)
    times = board.time_of(board.indices())
    assert not np.any((times > before + 1e-9) & (times < after - 1e-9))
    assert board.time_of(index - 1) <= before + 1e-9
    assert board.time_of(index + lost) >= after - 1e-9
    # every sample delivered, the ones beside the gap too, is the sine at its time
    clean = sine_error_lsb(quantise(sine_trace(grid_times(400, 10.0, t0=2.0)), ODR))
    interpolation = AMP_LSB * (2 * np.pi * F_HZ * np.max(np.diff(full.t_s))) ** 2 / 8
    assert sine_error_lsb(board) <= clean + 2 * interpolation + 1


def test_gap_of_two_lost_odr_samples_at_the_odr():
    full = sine_trace(grid_times(ODR, 2.0))
    board = quantise(drop(full, full.t_s[50] - 1e-9, full.t_s[53] - 1e-9))
    assert board.gaps == [(50, 3)]


def test_short_gap_at_a_high_rate_loses_no_odr_sample():
    """Three 1 kHz samples missing: a trace gap, but no board sample falls in it (the
    board's samples 104 and 105 are at 1.0 s and 1.0096 s)."""
    full = sine_trace(grid_times(1000, 2.0))
    trace = drop(full, 1.0015, 1.0045)
    assert len(trace.gaps) == 1
    board = quantise(trace, ODR)
    assert board.gaps == []
    np.testing.assert_array_equal(board.indices(), np.arange(len(board)))
    # the same hole 2.5 ms earlier holds the board's sample 104 (t = 1.0 s): lost
    assert quantise(drop(full, 0.9995, 1.0025), ODR).gaps == [(104, 1)]
