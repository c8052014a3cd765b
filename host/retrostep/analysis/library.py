"""The local session library on the laptop, and what its sessions add up to.

`retrostep sync` copies each board's session logs to ``<library>/<board_id>/sNNNNN.rsl``.
The library is ``~/.retrostep/library`` unless the environment variable
RETROSTEP_LIBRARY or a command's ``--library DIR`` names another folder.

    from retrostep.analysis.library import library_dir, sessions, programme
    lib = library_dir()                       # or library_dir("/path/to/library")
    for s in sessions(lib):
        print(s.board_id, s.number, s.start, s.backward_minutes, s.problems)
    print(programme(sessions(lib))["summary"])

Damaged files never stop a listing: a session whose records are partly unreadable is
listed with what could be read and its ``problems``; a file that is not a readable log
at all is listed with ``error`` set and zero counts.

Time: the header's session start is the board's RTC in seconds. MicroPython's
embedded ports count from 2000-01-01 and some (and the unix port) from 1970-01-01; a
value of 946684800 or more can only be a 1970-based count (a 2000-based one would be
after 2029), smaller values are 2000-based. The RTC holds local time (mpremote and
`retrostep sync` set it from the laptop's clock), so start times are naive local
datetimes. A start before 2020 means the board's clock was not set: such sessions have
``start = None`` and are left out of the day and week totals (and said so).

Backward minutes are the time spent in bouts that are mostly backward (more than half
of their strides backward); a bout runs from the lift-off of its first stride to the
landing of its last.

Each session also carries what the history page trends, computed once when the file is
read (and kept in the cache): cadence, mean stride length, how straight the backward
strides were, drift alerts per 10 backward minutes and the balance checks
(`Session` lists them; `session_metrics` computes them from a result).

The programme's band: a day's backward minutes are below it (the goal is not met),
in it (10-15 min by default) or above it (the goal is met; more than the programme
asks, worth a look but not a failure). Days are judged on their minutes as shown, to
0.1 min (MINUTES_DECIMALS), so a page never shows "10.0 min" on a day that missed 10.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from retrostep import __version__
from retrostep.errors import RetrostepError
from retrostep.firmware import gait
from retrostep.firmware import logbook as lb
from retrostep.formats.clock import clock_was_set, dated_from_sync, rtc_datetime
from retrostep.schema import COUNTERS

ENV_LIBRARY = "RETROSTEP_LIBRARY"
DEFAULT_LIBRARY = "~/.retrostep/library"
CACHE_FILE = ".index.json"
CACHE_VERSION = 4  # 2: sideways counters; 3: cadence, strides, straightness, balance;
# 4: dated_from_sync
BOUT_GAP_S = gait.DEFAULTS["bout_gap_s"]

# the weekly programme (DESIGN.md section 1): 10-15 min backward, 4 days a week, 4 weeks
GOAL_MINUTES = 10.0  # the band's low end: a day with fewer minutes has not met the goal
MAX_MINUTES = 15.0  # the band's high end: more is not a failure, but worth showing
DAYS_PER_WEEK = 4
PROGRAMME_WEEKS = 4
MINUTES_DECIMALS = 1  # minutes are shown, and days judged, to 0.1 min
BANDS = ("below", "in", "above")

# straightness of a backward stride: within this distance of the line (either side)
ON_LINE_M = 0.25


# ---------------------------------------------------------------------------- places


def library_dir(override=None) -> Path:
    """The library folder: `override`, else $RETROSTEP_LIBRARY, else ~/.retrostep/library."""
    raw = override or os.environ.get(ENV_LIBRARY) or DEFAULT_LIBRARY
    return Path(os.path.expanduser(str(raw)))


# ---------------------------------------------------------------------------- bouts


@dataclass
class Bout:
    start_s: float  # session time of the first stride's lift-off (or an estimate)
    end_s: float  # landing of the last stride
    strides: list = field(default_factory=list)  # the bout's stride events (dicts)
    closed: bool = False  # a bout-end record was read

    @property
    def forward(self):
        return sum(1 for e in self.strides if e["direction"] == "forward")

    @property
    def backward(self):
        return sum(1 for e in self.strides if e["direction"] == "backward")

    @property
    def direction(self):
        """'backward' when more than half of the strides are backward, else 'forward'."""
        return "backward" if 2 * self.backward > len(self.strides) else "forward"

    @property
    def duration_s(self):
        return max(0.0, self.end_s - self.start_s)

    @property
    def cadence_spm(self):
        """Steps (both feet) per minute over the bout, or None for a bout of one stride."""
        if len(self.strides) < 2 or self.duration_s <= 0:
            return None
        return 2 * len(self.strides) * 60.0 / self.duration_s


def bouts_of(events, bout_gap_s=BOUT_GAP_S):
    """Bouts from a result's events (retrostep.formats.logdecode.to_result / replay).

    Follows the engine's bout_start / bout_end events; when records are missing (a
    damaged log) a stride without an open bout opens one, a pause longer than
    `bout_gap_s` between strides closes one, and the last bout ends at its last stride.
    """
    out = []
    cur = None

    def close(closed=False):
        nonlocal cur
        if cur is not None and cur.strides:
            if cur.start_s is None:  # no bout_start read: one typical stride earlier
                ts = [e["t_s"] for e in cur.strides]
                gaps = sorted(b - a for a, b in zip(ts, ts[1:]))
                cur.start_s = ts[0] - (gaps[len(gaps) // 2] if gaps else 0.0)
            cur.end_s = cur.strides[-1]["t_s"]
            cur.closed = closed
            out.append(cur)
        cur = None

    for e in events:
        kind = e["type"]
        if kind == "bout_start":
            close()
            cur = Bout(e["t_s"], e["t_s"])
        elif kind == "stride":
            if cur is not None and cur.strides and e["t_s"] - cur.strides[-1]["t_s"] > bout_gap_s:
                close()
            if cur is None:
                cur = Bout(None, e["t_s"])
            cur.strides.append(e)
        elif kind == "bout_end":
            close(closed=True)
    close()
    return out


def minutes_by_direction(bouts):
    """(forward minutes, backward minutes): time in bouts mostly forward / backward."""
    fwd = sum(b.duration_s for b in bouts if b.direction == "forward")
    bwd = sum(b.duration_s for b in bouts if b.direction == "backward")
    return fwd / 60.0, bwd / 60.0


# ---------------------------------------------------------------------------- sessions


@dataclass
class Session:
    """One session file of the library, as far as it could be read."""

    path: str
    board_id: str
    number: int | None = None
    start_s: int | None = None  # RTC seconds from the header
    start: datetime | None = None  # None: unreadable header or the board's clock not set
    duration_s: float = 0.0
    steps: int = 0
    forward_steps: int = 0
    backward_steps: int = 0
    strides: int = 0
    forward_strides: int = 0
    backward_strides: int = 0
    sideways_steps: int = 0
    sideways_strides: int = 0
    drift_alerts: int = 0  # the counters above are retrostep.schema.COUNTERS (a test checks)
    bouts: int = 0
    forward_minutes: float = 0.0
    backward_minutes: float = 0.0
    dated_from_sync: bool = False  # the board's clock was not set: start is from the sync
    complete: bool = False  # the session summary was read (the session was closed)
    # what the history trends (session_metrics); None when the session has nothing to
    # measure (no bout of two strides, no backward stride, no backward minute)
    cadence_spm: float | None = None  # steps (both feet) per minute while walking
    forward_cadence_spm: float | None = None  # ... in the bouts mostly forward
    backward_cadence_spm: float | None = None  # ... in the bouts mostly backward
    forward_stride_m: float | None = None  # mean stride length of the forward strides
    backward_stride_m: float | None = None  # ... of the backward strides
    backward_strides_seen: int = 0  # backward stride records read (the weights below)
    on_line_share: float | None = None  # backward strides within ON_LINE_M of the line
    mean_offset_m: float | None = None  # mean |lateral offset| of the backward strides
    max_offset_m: float | None = None  # largest |lateral offset| of a backward stride
    alerts_per_10min: float | None = None  # drift alerts per 10 backward minutes
    # balance checks: t_s, forward_steps, target_forward, backward_steps,
    # target_backward, passed (bool), max_lateral_m
    balance_checks: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # damage found while decoding
    error: str | None = None  # set when nothing could be read

    @property
    def day(self) -> date | None:
        return self.start.date() if self.start else None

    @property
    def label(self):
        num = "?" if self.number is None else str(self.number)
        return f"{self.board_id}/{num}"

    def to_json(self):
        d = asdict(self)
        d["start"] = self.start.isoformat() if self.start else None
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["start"] = datetime.fromisoformat(d["start"]) if d["start"] else None
        return cls(**d)


def read_session(path, board_hint="", log=None) -> tuple[Session, dict | None]:
    """Decode one log file: (Session, the replay-style result dict or None).

    `log`: the file already decoded (retrostep.formats.logdecode.decode_file), if it was.
    Never raises for a damaged or foreign file: the Session carries the error.
    """
    from retrostep.formats.logdecode import decode_file, to_result

    path = str(path)
    s = Session(path=path, board_id=board_hint)
    try:
        if log is None:
            log = decode_file(path)
        result = to_result(log)
    except (RetrostepError, OSError) as exc:
        s.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a damaged file never stops a listing
        s.error = f"unreadable ({type(exc).__name__}: {exc})"
    if s.error is not None:
        if log is not None:
            s.problems = [f"byte {p.offset}: {p.reason}" for p in log.problems]
        return s, None
    info = result["session"]
    s.board_id = info["board_id"] or board_hint
    s.number = info["number"]
    s.start_s = info["start_s"]
    when = rtc_datetime(info["start_s"])
    if clock_was_set(when):
        s.start = when
    else:  # the board's clock was not set: date it from its sync, and say so
        s.start = dated_from_sync(path, info["start_s"])
        s.dated_from_sync = s.start is not None
    for key in ("duration_s",) + COUNTERS:
        setattr(s, key, result[key])
    bl = bouts_of(result["events"])
    s.bouts = len(bl)
    s.forward_minutes, s.backward_minutes = minutes_by_direction(bl)
    for key, value in session_metrics(result, bl, s.drift_alerts, s.backward_minutes).items():
        setattr(s, key, value)
    s.complete = info["complete"]
    s.problems = [f"byte {p['offset']}: {p['reason']}" for p in result["problems"]]
    if not s.complete:
        s.problems.append("no session summary: the session was cut short (power cut or "
                          "unplugged); counts come from the stride records read")
    return s, result


def _cadence(bouts):
    """Steps per minute over the bouts of two strides or more, or None."""
    bl = [b for b in bouts if b.cadence_spm]
    t = sum(b.duration_s for b in bl)
    return 2 * sum(len(b.strides) for b in bl) * 60.0 / t if t else None


def _mean(values):
    return sum(values) / len(values) if values else None


def session_metrics(result, bouts, drift_alerts, backward_minutes) -> dict:
    """The per-session figures the history trends, from a result and its bouts.

    Cadence: steps (two per stride) per minute over the bouts of two strides or more
    (all of them, and those mostly forward / backward). Stride length: the mean of the
    forward / backward strides. Straightness, of the backward strides: the share within
    ON_LINE_M of the line, the mean and the largest |lateral offset|. Alerts: drift
    alerts (raised in backward bouts only) per 10 backward minutes. Balance checks as
    the log has them, times in s and the lateral offset in m.
    """
    strides = [e for e in result["events"] if e["type"] == "stride"]
    fwd = [e for e in strides if e["direction"] == "forward"]
    bwd = [e for e in strides if e["direction"] == "backward"]
    offsets = [abs(e["lateral_offset_m"]) for e in bwd]
    return {
        "cadence_spm": _cadence(bouts),
        "forward_cadence_spm": _cadence([b for b in bouts if b.direction == "forward"]),
        "backward_cadence_spm": _cadence([b for b in bouts if b.direction == "backward"]),
        "forward_stride_m": _mean([e["length_m"] for e in fwd]),
        "backward_stride_m": _mean([e["length_m"] for e in bwd]),
        "backward_strides_seen": len(bwd),
        "on_line_share": (sum(1 for o in offsets if o <= ON_LINE_M + 1e-9) / len(offsets)
                          if offsets else None),
        "mean_offset_m": _mean(offsets),
        "max_offset_m": max(offsets) if offsets else None,
        "alerts_per_10min": (10.0 * drift_alerts / backward_minutes
                             if backward_minutes > 0 else None),
        "balance_checks": [balance_check(b) for b in result.get("balance_checks", [])],
    }


def balance_check(b):
    """One balance check of a result as the history keeps it."""
    return {"t_s": b["t_s"], "forward_steps": b["forward_steps"],
            "target_forward": b["target_forward"], "backward_steps": b["backward_steps"],
            "target_backward": b["target_backward"], "passed": bool(b["passed"]),
            "max_lateral_m": b["max_lateral_mm"] / 1000}


def session_files(lib):
    """The .rsl files under the library folder (hidden folders skipped), sorted."""
    lib = Path(lib)
    out = []
    for p in lib.rglob("*" + lb.LOG_SUFFIX):
        rel = p.relative_to(lib).parts
        if any(part.startswith(".") for part in rel) or not p.is_file():
            continue
        out.append(p)
    return sorted(out)


def check_library(lib):
    lib = Path(lib)
    if not lib.is_dir():
        raise RetrostepError(
            f"no session library at {lib}: run `retrostep sync` with the board plugged in, "
            f"or name a library folder with --library DIR (or ${ENV_LIBRARY})")
    return lib


def sessions(lib, board=None, cache=True) -> list[Session]:
    """Every session in the library (of one board if `board`), oldest first.

    Sessions without a date (clock not set, header unreadable) come first. With
    `cache`, what was decoded is kept in <library>/.index.json, keyed by each file's
    size and modification time, so unchanged files are not decoded again.
    """
    lib = check_library(lib)
    index = _load_cache(lib) if cache else {}
    fresh = {}
    out = []
    for p in session_files(lib):
        rel = p.relative_to(lib).as_posix()
        st = p.stat()
        key = [st.st_size, st.st_mtime_ns]
        hint = p.parent.name if p.parent != lib else ""
        entry = index.get(rel)
        s = None
        if entry and entry.get("key") == key:
            try:
                s = Session.from_json(entry["session"])
                s.path = str(p)
            except (KeyError, TypeError, ValueError):
                s = None
        if s is None:
            s, _ = read_session(p, hint)
        fresh[rel] = {"key": key, "session": s.to_json()}
        if board is None or board in (s.board_id, hint):
            out.append(s)
    if cache and fresh != index:
        _save_cache(lib, fresh)
    out.sort(key=lambda s: (s.start is not None, s.start or datetime.min, s.board_id,
                            s.number if s.number is not None else -1, s.path))
    return out


def _load_cache(lib):
    try:
        with open(lib / CACHE_FILE, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if data.get("version") != [CACHE_VERSION, __version__]:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(lib, entries):
    tmp = lib / (CACHE_FILE + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": [CACHE_VERSION, __version__], "entries": entries}, f)
        os.replace(tmp, lib / CACHE_FILE)
    except OSError:
        pass  # a read-only library still lists; it just decodes again next time


def find_session(lib, spec="latest", board=None) -> Session:
    """The session named by `spec`: 'latest' or a session number (in the library)."""
    found = [s for s in sessions(lib, board) if s.error is None]
    if not found:
        who = f" of board {board}" if board else ""
        raise RetrostepError(f"the library {lib} holds no readable sessions{who}: run "
                             "`retrostep sync` first")
    if spec == "latest":
        return max(found, key=lambda s: (s.start is not None, s.start or datetime.min,
                                         os.path.getmtime(s.path), s.number or 0))
    if not str(spec).isdigit():
        raise RetrostepError(f"unknown session {spec!r}: 'latest' or a session number")
    hits = [s for s in found if s.number == int(spec)]
    if not hits:
        nums = ", ".join(str(s.number) for s in found[-5:])
        raise RetrostepError(f"no session {spec} in {lib}"
                             f"{' for board ' + board if board else ''} (latest: {nums}); "
                             "`retrostep history` lists the days walked")
    boards = sorted({s.board_id for s in hits})
    if len(boards) > 1:
        raise RetrostepError(f"session {spec} exists for several boards ({', '.join(boards)}): "
                             "choose one with --board ID")
    return hits[-1]


def resolve_session(spec, library=None, board=None) -> str:
    """Path of the log named by a command's SESSION argument.

    SESSION: a path to a .rsl file, 'demo' (the bundled session), 'latest' (the most
    recent session in the library) or a session number.
    """
    spec = "latest" if spec is None else str(spec)
    if spec == "demo":
        from retrostep.sim.demolog import bundled_session_path

        return bundled_session_path()
    if spec == "latest" or spec.isdigit():
        return find_session(library_dir(library), spec, board).path
    if spec.endswith(lb.LOG_SUFFIX) or os.sep in spec or "/" in spec or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise RetrostepError(f"{spec}: no such session file")
        return spec
    raise RetrostepError(f"unknown session {spec!r}: give a .rsl file, 'latest', 'demo' or "
                         "a session number")


# ---------------------------------------------------------------------------- history


def _streaks(flags):
    """(longest run of True, run of True ending at the last element) of a list."""
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best, run


def band_of(minutes, goal_minutes=GOAL_MINUTES, max_minutes=MAX_MINUTES):
    """'below', 'in' or 'above' the band of backward minutes, judged on the minutes as
    shown (rounded to MINUTES_DECIMALS): 9.96 min shows as 10.0 and is in the band."""
    m = round(minutes, MINUTES_DECIMALS)
    if m < goal_minutes - 1e-9:
        return "below"
    return "above" if m > max_minutes + 1e-9 else "in"


def programme(all_sessions, goal_minutes=GOAL_MINUTES, days_per_week=DAYS_PER_WEEK,
              weeks=PROGRAMME_WEEKS, start=None, today=None,
              max_minutes=MAX_MINUTES) -> dict:
    """Days, weeks, the programme's progress and the streaks, from dated sessions.

    A day meets the goal when its backward minutes (all its sessions together) reach
    `goal_minutes`; its "band" says whether they are below, in or above the band
    `goal_minutes`..`max_minutes` (band_of). A week meets the goal when
    `days_per_week` of its days do. Weeks are the
    programme's: seven days from `start` (default: the first day with a session).
    Streaks: consecutive days, and consecutive weeks, meeting the goal; the current
    streaks end today / this week, or yesterday / last week while today / this week
    has not met the goal yet.
    """
    today = today or date.today()
    if isinstance(start, datetime):
        start = start.date()
    max_minutes = max(max_minutes, goal_minutes)
    dated = [s for s in all_sessions if s.start is not None and s.error is None]
    undated = [s for s in all_sessions if s.start is None or s.error is not None]
    days = _day_totals(dated, goal_minutes, max_minutes)
    if start is None:
        start = min(days) if days else today
    met_in_week = _goal_days_by_week(days, start)
    week_rows = _week_rows(days, met_in_week, start, weeks, days_per_week, today)
    end = start + timedelta(days=7 * weeks - 1)
    progress = _progress(week_rows[:weeks], end, weeks, days_per_week, today)
    return {
        "goal": {"minutes": goal_minutes, "max_minutes": max_minutes,
                 "days_per_week": days_per_week, "weeks": weeks, "start": start, "end": end},
        "today": today,
        "days": [days[d] for d in sorted(days)],
        "weeks": week_rows,
        "programme": progress,
        "streaks": _goal_streaks(days, met_in_week, start, days_per_week, today),
        "undated_sessions": [s.label for s in undated if s.error is None],
        "unreadable_sessions": [s.path for s in undated if s.error is not None],
        "summary": _programme_summary(progress, weeks, days_per_week, goal_minutes,
                                      max_minutes),
    }


def _day_totals(dated, goal_minutes, max_minutes):
    """{date: that day's sessions added up, whether they met the goal, and the band}."""
    days = {}
    for s in dated:
        d = days.setdefault(s.day, {"date": s.day, "sessions": 0, "backward_minutes": 0.0,
                                    "forward_minutes": 0.0, "backward_steps": 0,
                                    "forward_steps": 0, "steps": 0, "drift_alerts": 0})
        d["sessions"] += 1
        d["backward_minutes"] += s.backward_minutes
        d["forward_minutes"] += s.forward_minutes
        d["backward_steps"] += s.backward_steps
        d["forward_steps"] += s.forward_steps
        d["steps"] += s.steps
        d["drift_alerts"] += s.drift_alerts
    for d in days.values():
        d["band"] = band_of(d["backward_minutes"], goal_minutes, max_minutes)
        d["goal_met"] = d["band"] != "below"
    return days


def _week_of(day, start):
    """The programme week (0 = the first) of a day."""
    return (day - start).days // 7


def _goal_days_by_week(days, start):
    """{week: the number of its days that met the goal} (weeks with none left out)."""
    met_in_week = {}
    for day, d in days.items():
        if d["goal_met"]:
            met_in_week[_week_of(day, start)] = met_in_week.get(_week_of(day, start), 0) + 1
    return met_in_week


def _week_rows(days, met_in_week, start, weeks, days_per_week, today):
    """One row per week: the programme's weeks, then any later week walked."""
    n_rows = max(weeks, _week_of(max(days), start) + 1 if days else 0)
    week_rows = []
    for k in range(n_rows):
        w0 = start + timedelta(days=7 * k)
        w1 = w0 + timedelta(days=6)
        ds = [d for day, d in days.items() if w0 <= day <= w1]
        met = met_in_week.get(k, 0)
        week_rows.append({
            "week": k + 1, "first_day": w0, "last_day": w1,
            "in_programme": k < weeks,
            "days_walked": len(ds), "days_goal_met": met,
            "days_in_band": sum(1 for d in ds if d["band"] == "in"),
            "days_above_band": sum(1 for d in ds if d["band"] == "above"),
            "backward_minutes": sum(d["backward_minutes"] for d in ds),
            "backward_steps": sum(d["backward_steps"] for d in ds),
            "forward_steps": sum(d["forward_steps"] for d in ds),
            "goal_met": met >= days_per_week,
            "status": ("met" if met >= days_per_week else
                       "to come" if w0 > today else
                       "in progress" if w0 <= today <= w1 else "missed"),
        })
    return week_rows


def _current_streak(flags):
    """The run of True ending at the last flag (today, this week), or at the one before
    while the last has not been met: it may still come."""
    if flags and not flags[-1]:
        flags = flags[:-1]
    return _streaks(flags)[1]


def _goal_streaks(days, met_in_week, start, days_per_week, today):
    """The current and longest streaks of days, and of weeks, meeting the goal: over
    every day (week) from the first day walked (programme start) to today or the last
    day walked, whichever is later."""
    best_days = cur_days = best_weeks = cur_weeks = 0
    if days:
        d0 = min(days)
        span = (max(today, max(days)) - d0).days + 1
        flags = [days.get(d0 + timedelta(days=i), {}).get("goal_met", False)
                 for i in range(span)]
        best_days = _streaks(flags)[0]
        cur_days = _current_streak(flags[:max(0, (today - d0).days + 1)])
        wflags = [met_in_week.get(k, 0) >= days_per_week
                  for k in range(_week_of(max(today, max(days)), start) + 1)]
        best_weeks = _streaks(wflags)[0]
        cur_weeks = _current_streak(wflags[:max(0, _week_of(today, start) + 1)])
    return {"days_current": cur_days, "days_longest": best_days,
            "weeks_current": cur_weeks, "weeks_longest": best_weeks}


def _progress(prog, end, weeks, days_per_week, today):
    """The programme's state from its week rows `prog` (it ends on day `end`)."""
    weeks_met = sum(1 for w in prog if w["goal_met"])
    days_met = sum(min(w["days_goal_met"], days_per_week) for w in prog)
    if weeks_met == weeks:
        state = "complete"
    elif today > end:
        state = "finished"
    else:
        state = "in progress"
    current = next((w["week"] for w in prog if w["first_day"] <= today <= w["last_day"]), None)
    return {"state": state, "weeks_met": weeks_met, "days_met": days_met,
            "days_needed": weeks * days_per_week, "current_week": current,
            "backward_minutes": sum(w["backward_minutes"] for w in prog)}


def _programme_summary(progress, weeks, days_per_week, goal_minutes, max_minutes):
    """The one-line summary of the programme's progress."""
    state, current = progress["state"], progress["current_week"]
    summary = (f"programme {state}: {progress['weeks_met']} of {weeks} weeks met "
               f"({progress['days_met']} of {weeks * days_per_week} days of "
               f"{band_text(goal_minutes, max_minutes)} backward)")
    if current and state == "in progress":
        summary += f"; this is week {current}"
    return summary


def band_text(goal_minutes=GOAL_MINUTES, max_minutes=MAX_MINUTES):
    """'10-15 min' (or '>= 10 min' when the band has no width)."""
    if max_minutes > goal_minutes:
        return f"{goal_minutes:g}-{max_minutes:g} min"
    return f">= {goal_minutes:g} min"
