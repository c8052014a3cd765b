"""retrostep: laptop library and command line for the shoe-mounted backward-walking coach.

Library first: every command is a plain function in its module (trace, gaitsim, corpus,
evaluate, ...); `retrostep.cli` is a thin shell over them.
"""

__version__ = "0.1.0"
