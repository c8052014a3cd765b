"""The `retrostep` command: a thin shell over the library.

Each command lives in its own module, which exposes `register(subparsers)`; the
module adds its sub-parser and sets `func` to a `do_<command>(args) -> int` function.
User mistakes raise RetrostepError and come out as one line on stderr, exit code 2.
"""

import argparse
import importlib
import sys

from . import __version__
from .errors import RetrostepError

# modules that contribute commands, in the order of the help text
COMMAND_MODULES = (
    "retrostep.gaitsim",
    "retrostep.corpus",
    "retrostep.replay",
    "retrostep.evaluate",
    "retrostep.chart",
    "retrostep.demo",
    "retrostep.trace",
    "retrostep.report",
    "retrostep.devices", "retrostep.flash",
    "retrostep.deploy",
    "retrostep.sync",
    "retrostep.vboard",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="retrostep",
        description="Step counting and backward-walking coach for a shoe-mounted IMU.",
    )
    parser.add_argument("--version", action="version", version=f"retrostep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        # a command module that fails to import is an error, never a silently missing
        # command
        importlib.import_module(name).register(sub)
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
