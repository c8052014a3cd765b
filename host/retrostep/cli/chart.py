"""`retrostep chart`: the command line of `retrostep.analysis.chart`."""

from retrostep.analysis.chart import plot_replay
from retrostep.errors import RetrostepError
from retrostep.formats.trace import read_trace


def do_chart(args):
    trace = read_trace(args.trace)
    if trace.duration_s > 900:
        raise RetrostepError(f"{args.trace}: {trace.duration_s:.0f} s is too long to chart "
                             "sample by sample; cut it to 15 minutes or less")
    print(plot_replay(trace, args.output))
    return 0


def register(sub):
    p = sub.add_parser("chart", help="chart the engine's view of a trace (PNG)",
                       description="Replay a trace and draw the signals, detected "
                       "stances, stride ends coloured by direction, heading and lateral "
                       "offset with the drift alerts.")
    p.add_argument("trace")
    p.add_argument("-o", "--output", default="out/chart.png")
    p.set_defaults(func=do_chart)

