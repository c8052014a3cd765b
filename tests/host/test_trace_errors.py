"""Every way a trace file can be bad gives one clear line, and `retrostep check` exits 2.

Each case is checked twice: through `read_trace` (the message names the file, the line
and the reason) and through the command line (exit code 2, the same message on stderr,
no traceback).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from retrostep.errors import RetrostepError
from retrostep.formats.trace import COLUMNS, Trace, read_trace, write_trace

HEADER = ",".join(COLUMNS) + "\n"


def rows(n, rate=100.0, start=0):
    """n good sample lines at `rate`, the first at sample index `start`."""
    return "".join(f"{(start + k) / rate:.6f},0.01,-0.02,1.0,0.5,-0.5,0.25\n" for k in range(n))


def with_line_12(bad_line):
    """A good trace whose line 12 (the 11th sample) is `bad_line`."""
    return HEADER + rows(10) + bad_line + "\n" + rows(5, start=11)


# (case id, file content (str or bytes), line number in the message or None,
#  substrings the message must contain)
CASES = [
    ("empty", b"", None, ["is empty", "header"]),
    ("only-blank-lines", "\n   \n\n", None, ["is empty"]),
    ("byte-order-mark-only", b"\xef\xbb\xbf\n", None, ["is empty"]),
    ("nul-bytes", b"t_s,ax_g\x00\x00\x01\x02\n\x00", 1, ["NUL", "binary"]),
    (
        "nul-later",
        (HEADER + rows(3)).encode() + b"\x00\x00\x00\n",
        5,
        ["NUL", "binary", "text CSV"],
    ),
    (
        "not-utf8",
        ("# where: caf\xe9\n" + HEADER + rows(3)).encode("latin-1"),
        1,
        ["0xe9", "not UTF-8", "UTF-8"],
    ),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(range(1, 200)), 1, ["not UTF-8"]),
    ("no-header-numbers", rows(5), 1, ["missing header", "numbers", ",".join(COLUMNS)]),
    ("no-header-text", "time,x,y,z\n" + rows(5), 1, ["missing header", "'time,x,y,z'"]),
    ("no-header-after-meta", "# a: b\n# c: d\n", None, ["no header", ",".join(COLUMNS)]),
    (
        "missing-column",
        ",".join(COLUMNS[:-1]) + "\n" + rows(3),
        1,
        ["column gz_dps missing", "header must be exactly"],
    ),
    (
        "two-missing-columns",
        "t_s,ax_g,ay_g,az_g,gx_dps\n" + rows(3),
        1,
        ["columns gy_dps, gz_dps missing"],
    ),
    (
        "misnamed-column",
        "t_s,ax,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + rows(3),
        1,
        ["column ax_g missing", "unknown column 'ax'"],
    ),
    (
        "unknown-extra-column",
        HEADER.strip() + ",temp_c\n" + rows(3),
        1,
        ["unknown column 'temp_c'"],
    ),
    (
        "column-twice",
        "t_s,ax_g,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + rows(3),
        1,
        ["column ax_g given twice"],
    ),
    (
        "columns-out-of-order",
        "t_s,ay_g,ax_g,az_g,gx_dps,gy_dps,gz_dps\n" + rows(3),
        1,
        ["wrong order"],
    ),
    ("too-few-cells", with_line_12("0.100000,0,0,1,0,0"), 12, ["6 cells, expected 7"]),
    ("too-many-cells", with_line_12("0.100000,0,0,1,0,0,0,0"), 12, ["8 cells, expected 7"]),
    (
        "trailing-comma",
        with_line_12("0.100000,0,0,1,0,0,0,"),
        12,
        ["8 cells, expected 7"],
    ),
    (
        "not-a-number",
        with_line_12("0.100000,0,0,1,abc,0,0"),
        12,
        ["column gx_dps is 'abc', not a number", "fix or delete that line"],
    ),
    ("empty-cell", with_line_12("0.100000,0,,1,0,0,0"), 12, ["column ay_g is empty"]),
    ("time-not-a-number", with_line_12("0.1s,0,0,1,0,0,0"), 12, ["column t_s is '0.1s'"]),
    ("nan", with_line_12("0.100000,0,0,nan,0,0,0"), 12, ["column az_g is 'nan'", "finite"]),
    ("NaN-time", with_line_12("NaN,0,0,1,0,0,0"), 12, ["column t_s is 'NaN'", "finite"]),
    ("inf", with_line_12("0.100000,0,0,1,0,-inf,0"), 12, ["column gy_dps is '-inf'", "finite"]),
    ("overflow", with_line_12("0.100000,1e999,0,1,0,0,0"), 12, ["column ax_g is '1e999'"]),
    (
        "time-backward",
        with_line_12("0.050000,0,0,1,0,0,0"),
        12,
        ["time goes backward", "0.05 after 0.09"],
    ),
    ("time-repeats", with_line_12("0.090000,0,0,1,0,0,0"), 12, ["time repeats", "0.09"]),
    (
        "rate-below-50-hz",
        HEADER + rows(20, rate=20.0),
        None,
        ["20 Hz", "below the 50 Hz minimum"],
    ),
    (
        "jittered-rate-below-50-hz",
        HEADER
        + "".join(f"{k / 45 + (0.002 if k % 2 else -0.002):.6f},0,0,1,0,0,0\n" for k in range(90)),
        None,
        ["mean sample rate is 44.91 Hz", "below the 50 Hz minimum"],
    ),
    (
        "mean-rate-below-50-hz",  # bursts at 100 Hz, but 30 ms between most samples
        HEADER
        + "".join(f"{k // 3 * 0.07 + (0, 0.01, 0.04)[k % 3]:.6f},0,0,1,0,0,0\n" for k in range(90)),
        None,
        ["mean sample rate is 43 Hz", "below the 50 Hz minimum"],
    ),
    ("one-sample", "# a: b\n" + HEADER + rows(1), 3, ["only 1 sample", "at least 2"]),
    ("no-samples", "# a: b\n" + HEADER, None, ["no samples after the header (line 2)"]),
    (
        "hash-line-after-header",
        HEADER + rows(3) + "# late: x\n" + rows(3, start=3),
        5,
        ["'#' line after the header"],
    ),
    (
        "meta-without-colon",
        "# recorded yesterday\n" + HEADER + rows(3),
        1,
        ["'# recorded yesterday' is not a '# key: value' line"],
    ),
    ("meta-key-twice", "# a: 1\n# b: 2\n# a: 3\n" + HEADER + rows(3), 3, ["'a'", "second"]),
    # the metadata a replay acts on is checked when the trace is read
    ("meta-yaw-inf", "# mount_yaw_deg: inf\n" + HEADER + rows(3), 1,
     ["mount_yaw_deg: 'inf'", "-360 to 360"]),
    ("meta-yaw-overflow", "# a: b\n# mount_yaw_deg: 1e400\n" + HEADER + rows(3), 2,
     ["mount_yaw_deg: '1e400'"]),
    ("meta-yaw-words", "# mount_yaw_deg: ten\n" + HEADER + rows(3), 1, ["'ten'"]),
    ("meta-calibration-superscript", "# calibrate_forward_strides: \u00b2\n" + HEADER + rows(3),
     1, ["calibrate_forward_strides", "whole number"]),
    ("meta-calibration-too-many", "# calibrate_forward_strides: 100000\n" + HEADER + rows(3),
     1, ["0 to 50"]),
    ("rate-in-microseconds", HEADER + "".join(f"{k * 1e-6:.7f},0,0,1,0,0,0\n" for k in range(50)),
     None, ["faster than any IMU", "seconds"]),
]


def write_case(tmp_path, case_id, content):
    path = tmp_path / f"{case_id}.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def check_message(message, path, line, needles):
    assert "\n" not in message, message
    if line is None:
        assert message.startswith(f"{path}: "), message
        assert " line " not in message.split(":")[0], message
    else:
        assert message.startswith(f"{path} line {line}: "), message
    for needle in needles:
        assert needle in message, (needle, message)
    assert ";" in message, message  # what was wrong; what to do


def run_check(*paths):
    return subprocess.run(
        [sys.executable, "-m", "retrostep.cli", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("case_id,content,line,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_trace(tmp_path, case_id, content, line, needles):
    path = write_case(tmp_path, case_id, content)
    with pytest.raises(RetrostepError) as info:
        read_trace(path)
    check_message(str(info.value), path, line, needles)


@pytest.mark.parametrize("case_id,content,line,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_trace_on_the_command_line(tmp_path, case_id, content, line, needles):
    path = write_case(tmp_path, case_id, content)
    result = run_check(path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err, err
    prefix = "retrostep check: error: "
    assert err.startswith(prefix), err
    check_message(err[len(prefix) :], path, line, needles)


@pytest.mark.parametrize("case_id,content,line,needles", CASES, ids=[c[0] for c in CASES])
def test_replay_refuses_what_check_refuses(tmp_path, case_id, content, line, needles, capsys):
    from retrostep import cli

    path = write_case(tmp_path, case_id, content)
    assert cli.main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("retrostep replay: error: "), err
    check_message(err[len("retrostep replay: error: "):], path, line, needles)


@pytest.mark.parametrize("command", ["check", "replay"])
def test_a_pipe_is_refused_not_waited_on(tmp_path, command, capsys):
    from retrostep import cli

    fifo = tmp_path / "walk.csv"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    assert cli.main([command, str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(RetrostepError) as info:
        read_trace(path)
    check_message(str(info.value), path, None, ["no such file", "check the path"])
    result = run_check(path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "nowhere.csv: no such file" in result.stderr


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(RetrostepError) as info:
        read_trace(tmp_path)
    check_message(str(info.value), tmp_path, None, ["is a directory"])
    result = run_check(tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "is a directory" in result.stderr


def test_bad_cell_deep_in_a_big_file(tmp_path):
    """The fast loader fails; the line-by-line pass still finds the right line."""
    path = tmp_path / "big.csv"
    good = rows(50_000, rate=400.0)
    lines = good.split("\n")
    lines[40_000] = "100.000000,0,0,1,0,x1,0"
    path.write_text("# subject: s1\n" + HEADER + "\n".join(lines))
    with pytest.raises(RetrostepError) as info:
        read_trace(path)
    # line 1 is the meta line, line 2 the header, sample k on line k + 3
    check_message(str(info.value), path, 40_003, ["column gy_dps is 'x1', not a number"])


def test_nan_deep_in_a_file_with_blank_lines(tmp_path):
    path = tmp_path / "blanks.csv"
    text = HEADER + rows(100) + "\n\n" + rows(10, start=100).replace(",0.5,", ",inf,", 1)
    path.write_text(text)
    with pytest.raises(RetrostepError) as info:
        read_trace(path)
    check_message(str(info.value), path, 104, ["column gx_dps is 'inf'"])


def test_check_good_traces(tmp_path):
    t = np.arange(201) / 100.0
    good = Trace(t, np.tile([0.0, 0.0, 1.0], (201, 1)), np.zeros((201, 3)), {"subject": "s1"})
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_trace(a, good)
    good.meta = {}
    write_trace(b, good)
    result = run_check(a, b)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout.splitlines()
    assert out[0] == f"{a}: 201 samples, 100.00 Hz, 2.00 s, meta: subject=s1"
    assert out[1] == f"{b}: 201 samples, 100.00 Hz, 2.00 s"


def test_check_reports_every_file(tmp_path):
    t = np.arange(201) / 100.0
    good = tmp_path / "good.csv"
    write_trace(good, Trace(t, np.zeros((201, 3)), np.zeros((201, 3))))
    bad = write_case(tmp_path, "bad", with_line_12("0.100000,0,0,1,abc,0,0"))
    result = run_check(bad, good, tmp_path / "gone.csv")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{good}: 201 samples")
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"retrostep check: error: {bad} line 12: ")
    assert errors[1].startswith(f"retrostep check: error: {tmp_path / 'gone.csv'}: no such file")


# Files the reader used to refuse (timestamps off the median interval by more than 25 %,
# a gap, a rate change) and now reads: real loggers jitter and drop samples
# (README.md, "Trace format"). `check` says what it found and exits 0.
ACCEPTED = [
    ("gap", HEADER + rows(10) + rows(10, start=20), 20, ["1 gap (0.11 s)"],
     ["  gap of 0.11 s: no samples between t_s 0.09 and 0.2"]),
    ("sample-too-early", HEADER + rows(10) + "0.092000,0,0,1,0,0,0\n" + rows(5, start=10),
     16, ["107.14 Hz", "interval jitter 21.7 % rms"], []),
    ("rate-changes",
     HEADER + rows(200) + "".join(f"{1.99 + k / 80:.6f},0,0,1,0,0,0\n" for k in range(1, 200)),
     399, ["88.89 Hz", "interval jitter 11.1 % rms"], []),
]


@pytest.mark.parametrize("case_id,content,samples,needles,gap_lines", ACCEPTED,
                         ids=[c[0] for c in ACCEPTED])
def test_irregular_times_are_checked_not_refused(tmp_path, case_id, content, samples,
                                                 needles, gap_lines):
    path = write_case(tmp_path, case_id, content)
    assert len(read_trace(path).t_s) == samples
    result = run_check(path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout.splitlines()
    assert out[0].startswith(f"{path}: {samples} samples, "), out
    for needle in needles:
        assert needle in out[0], (needle, out[0])
    assert out[1:] == gap_lines
