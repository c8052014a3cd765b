"""`retrostep deploy`: the command line of `retrostep.device.deploy`."""

import retrostep.device.deploy as _lib
from retrostep.device.deploy import deploy


def do_deploy(args):
    changed = deploy(args.port, args.config, args.dry_run, not args.no_reset, name=args.name)
    if not args.dry_run:
        print(f"{len(changed)} file(s) written" +
              ("; the board restarted" if changed and not args.no_reset else ""))
    return 0


def register(sub):
    p = sub.add_parser("deploy", help="compile the firmware for the board and copy changes",
                       description=_lib.__doc__.split("\n\n")[0])
    p.add_argument("--port", help="serial port or socket://127.0.0.1:PORT (virtual board)")
    p.add_argument("--config", help="a config.json to write to the board (checked first)")
    p.add_argument("--name", help='name the board, e.g. "Left shoe" (shown in sync, reports '
                   "and history)")
    p.add_argument("--dry-run", action="store_true", help="list what would change")
    p.add_argument("--no-reset", action="store_true", help="do not restart the board")
    p.set_defaults(func=do_deploy)
