"""The session library (retrostep.analysis.library) and `retrostep history`: days, programme
weeks, streaks, over a library of sessions written with the board's logbook code."""

import json
import shutil
from array import array
from datetime import date, datetime, timedelta

import pytest

from retrostep import cli
from retrostep.sim import demolog
from retrostep.analysis import history, library
from retrostep.firmware import gait
from retrostep.firmware import logbook as lb
from retrostep.analysis.library import bouts_of, programme, sessions
from retrostep.formats import clock
from retrostep.formats.clock import rtc_seconds

ODR = 104


def write_session(lib, board, start, backward_min=0.0, forward_min=0.0, start_s=None,
                  back_mm=650, offsets_mm=None, alerts=0, balance=(), back_period_s=1.0):
    """One session with a forward bout then a backward bout of exactly those minutes.

    Forward strides land once a second, backward ones every `back_period_s`; a bout
    runs from its start to its last landing, so a forward bout of m minutes has 60 m
    strides. Backward strides are `back_mm` long, the k-th `offsets_mm(k)` from the
    line; `alerts` drift alerts are raised at the backward bout's first strides;
    `balance`: (forward steps, backward steps, passed) of balance checks (targets 10
    and 9) logged before walking.
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
    for k, (fwd, bwd, passed) in enumerate(balance):
        log.append_balance(t, 20 * ODR, fwd, bwd, passed, max_lateral_mm=100 + 300 * k)
        t += 25 * ODR
    counts = {gait.FORWARD: 0, gait.BACKWARD: 0}
    for minutes, direction in ((forward_min, gait.FORWARD), (backward_min, gait.BACKWARD)):
        period = round((1.0 if direction > 0 else back_period_s) * ODR)  # samples
        strides = round(minutes * 60 * ODR / period)
        if not strides:
            continue
        put(gait.EV_BOUT_START, t)
        for k in range(strides):
            t += period
            back = direction == gait.BACKWARD
            off = offsets_mm(k) if back and offsets_mm else 0
            put(gait.EV_STRIDE, t, direction, 100, back_mm if back else 1300, 0, off, 0)
            if back and k < alerts:
                put(gait.EV_DRIFT, t, 0, 1, 600, 0, k + 1, 0)
        counts[direction] += strides
        put(gait.EV_BOUT_END, t, 0, 0, strides,
            strides if direction > 0 else 0, strides if direction < 0 else 0)
        t += 10 * ODR
    f, b = counts[gait.FORWARD], counts[gait.BACKWARD]
    log.close_session({"samples": t, "steps": 2 * (f + b), "forward_steps": 2 * f,
                       "backward_steps": 2 * b, "strides": f + b, "forward_strides": f,
                       "backward_strides": b, "alerts": alerts}, end_s=0)
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
                            "band": "in", "goal_met": True}
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


# ---------------------------------------------------------------------------- the page

# a 4-week programme from Mon 2 March 2026: (day, backward minutes of each session);
# days not listed were not walked
PROGRAMME = [
    (2, [12]), (3, [11]), (5, [16]), (7, [10]),  # week 1: 4 met, 5th above the band
    (9, [13]), (10, [8]), (11, [6, 6]), (12, [601 / 60]),  # week 2: 3 met, 10th below
    (16, [12]), (17, [14]), (18, [15]), (20, [12]),  # week 3: 4 met
    (23, [13]), (24, [14]), (25, [12]),  # week 4: 3 met so far
]
PROG_TODAY = date(2026, 3, 26)
FAILED_CHECK_DAY = 9  # the week's balance check, on each week's first day


def _walk_programme(lib, last_day=31):
    lib.mkdir(parents=True, exist_ok=True)
    for day, minutes in PROGRAMME:
        if day > last_day:
            continue
        week = (day - 2) // 7
        for k, m in enumerate(minutes):
            first = k == 0 and day in (2, 9, 16, 23)
            write_session(
                lib, "esp32-pp", datetime(2026, 3, day, 9 + 4 * k, 0), backward_min=m,
                forward_min=1, back_mm=450 + 50 * week,
                back_period_s=(130 - 5 * week) / ODR,  # 96 steps/min, then faster
                offsets_mm=lambda i, w=week: (-1) ** i * (420 - 100 * w) * (i % 5) // 4,
                alerts=max(0, 2 - week),
                balance=[(10, 7 if day == FAILED_CHECK_DAY else 9,
                          day != FAILED_CHECK_DAY)] if first else ())
    return lib


@pytest.fixture(scope="module")
def prog_lib(tmp_path_factory):
    return _walk_programme(tmp_path_factory.mktemp("programme"))


def test_band_of_judges_minutes_as_shown():
    band = library.band_of
    assert [band(m) for m in (0, 9.94, 9.96, 10, 12.5, 15, 15.04, 15.06, 40)] == [
        "below", "below", "in", "in", "in", "in", "in", "above", "above"]
    assert band(12, goal_minutes=12, max_minutes=12) == "in"
    assert band(12.1, goal_minutes=12, max_minutes=12) == "above"


def test_programme_knows_the_band(prog_lib):
    h = programme(sessions(prog_lib), today=PROG_TODAY)
    days = {d["date"].day: d for d in h["days"]}
    assert h["goal"]["max_minutes"] == 15 and h["today"] == PROG_TODAY
    assert days[5]["band"] == "above" and days[5]["goal_met"]  # 16 min: met, shown
    assert days[10]["band"] == "below" and not days[10]["goal_met"]
    assert days[11]["band"] == "in" and days[11]["sessions"] == 2  # 6 + 6
    assert days[18]["band"] == "in"  # 15 min: the top of the band is in it
    assert [w["days_goal_met"] for w in h["weeks"]] == [4, 3, 4, 3]
    assert [w["days_in_band"] for w in h["weeks"]] == [3, 3, 4, 3]
    assert [w["days_above_band"] for w in h["weeks"]] == [1, 0, 0, 0]
    assert "10-15 min backward" in h["summary"]


def test_calendar_cells_mark_missed_days_bands_goals_and_today(prog_lib):
    h = programme(sessions(prog_lib), today=PROG_TODAY)
    cal = history.calendar_cells(h)
    assert [r["week"] for r in cal] == [1, 2, 3, 4]
    assert [r["status"] for r in cal] == ["met", "missed", "met", "in progress"]
    kinds = [[c["kind"] for c in r["cells"]] for r in cal]
    assert kinds[0] == ["in", "in", "missed", "above", "missed", "in", "missed"]
    assert kinds[1] == ["in", "below", "in", "in", "missed", "missed", "missed"]
    assert kinds[3] == ["in", "in", "in", "today", "to come", "to come", "to come"]
    cells = {c["date"]: c for r in cal for c in r["cells"]}
    assert len(cells) == 28 and min(cells) == date(2026, 3, 2)
    missed = cells[date(2026, 3, 4)]
    assert not missed["walked"] and missed["minutes"] == 0 and missed["band"] is None
    assert not cells[date(2026, 3, 10)]["goal_met"] and cells[date(2026, 3, 5)]["goal_met"]
    assert [d for d, c in cells.items() if c["today"]] == [PROG_TODAY]
    assert cells[date(2026, 3, 11)]["minutes"] == pytest.approx(12, abs=0.02)


def test_headline_says_the_week_and_the_days_done(prog_lib):
    early = [s for s in sessions(prog_lib) if s.day <= date(2026, 3, 12)]
    h = programme(early, today=date(2026, 3, 13))
    main, detail = history.headline(h)
    assert main == "Week 2 of 4 — 3 of 4 days done this week"
    assert "7 of 16 days done, 1 of 4 weeks met" in detail
    assert "today: not walked yet" in detail
    h = programme(sessions(prog_lib), today=PROG_TODAY)
    assert history.headline(h)[0] == "Week 4 of 4 — 3 of 4 days done this week"
    h = programme(sessions(prog_lib), today=date(2026, 4, 2))
    assert history.headline(h)[0] == "Programme finished — 2 of 4 weeks met"
    h = programme(sessions(prog_lib), today=date(2026, 2, 20), start=date(2026, 3, 2))
    assert history.headline(h)[0] == "The programme starts on Mon 2 Mar"


def test_session_metrics_on_a_hand_made_session(tmp_path):
    # 1 min forward (1 stride/s), then 60 backward strides of 0.6 m every 1.25 s whose
    # offsets go 0.10, 0.25, -0.30, 0.40 m; 3 drift alerts; two balance checks
    offs = [100, 250, -300, 400]
    write_session(tmp_path, "b", datetime(2026, 4, 1, 9, 0), forward_min=1,
                  backward_min=1.25, back_mm=600, back_period_s=1.25,
                  offsets_mm=lambda k: offs[k % 4], alerts=3,
                  balance=[(10, 9, True), (10, 6, False)])
    s, = sessions(tmp_path, cache=False)
    assert s.forward_cadence_spm == pytest.approx(120)
    assert s.backward_cadence_spm == pytest.approx(96)  # 2 steps per 1.25 s
    assert s.cadence_spm == pytest.approx(2 * 120 * 60 / (60 + 75))
    assert s.forward_stride_m == pytest.approx(1.3)
    assert s.backward_stride_m == pytest.approx(0.6)
    assert s.backward_strides_seen == 60
    assert s.on_line_share == pytest.approx(0.5)  # 0.10 and 0.25 (the limit is in)
    assert s.mean_offset_m == pytest.approx((0.1 + 0.25 + 0.3 + 0.4) / 4)
    assert s.max_offset_m == pytest.approx(0.4)
    assert s.backward_minutes == pytest.approx(1.25)
    assert s.alerts_per_10min == pytest.approx(3 * 10 / 1.25)
    assert [(b["forward_steps"], b["backward_steps"], b["target_backward"], b["passed"])
            for b in s.balance_checks] == [(10, 9, 9, True), (10, 6, 9, False)]
    assert s.balance_checks[1]["max_lateral_m"] == pytest.approx(0.4)
    # kept in the cache: read again from it, the same
    assert sessions(tmp_path) == [s] and sessions(tmp_path) == [s]


def test_a_session_without_strides_has_no_metrics(tmp_path):
    write_session(tmp_path, "b", datetime(2026, 4, 1, 9, 0), balance=[(10, 9, True)])
    s, = sessions(tmp_path, cache=False)
    assert (s.cadence_spm, s.backward_stride_m, s.on_line_share, s.max_offset_m,
            s.alerts_per_10min) == (None, None, None, None, None)
    assert len(s.balance_checks) == 1


def test_day_trends_put_a_days_sessions_together(prog_lib):
    trends = {t["date"].day: t for t in history.day_trends(sessions(prog_lib))}
    assert sorted(trends) == [d for d, _ in PROGRAMME]
    two = trends[11]  # two sessions of 6 min, week 2
    assert two["sessions"] == 2 and two["backward_minutes"] == pytest.approx(12, abs=0.02)
    assert two["backward_stride_m"] == pytest.approx(0.5)
    assert two["backward_cadence_spm"] == pytest.approx(2 * 60 * ODR / 125)
    assert two["forward_cadence_spm"] == pytest.approx(120)
    assert trends[23]["backward_cadence_spm"] == pytest.approx(2 * 60 * ODR / 115)
    assert two["alerts_per_10min"] == pytest.approx(10 * 2 / two["backward_minutes"])
    assert trends[2]["backward_stride_m"] == pytest.approx(0.45)
    assert trends[23]["alerts_per_10min"] == 0
    assert trends[2]["max_offset_m"] == pytest.approx(0.42)
    assert trends[23]["max_offset_m"] == pytest.approx(0.12)
    assert trends[2]["on_line_share"] < trends[23]["on_line_share"] == 1
    checks = [(d, b["passed"]) for d, t in sorted(trends.items()) for b in t["balance_checks"]]
    assert checks == [(2, True), (9, False), (16, True), (23, True)]


def _png_size(path):
    import struct

    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_history_page_png_and_html(tmp_path, capsys):
    # the programme as it stands on Friday of week 2
    lib = _walk_programme(tmp_path / "lib", last_day=12)
    png, page = tmp_path / "h" / "history.png", tmp_path / "h" / "history.html"
    code = cli.main(["history", "--library", str(lib), "--today", "2026-03-13",
                     "--png", str(png), "--html", str(page)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Days walked" in out and f"wrote {page} and {png}" in out
    assert "band 10-15 min: 6 day(s) in it, 1 above, 1 below" in out
    w, hgt = _png_size(png)
    assert w == 1500 and hgt > 1200
    text = page.read_text(encoding="utf-8")
    assert "<h1>Week 2 of 4 — 3 of 4 days done this week</h1>" in text
    assert text.count("data:image/png;base64,") == 1 and "http" not in text
    assert '<td class="missed">Wed 4 Mar<br>not walked</td>' in text
    assert '<td class="below">Tue 10 Mar<br>8 min</td>' in text
    assert '<td class="above">Thu 5 Mar<br>16 min ✓</td>' in text
    assert '<td class="today">Fri 13 Mar<br>today, not walked yet</td>' in text
    assert 'not passed (10/10 forward, 7/9 backward)' in text
    # only the PNG; the JSON with a page: the JSON alone on stdout
    code = cli.main(["history", "--library", str(lib), "--today", "2026-03-13",
                     "--json", "--png", str(tmp_path / "only.png")])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["today"] == "2026-03-13" and "only.png" in err


def test_history_page_unwritable_paths_are_one_line_errors(prog_lib, tmp_path, capsys):
    for bad in (["--png", str(tmp_path)], ["--html", "/proc/nope/history.html"]):
        code = cli.main(["history", "--library", str(prog_lib), *bad])
        out, err = capsys.readouterr()
        assert code == 2 and err.count("\n") == 1 and "error:" in err, err
        assert "Traceback" not in err


def test_history_json_minutes_are_rounded(prog_lib, capsys):
    code = cli.main(["history", "--library", str(prog_lib), "--today", "2026-03-26",
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    h = json.loads(out)
    mar12 = next(d for d in h["days"] if d["date"] == "2026-03-12")
    assert mar12["backward_minutes"] == 10.0 and mar12["band"] == "in"  # 10.0167
    minutes = [v for d in h["days"] + h["weeks"] for k, v in d.items()
               if k.endswith("minutes")] + [h["programme"]["backward_minutes"]]
    assert minutes and all(round(m, 1) == m for m in minutes)
    assert h["weeks"][1]["backward_minutes"] == round(13 + 8 + 12 + 601 / 60, 1)


def test_max_minutes_must_not_be_below_the_goal(prog_lib, capsys):
    code = cli.main(["history", "--library", str(prog_lib), "--goal-minutes", "12",
                     "--max-minutes", "11"])
    assert code == 2 and "--max-minutes" in capsys.readouterr().err


def test_day_trends_weigh_each_session_by_what_it_measured(tmp_path):
    # one day, two sessions: 60 backward strides of 0.5 m, once a second, on the line,
    # 1 alert; then 120 of 0.8 m every 1.25 s, all 0.3 m off the line, 2 alerts
    write_session(tmp_path, "b", datetime(2026, 4, 1, 9, 0), backward_min=1, back_mm=500,
                  alerts=1)
    write_session(tmp_path, "b", datetime(2026, 4, 1, 17, 0), backward_min=2.5,
                  back_mm=800, back_period_s=1.25, offsets_mm=lambda k: 300, alerts=2)
    day, = history.day_trends(sessions(tmp_path, cache=False))
    assert day["sessions"] == 2 and day["backward_minutes"] == pytest.approx(3.5)
    assert day["backward_stride_m"] == pytest.approx((60 * 0.5 + 120 * 0.8) / 180)
    assert day["backward_cadence_spm"] == pytest.approx(2 * 180 * 60 / (60 + 150))
    assert day["on_line_share"] == pytest.approx(60 / 180)
    assert day["mean_offset_m"] == pytest.approx(120 * 0.3 / 180)
    assert day["max_offset_m"] == pytest.approx(0.3)
    assert day["alerts_per_10min"] == pytest.approx(10 * 3 / 3.5)


def test_days_after_the_programme_are_not_missed(tmp_path):
    (tmp_path / "b").mkdir()
    for when in (datetime(2026, 3, 2, 9), datetime(2026, 4, 8, 9)):
        write_session(tmp_path, "b", when, backward_min=12)
    h = programme(sessions(tmp_path), today=date(2026, 4, 9))
    cal = history.calendar_cells(h)
    assert [r["in_programme"] for r in cal] == [True] * 4 + [False, False]
    assert [c["kind"] for c in cal[0]["cells"]] == ["in"] + ["missed"] * 6
    assert {c["kind"] for c in cal[4]["cells"]} == {"after"}
    assert [c["kind"] for c in cal[5]["cells"]] == ["after", "after", "in", "today",
                                                    "to come", "to come", "to come"]
    assert history.headline(h)[0] == "Programme finished — 0 of 4 weeks met"
    png = history.plot_history(h, sessions(tmp_path))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_judges_days_against_the_goal_set_on_the_board(tmp_path, capsys):
    """`deploy --config` with goals.backward_min 12: sync keeps it in the library's
    board.json, and history uses it unless --goal-minutes says otherwise."""
    from retrostep.formats import boardname

    folder = tmp_path / "lib" / demolog.DEMO_BOARD_ID
    folder.mkdir(parents=True)
    shutil.copyfile(demolog.bundled_session_path(), folder / "s00001.rsl")
    assert boardname.goal_minutes('{"goals": {"backward_min": 12}}') == 12
    boardname.write_library_facts(str(folder), name="Left shoe", goal=12)
    assert cli.main(["history", "--library", str(tmp_path / "lib"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["goal"]["minutes"] == 12
    assert cli.main(["history", "--library", str(tmp_path / "lib"), "--json",
                     "--goal-minutes", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["goal"]["minutes"] == 10
