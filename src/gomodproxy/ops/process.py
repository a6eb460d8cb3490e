"""Process metrics of each worker: CPU seconds, resident memory, open file descriptors and
start time, as gauges labelled by ``pid`` (one scrape answers for every worker of a
``gomodproxy serve``, so an unlabelled ``process_*`` series would describe a random one).

Read from ``/proc`` at each metrics snapshot (about once a second); on a system without
``/proc`` the memory and descriptor gauges are left out.
"""

from __future__ import annotations

import os
import resource
import time

from gomodproxy.ops.metrics import Metrics

Series = dict[tuple[tuple[str, str], ...], float]

# os.sysconf exists on Unix only: the one probe here is of the platform, not of our objects.
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _key() -> tuple[tuple[str, str], ...]:
    return (("pid", str(os.getpid())),)


def cpu_seconds() -> Series:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {_key(): usage.ru_utime + usage.ru_stime}


def resident_bytes() -> Series:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return {_key(): float(int(fh.read().split()[1]) * _PAGE)}
    except (OSError, ValueError, IndexError):
        return {}


def open_fds() -> Series:
    try:
        return {_key(): float(len(os.listdir("/proc/self/fd")))}
    except OSError:
        return {}


def register(metrics: Metrics, started: float | None = None) -> None:
    """Add the process gauges to a ``Metrics`` (``Metrics.gauge``)."""
    gauge = metrics.gauge
    start = time.time() if started is None else started
    gauge("gomodproxy_process_cpu_seconds", "CPU time of the worker (user + system).", cpu_seconds)
    gauge(
        "gomodproxy_process_resident_memory_bytes", "Resident memory of the worker.", resident_bytes
    )
    gauge("gomodproxy_process_open_fds", "Open file descriptors of the worker.", open_fds)
    gauge(
        "gomodproxy_process_start_time_seconds",
        "When the worker started (UNIX time).",
        lambda: {_key(): start},
    )
