"""Session reports (retrostep.analysis.report), the bundled session (retrostep.sim.demolog), export."""

import base64
import csv
import filecmp
import re
import struct

import numpy as np
import pytest

from retrostep import cli
from retrostep.sim import demolog
from retrostep.analysis import library
from retrostep.formats import clock
from retrostep.firmware import logbook as lb
from retrostep.formats.logdecode import decode_file, to_result
from retrostep.analysis.report import SUMMARY_COLUMNS, load_report, write_report

DEMO = demolog.bundled_session_path()


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- bundled


def test_bundled_session_is_what_the_engine_and_logbook_write(tmp_path):
    fresh = demolog.make_demo_session(str(tmp_path / "fresh.rsl"))
    assert filecmp.cmp(DEMO, fresh, shallow=False), \
        "regenerate it: python -m retrostep.sim.demolog"


def test_bundled_session_holds_the_demo_walk_as_the_engine_counts_it():
    from retrostep.sim.demolog import bundled_paths
    from retrostep.analysis.replay import replay_file

    log = decode_file(DEMO)
    assert log.problems == []
    result = to_result(log)
    replay = replay_file(bundled_paths()[0])
    for key in ("steps", "forward_steps", "backward_steps", "strides", "drift_alerts"):
        assert result[key] == replay[key]
    # the same events, on the same time base (to the rounding of t_s)
    assert len(result["events"]) == len(replay["events"])
    for got, want in zip(result["events"], replay["events"]):
        assert got["t_s"] == pytest.approx(want["t_s"], abs=2e-4)
        assert dict(got, t_s=0) == dict(want, t_s=0)
    assert result["session"]["board_id"] == demolog.DEMO_BOARD_ID
    assert clock.rtc_datetime(result["session"]["start_s"]) == demolog.DEMO_START


# ---------------------------------------------------------------------------- report


def test_report_of_bundled_session_makes_png_and_self_contained_html(tmp_path):
    png, page, rep = write_report(DEMO, str(tmp_path))
    assert png_size(png) == (1500, 1200)
    assert tmp_path.joinpath(png).stat().st_size > 60_000
    text = open(page, encoding="utf-8").read()
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert m and base64.b64decode(m.group(1)) == open(png, "rb").read()
    # nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "<link" not in text and "<script" not in text
    result = to_result(decode_file(DEMO))
    assert result["steps"] == 68
    for label, value in (("Steps (both feet)", result["steps"]),
                         ("Forward steps", result["forward_steps"]),
                         ("Backward steps", result["backward_steps"]),
                         ("Drift alerts", result["drift_alerts"])):
        assert f"<td>{label}</td><td>{value}</td>" in text
    assert "damaged" not in text
    assert "No balance check in this session." in text


def test_backward_minutes_are_the_time_in_mostly_backward_bouts():
    rep = load_report(DEMO)
    assert [b.direction for b in rep.bouts] == ["forward", "backward"]
    bwd = rep.bouts[1]
    assert (bwd.forward, bwd.backward) == (0, 26)
    # from the bout start (lift-off of its first stride) to its last landing
    assert rep.session.backward_minutes == pytest.approx(bwd.duration_s / 60)
    assert 30 < bwd.duration_s < 34
    assert rep.mean_length_m("backward") == pytest.approx(
        np.mean([e["length_m"] for e in rep.strides if e["direction"] == "backward"]))


def test_path_drifts_off_the_line_as_far_as_the_engine_said():
    rep = load_report(DEMO)
    xy, st = rep.xy_m, rep.strides
    idx = [i for i, e in enumerate(st) if e["_bout"] == 1]
    p0 = xy[idx[0]]
    d = xy[idx[4] + 1] - p0
    d /= np.hypot(*d)
    for i in idx[4:]:
        v = xy[i + 1] - p0
        lateral = d[1] * v[0] - d[0] * v[1]  # the walker's left: they face against d
        assert lateral == pytest.approx(st[i]["lateral_offset_m"], abs=0.25, rel=0.1)
    # forward strides go toward +x (the toe at the start), the backward walk comes back
    assert xy[idx[0], 0] > 9 and xy[-1, 0] < xy[idx[0], 0] - 10


def test_truncated_session_reports_what_it_has_and_says_so(tmp_path):
    data = open(DEMO, "rb").read()
    cut = tmp_path / "s00001.rsl"
    cut.write_bytes(data[:len(data) * 3 // 5])
    png, page, rep = write_report(str(cut), str(tmp_path / "out"))
    log = decode_file(str(cut))
    strides = [r for r in log.records if r.kind == "stride"]
    assert 0 < len(strides) < 34
    assert rep.result["steps"] == 2 * len(strides)
    assert not rep.session.complete and rep.session.problems
    text = open(page, encoding="utf-8").read()
    assert "This log is damaged or incomplete" in text
    assert "power cut" in text
    assert f"<td>Steps (both feet)</td><td>{2 * len(strides)}</td>" in text
    assert png_size(png) == (1500, 1200)


def test_session_with_balance_check_and_no_strides_still_reports(tmp_path):
    (tmp_path / "lib").mkdir()
    log = lb.Logbook(str(tmp_path / "lib" / "b1"), fs_free_fn=lambda: 1 << 28)
    n = log.open_session(start_s=clock.rtc_seconds(demolog.DEMO_START), board_id="b1")
    log.append_balance(300, 2000, 10, 9, True, max_lateral_mm=210)
    log.append_balance(3000, 2600, 10, 7, False, max_lateral_mm=640)
    log.close_session({"samples": 5000}, end_s=0)
    png, page, rep = write_report(log.file_name(n), str(tmp_path / "out"))
    text = open(page, encoding="utf-8").read()
    assert "10 (10 needed)" in text and "9 (9 needed)" in text and "7 (9 needed)" in text
    assert text.count("strides of the balance check") == 2  # a picture for each check
    assert text.count('class="ok">passed') == 1 and text.count("not passed") == 1
    assert "No walking bouts." in text


# ---------------------------------------------------------------------------- export


def test_export_csv_rows_equal_the_strides(tmp_path, capsys):
    out = tmp_path / "strides.csv"
    summ = tmp_path / "sessions.csv"
    code, stdout, err = run(["export", DEMO, "-o", str(out), "--summary", str(summ)], capsys)
    assert code == 0, err
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    strides = [e for e in to_result(decode_file(DEMO))["events"] if e["type"] == "stride"]
    assert len(rows) == len(strides) == 34
    for row, e in zip(rows, strides):
        assert row["board_id"] == demolog.DEMO_BOARD_ID and row["session"] == "1"
        assert float(row["t_s"]) == e["t_s"]
        assert row["direction"] == e["direction"]
        assert int(row["confidence_pct"]) == e["confidence"]
        assert float(row["length_m"]) == e["length_m"]
        assert float(row["heading_deg"]) == e["heading_deg"]
        assert float(row["lateral_offset_m"]) == e["lateral_offset_m"]
        assert row["time"].startswith("2026-03-02T09:")
    with open(summ, newline="") as f:
        srows = list(csv.DictReader(f))
    assert len(srows) == 1 and tuple(srows[0]) == SUMMARY_COLUMNS
    assert (srows[0]["steps"], srows[0]["backward_steps"]) == ("68", "52")
    assert "34 strides of 1 session" in stdout


# ---------------------------------------------------------------------------- CLI


def test_report_command_latest_and_by_number(tmp_path, capsys):
    lib = tmp_path / "lib" / demolog.DEMO_BOARD_ID
    lib.mkdir(parents=True)
    (lib / "s00001.rsl").write_bytes(open(DEMO, "rb").read())
    for spec in ([], ["latest"], ["1"]):
        code, out, err = run(["report", *spec, "--library", str(tmp_path / "lib"),
                              "--out", str(tmp_path / "out")], capsys)
        assert code == 0, err
        assert "68 steps (16 forward, 52 backward)" in out
    assert (tmp_path / "out" / "virtual-demo_s00001.html").exists()


@pytest.mark.parametrize("argv, words", [
    (["report", "--library", "{tmp}/nowhere"], "no session library at"),
    (["report", "7", "--library", "{tmp}/lib"], "no session 7"),
    (["report", "yesterday", "--library", "{tmp}/lib"], "unknown session 'yesterday'"),
    (["report", "{tmp}/missing.rsl"], "no such session file"),
    (["report", "--library", "{tmp}/empty"], "holds no readable sessions"),
    (["history", "--library", "{tmp}/nowhere"], "no session library at"),
    (["history", "--library", "{tmp}/empty"], "no sessions in"),
    (["export", "9", "--library", "{tmp}/lib", "-o", "{tmp}/x.csv"], "no session 9"),
    (["report", "{tmp}/notalog.rsl"], "not a retrostep log"),
])
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, words):
    lib = tmp_path / "lib" / "b1"
    lib.mkdir(parents=True)
    (lib / "s00001.rsl").write_bytes(open(DEMO, "rb").read())
    (tmp_path / "empty").mkdir()
    (tmp_path / "notalog.rsl").write_bytes(b"hello, world")
    code, out, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_library_defaults_to_the_environment_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(library.ENV_LIBRARY, str(tmp_path / "env"))
    assert library.library_dir() == tmp_path / "env"
    assert library.library_dir(str(tmp_path / "x")) == tmp_path / "x"
    monkeypatch.delenv(library.ENV_LIBRARY)
    assert str(library.library_dir()).endswith(".retrostep/library")


def test_side_steps_show_in_the_report_apart_from_forward_and_backward(tmp_path):
    """A session with side-steps: the log decodes them as sideways, the report counts
    them apart, and neither forward nor backward minutes grow from them."""
    from array import array

    from retrostep.sim import corpus
    from retrostep.firmware import gait
    from retrostep.analysis.report import summary_rows
    from retrostep.formats.samples import int16_flat
    from retrostep.formats.trace import quantise

    trace, labels = corpus.make_case("sidestep_left_right")
    b = quantise(trace)
    eng = gait.Gait(b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    log = lb.Logbook(str(tmp_path), fs_free_fn=lambda: 1 << 28)
    number = log.open_session(start_s=1_700_000_000, board_id="side", raw=False)
    flat = int16_flat(b.samples)
    ev = array("i", [0] * gait.EV_FIELDS)
    done, n = 0, len(b.samples)
    while done < n:
        done = eng.feed(flat, done, min(n, done + 52))
        while eng.pop(ev):
            log.append_event(ev)
    eng.flush()
    while eng.pop(ev):
        log.append_event(ev)
    log.close_session(lb.engine_summary(eng), end_s=1_700_000_000 + n // b.odr_hz)
    result = to_result(decode_file(log.file_name(number)))
    side = [e for e in result["events"] if e.get("direction") == "sideways"]
    assert len(side) == eng.sideways_strides > 10
    assert result["sideways_steps"] == eng.sideways_steps == 2 * len(side)
    rows = dict(summary_rows(load_report(log.file_name(number))))
    assert rows["Side-steps"] == str(eng.sideways_steps)
    assert f"{len(side)} sideways" in rows["Strides (this foot)"]
    assert rows["Backward minutes"].startswith("0.0")
    # the figure draws side-steps in their own colour (it raised KeyError: 'sideways')
    png, page, _ = write_report(log.file_name(number), str(tmp_path / "out"))
    assert png_size(png) == (1500, 1200)


@pytest.mark.parametrize("board_id,stem", [("../../x", "x"), ("/etc/cron.d/y", "etc_cron.d_y"),
                                           ("..", "board"), ("a b\\c", "a_b_c")])
def test_a_board_id_from_a_log_never_writes_outside_the_output_folder(tmp_path, board_id, stem):
    (tmp_path / "lib").mkdir()
    log = lb.Logbook(str(tmp_path / "lib" / "b"), fs_free_fn=lambda: 1 << 28)
    n = log.open_session(start_s=clock.rtc_seconds(demolog.DEMO_START), board_id=board_id)
    log.close_session({"samples": 500}, end_s=0)
    out = tmp_path / "deep" / "out"
    png, page, _ = write_report(log.file_name(n), str(out))
    assert {p.name for p in out.iterdir()} == {f"{stem}_s{n:05d}.png", f"{stem}_s{n:05d}.html"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "lib"]  # nothing beside


def test_export_cells_never_run_as_spreadsheet_formulas(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    log = lb.Logbook(str(lib / "b"), fs_free_fn=lambda: 1 << 28)
    log.open_session(start_s=clock.rtc_seconds(demolog.DEMO_START),
                     board_id='=HYPERLINK("http://x","y")')
    log.close_session({"samples": 500}, end_s=0)
    out = tmp_path / "summary.csv"
    assert run(["export", "--library", str(lib), "--all", "-o", str(tmp_path / "s.csv"),
                "--summary", str(out)], capsys)[0] == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["board_id"] == "'=HYPERLINK(\"http://x\",\"y\")"


@pytest.mark.parametrize("argv", [["export", "-o", "/proc/nope.csv"], ["export", "-o", "."],
                                  ["report", "latest", "--out", "/proc/x"]])
def test_output_paths_that_cannot_be_written_are_one_line_errors(tmp_path, capsys, argv,
                                                                 monkeypatch):
    lib = tmp_path / "lib" / "b1"
    lib.mkdir(parents=True)
    (lib / "s00001.rsl").write_bytes(open(demolog.bundled_session_path(), "rb").read())
    monkeypatch.setenv(library.ENV_LIBRARY, str(tmp_path / "lib"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") <= 1 and "Traceback" not in err, err


def test_durations_and_counts_read_as_words():
    from retrostep.analysis.report import fmt_duration
    from retrostep.term import plural

    assert fmt_duration(50) == "50 s"  # it printed 0:50, which reads as 50 minutes
    assert fmt_duration(245) == "4 min 05 s" and fmt_duration(3720) == "1 h 02 min"
    assert plural(1, "drift alert") == "1 drift alert"
    assert plural(0, "drift alert") == "0 drift alerts"


def test_a_balance_check_is_drawn_as_its_strides_in_order(tmp_path):
    from array import array

    from retrostep.analysis.report import balance_rows, balance_strip_svg
    from retrostep.firmware import gait

    (tmp_path / "lib").mkdir()
    log = lb.Logbook(str(tmp_path / "lib" / "b1"), fs_free_fn=lambda: 1 << 28)
    n = log.open_session(start_s=clock.rtc_seconds(demolog.DEMO_START), board_id="b1")
    t = 1000
    for d in [gait.FORWARD] * 5 + [gait.BACKWARD] * 5:
        t += 110
        log.append_event(array("i", [gait.EV_STRIDE, t, d, 90, 600, 0, 0, 0]))
    log.append_balance(t + 10, t + 10 - 1000, 10, 10, True)
    log.close_session({"samples": 5000}, end_s=0)
    rep = load_report(log.file_name(n))
    (b,) = balance_rows(rep)
    svg = balance_strip_svg(rep, b)
    assert re.findall(r">([FB])</text>", svg) == list("FFFFFBBBBB")


def test_an_export_refused_for_its_summary_leaves_no_strides_file(tmp_path, capsys,
                                                                  monkeypatch):
    lib = tmp_path / "lib" / "b1"
    lib.mkdir(parents=True)
    (lib / "s00001.rsl").write_bytes(open(demolog.bundled_session_path(), "rb").read())
    monkeypatch.setenv(library.ENV_LIBRARY, str(tmp_path / "lib"))
    code, _, err = run(["export", "--all", "-o", str(tmp_path / "s.csv"), "--summary",
                        "/proc/x.csv"], capsys)
    assert code == 2 and "/proc/x.csv" in err
    assert not (tmp_path / "s.csv").exists()
