"""What several benchmarks share: reading wrk's summary and sizing its threads."""

from __future__ import annotations

import os
import re


def wrk_threads() -> str:
    """wrk threads for this machine: one or two (the server under test needs the rest)."""
    return str(max(1, min(2, os.cpu_count() or 1)))


def wrk_requests_per_sec(out: str) -> float:
    """The ``Requests/sec`` of a wrk summary."""
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if m is None:
        raise RuntimeError(f"no rate in wrk output:\n{out}")
    return float(m.group(1))


def wrk_non_2xx(out: str) -> int:
    """How many answers were not 2xx or 3xx (wrk prints the line only when there are some)."""
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return int(m.group(1)) if m else 0
