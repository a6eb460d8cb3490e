"""The ASGI application: a minimal raw app, no framework, built for the warm-hit path.

Hot path: a GET or HEAD whose decoded path, minus the leading ``/``, is a key of the
service's hot cache (immutable artifacts are cached under their storage key, which is exactly
the escaped request path) is answered with response messages prepared once per artifact
(kept by the app beside the hot cache, keyed by the artifact's identity):
no parsing, no validation (done when the artifact entered the cache); its request record
carries the pre-rendered middle of its log line.

Everything else: mounted prefixes (``/sumdb/``, ``/admin/``), ``/healthz``,
``/readyz``, ``/metrics``, then the protocol routes through ``paths.parse_request`` and the
service. ``http_errors.error_response`` is the only error → status mapping.

Each request gets one ``RequestRecord`` (``gomodproxy.ops.record``) when it arrives; the
server fills it (route, parsed request, cache and source, status, bytes, error) and hands it
to the observer chain once: the request counter, the ``observers`` (SLI, audit, ...), then
the request-log writer.

The composition root (``gomodproxy.compose.build_app``) builds every part (the gate, the
``/sumdb/`` and ``/admin/`` apps, the status page, the observers) and hands them to the
constructor; nothing is installed or swapped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from gomodproxy.config.settings import ServerSettings
from gomodproxy.errors import GoModProxyError, InvalidInput, NotFound, StorageError
from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ops.record import (
    RequestCounter,
    RequestLogWriter,
    RequestObserver,
    RequestRecord,
    prepared_log_fragment,
)
from gomodproxy.ports.health import Degradable
from gomodproxy.server.gate import Gate
from gomodproxy.server.http_errors import error_response, not_found_body
from gomodproxy.service.proxy import CONTENT_TYPES, Artifact, ProxyService
from gomodproxy.service.requests import ModRequest, parse_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("gomodproxy.server")

_TEXT = b"text/plain; charset=utf-8"
_EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


class _Prepared:
    """Pre-built response messages of one immutable artifact held in memory, its parsed
    request, and the constant middle of its request-log line (already JSON-escaped)."""

    __slots__ = ("body", "log_fragment", "owner", "req", "source", "start")

    def __init__(
        self, headers: list[tuple[bytes, bytes]], data: bytes | Path, req: ModRequest
    ) -> None:
        self.start: Message = {"type": "http.response.start", "status": 200, "headers": headers}
        self.body: Message
        if isinstance(data, Path):  # the server sends the file (ASGI pathsend)
            self.body = {"type": "http.response.pathsend", "path": str(data)}
            self.source = "storage"
            size = int(dict(headers)[b"content-length"])
        else:
            self.body = {"type": "http.response.body", "body": data}
            self.source = "memory"
            size = len(data)
        self.req = req
        self.log_fragment = prepared_log_fragment(req, size, self.source)
        #: The artifact it answers; its callback removes this entry when the artifact goes.
        self.owner: weakref.ref[Artifact] | None = None


class ProxyApp:
    """The GOPROXY protocol over ASGI."""

    def __init__(
        self,
        service: ProxyService,
        server: ServerSettings,
        list_ttl: float,
        metrics: Metrics | None = None,
        request_log: RequestLog | None = None,
        *,
        gate: Gate | None = None,
        observers: Sequence[RequestObserver] = (),
        mounts: Mapping[str, ASGIApp] | None = None,
        exact_routes: Mapping[str, ASGIApp] | None = None,
        on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.service = service
        self.metrics = metrics or Metrics()
        self.metrics.inflight = service.flight.inflight
        self.metrics.degraded = self._degraded  # gomodproxy_degraded{component}
        self.request_log = request_log
        self.upstream_error_status = server.upstream_error_status
        self.immutable_cc = f"public, max-age={server.immutable_max_age}, immutable".encode()
        #: Mutable answers (lists, ``@latest``) may be reused as long as they stay fresh here.
        self.mutable_cc = f"public, max-age={max(0, int(list_ttl))}".encode()
        #: Apps answering every path under a prefix (``/sumdb/``, ``/admin/``), longest first.
        self.mounts: list[tuple[str, ASGIApp]] = sorted(
            (mounts or {}).items(), key=lambda m: -len(m[0])
        )
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = list(on_shutdown)
        self._hot = service.hot
        #: Prepared responses of the immutable artifacts answered so far, by ``id`` of the
        #: artifact: an HTTP-layer cache beside the service's hot cache, not inside it.
        self._prepared: dict[int, _Prepared] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: Limits, authentication and authorization.
        self.gate = gate
        #: Apps answering one exact path (the status page at ``/``).
        self.exact_routes: dict[str, ASGIApp] = dict(exact_routes or {})
        #: Read the record of every request, in order, between the request counter and the
        #: request-log writer (``gomodproxy.ops.observe.OpsObserver``).
        self.observers: list[RequestObserver] = list(observers)
        self._count = RequestCounter(self.metrics)
        self._log = RequestLogWriter(request_log) if request_log is not None else None

    # -- ASGI entry ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rec = RequestRecord(scope, time.perf_counter())
        path = rec.path
        method = rec.method
        if self.gate is not None:
            refusal = await self.gate.check(scope)
            if refusal is not None:
                await self._send(send, method, refusal.status, refusal.headers, refusal.body)
                rec.route = "refused"
                rec.req = _parsed_or_none(path)  # what it asked for (audit, SLI)
                self._done(rec, refusal.status, len(refusal.body))
                return
        if method == "GET" or method == "HEAD":
            art = self._hot.get(path[1:])
            if art is not None:
                prepared = self._prepared.get(id(art))
                # Bytes in memory are always fresh; only a file record is due for a recheck.
                if prepared is not None and (art.path is None or art.fresh(time.monotonic())):
                    for name, _ in scope["headers"]:
                        if name == b"if-none-match" or name == b"range":
                            break
                    else:
                        await send(prepared.start)
                        await send(prepared.body if method == "GET" else _EMPTY_BODY)
                        rec.route, rec.req = art.kind, prepared.req
                        rec.cache, rec.source = "hit", prepared.source
                        rec.log_fragment = prepared.log_fragment
                        self._done(rec, 200, art.size)
                        return
        for prefix, app in self.mounts:
            if path.startswith(prefix):
                rec.route = prefix.strip("/")
                await self._guarded(app, rec, receive, send)
                return
        exact = self.exact_routes.get(path)
        if exact is not None:
            rec.route = "status" if path == "/" else path.strip("/")
            await self._guarded(exact, rec, receive, send)
            return
        if path == "/healthz":
            await self._plain(send, method, 200, b"ok\n", b"no-store")
            rec.route = "healthz"
            self._done(rec, 200, 3)
            return
        if path == "/readyz":
            status, body = await self._ready()
            await self._plain(send, method, status, body, b"no-store")
            rec.route = "readyz"
            self._done(rec, status, len(body))
            return
        if path == "/metrics":
            body = self.metrics.render()
            await self._send(
                send,
                method,
                200,
                [
                    (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                ],
                body,
            )
            rec.route = "metrics"
            self._done(rec, 200, len(body))
            return
        if method != "GET" and method != "HEAD":
            await self._send(
                send,
                "GET",
                405,
                [(b"content-type", _TEXT), (b"allow", b"GET, HEAD")],
                b"method not allowed\n",
            )
            self._done(rec, 405, 0)
            return
        await self._protocol(rec, send)

    async def _protocol(self, rec: RequestRecord, send: Send) -> None:
        scope, method = rec.scope, rec.method
        tracked: _TrackedSend | None = None  # set once the artifact is being answered
        try:
            rec.req = req = parse_request(rec.path)
            rec.route = req.kind
            service = self.service
            if req.kind in ("info", "mod", "zip"):
                # A plain GET of a cold zip may stream while it is fetched.
                live = method == "GET" and all(n != b"range" for n, _ in scope["headers"])
                art = await service.immutable(
                    req.kind, req.path, req.version, rec, live=live, files=_pathsend(scope)
                )
            elif req.kind == "list":
                art = await service.list(req.path, rec)
            elif req.kind == "latest":
                art = await service.latest(req.path, rec)
            else:
                art = await service.query(req.path, req.version, rec)
            tracked = _TrackedSend(send)
            status, size = await self._artifact(scope, tracked, method, art, req)
        except Exception as exc:  # every error becomes a status; never a traceback
            await self._failed(rec, send, tracked, exc)
            return
        self._done(rec, status, size)

    async def _guarded(
        self, app: ASGIApp, rec: RequestRecord, receive: Receive, send: Send
    ) -> None:
        """Run a mounted app or exact route; what it raises is answered and recorded like a
        protocol error (no traceback reaches the server's log or the client). What it sent
        is recorded: its status and body bytes."""
        tracked = _TrackedSend(send)
        try:
            await app(rec.scope, receive, tracked)
        except Exception as exc:
            await self._failed(rec, send, tracked, exc)
            return
        self._done(rec, tracked.status, tracked.size)

    async def _failed(
        self, rec: RequestRecord, send: Send, sent: _TrackedSend | None, exc: Exception
    ) -> None:
        """Answer ``exc`` through ``error_response``, or, when the response had already
        started (a stored blob gone or a live zip refused mid-stream), only record it: the
        body is left unfinished, so the server aborts the connection and no client takes a
        truncated artifact for a whole one (as ``livezip`` relies on)."""
        method, path = rec.method, rec.path
        if sent is not None and sent.broken:
            # The client went away (the server's ``send`` failed): nothing to answer, no
            # fault of ours; 499 as nginx records it.
            rec.error = str(exc)
            self._done(rec, 499, sent.size)
            return
        if sent is not None and sent.started and isinstance(exc, NotFound | InvalidInput):
            # A blob that vanished after it was found is a storage fault, not "absent".
            exc = StorageError(f"{exc} (after the response started)")
        status, body, cc = error_response(exc, self.upstream_error_status)
        rec.exc = exc
        if sent is not None and sent.started:
            log.error(
                "%s %s: aborted after the %d response start: %s: %s",
                method,
                path,
                sent.status,
                type(exc).__name__,
                exc,
            )
            rec.error = f"response aborted after {sent.status} headers: {exc}"
            self._done(rec, status, sent.size)
            return
        if status >= 500 and not isinstance(exc, NotFound):
            log.error("%s %s: %s: %s", method, path, type(exc).__name__, exc)
        if isinstance(exc, NotFound) and self._anonymous_under_access_control(rec.scope):
            body = not_found_body(path)  # as the gate answers a private path
        await self._plain(send, method, status, body, cc)
        rec.error = str(exc)
        self._done(rec, status, len(body))

    def _anonymous_under_access_control(self, scope: Scope) -> bool:
        if self.gate is None or not self.gate.controls_access:
            return False
        state = scope.get("state")
        return not (isinstance(state, dict) and state.get("principal"))

    # -- answering an artifact ----------------------------------------------------------

    def _headers(self, art: Artifact) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", CONTENT_TYPES[art.kind]),
            (b"content-length", str(art.size).encode()),
            (b"etag", art.etag.encode()),
            (b"cache-control", self.immutable_cc if art.immutable else self.mutable_cc),
        ]
        if art.size < 0:  # a zip streamed while fetched: chunked, no ETag yet
            headers = [headers[0], headers[3]]
        if art.kind == "zip":
            headers.append((b"accept-ranges", b"bytes"))
        return headers

    def _prepare(self, art: Artifact, data: bytes | Path, req: ModRequest) -> _Prepared:
        """The response of immutable ``art``, kept in ``_prepared`` for as long as ``art``
        lives (the hot cache holds it): its entry goes when the artifact is collected, so an
        id is never reused for another artifact while it is there."""
        prepared = _Prepared(self._headers(art), data, req)
        key, cache = id(art), self._prepared
        prepared.owner = weakref.ref(art, lambda _: cache.pop(key, None))
        cache[key] = prepared
        return prepared

    async def _artifact(
        self, scope: Scope, send: Send, method: str, art: Artifact, req: ModRequest
    ) -> tuple[int, int]:
        prepared = self._prepared.get(id(art))
        if prepared is None and art.immutable:
            if art.data is not None:
                prepared = self._prepare(art, art.data, req)
            elif art.path is not None and _pathsend(scope):
                prepared = self._prepare(art, art.path, req)
        if_none_match = range_header = if_range = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"range":
                range_header = value
            elif name == b"if-range":
                if_range = value
        if if_none_match is not None and _etag_matches(if_none_match, art.etag):
            headers = [
                (b"etag", art.etag.encode()),
                (b"cache-control", self.immutable_cc if art.immutable else self.mutable_cc),
            ]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send(_EMPTY_BODY)
            return 304, 0
        if (
            range_header is not None
            and art.kind == "zip"
            and art.size >= 0
            and (if_range is None or if_range.decode("latin-1").strip() == art.etag)
        ):
            spec = _parse_range(range_header.decode("latin-1"), art.size)
            if spec == UNSATISFIABLE:
                headers = [
                    (b"content-range", f"bytes */{art.size}".encode()),
                    (b"content-type", _TEXT),
                ]
                await self._send(send, method, 416, headers, b"range not satisfiable\n")
                return 416, 0
            if spec is not None:
                first, last = spec
                headers = self._headers(art)
                headers[1] = (b"content-length", str(last - first + 1).encode())
                headers.append((b"content-range", f"bytes {first}-{last}/{art.size}".encode()))
                await send({"type": "http.response.start", "status": 206, "headers": headers})
                await self._body(send, method, art, first, last + 1)
                return 206, last - first + 1
        if prepared is not None:
            await send(prepared.start)
            await send(prepared.body if method == "GET" else _EMPTY_BODY)
            return 200, art.size
        await send({"type": "http.response.start", "status": 200, "headers": self._headers(art)})
        await self._body(send, method, art, 0, art.size)
        return 200, art.size

    async def _body(self, send: Send, method: str, art: Artifact, begin: int, end: int) -> None:
        if method == "HEAD":
            await send(_EMPTY_BODY)
            return
        if art.data is not None:
            await send({"type": "http.response.body", "body": art.data[begin:end]})
            return
        assert art.store is not None
        async for chunk in art.store.stream(art.key, begin, end):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send(_EMPTY_BODY)

    async def _plain(self, send: Send, method: str, status: int, body: bytes, cc: bytes) -> None:
        await self._send(
            send, method, status, [(b"content-type", _TEXT), (b"cache-control", cc)], body
        )

    @staticmethod
    async def _send(
        send: Send, method: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})

    async def _ready(self) -> tuple[int, bytes]:
        try:
            await self.service.store.stat("_meta/readyz")
        except Exception as exc:  # any storage failure means not ready
            return 503, f"storage not ready: {type(exc).__name__}\n".encode()
        # Scale-out: a shared backend that is down is reported; the replica still
        # serves (in-process cache and locks, fetch-through without storing).
        degraded = [name for name, down in self._degraded().items() if down]
        if degraded:
            return 200, f"ready, degraded: {' and '.join(degraded)} unavailable\n".encode()
        return 200, b"ready\n"

    def _degraded(self) -> dict[str, bool]:
        """Shared backends that can degrade (Redis, OCI storage) → whether they are down."""
        parts: tuple[tuple[str, Degradable], ...] = (
            ("redis", self.service.flight),
            ("storage", self.service.store),
        )
        return {name: part.degraded for name, part in parts if part.can_degrade}

    # -- bookkeeping ----------------------------------------------------------------------

    def _done(self, rec: RequestRecord, status: int, size: int) -> None:
        """The request is answered: hand its record down the observer chain."""
        rec.status, rec.size = status, size
        rec.elapsed = time.perf_counter() - rec.start
        self._count(rec)
        for observer in self.observers:
            observer(rec)
        if self._log is not None:
            self._log(rec)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._tasks.append(asyncio.ensure_future(self._snapshot_loop()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(self.metrics.write_snapshot)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for hook in self.on_shutdown:
            await hook()
        await self.service.aclose()
        self.metrics.write_snapshot()
        if self.request_log is not None:
            self.request_log.flush()


class _TrackedSend:
    """``send`` that remembers whether the response started, its status and the body bytes
    sent: after the start an error can no longer become a status."""

    __slots__ = ("broken", "send", "size", "started", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False
        self.broken = False  # the server's send raised: the client is gone
        self.status = 0
        self.size = 0

    async def __call__(self, message: Message) -> None:
        try:
            await self.send(message)
        except Exception:
            self.broken = True
            raise
        if message["type"] == "http.response.start":
            self.started = True
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            self.size += len(message.get("body", b""))


def _pathsend(scope: Scope) -> bool:
    """Whether the server sends files named in ``http.response.pathsend`` (granian does;
    uvicorn does not, and gets the bytes)."""
    return "http.response.pathsend" in (scope.get("extensions") or {})


def _etag_matches(header: bytes, etag: str) -> bool:
    text = header.decode("latin-1")
    if text.strip() == "*":
        return True
    for candidate in text.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


#: What ``_parse_range`` returns for a range that lies past the end (416).
UNSATISFIABLE = (-1, -1)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range → ``(first, last)`` inclusive; ``None`` to ignore the header (a
    malformed or multi-range header: answering the whole body is allowed); ``UNSATISFIABLE``."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first_s:
            suffix = int(last_s)
            if suffix <= 0:
                return UNSATISFIABLE
            return max(0, size - suffix), size - 1
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError:
        return None
    if first >= size:
        return UNSATISFIABLE
    if first < 0 or last < first:
        return None
    return first, min(last, size - 1)


def _parsed_or_none(path: str) -> ModRequest | None:
    try:
        return parse_request(path)
    except GoModProxyError:
        return None
