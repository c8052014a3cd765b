"""`retrostep export`: strides and session summaries as CSV (`retrostep.analysis.report`)."""

import os

from retrostep.analysis.report import write_strides_csv, write_summary_csv
from retrostep.cli.sessions import add_session_options, reports_for
from retrostep.errors import RetrostepError
from retrostep.formats.files import check_output_file


def do_export(args):
    for path in (args.output, args.summary):  # both writable, or neither is written
        if path is not None:
            check_output_file(path)
    reps = reports_for(args)
    had_output = os.path.exists(args.output)
    out = write_strides_csv(reps, args.output)
    n = sum(len(r.strides) for r in reps)
    msg = f"wrote {n} strides of {len(reps)} session(s) to {out}"
    if args.summary:
        try:
            msg += (f" and {len(reps)} session summaries to "
                    f"{write_summary_csv(reps, args.summary)}")
        except RetrostepError:
            if not had_output:  # refused as a whole: no half of the export is left
                os.remove(out)
            raise
    print(msg)
    return 0


def register(sub):
    p = sub.add_parser("export", help="strides (and session summaries) as CSV",
                       description="One CSV row per stride: session, time, direction, "
                       "confidence, length, heading, lateral offset; optionally one row "
                       "per session in a second file.")
    add_session_options(p)
    p.add_argument("--all", action="store_true", help="every session in the library")
    p.add_argument("-o", "--output", required=True, metavar="FILE.csv",
                   help="the strides CSV to write")
    p.add_argument("--summary", metavar="FILE.csv", help="also write one row per session")
    p.set_defaults(func=do_export)
