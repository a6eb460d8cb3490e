"""The operations parts of a proxy app, built by the composition root (``gomodproxy.compose``):

- :func:`audit_from_settings`: the audit log, when ``audit_log`` is set;
- :func:`register_gauges`: the ``gomodproxy_degraded``, verification and process series;
- :class:`StatusPage`: the status page at exactly ``/``;
- :func:`admin_from_settings`: ``/admin/`` when ``admin_token_file`` names a readable token.

The observer of every request's record (SLI, audit, top modules) is
:class:`~gomodproxy.ops.observe.OpsObserver`; the storage and single-flight timing wrappers
are in ``ops/storagewatch.py`` and ``ops/flightwatch.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import gomodproxy
from gomodproxy.config.settings import OpsSettings
from gomodproxy.errors import ConfigError
from gomodproxy.ops import process, sli
from gomodproxy.ops.admin import AdminApp
from gomodproxy.ops.audit import AuditLog
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ops.observe import MODULE_METRIC, OpsObserver
from gomodproxy.ops.statuspage import Status, UpstreamHealth, render
from gomodproxy.ports.storage import BlobStore
from gomodproxy.service.proxy import ProxyService

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DEGRADED_METRIC = "gomodproxy_degraded"
DEGRADED_HELP = "1 while a shared component (storage, redis) is unavailable and bypassed."
VERIFY_METRIC = "gomodproxy_verification_failures_total"
VERIFY_HELP = "Artifacts refused because the checksum database disagreed or misbehaved."
#: Seconds a measured storage size is reused (walking a large tree is not free).
SIZE_TTL = 60.0
#: Upstream health is judged on the requests of at least the last this many seconds.
WINDOW = 60.0


def read_token(path: str) -> str:
    """The admin token in ``path`` (first line, stripped).

    Raises:
        ConfigError: unreadable or empty file.
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise ConfigError(f"admin_token_file {path}: {exc.strerror or exc}") from exc
    if not token or len(token[0].strip()) < 16:
        raise ConfigError(f"admin_token_file {path}: the token must be at least 16 characters")
    return token[0].strip()


def audit_from_settings(ops: OpsSettings) -> AuditLog | None:
    """The audit log ``audit_log`` names ("-" is stdout), or None when it is empty."""
    if not ops.audit_log:
        return None
    return AuditLog(ops.audit_log, max_bytes=ops.audit_log_max_bytes, backups=ops.audit_log_backups)


def admin_from_settings(
    ops: OpsSettings,
    service: ProxyService,
    shown_config: Mapping[str, object],
    audit: AuditLog | None,
) -> AdminApp | None:
    """The ``/admin/`` app when ``admin_token_file`` is set; ``GET /admin/config`` answers
    ``shown_config`` (the effective settings, already masked).

    Raises:
        ConfigError: the token file is unreadable or its token too short.
    """
    if not ops.admin_token_file:
        return None
    return AdminApp(service, shown_config, read_token(ops.admin_token_file), audit)


def register_gauges(metrics: Metrics, service: ProxyService) -> None:
    """The series operations add to ``/metrics``: verification failures (from 0), whether a
    shared component is degraded, and the process gauges."""
    metrics.inc(VERIFY_METRIC, VERIFY_HELP, {}, 0)
    metrics.gauge(DEGRADED_METRIC, DEGRADED_HELP, lambda: degraded_series(service))
    process.register(metrics)


def degraded_series(service: ProxyService) -> dict[tuple[tuple[str, str], ...], float]:
    """``gomodproxy_degraded{component}``: storage and redis (the shared lock/cache); 0 for
    a part that cannot degrade."""
    return {
        (("component", "storage"),): float(service.store.degraded),
        (("component", "redis"),): float(service.flight.degraded),
    }


def degraded_names(service: ProxyService) -> list[str]:
    return [dict(k)["component"] for k, v in degraded_series(service).items() if v]


class StatusPage:
    """The ASGI app answering ``GET /`` with the status page."""

    def __init__(self, service: ProxyService, metrics: Metrics, observer: OpsObserver) -> None:
        self.service = service
        self.metrics = metrics
        self.observer = observer
        self._size: tuple[float, int | None, int | None] = (0.0, None, None)
        #: Earlier upstream counts, so health reflects the last minutes (``WINDOW``).
        self._samples: deque[tuple[float, dict[tuple[str, str], float]]] = deque(maxlen=256)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            body = b"method not allowed\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")]
            status = 405
        else:
            body = render(await self.gather())
            headers = [(b"content-type", b"text/html; charset=utf-8")]
            status = 200
        headers += [
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})

    async def gather(self) -> Status:
        service = self.service
        snaps = await asyncio.to_thread(self.metrics.snapshots)
        totals = aggregate(snaps)
        size_bytes, files = await self.storage_size(service.store)
        verifier = service.verifier
        return Status(
            version=gomodproxy.__version__,
            uptime_seconds=time.time() - self.observer.started,
            storage_backend=service.store.kind,
            storage_bytes=size_bytes,
            storage_files=files,
            cache_hits=int(totals["cache"].get(("memory", "hit"), 0))
            + int(totals["cache"].get(("storage", "hit"), 0)),
            cache_lookups=int(totals["cache"].get(("memory", "hit"), 0))
            + int(totals["cache"].get(("memory", "miss"), 0)),
            download_success=int(totals["sli"].get(sli.SUCCESS, 0)),
            download_failure=int(totals["sli"].get(sli.FAILURE, 0)),
            upstreams=upstream_health(totals["upstream"], self._baseline(totals["upstream"])),
            sumdb_name=verifier.database_name,
            sumdb_mode=verifier.mode,
            verification_failures=int(totals["verification_failures"]),
            sumdb_unavailable=self.observer.sumdb_unavailable,
            sumdb_last_error=self.observer.sumdb_last_error,
            degraded=degraded_names(service),
            recent_errors=list(self.observer.recent),
            top_modules=totals["modules"][:10],
        )

    def _baseline(
        self, counts: dict[tuple[str, str], float]
    ) -> dict[tuple[str, str], float] | None:
        """The newest earlier sample at least ``WINDOW`` seconds old (None: none yet)."""
        now = time.monotonic()
        base = None
        for t, sample in self._samples:
            if now - t >= WINDOW:
                base = sample
        while len(self._samples) > 1 and now - self._samples[1][0] >= WINDOW:
            self._samples.popleft()  # keep one sample older than the window, drop the rest
        self._samples.append((now, dict(counts)))
        return base

    async def storage_size(self, store: BlobStore) -> tuple[int | None, int | None]:
        """Bytes and files of a store with a local ``root`` (cached ``SIZE_TTL`` s); None
        otherwise."""
        root = store.root
        if root is None:
            return None, None
        at, size_bytes, files = self._size
        if time.monotonic() - at > SIZE_TTL or size_bytes is None:
            size_bytes, files = await asyncio.to_thread(tree_size, root)
            self._size = (time.monotonic(), size_bytes, files)
        return size_bytes, files


def tree_size(root: Path) -> tuple[int, int]:
    """Bytes and number of files under ``root``, skipping dot names (temp and work files)."""
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            files += 1
    return total, files


def aggregate(snaps: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the counters of every worker's metrics snapshot that the page shows."""
    cache: dict[tuple[str, str], float] = {}
    upstream: dict[tuple[str, str], float] = {}
    sli_totals: dict[str, float] = {}
    modules: dict[str, float] = {}
    failures = 0.0
    for snap in snaps:
        for tier, result, n in snap.get("cache", []):
            cache[(tier, result)] = cache.get((tier, result), 0) + n
        for source, _artifact, outcome, n in snap.get("upstream", []):
            upstream[(source, outcome)] = upstream.get((source, outcome), 0) + n
        extra = snap.get("extra", {})
        for labels, v in extra.get(sli.METRIC, []):
            outcome = labels.get("outcome", "")
            sli_totals[outcome] = sli_totals.get(outcome, 0) + v
        for labels, v in extra.get(MODULE_METRIC, []):
            name = labels.get("module", "")
            modules[name] = modules.get(name, 0) + v
        for _labels, v in extra.get(VERIFY_METRIC, []):
            failures += v
    top = sorted(((m, int(n)) for m, n in modules.items()), key=lambda mn: (-mn[1], mn[0]))
    return {
        "cache": cache,
        "upstream": upstream,
        "sli": sli_totals,
        "modules": top,
        "verification_failures": failures,
    }


def upstream_health(
    counts: dict[tuple[str, str], float],
    baseline: dict[tuple[str, str], float] | None = None,
) -> list[UpstreamHealth]:
    """Outcomes per source since start-up; with ``baseline`` (earlier counts) the state is
    judged on the requests made since then."""
    by_source: dict[str, UpstreamHealth] = {}
    for (source, outcome), n in counts.items():
        h = by_source.setdefault(source, UpstreamHealth(source))
        if outcome == "success":
            h.success += int(n)
        elif outcome == "not_found":
            h.not_found += int(n)
        elif outcome == "timeout":
            h.timeouts += int(n)
        else:
            h.errors += int(n)
    if baseline is not None:
        window: dict[str, list[int]] = {}
        for (source, outcome), n in counts.items():
            acc = window.setdefault(source, [0, 0])
            delta = int(n - baseline.get((source, outcome), 0))
            acc[0] += delta
            if outcome in ("error", "timeout", "invalid"):
                acc[1] += delta
        for source, (total, failed) in window.items():
            by_source[source].window = (total, failed)
    return [by_source[s] for s in sorted(by_source)]
