"""`retrostep check`: the command line of `retrostep.formats.trace`."""

import sys

from retrostep.errors import RetrostepError
from retrostep.formats.trace import fmt_time, MAX_GAPS_SHOWN, read_trace, timing


def register(subparsers):
    p = subparsers.add_parser(
        "check",
        help="check trace CSV files",
        description="Check trace CSV files (format: README.md, 'Trace format') and summarise them: "
        "samples, rate, duration, timestamp jitter, gaps (where samples were lost), "
        "meta lines.",
    )
    p.add_argument("traces", nargs="+", metavar="TRACE", help="trace CSV file(s)")
    p.set_defaults(func=do_check)


def do_check(args):
    failed = 0
    for path in args.traces:
        try:
            trace = read_trace(path)
        except RetrostepError as exc:
            failed += 1
            print(f"retrostep check: error: {exc}", file=sys.stderr)
            continue
        print("\n".join(check_lines(path, trace)), flush=True)
    return RetrostepError.exit_code if failed else 0


def check_lines(path, trace):
    """`retrostep check`'s summary of a good trace: one line, then one per gap."""
    tm = timing(trace.t_s)
    gaps = trace.gaps
    line = f"{path}: {len(trace.t_s)} samples, {tm.rate_hz:.2f} Hz, {trace.duration_s:.2f} s"
    if round(100 * tm.jitter, 1) > 0:
        line += f", interval jitter {100 * tm.jitter:.1f} % rms"
    if gaps:
        missing = sum(b - a for a, b in gaps)
        line += f", {len(gaps)} gap{'s' if len(gaps) > 1 else ''} ({missing:.3g} s)"
    if trace.meta:
        line += ", meta: " + ", ".join(f"{k}={v}" for k, v in trace.meta.items())
    lines = [line]
    for a, b in gaps[:MAX_GAPS_SHOWN]:
        lines.append(f"  gap of {b - a:.4g} s: no samples between t_s {fmt_time(a)} "
                     f"and {fmt_time(b)}")
    if len(gaps) > MAX_GAPS_SHOWN:
        lines.append(f"  ... and {len(gaps) - MAX_GAPS_SHOWN} more gaps")
    return lines
