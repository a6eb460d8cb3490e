"""Writing a command's report to standard output."""

from __future__ import annotations

import os
import sys


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output; when the reader has gone (``| head -1``), drop the
    rest quietly, as command-line tools do, instead of failing with a broken pipe."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's own flush at exit is silent too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
