"""The terminal: one place that makes the rich Console every table is printed on, and
the small words of text output."""

import sys

from rich.console import Console

PIPED_WIDTH = 160  # piped or redirected output is not cut at rich's default 80 columns


def console(stderr=False):
    """A Console on stdout (or stderr); when that is not a terminal, wide enough that
    tables keep their words whole instead of 'reca...'."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH)


def plural(n, word):
    """'1 drift alert', '2 drift alerts'."""
    return f"{n} {word}{'' if n == 1 else 's'}"
