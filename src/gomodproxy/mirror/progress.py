"""How a mirror run shows what it does: a rich progress bar on a terminal, plain lines
otherwise, or one JSON object per line for machines (``--json``).

Each shows modules done of known (the total grows while a module graph is walked), bytes,
the rate and an ETA from the rate of module completions so far.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gomodproxy.gomod.module import ModuleVersion
from gomodproxy.mirror.runner import Failure, MirrorReport

__all__ = ["JsonProgress", "PlainProgress", "RichProgress", "human_bytes", "rate_and_eta"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def rate_and_eta(done: int, total: int, size: int, seconds: float) -> tuple[float, float | None]:
    """Bytes per second, and seconds left at the current pace of modules (None: unknown)."""
    if seconds <= 0 or done == 0:
        return 0.0, None
    return size / seconds, (total - done) * seconds / done


class _Base:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start = clock()
        self.known = 0

    def total(self, n: int) -> None:
        self.known = n

    def _numbers(self, report: MirrorReport) -> tuple[float, float | None]:
        done = report.done + len(report.failures)
        return rate_and_eta(done, self.known, report.bytes, self.clock() - self.start)


class PlainProgress(_Base):
    """One line per module version: ``[done/known] path version: fetched|stored SIZE``."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.out = out

    def finished(self, mv: ModuleVersion, size: int, fetched: bool, report: MirrorReport) -> None:
        rate, eta = self._numbers(report)
        done = report.done + len(report.failures)
        how = "fetched" if fetched else "already stored"
        left = f", ETA {eta:.0f}s" if eta is not None else ""
        self.out.write(
            f"mirror: [{done}/{self.known}] {mv.path} {mv.version}: {how} {human_bytes(size)}"
            f" ({human_bytes(report.bytes)} total, {human_bytes(rate)}/s{left})\n"
        )
        self.out.flush()

    def failed(self, failure: Failure, report: MirrorReport) -> None:
        done = report.done + len(report.failures)
        self.out.write(
            f"mirror: [{done}/{self.known}] {failure.path} {failure.version}: FAILED: "
            f"{failure.error}\n"
        )
        self.out.flush()

    def close(self) -> None:
        return None


class JsonProgress(_Base):
    """One JSON object per event (``Event`` is ``done`` or ``failed``)."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.out = out

    def _emit(self, obj: dict[str, object], report: MirrorReport) -> None:
        rate, eta = self._numbers(report)
        obj.update(
            Done=report.done + len(report.failures),
            Total=self.known,
            TotalBytes=report.bytes,
            Rate=round(rate, 1),
            ETA=None if eta is None else round(eta, 1),
        )
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def finished(self, mv: ModuleVersion, size: int, fetched: bool, report: MirrorReport) -> None:
        event = {"Event": "done", "Path": mv.path, "Version": mv.version}
        self._emit({**event, "Bytes": size, "Fetched": fetched}, report)

    def failed(self, failure: Failure, report: MirrorReport) -> None:
        event = {"Event": "failed", "Path": failure.path, "Version": failure.version}
        self._emit({**event, "Error": failure.error}, report)

    def close(self) -> None:
        return None


class RichProgress(_Base):
    """A live bar: modules done/known, bytes, rate, ETA, and the last module finished."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.console = console
        self.bar = Progress(
            TextColumn("[bold]mirror"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} modules"),
            TextColumn("{task.fields[size]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=False,
        )
        self.task = self.bar.add_task("mirror", total=0, size="0 B", rate="0 B/s", eta="?", last="")
        self.bar.start()

    def total(self, n: int) -> None:
        super().total(n)
        self.bar.update(self.task, total=n)

    def _update(self, report: MirrorReport, last: str) -> None:
        rate, eta = self._numbers(report)
        self.bar.update(
            self.task,
            completed=report.done + len(report.failures),
            size=human_bytes(report.bytes),
            rate=f"{human_bytes(rate)}/s",
            eta="?" if eta is None else f"{eta:.0f}s",
            last=last,
        )

    def finished(self, mv: ModuleVersion, size: int, fetched: bool, report: MirrorReport) -> None:
        self._update(report, f"{mv.path} {mv.version}")

    def failed(self, failure: Failure, report: MirrorReport) -> None:
        self.bar.console.print(
            f"[red]failed[/red] {escape(failure.path)} {escape(failure.version)}: "
            f"{escape(failure.error)}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        self._update(report, f"{failure.path} {failure.version}")

    def close(self) -> None:
        self.bar.stop()
