"""Is the event loop still answering? /healthz probes run while a hostile case is played.

``HealthzProbe`` asks a running server's ``/healthz`` over a raw socket, again and again
from a thread; ``LoopProbe`` asks an in-process ``ProxyApp`` through ASGI from a task on
the same event loop as the hostile work. Either records every answer and the worst
latency. Tests assert that answers came back (``ok``), never how fast: the worst latency is
a measurement, written as one JSON line to the file ``GOMODPROXY_PROBE_REPORT`` names (when
set) so a run can be summarised, and shown with ``pytest -s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from typing import Any


def raw_get(port: int, target: str, timeout: float = 60.0, extra: bytes = b"") -> bytes:
    """One ``GET target`` on a fresh loopback connection; the whole raw response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + extra
            + b"Connection: close\r\n\r\n"
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(response.split(b" ", 2)[1])


def report(case: str, worst: float, answers: int) -> None:
    line = {"case": case, "worst_healthz_ms": round(worst * 1000, 1), "answers": answers}
    print(json.dumps(line))
    target = os.environ.get("GOMODPROXY_PROBE_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


class _Probe:
    """What either probe records for its ``case``: every ``/healthz`` status (0: no answer)
    and the worst latency."""

    def __init__(self, case: str, interval: float) -> None:
        self.case, self.interval = case, interval
        self.statuses: list[int] = []
        self.worst = 0.0

    def record(self, status: int, latency: float) -> None:
        self.worst = max(self.worst, latency)
        self.statuses.append(status)

    def report(self) -> None:
        report(self.case, self.worst, len(self.statuses))

    @property
    def ok(self) -> bool:
        """Every probe was answered 200 (and there was at least one)."""
        return bool(self.statuses) and all(s == 200 for s in self.statuses)


class HealthzProbe(_Probe):
    """Probes ``http://127.0.0.1:<port>/healthz`` every ``interval`` seconds from a thread."""

    def __init__(self, port: int, case: str, interval: float = 0.02) -> None:
        super().__init__(case, interval)
        self.port = port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                status = status_of(raw_get(self.port, "/healthz"))
            except OSError:
                status = 0
            self.record(status, time.perf_counter() - start)
            self._stop.wait(self.interval)

    def __enter__(self) -> HealthzProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(120)
        self.report()


class LoopProbe(_Probe):
    """Calls an ASGI app's ``/healthz`` every ``interval`` seconds from a task; the latency
    counts from when the call was due, so time the loop spent blocked shows."""

    def __init__(self, app: Any, case: str, interval: float = 0.01) -> None:
        super().__init__(case, interval)
        self.app = app
        self._task: asyncio.Task[None] | None = None

    async def _once(self) -> int:
        scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": [],
                 "client": ("127.0.0.1", 1), "query_string": b""}  # fmt: skip
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])

        await self.app(scope, receive, send)
        return status

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            status = await self._once()
            self.record(status, time.perf_counter() - due)

    async def __aenter__(self) -> LoopProbe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        await asyncio.sleep(self.interval * 2)  # at least one answer after the case
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.report()
