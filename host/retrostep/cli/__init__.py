"""The `retrostep` command: a thin shell over the library.

Each command lives in its own module of this package (`COMMANDS`), which exposes
`register(subparsers)`: it adds its sub-parser and sets `func` to a
`do_<command>(args) -> int` function that parses nothing more and calls the library.
User mistakes raise RetrostepError and come out as one line on stderr, exit code 2.
"""

import argparse
import importlib
import sys

from retrostep import __version__
from retrostep.errors import RetrostepError

# the commands, in the order of the help text: command -> module of retrostep.cli that
# adds its sub-parser (`register(subparsers)`); cli/sessions.py holds what the session
# commands share.
COMMANDS = {
    "simulate": "simulate",
    "corpus": "corpus",
    "replay": "replay",
    "eval": "evaluate",
    "chart": "chart",
    "demo": "demo",
    "check": "check",
    "report": "report",
    "history": "history",
    "export": "export",
    "devices": "devices",
    "flash": "flash",
    "deploy": "deploy",
    "sync": "sync",
    "sim": "sim",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="retrostep",
        description="Step counting and backward-walking coach for a shoe-mounted IMU.",
    )
    parser.add_argument("--version", action="version", version=f"retrostep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in dict.fromkeys(COMMANDS.values()):
        # a command module that fails to import is an error, never a silently missing
        # command
        importlib.import_module(f"{__name__}.{module}").register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except RetrostepError as exc:
        print(f"retrostep {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"retrostep {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
