"""`retrostep history`: the command line of `retrostep.analysis.history`."""

import sys

from retrostep.analysis.history import history_json, print_history, write_history
from retrostep.analysis.library import (band_text, check_library, DAYS_PER_WEEK,
    GOAL_MINUTES, library_dir, MAX_MINUTES, programme, PROGRAMME_WEEKS, sessions)
from retrostep.cli.sessions import add_session_options, parse_date
from retrostep.errors import RetrostepError
from retrostep.formats.boardname import library_goals


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


def register(sub):
    p = sub.add_parser("history", help="backward minutes per day and week, programme, streaks",
                       description="Backward minutes and steps per day and per programme "
                       "week, the programme's progress (default: 10-15 min backward on 4 "
                       "days a week for 4 weeks) and the streaks of days and weeks meeting "
                       "it; with --png / --html also a page with the programme as a "
                       "calendar and the trends of minutes, cadence, stride length, "
                       "straightness and balance checks.")
    add_session_options(p, session=False)
    p.add_argument("--goal-minutes", type=float, default=None, metavar="M",
                   help="backward minutes a day needs (default: the goal set on the board "
                   f"as synced, else {GOAL_MINUTES:g})")
    p.add_argument("--days-per-week", type=int, default=DAYS_PER_WEEK, metavar="D",
                   help=f"days a week that need them (default {DAYS_PER_WEEK})")
    p.add_argument("--weeks", type=int, default=PROGRAMME_WEEKS, metavar="N",
                   help=f"length of the programme in weeks (default {PROGRAMME_WEEKS})")
    p.add_argument("--start", type=parse_date, metavar="YYYY-MM-DD",
                   help="first day of the programme (default: the first day walked)")
    p.add_argument("--today", type=parse_date, metavar="YYYY-MM-DD",
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
