"""The session library (retrostep.analysis.library) and `retrostep history`: days, programme
weeks, streaks, over a library of sessions written with the board's logbook code."""

import json
import shutil
from array import array
from datetime import date, datetime, timedelta

import pytest

from retrostep import cli
from retrostep.sim import demolog
from retrostep.analysis import library
from retrostep.firmware import gait
from retrostep.firmware import logbook as lb
from retrostep.analysis.library import bouts_of, programme, sessions
from retrostep.formats import clock
from retrostep.formats.clock import rtc_seconds

ODR = 104


def write_session(lib, board, start, backward_min=0.0, forward_min=0.0, start_s=None):
    """One session with a forward bout then a backward bout of exactly those minutes.

    Strides land once a second; a bout runs from its start to its last landing, so a
    bout of m minutes has 60 m strides.
    """
    log = lb.Logbook(str(lib / board), fs_free_fn=lambda: 1 << 28)
    n = log.open_session(start_s=rtc_seconds(start) if start_s is None else start_s,
                         board_id=board, fw_version="0.1.0")
    ev = array("i", [0] * gait.EV_FIELDS)

    def put(*fields):
        for k in range(gait.EV_FIELDS):
            ev[k] = fields[k] if k < len(fields) else 0
        assert log.append_event(ev)

    t = 5 * ODR
    counts = {gait.FORWARD: 0, gait.BACKWARD: 0}
    for minutes, direction in ((forward_min, gait.FORWARD), (backward_min, gait.BACKWARD)):
        strides = round(minutes * 60)
        if not strides:
            continue
        put(gait.EV_BOUT_START, t)
        for _ in range(strides):
            t += ODR
            put(gait.EV_STRIDE, t, direction, 100, 1300 if direction > 0 else 650, 0, 0, 0)
        counts[direction] += strides
        put(gait.EV_BOUT_END, t, 0, 0, strides,
            strides if direction > 0 else 0, strides if direction < 0 else 0)
        t += 10 * ODR
    f, b = counts[gait.FORWARD], counts[gait.BACKWARD]
    log.close_session({"samples": t, "steps": 2 * (f + b), "forward_steps": 2 * f,
                       "backward_steps": 2 * b, "strides": f + b, "forward_strides": f,
                       "backward_strides": b}, end_s=0)
    return log.file_name(n)


# (day in March 2026, backward minutes of each session that day)
PLAN = [
    (2, [12]), (3, [10]), (4, [6, 5]), (6, [9]), (7, [15]),  # week 1: 4 days met
    (9, [10]), (10, [10]), (11, [10]),  # week 2: 3 days met
    (16, [12]), (17, [12]), (18, [12]), (19, [12]),  # week 3: 4 days met
    (23, [11]),  # week 4: 1 day so far
]
TODAY = date(2026, 3, 24)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = tmp_path_factory.mktemp("library")
    for day, minutes in PLAN:
        for k, m in enumerate(minutes):
            write_session(lib, "esp32-aa", datetime(2026, 3, day, 8 + 5 * k, 15),
                          backward_min=m, forward_min=2)
    # another board, forward only, on a day of week 2: adds steps, not backward minutes
    write_session(lib, "rp2040-bb", datetime(2026, 3, 11, 18, 0), forward_min=5)
    # the board's clock was not set: no date, not counted
    write_session(lib, "rp2040-bb", None, backward_min=20, start_s=3600)
    return lib


def test_sessions_lists_every_file_with_its_date_and_minutes(lib):
    found = sessions(lib, cache=False)
    assert len(found) == 16
    assert found[0].start is None and found[0].label == "rp2040-bb/2"
    dated = found[1:]
    assert [s.start for s in dated] == sorted(s.start for s in dated)
    first = dated[0]
    assert (first.board_id, first.number, first.start) == ("esp32-aa", 1,
                                                           datetime(2026, 3, 2, 8, 15))
    assert first.backward_minutes == pytest.approx(12)
    assert first.forward_minutes == pytest.approx(2)
    assert first.backward_steps == 2 * 12 * 60 and first.complete and not first.problems
    assert len(sessions(lib, board="rp2040-bb", cache=False)) == 2


def test_history_days_weeks_programme_and_streaks(lib):
    h = programme(sessions(lib), today=TODAY)
    days = {d["date"]: d for d in h["days"]}
    assert sorted(days) == sorted(date(2026, 3, d) for d, _ in PLAN)
    mar4 = days[date(2026, 3, 4)]
    assert mar4["sessions"] == 2 and mar4["backward_minutes"] == pytest.approx(11)
    assert mar4["backward_steps"] == 2 * 11 * 60 and mar4["goal_met"]  # 6 + 5 together
    assert not days[date(2026, 3, 6)]["goal_met"]  # 9 minutes
    mar11 = days[date(2026, 3, 11)]
    assert mar11["sessions"] == 2 and mar11["backward_minutes"] == pytest.approx(10)
    assert mar11["forward_steps"] == 2 * 60 * (2 + 5)

    weeks = h["weeks"]
    assert [w["first_day"] for w in weeks] == [date(2026, 3, 2 + 7 * k) for k in range(4)]
    assert [w["days_goal_met"] for w in weeks] == [4, 3, 4, 1]
    assert [round(w["backward_minutes"], 6) for w in weeks] == [57, 30, 48, 11]
    assert [w["status"] for w in weeks] == ["met", "missed", "met", "in progress"]
    p = h["programme"]
    assert (p["state"], p["weeks_met"], p["days_met"], p["days_needed"],
            p["current_week"]) == ("in progress", 2, 12, 16, 4)
    # days met: 2-4 Mar (3), 7, 9-11 (3), 16-19 (4), 23; today (24th) not yet
    assert h["streaks"] == {"days_current": 1, "days_longest": 4,
                            "weeks_current": 1, "weeks_longest": 1}
    assert h["undated_sessions"] == ["rp2040-bb/2"]


def test_history_goal_is_configurable(lib):
    h = programme(sessions(lib), goal_minutes=12, days_per_week=3, weeks=3, today=TODAY)
    # days of >= 12 min: 2, 7, 16, 17, 18, 19 March
    assert [w["days_goal_met"] for w in h["weeks"]] == [2, 0, 4, 0]
    assert [w["in_programme"] for w in h["weeks"]] == [True, True, True, False]
    assert h["programme"]["state"] == "finished" and h["programme"]["weeks_met"] == 1
    assert h["streaks"]["days_longest"] == 4 and h["streaks"]["days_current"] == 0
    h = programme(sessions(lib), days_per_week=3, today=TODAY)
    assert h["streaks"]["weeks_longest"] == 3 and h["streaks"]["weeks_current"] == 3
    h = programme(sessions(lib), days_per_week=3, today=date(2026, 3, 31))
    assert h["streaks"]["weeks_current"] == 0  # week 4 ended with one day
    assert h["programme"]["state"] == "finished"


def test_history_command_json_and_tables(lib, capsys):
    code = cli.main(["history", "--library", str(lib), "--today", "2026-03-24", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    h = json.loads(out)
    assert h["programme"]["weeks_met"] == 2 and h["goal"]["start"] == "2026-03-02"
    assert h["days"][0] == {"date": "2026-03-02", "sessions": 1, "backward_minutes": 12.0,
                            "forward_minutes": 2.0, "backward_steps": 1440,
                            "forward_steps": 240, "steps": 1680, "drift_alerts": 0,
                            "goal_met": True}
    code = cli.main(["history", "--library", str(lib), "--today", "2026-03-24",
                     "--weeks", "6", "--goal-minutes", "9"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Programme weeks" in out and "Days walked" in out
    assert "programme in progress: 2 of 6 weeks met" in out
    assert "no date" in out and "rp2040-bb/2" in out


def test_mostly_backward_bouts_count_as_backward_minutes():
    def stride(t, d):
        return {"t_s": t, "type": "stride", "direction": d}

    events = ([{"t_s": 0.0, "type": "bout_start"}]
              + [stride(1.0 + k, "backward" if k < 6 else "forward") for k in range(10)]
              + [{"t_s": 10.0, "type": "bout_end"}, {"t_s": 20.0, "type": "bout_start"}]
              + [stride(21.0 + k, "backward" if k % 2 else "forward") for k in range(10)]
              + [{"t_s": 30.0, "type": "bout_end"}])
    b = bouts_of(events)
    assert [x.direction for x in b] == ["backward", "forward"]  # 6 of 10; 5 of 10
    assert library.minutes_by_direction(b) == pytest.approx((10 / 60, 10 / 60))


def test_bouts_survive_missing_records():
    # no bout_start, no bout_end, and a pause longer than the engine's bout gap
    events = [{"t_s": t, "type": "stride", "direction": "backward"}
              for t in (10.0, 11.0, 12.0, 13.0, 30.0, 31.0)]
    b = bouts_of(events)
    assert [(x.start_s, x.end_s, len(x.strides)) for x in b] == [(9.0, 13.0, 4),
                                                                 (29.0, 31.0, 2)]


def test_library_lists_damaged_and_foreign_files_without_crashing(tmp_path):
    board = tmp_path / "esp32-cc"
    board.mkdir()
    good = write_session(tmp_path, "esp32-cc", datetime(2026, 4, 1, 9, 0), backward_min=3)
    data = open(good, "rb").read()
    (board / "s00002.rsl").write_bytes(data[:len(data) // 2])
    (board / "s00003.rsl").write_bytes(b"not a log at all")
    (board / "s00004.rsl").write_bytes(b"")
    (board / "s00005.rsl").write_bytes(data[:20])
    found = {s.path.rsplit("/", 1)[1]: s for s in sessions(tmp_path, cache=False)}
    assert len(found) == 5
    assert found["s00001.rsl"].error is None and not found["s00001.rsl"].problems
    cut = found["s00002.rsl"]
    assert cut.error is None and not cut.complete and cut.problems
    assert 0 < cut.backward_steps < 2 * 3 * 60
    assert "not a retrostep log" in found["s00003.rsl"].error
    for name in ("s00004.rsl", "s00005.rsl"):
        assert found[name].error and found[name].board_id == "esp32-cc"
    h = programme(list(found.values()), today=date(2026, 4, 1))
    assert len(h["unreadable_sessions"]) == 3


def test_library_cache_skips_unchanged_files_and_rereads_changed_ones(tmp_path, monkeypatch):
    (tmp_path / "b").mkdir()
    path = write_session(tmp_path, "b", datetime(2026, 4, 1, 9, 0), backward_min=1)
    first = sessions(tmp_path)
    assert (tmp_path / library.CACHE_FILE).exists()
    calls = []
    real = library.read_session
    monkeypatch.setattr(library, "read_session",
                        lambda p, hint="": calls.append(p) or real(p, hint))
    assert sessions(tmp_path) == first and calls == []
    shutil.copyfile(demolog.bundled_session_path(), path)  # a different file, same name
    again = sessions(tmp_path)
    assert len(calls) == 1 and again[0].steps == 68


def test_rtc_seconds_count_from_2000_or_1970():
    when = datetime(2026, 3, 2, 9, 30)
    assert clock.rtc_datetime(rtc_seconds(when)) == when
    assert clock.rtc_datetime(int((when - datetime(1970, 1, 1)).total_seconds())) == when
    assert not clock.clock_was_set(clock.rtc_datetime(3600))
    assert clock.rtc_datetime(3600) == datetime(2000, 1, 1) + timedelta(hours=1)
