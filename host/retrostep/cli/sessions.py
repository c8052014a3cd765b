"""What the session commands (report, history, export) share: how they name a session
and the library, and the sessions they read."""

import sys
from datetime import date

from retrostep.analysis.library import check_library, library_dir, resolve_session, sessions
from retrostep.analysis.report import load_report
from retrostep.errors import RetrostepError


def reports_for(args):
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


def parse_date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def add_session_options(p, session=True):
    if session:
        p.add_argument("session", nargs="?", default=None, metavar="SESSION",
                       help="a .rsl file, 'latest' (default), a session number, or 'demo'")
    p.add_argument("--library", metavar="DIR",
                   help="session library (default: $RETROSTEP_LIBRARY or ~/.retrostep/library)")
    p.add_argument("--board", metavar="ID", help="only this board's sessions")
