"""Batch log lines and write them in one call, so logging never blocks a request per line."""

from __future__ import annotations

import asyncio
import contextlib


class BufferedLines:
    """Queue text lines; ``flush`` hands them to ``_emit`` within ``interval`` seconds.

    Outside a running event loop each line is emitted at once. Subclasses say where
    the text goes by overriding ``_emit``; an ``OSError`` or ``ValueError`` there
    (closed or full stream) drops the batch rather than failing the request.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._lines: list[str] = []
        self._scheduled = False

    def write_line(self, line: str) -> None:
        """Queue one line that is already JSON (no trailing newline)."""
        self._lines.append(line)
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        with contextlib.suppress(OSError, ValueError):
            self._emit("\n".join(lines) + "\n")

    def _emit(self, text: str) -> None:
        raise NotImplementedError
