"""Trace CSV reading and writing, and quantising a trace the way the board sees it."""

import os

import numpy as np
import pytest

from retrostep.errors import RetrostepError
from retrostep.firmware import sensor
from retrostep.formats.trace import COLUMNS, BoardSamples, Trace, quantise, read_trace, write_trace


def make_trace(rate_hz, duration_s, t0=0.0, accel=None, gyro=None, meta=None, seed=1):
    n = int(round(duration_s * rate_hz)) + 1
    t = t0 + np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    if accel is None:
        accel = rng.normal(0.0, 0.2, (n, 3)) + [0.0, 0.0, 1.0]
    if gyro is None:
        gyro = rng.normal(0.0, 50.0, (n, 3))
    accel = np.broadcast_to(accel(t) if callable(accel) else accel, (n, 3)).astype(float)
    gyro = np.broadcast_to(gyro(t) if callable(gyro) else gyro, (n, 3)).astype(float)
    return Trace(t_s=t, accel_g=accel, gyro_dps=gyro, meta=dict(meta or {}))


def still(t):
    """The sensor flat and at rest: 1 g up, no rotation."""
    a = np.zeros((len(t), 3))
    a[:, 2] = 1.0
    return a


# ---------------------------------------------------------------------------- round trip


def test_round_trip(tmp_path):
    trace = make_trace(400, 3.0, t0=12.5, meta={"subject": "s01", "walk": "backward"})
    path = tmp_path / "walk.csv"
    write_trace(path, trace)
    back = read_trace(path)
    assert back.meta == trace.meta
    assert list(back.meta) == ["subject", "walk"]
    np.testing.assert_allclose(back.t_s, trace.t_s, rtol=0, atol=5.1e-7)
    np.testing.assert_allclose(back.accel_g, trace.accel_g, rtol=0, atol=5.1e-7)
    np.testing.assert_allclose(back.gyro_dps, trace.gyro_dps, rtol=0, atol=5.1e-7)
    assert back.accel_g.shape == (len(trace.t_s), 3)
    assert back.gyro_dps.shape == (len(trace.t_s), 3)
    assert back.rate_hz == pytest.approx(400.0)
    assert back.duration_s == pytest.approx(3.0)
    # writing what was read gives the same file, byte for byte
    again = tmp_path / "again.csv"
    write_trace(again, back)
    assert again.read_bytes() == path.read_bytes()


def test_written_layout(tmp_path):
    trace = make_trace(100, 0.02, accel=still, gyro=[1.5, -2.25, 0.0], meta={"a": "1"})
    path = tmp_path / "t.csv"
    write_trace(path, trace)
    lines = path.read_text().split("\n")
    assert lines[0] == "# a: 1"
    assert lines[1] == ",".join(COLUMNS)
    assert lines[2] == "0.000000,0.000000,0.000000,1.000000,1.500000,-2.250000,0.000000"
    assert lines[3].startswith("0.010000,")
    assert lines[-1] == ""  # ends with a newline
    assert len(lines) == 2 + 3 + 1


def test_meta_lines(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        "# source: OpenShoe export\n"
        "#mount:laces, arrow to toe\n"
        "# note: time: local, 12:00\n"
        "# empty:\n"
        f"{','.join(COLUMNS)}\n"
        "0.00,0,0,1,0,0,0\n"
        "0.01,0,0,1,0,0,0\n"
    )
    trace = read_trace(path)
    assert list(trace.meta.items()) == [
        ("source", "OpenShoe export"),
        ("mount", "laces, arrow to toe"),
        ("note", "time: local, 12:00"),
        ("empty", ""),
    ]
    out = tmp_path / "out.csv"
    write_trace(out, trace)
    assert read_trace(out).meta == trace.meta
    assert out.read_text().startswith("# source: OpenShoe export\n# mount: laces, arrow to toe\n")


def test_no_meta_crlf_bom_and_blank_lines(tmp_path):
    path = tmp_path / "win.csv"
    text = "\ufeff" + ",".join(COLUMNS) + "\r\n"
    text += "".join(f"{k / 100:.2f},0,0,1,0,0,{k}\r\n" for k in range(5)) + "\r\n\r\n"
    path.write_bytes(text.encode("utf-8"))
    trace = read_trace(path)
    assert trace.meta == {}
    assert len(trace.t_s) == 5
    np.testing.assert_array_equal(trace.gyro_dps[:, 2], np.arange(5))
    np.testing.assert_array_equal(trace.accel_g[:, 2], 1.0)


def test_whitespace_only_lines_between_samples(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(
        ",".join(COLUMNS) + "\n0.00,0,0,1,0,0,0\n   \n0.01,0,0,1,0,0,1\n0.02,0,0,1,0,0,2\n"
    )
    trace = read_trace(path)
    np.testing.assert_array_equal(trace.gyro_dps[:, 2], [0, 1, 2])


def test_jitter_is_accepted(tmp_path):
    trace = make_trace(200, 2.0)
    rng = np.random.default_rng(5)
    trace.t_s = trace.t_s + rng.uniform(-0.1, 0.1, len(trace.t_s)) / 200
    path = tmp_path / "jitter.csv"
    write_trace(path, trace)
    assert read_trace(path).rate_hz == pytest.approx(200, rel=1e-3)


def test_50_hz_is_accepted(tmp_path):
    path = tmp_path / "slow.csv"
    write_trace(path, make_trace(50, 1.0))
    assert read_trace(path).rate_hz == pytest.approx(50)


def test_write_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old content\n")
    os.chmod(path, 0o640)
    write_trace(path, make_trace(100, 0.5))
    assert read_trace(path).duration_s == pytest.approx(0.5)
    assert os.stat(path).st_mode & 0o777 == 0o640  # kept the file's permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no temp file left


def test_write_failure_leaves_old_file(tmp_path):
    path = tmp_path / "t.csv"
    write_trace(path, make_trace(100, 0.5))
    before = path.read_bytes()
    bad = make_trace(100, 0.5)
    bad.accel_g = bad.accel_g.copy()
    bad.accel_g[3, 1] = np.nan
    with pytest.raises(RetrostepError, match="NaN"):
        write_trace(path, bad)
    assert path.read_bytes() == before
    bad = make_trace(100, 0.5, meta={"a:b": "c"})
    with pytest.raises(RetrostepError, match="key"):
        write_trace(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(RetrostepError, match="does not exist"):
        write_trace(tmp_path / "nope" / "t.csv", make_trace(100, 0.5))


@pytest.mark.slow
def test_one_hour_at_400_hz_writes_and_reads_back(tmp_path):
    """An hour at 400 Hz round-trips (its speed is bench/engine_bench.py's to print)."""
    trace = make_trace(400, 3600.0)
    assert len(trace.t_s) == 1_440_001
    path = tmp_path / "hour.csv"
    write_trace(path, trace)
    back = read_trace(path)
    assert len(back.t_s) == len(trace.t_s)
    assert np.array_equal(back.t_s[-3:], np.round(trace.t_s[-3:], 6))


# ---------------------------------------------------------------------------- quantise


def test_defaults_come_from_the_sensor_module():
    board = quantise(make_trace(sensor.ODR_HZ, 1.0))
    assert board.odr_hz == sensor.ODR_HZ
    assert board.accel_ug_per_lsb == sensor.ACCEL_UG_PER_LSB[sensor.ACCEL_FS_G]
    assert board.gyro_udps_per_lsb == sensor.GYRO_UDPS_PER_LSB[sensor.GYRO_FS_DPS]
    assert isinstance(board, BoardSamples)
    assert board.samples.dtype == np.int16
    assert board.samples.shape == (len(board), 6)


@pytest.mark.parametrize("rate", [100, 104, 208, 400])
def test_gravity_is_2049_lsb_everywhere(rate):
    board = quantise(make_trace(rate, 2.0, accel=still, gyro=[0, 0, 0]), 104, 16, 2000)
    assert round(1e6 / 488) == 2049
    np.testing.assert_array_equal(board.samples[:, 2], 2049)  # first and last too
    np.testing.assert_array_equal(board.samples[:, [0, 1, 3, 4, 5]], 0)


def test_other_full_scales():
    trace = make_trace(104, 1.0, accel=still, gyro=[100.0, -100.0, 0.0])
    board = quantise(trace, accel_fs_g=2, gyro_fs_dps=250)
    np.testing.assert_array_equal(board.samples[:, 2], round(1e6 / 61))
    np.testing.assert_array_equal(board.samples[:, 3], round(100e6 / 8750))
    np.testing.assert_array_equal(board.samples[:, 4], -round(100e6 / 8750))


def test_saturates_like_the_sensor():
    trace = make_trace(104, 1.0, accel=[20.0, -20.0, 15.99], gyro=[3000.0, -3000.0, 1999.0])
    s = quantise(trace).samples
    np.testing.assert_array_equal(s[:, 0], sensor.INT16_MAX)
    np.testing.assert_array_equal(s[:, 1], sensor.INT16_MIN)
    np.testing.assert_array_equal(s[:, 2], 32766)  # 15.99 g = 32766.4 LSB: in range
    np.testing.assert_array_equal(s[:, 3], 32767)
    np.testing.assert_array_equal(s[:, 4], -32768)
    np.testing.assert_array_equal(s[:, 5], round(1999e6 / 70000))


def test_saturates_after_resampling():
    s = quantise(make_trace(400, 1.0, accel=[20.0, 0, 1], gyro=[-3000.0, 0, 0])).samples
    np.testing.assert_array_equal(s[:, 0], 32767)
    np.testing.assert_array_equal(s[:, 3], -32768)


def test_rounds_half_to_even():
    # 0.035, 0.105, 0.175, 0.245 deg/s are exactly 0.5, 1.5, 2.5, 3.5 LSB at +-2000
    halves = [0.035, 0.105, 0.175]
    for v, lsb in zip(halves, [0.5, 1.5, 2.5]):
        assert v * 1e6 / 70000 == lsb
    s = quantise(make_trace(104, 0.5, accel=still, gyro=halves)).samples
    np.testing.assert_array_equal(s[:, 3:], np.broadcast_to([0, 2, 2], (len(s), 3)))
    s = quantise(make_trace(104, 0.5, accel=still, gyro=[-0.035, -0.105, -0.175])).samples
    np.testing.assert_array_equal(s[:, 3:], np.broadcast_to([0, -2, -2], (len(s), 3)))


def test_sine_400_to_104_keeps_amplitude_and_timing():
    amp = 500.0  # deg/s, 7143 LSB

    def gyro(t):
        return np.column_stack([amp * np.sin(2 * np.pi * 5.0 * t), 0 * t, 0 * t])

    trace = make_trace(400, 10.0, t0=3.0, accel=still, gyro=gyro)
    board = quantise(trace, odr_hz=104)
    got = board.samples[:, 3].astype(float)
    amp_lsb = amp * 1e6 / 70000
    assert got.max() == pytest.approx(amp_lsb, rel=0.01)
    assert -got.min() == pytest.approx(amp_lsb, rel=0.01)
    # every sample, the first and the last included, is where time_of says it is
    want = amp_lsb * np.sin(2 * np.pi * 5.0 * board.time_of(np.arange(len(board))))
    assert np.max(np.abs(got - want)) < 0.01 * amp_lsb


def test_tone_above_nyquist_is_filtered_out():
    amp = 1000.0  # deg/s

    def gyro(t):
        tone = amp * np.sin(2 * np.pi * 150.0 * t)
        return np.column_stack([tone, 0 * t, tone])

    trace = make_trace(400, 10.0, accel=still, gyro=gyro)
    board = quantise(trace, odr_hz=104)
    out_rms = np.sqrt(np.mean(board.samples[:, 3].astype(float) ** 2))
    in_rms = amp * 1e6 / 70000 / np.sqrt(2)
    attenuation_db = 20 * np.log10(in_rms / max(out_rms, 1e-9))
    assert attenuation_db > 40, attenuation_db
    # without the filter, plain decimation would alias it to 46 Hz at full strength
    naive = np.sin(2 * np.pi * 150.0 * board.time_of(np.arange(len(board))))
    assert np.sqrt(np.mean(naive**2)) > 0.5


def test_length_t0_and_time_of():
    trace = make_trace(400, 5.0, t0=12.5)
    n = len(trace.t_s)
    board = quantise(trace, odr_hz=104)
    assert len(board) == (n - 1) * 13 // 50 + 1 == 521
    assert board.t0_s == 12.5
    assert board.time_of(0) == 12.5
    assert board.time_of(104) == pytest.approx(13.5)
    assert board.time_of(len(board) - 1) <= trace.t_s[-1] + 1e-9
    assert board.time_of(len(board)) > trace.t_s[-1]
    times = board.time_of(np.arange(3))
    np.testing.assert_allclose(times, 12.5 + np.arange(3) / 104)
    assert isinstance(board.time_of(5), float)


@pytest.mark.parametrize("rate", [100, 104, 208, 400])
def test_rates_to_104(rate):
    amp = 0.5  # g

    def accel(t):
        return np.column_stack([amp * np.sin(2 * np.pi * 2.0 * t), 0 * t, 1 + 0 * t])

    trace = make_trace(rate, 4.0, t0=1.0, accel=accel, gyro=[0, 0, 0])
    board = quantise(trace)
    assert board.odr_hz == 104
    assert len(board) == int(np.floor(4.0 * 104 + 1e-9)) + 1
    assert board.time_of(len(board) - 1) == pytest.approx(1.0 + (len(board) - 1) / 104)
    want = amp * 1e6 / 488 * np.sin(2 * np.pi * 2.0 * board.time_of(np.arange(len(board))))
    err = np.abs(board.samples[:, 0] - want)
    assert err.max() < 0.005 * amp * 1e6 / 488 + 1
    np.testing.assert_array_equal(board.samples[:, 2], 2049)


@pytest.mark.parametrize("rate", [100, 104, 208, 400])
def test_other_odr(rate):
    board = quantise(make_trace(rate, 2.0, accel=still, gyro=[0, 0, 0]), odr_hz=208)
    assert len(board) == 2 * 208 + 1
    assert board.time_of(208) == pytest.approx(1.0)
    np.testing.assert_array_equal(board.samples[:, 2], 2049)


def test_jittered_timestamps_are_regridded():
    def gyro(t):
        return np.column_stack([300 * np.sin(2 * np.pi * 3.0 * t), 0 * t, 0 * t])

    clean = make_trace(400, 5.0, accel=still, gyro=gyro)
    rng = np.random.default_rng(3)
    t_jit = clean.t_s + rng.uniform(-0.2, 0.2, len(clean.t_s)) / 400
    t_jit[0], t_jit[-1] = clean.t_s[0], clean.t_s[-1]
    # the values are what was measured at the jittered times
    jittered = Trace(t_jit, clean.accel_g, gyro(t_jit))
    a = quantise(clean).samples[:, 3].astype(int)
    b = quantise(jittered).samples[:, 3].astype(int)
    assert np.max(np.abs(a - b)) <= 0.002 * 300e6 / 70000


def test_bad_settings_are_user_errors():
    trace = make_trace(104, 1.0)
    with pytest.raises(RetrostepError, match="full scale"):
        quantise(trace, accel_fs_g=3)
    with pytest.raises(RetrostepError, match="full scale"):
        quantise(trace, gyro_fs_dps=4000)
    with pytest.raises(RetrostepError, match="rate"):
        quantise(trace, odr_hz=0)


def test_quantise_one_hour_keeps_every_sample():
    """One hour at the ODR keeps its samples; one hour at 400 Hz becomes 104 Hz. (How
    fast: bench/engine_bench.py prints the replay time of an hour; machines here are
    too noisy for a timed assertion.)"""
    trace = make_trace(104, 3600.0)
    board = quantise(trace)
    assert len(board) == len(trace.t_s)
    trace = make_trace(400, 3600.0)
    board = quantise(trace)
    assert len(board) == 3600 * 104 + 1
