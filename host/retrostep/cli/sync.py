"""`retrostep sync`: the command line of `retrostep.device.sync`."""

import retrostep.device.sync as _lib
from retrostep.device.sync import sync


def do_sync(args):
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task("syncing", total=None)

        def progress(n, total):
            if total is not None:
                bar.update(task, total=total)
            if n:
                bar.advance(task, n)

        rep = sync(args.port, args.library, args.keep, progress)
    print(f"board {rep.board_id}: {len(rep.fetched)} new session log(s) verified into "
          f"{rep.folder}" + (f"; {len(rep.already)} already there" if rep.already else "")
          + ("; board copies kept (--keep)" if args.keep else ""))
    for name, why in rep.refused:
        print(f"  {name!r}: {why}")
    return 2 if rep.refused else 0


def register(sub):
    p = sub.add_parser("sync", help="pull the board's session logs, verified",
                       description=_lib.__doc__.split("\n\n")[0])
    p.add_argument("--port", help="serial port, or socket://127.0.0.1:PORT for the "
                   "virtual board (default: the one board on USB)")
    p.add_argument("--library", help="library folder (default: $RETROSTEP_LIBRARY or "
                   "~/.retrostep/library)")
    p.add_argument("--keep", action="store_true", help="keep the logs on the board")
    p.set_defaults(func=do_sync)

