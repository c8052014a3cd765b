"""One exception type for every mistake a user can act on."""


class RetrostepError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do.

    The command line prints the message on one line and exits with status 2; it never
    shows a traceback for these.
    """

    exit_code = 2
