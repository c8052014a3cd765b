"""`retrostep sync`: the command line of `retrostep.device.sync`.

Exit status: 0 when every session log on the board is in the library (verified); 2 when
a log was refused (left on the board: the reason is printed) or the run stopped (one
line on stderr: the board stopped answering, the deadline, a library that cannot be
written). Empty logs and the firmware's bookkeeping are not session logs: they are
reported, left on the board, and do not count as refused.
"""

import retrostep.device.sync as _lib
from retrostep.device.sync import sync


def _positive(text):
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return v


def print_report(rep, keep):
    if not rep.board_id:
        return
    named = f"{rep.name!r} ({rep.board_id})" if rep.name else rep.board_id
    print(f"board {named}: {len(rep.fetched)} new session log(s) verified into "
          f"{rep.folder}" + (f"; {len(rep.already)} already there" if rep.already else "")
          + ("; board copies kept (--keep)" if keep else ""))
    for name, lib_name in rep.saved_as.items():
        print(f"  {name!r}: saved as {lib_name!r} (the library has another {name!r})")
    for name in rep.empty:
        print(f"  {name!r}: empty, not a session: left on the board")
    for name in rep.other:
        print(f"  {name!r}: not a session log: left on the board")
    for name, why in rep.refused:
        print(f"  {name!r}: {why}")


def do_sync(args):
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from retrostep.errors import RetrostepError

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task("syncing", total=None)

        def progress(n, total):
            if total is not None:
                bar.update(task, total=total)
            if n:
                bar.advance(task, n)

        try:
            rep = sync(args.port, args.library, args.keep, progress, timeout=args.timeout,
                       deadline=args.deadline)
        except RetrostepError as exc:
            err = exc
            rep = getattr(exc, "report", None)
        else:
            err = None
    if rep is not None:
        print_report(rep, args.keep)
    if err is not None:
        raise err
    return 2 if rep.refused else 0


def register(sub):
    p = sub.add_parser("sync", help="pull the board's session logs, verified",
                       description=_lib.__doc__.split("\n\n")[0])
    p.add_argument("--port", help="serial port, or socket://127.0.0.1:PORT for the "
                   "virtual board (default: the one board on USB)")
    p.add_argument("--library", help="library folder (default: $RETROSTEP_LIBRARY or "
                   "~/.retrostep/library)")
    p.add_argument("--keep", action="store_true", help="keep the logs on the board")
    p.add_argument("--timeout", type=_positive, default=_lib.TIMEOUT_S, metavar="SECONDS",
                   help="give a step up when the board is silent this long "
                   f"(default {_lib.TIMEOUT_S:g})")
    p.add_argument("--deadline", type=_positive, default=_lib.DEADLINE_S, metavar="SECONDS",
                   help="stop the whole run after this long; the next run resumes "
                   f"(default {_lib.DEADLINE_S:g})")
    p.set_defaults(func=do_sync)
