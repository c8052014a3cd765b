"""`retrostep report`: the command line of `retrostep.analysis.report`."""

import sys
from datetime import date

from retrostep.analysis.history import history_json, print_history, write_history
from retrostep.analysis.library import (band_text, check_library, DAYS_PER_WEEK,
    GOAL_MINUTES, library_dir, MAX_MINUTES, programme, PROGRAMME_WEEKS, resolve_session,
    sessions)
from retrostep.analysis.report import (load_report, session_title,
    write_report, write_strides_csv, write_summary_csv)
from retrostep.errors import RetrostepError
from retrostep.formats.boardname import library_goals
from retrostep.term import plural


def _reports_for(args):
    if getattr(args, "all", False):
        if args.session:
            raise RetrostepError("give a SESSION or --all, not both")
        lib = check_library(library_dir(args.library))
        found = sessions(lib, args.board)
        reps = []
        for s in found:
            if s.error:
                print(f"retrostep export: skipped {s.path}: {s.error}", file=sys.stderr)
                continue
            reps.append(load_report(s.path))
        if not reps:
            raise RetrostepError(f"the library {lib} holds no readable sessions: run "
                                 "`retrostep sync` first")
        return reps
    return [load_report(resolve_session(args.session, args.library, args.board))]


def do_report(args):
    path = resolve_session(args.session, args.library, args.board)
    png, page, rep = write_report(path, args.out)
    r = rep.result
    print(f"{session_title(rep)}: {r['steps']} steps ({r['forward_steps']} forward, "
          f"{r['backward_steps']} backward), {rep.session.backward_minutes:.1f} backward "
          f"minutes, {plural(r['drift_alerts'], 'drift alert')}")
    for p in rep.session.problems:
        print(f"  warning: {p}", file=sys.stderr)
    print(f"wrote {page} and {png}")
    return 0


def do_history(args):
    lib = check_library(library_dir(args.library))
    found = sessions(lib, args.board)
    if not found:
        raise RetrostepError(f"no sessions in {lib}: run `retrostep sync` with the board "
                             "plugged in")
    if args.goal_minutes is None:  # the goal set on the board, as its last sync copied it
        goals = set(library_goals(lib).values()) if args.board is None else \
            {library_goals(lib).get(args.board)} - {None}
        args.goal_minutes = goals.pop() if len(goals) == 1 else GOAL_MINUTES
        if len(goals) > 1:
            print(f"history: the boards' goals differ ({sorted(goals)}): judged against "
                  f"{GOAL_MINUTES:g} min; give --goal-minutes", file=sys.stderr)
    if args.goal_minutes <= 0 or args.days_per_week not in range(1, 8) or args.weeks < 1:
        raise RetrostepError("--goal-minutes must be > 0, --days-per-week 1..7 and "
                             "--weeks >= 1")
    max_minutes = args.max_minutes if args.max_minutes is not None else max(
        MAX_MINUTES, args.goal_minutes)
    if max_minutes < args.goal_minutes:
        raise RetrostepError(f"--max-minutes ({max_minutes:g}) must not be below "
                             f"--goal-minutes ({args.goal_minutes:g})")
    hist = programme(found, goal_minutes=args.goal_minutes, days_per_week=args.days_per_week,
                     weeks=args.weeks, start=args.start, today=args.today,
                     max_minutes=max_minutes)
    if args.json:
        print(history_json(hist))
    else:
        print_history(hist)
        days = hist["days"]
        counts = {b: sum(1 for d in days if d["band"] == b) for b in ("in", "above", "below")}
        print(f"band {band_text(args.goal_minutes, max_minutes)}: {counts['in']} day(s) in "
              f"it, {counts['above']} above, {counts['below']} below")
    if args.png or args.html:
        png, page = write_history(hist, found, args.png, args.html)
        wrote = " and ".join(p for p in (page, png) if p)
        print(f"wrote {wrote}", file=sys.stderr if args.json else sys.stdout)
    return 0


def do_export(args):
    reps = _reports_for(args)
    out = write_strides_csv(reps, args.output)
    n = sum(len(r.strides) for r in reps)
    msg = f"wrote {n} strides of {len(reps)} session(s) to {out}"
    if args.summary:
        msg += f" and {len(reps)} session summaries to {write_summary_csv(reps, args.summary)}"
    print(msg)
    return 0


def _date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def _common(p, session=True):
    if session:
        p.add_argument("session", nargs="?", default=None, metavar="SESSION",
                       help="a .rsl file, 'latest' (default), a session number, or 'demo'")
    p.add_argument("--library", metavar="DIR",
                   help="session library (default: $RETROSTEP_LIBRARY or ~/.retrostep/library)")
    p.add_argument("--board", metavar="ID", help="only this board's sessions")


def register(sub):
    p = sub.add_parser("report", help="plot and summarise a session (PNG + one HTML page)",
                       description="Steps, cadence, stride length, heading, lateral offset "
                       "with the drift alerts, the path seen from above, balance checks "
                       "and a summary table of one session log, as a PNG and one "
                       "self-contained HTML page.")
    _common(p)
    p.add_argument("--out", default="out", metavar="DIR", help="folder for the PNG and HTML")
    p.set_defaults(func=do_report)

    p = sub.add_parser("history", help="backward minutes per day and week, programme, streaks",
                       description="Backward minutes and steps per day and per programme "
                       "week, the programme's progress (default: 10-15 min backward on 4 "
                       "days a week for 4 weeks) and the streaks of days and weeks meeting "
                       "it; with --png / --html also a page with the programme as a "
                       "calendar and the trends of minutes, cadence, stride length, "
                       "straightness and balance checks.")
    _common(p, session=False)
    p.add_argument("--goal-minutes", type=float, default=None, metavar="M",
                   help="backward minutes a day needs (default: the goal set on the board "
                   f"as synced, else {GOAL_MINUTES:g})")
    p.add_argument("--days-per-week", type=int, default=DAYS_PER_WEEK, metavar="D",
                   help=f"days a week that need them (default {DAYS_PER_WEEK})")
    p.add_argument("--weeks", type=int, default=PROGRAMME_WEEKS, metavar="N",
                   help=f"length of the programme in weeks (default {PROGRAMME_WEEKS})")
    p.add_argument("--start", type=_date, metavar="YYYY-MM-DD",
                   help="first day of the programme (default: the first day walked)")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                   help="count streaks up to this day (default: today)")
    p.add_argument("--max-minutes", type=float, default=None, metavar="M",
                   help=f"top of the band of backward minutes a day (default "
                   f"{MAX_MINUTES:g}); more is shown, not counted as a failure")
    p.add_argument("--json", action="store_true",
                   help="print the history as JSON (minutes to 0.1)")
    p.add_argument("--png", metavar="FILE.png",
                   help="also draw the history page: calendar and trends")
    p.add_argument("--html", metavar="FILE.html",
                   help="also write the history page as one self-contained HTML file")
    p.set_defaults(func=do_history)

    p = sub.add_parser("export", help="strides (and session summaries) as CSV",
                       description="One CSV row per stride: session, time, direction, "
                       "confidence, length, heading, lateral offset; optionally one row "
                       "per session in a second file.")
    _common(p)
    p.add_argument("--all", action="store_true", help="every session in the library")
    p.add_argument("-o", "--output", required=True, metavar="FILE.csv",
                   help="the strides CSV to write")
    p.add_argument("--summary", metavar="FILE.csv", help="also write one row per session")
    p.set_defaults(func=do_export)
