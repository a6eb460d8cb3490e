"""The record of one request, and the chain of observers that read it.

The server creates one ``RequestRecord`` when a request arrives, fills it while answering
(route, parsed request, cache result and source, status, body bytes, error), and hands it,
once, to each observer in order, as structlog hands an event dict down its processor chain:

1. ``RequestCounter``: ``gomodproxy_http_requests_total`` and the duration histogram;
2. the observers the composition root adds (``gomodproxy.ops.observe.OpsObserver``: the SLI,
   per-module and verification counters, recent errors, the audit log), which may add what
   they concluded (``outcome``, the SLI result) for the observers after them;
3. ``RequestLogWriter``: the JSON request-log line.

A hot-path answer (an artifact held in memory) carries its pre-rendered log fragment
(``log_fragment``), so its line is one f-string; everything else is one ``json.dumps``.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import MutableMapping
from typing import Any, Protocol

from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ports.keys import MAX_KEY_BYTES
from gomodproxy.redact.secrets import redact
from gomodproxy.service.proxy import Trace
from gomodproxy.service.requests import ModRequest


class RequestRecord(Trace):
    """What the server knows about one request; the service fills ``cache`` and ``source``
    (it is the request's ``Trace``)."""

    __slots__ = (
        "elapsed",
        "error",
        "exc",
        "log_fragment",
        "method",
        "outcome",
        "path",
        "req",
        "route",
        "scope",
        "size",
        "start",
        "status",
    )

    def __init__(self, scope: MutableMapping[str, Any], start: float) -> None:
        self.cache = ""
        self.source = ""
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.start = start
        #: ``info``/``mod``/``zip``/``list``/``latest``/``query`` for the protocol, else the
        #: route's name (``healthz``, ``sumdb``, ``status``, ``refused`` by the gate, ``other``).
        self.route = "other"
        #: The parsed protocol request (None when the path is none, or did not parse).
        self.req: ModRequest | None = None
        #: 0 while no response started.
        self.status = 0
        #: Body bytes sent (or, for HEAD, that a GET would have sent).
        self.size = 0
        self.error = ""
        self.exc: BaseException | None = None
        self.elapsed = 0.0
        #: The SLI result (``success``/``failure``) of a download, "" for other requests.
        self.outcome = ""
        #: The constant middle of the log line of an answer prepared once (the hot path).
        self.log_fragment: str | None = None

    def client_host(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else ""


class RequestObserver(Protocol):
    """One link of the chain: reads (and may add to) the record of a finished request."""

    def __call__(self, record: RequestRecord, /) -> None: ...


class RequestCounter:
    """Counts answered requests by route and status, with their duration."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, record: RequestRecord) -> None:
        if record.log_fragment is not None:
            # Answered from memory without asking the service: its cache hit counts here.
            self.metrics.memory_hit(record.route, record.elapsed)
        elif record.status:
            self.metrics.request(record.route, record.status, record.elapsed)


class RequestLogWriter:
    """Writes the request-log line of each record (one JSON object per line)."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}-"

    def __call__(self, record: RequestRecord) -> None:
        if record.log_fragment is not None:
            # The path was validated when the artifact entered the cache: it needs no JSON
            # escaping, nor does the client address.
            client = record.scope.get("client")
            self.log.write_line(
                f'{{"ts":{time.time():.3f},"request_id":"{self._id_prefix}'
                f'{next(self._ids)}","method":"{record.method}","path":"{record.path}",'
                f'{record.log_fragment},"duration_ms":{record.elapsed * 1000:.3f},'
                f'"client":"{client[0] if client else ""}"}}'
            )
            return
        req = record.req
        line: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "request_id": self._id_prefix + str(next(self._ids)),
            "method": record.method,
            "route": record.route,
            "path": logged_path(record.path),
            "module": req.path if req else "",
            "version": req.version if req else "",
            "cache": record.cache,
            "source": record.source,
            "status": record.status,
            "bytes": record.size,
            "duration_ms": round(record.elapsed * 1000, 3),
            "client": record.client_host(),
        }
        if record.outcome:
            line["sli"] = record.outcome
        if record.error:
            line["error"] = redact(record.error)
        self.log.write(line)


def logged_path(path: str) -> str:
    """``path`` as the request log shows it: cut past the longest servable path, so a
    hostile request line (granian takes ~400 KB) cannot make every log line that big."""
    if len(path) <= MAX_KEY_BYTES:
        return path
    return f"{path[:MAX_KEY_BYTES]}...[{len(path) - MAX_KEY_BYTES} more characters]"


def prepared_log_fragment(req: ModRequest, size: int, source: str) -> str:
    """The constant middle of the log line of a hot-path 200 for ``req`` (JSON-escaped,
    without braces; the path, which HEAD and GET differ in, is added per request)."""
    fields = {
        "route": req.kind,
        "path": "",
        "module": req.path,
        "version": req.version,
        "cache": "hit",
        "source": source,
        "status": 200,
        "bytes": size,
        "sli": "success",
    }
    return json.dumps(fields, separators=(",", ":"))[1:-1].replace('"path":"",', "")


__all__ = [
    "RequestCounter",
    "RequestLogWriter",
    "RequestObserver",
    "RequestRecord",
    "prepared_log_fragment",
]
