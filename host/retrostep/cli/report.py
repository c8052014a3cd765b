"""`retrostep report`: the command line of `retrostep.analysis.report`."""

import sys

from retrostep.analysis.library import resolve_session
from retrostep.analysis.report import session_title, write_report
from retrostep.cli.sessions import add_session_options
from retrostep.term import plural


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


def register(sub):
    p = sub.add_parser("report", help="plot and summarise a session (PNG + one HTML page)",
                       description="Steps, cadence, stride length, heading, lateral offset "
                       "with the drift alerts, the path seen from above, balance checks "
                       "and a summary table of one session log, as a PNG and one "
                       "self-contained HTML page.")
    add_session_options(p)
    p.add_argument("--out", default="out", metavar="DIR", help="folder for the PNG and HTML")
    p.set_defaults(func=do_report)
