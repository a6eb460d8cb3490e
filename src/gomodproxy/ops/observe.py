"""What the server tells operations about each response: SLI counters, top modules, recent
errors and audit lines, all from one hook (``ProxyApp.on_response``).

The hook runs for every response, the hot path included, so the SLI counter is a direct dict
update on pre-created series of ``Metrics.extra`` (zero from start-up, so rates and the
dashboard's queries work before the first failure). Per-module download counts are capped
(``MAX_MODULES`` distinct paths per worker, the rest count as ``other``) so the metric's
cardinality stays bounded.

Private module paths (``is_private``: covered by an access rule or GOPRIVATE; the security
gate installs the predicate) are never named: their downloads count under
``module="private"``, and their failures are kept for the status page as
``PRIVATE_PATH`` with no error text, since ``/metrics`` and the status page may be read by
callers the access rules keep from those modules.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gomodproxy.checksumdb.database import SumdbUnavailable
from gomodproxy.errors import GoModProxyError, InvalidInput, NotFound, VerificationError
from gomodproxy.ops import sli
from gomodproxy.ops.audit import AuditLog, make_record
from gomodproxy.service.requests import ModRequest, parse_request

#: The hot path hands no parsed request to the hook; parsing a module path costs ~35 us, so
#: the audit log and counters reuse the (immutable) result for recently seen paths.
_parse = lru_cache(maxsize=4096)(parse_request)

MODULE_METRIC = "gomodproxy_module_downloads_total"
MODULE_HELP = "Module zips served (status 200), by module path (at most 500 paths per worker)."
BYTES_METRIC = "gomodproxy_response_bytes_total"
BYTES_HELP = "Response body bytes of protocol answers, by route (mounted routes not counted)."
VERIFY_METRIC = "gomodproxy_verifications_total"
VERIFY_HELP = (
    "Fetched .mod and .zip by checksum-database result: checked (verified), exempt "
    "(GONOSUMDB/GOPRIVATE or GOSUMDB=off), refused (mismatch or a database caught lying)."
)
MAX_MODULES = 500
RECENT_ERRORS = 25
#: What stands for a private module path on the status page and in metrics labels.
PRIVATE_PATH = "private"


@dataclass(frozen=True)
class RecentError:
    """One failed response, for the status page."""

    time: float
    status: int
    path: str
    error: str


def _identity(scope: Any) -> str:
    """The authenticated user of the request (the security gate puts it in the scope)."""
    state = scope.get("state")
    return str(state.get("principal", "")) if isinstance(state, dict) else ""


class OpsObserver:
    """Counts, remembers and audits responses; installed as ``app.on_response``."""

    def __init__(self, metrics: Any, verifier: Any = None, audit: AuditLog | None = None) -> None:
        self.metrics = metrics
        self.verifier = verifier
        self.audit = audit
        self.started = time.time()
        self.recent: deque[RecentError] = deque(maxlen=RECENT_ERRORS)
        #: Downloads that failed because the checksum database could not be asked.
        self.sumdb_unavailable = 0
        self.sumdb_last_error: RecentError | None = None
        #: escaped module path (as in the URL) → series key of the module counter
        self._module_keys: dict[str, tuple[tuple[str, str], ...]] = {}
        self._other_key = (("module", "other"),)
        self._private_key = (("module", PRIVATE_PATH),)
        #: Whether a module path is private (set by the security gate; none by default).
        self.is_private: Callable[[str], bool] = _nothing_private
        for artifact in sorted(sli.DOWNLOAD_ARTIFACTS):
            for outcome in (sli.SUCCESS, sli.FAILURE):
                metrics.inc(sli.METRIC, sli.METRIC_HELP, _labels(artifact, outcome), 0)
        self._sli = metrics.extra[sli.METRIC]
        for artifact in sorted(sli.DOWNLOAD_ARTIFACTS):
            metrics.inc(BYTES_METRIC, BYTES_HELP, {"route": artifact}, 0)
        for artifact in ("mod", "zip"):
            for result in ("checked", "exempt", "refused"):
                labels = {"artifact": artifact, "result": result}
                metrics.inc(VERIFY_METRIC, VERIFY_HELP, labels, 0)
        self._bytes = metrics.extra[BYTES_METRIC]
        self._keys = {
            (a, o): tuple(sorted(_labels(a, o).items()))
            for a in sli.DOWNLOAD_ARTIFACTS
            for o in (sli.SUCCESS, sli.FAILURE)
        }

    def __call__(
        self,
        scope: Any,
        route: str,
        status: int,
        size: int,
        cache: str,
        source: str,
        req: ModRequest | None,
        exc: BaseException | None,
    ) -> str:
        """Record one response; returns its SLI outcome ("" when it is no download)."""
        if size and scope["method"] != "HEAD":
            bkey = (("route", route),)
            self._bytes[bkey] = self._bytes.get(bkey, 0) + size
        gated = route == "refused"
        if gated:  # refused by the gate before routing: what did it ask for?
            try:
                req = _parse(scope["path"])
            except GoModProxyError:
                req = None
            route = req.kind if req is not None else ""
        if route == "query":  # an .info for a branch, tag or non-canonical version
            route = "info"
        elif route == "other":  # a download whose path did not parse (answered 400/404)
            route = _artifact_of(scope["path"])
        outcome = ""
        if route in sli.DOWNLOAD_ARTIFACTS:
            outcome = sli.classify(status, exc)
            key = self._keys[(route, outcome)]
            self._sli[key] = self._sli.get(key, 0) + 1
            if route == "zip" and status == 200:
                self._count_module(scope, req)
            if cache == "miss" and route != "info":  # fetched from a source on this request
                self._count_verification(route, scope, req, status, exc)
        if status >= 500 or outcome == sli.FAILURE:
            text = str(exc) if exc is not None else ""
            path = scope["path"]
            if self._names_private(path, req):
                path, text = PRIVATE_PATH, ""
            err = RecentError(time.time(), status, path, " ".join(text.split())[:300])
            self.recent.append(err)
            if isinstance(exc, SumdbUnavailable):
                self.sumdb_unavailable += 1
                self.sumdb_last_error = err
        if self.audit is not None and route in sli.DOWNLOAD_ARTIFACTS:
            event = audit_event(status, exc, gated)
            self._audit(scope, event, route, status, cache, source, req, exc, outcome)
        return outcome

    def _names_private(self, path: str, req: ModRequest | None) -> bool:
        if req is None:
            try:
                req = _parse(path)
            except GoModProxyError:
                return False
        return self.is_private(req.path)

    def _count_verification(
        self, route: str, scope: Any, req: ModRequest | None, status: int, exc: BaseException | None
    ) -> None:
        module = req.path if req is not None else ""
        result = self.verification(route, module, "miss", status, exc)
        if result:
            labels = {"artifact": route, "result": result}
            self.metrics.inc(VERIFY_METRIC, VERIFY_HELP, labels)

    def _count_module(self, scope: Any, req: ModRequest | None) -> None:
        """One more zip of this module; hot-path cheap: the URL's escaped module path is
        looked up in a dict, parsed only the first time it is seen."""
        path: str = scope["path"]
        escaped = path[1 : path.rfind("/@v/")]
        key = self._module_keys.get(escaped)
        if key is None:
            if len(self._module_keys) >= MAX_MODULES:
                key = self._other_key
            else:
                if req is None:
                    try:
                        req = _parse(path)
                    except GoModProxyError:
                        return
                label = PRIVATE_PATH if self.is_private(req.path) else req.path
                key = self._module_keys[escaped] = (("module", label),)
            self.metrics.inc(MODULE_METRIC, MODULE_HELP, dict(key), 0)
        series = self.metrics.extra[MODULE_METRIC]
        series[key] = series.get(key, 0) + 1

    def _audit(
        self,
        scope: Any,
        event: str,
        route: str,
        status: int,
        cache: str,
        source: str,
        req: ModRequest | None,
        exc: BaseException | None,
        outcome: str,
    ) -> None:
        assert self.audit is not None
        if req is None:
            try:
                req = _parse(scope["path"])
            except GoModProxyError:
                req = None
        client = scope.get("client")
        module = req.path if req is not None else ""
        self.audit.write(
            make_record(
                time.time(),
                event=event,
                client=str(client[0]) if client else "",
                identity=_identity(scope),
                module=module,
                version=req.version if req is not None else "",
                artifact=route,
                source=source,
                cache=cache,
                verification=self.verification(route, module, cache, status, exc),
                status=status,
                outcome=outcome,
                error=" ".join(str(exc).split())[:500] if exc is not None else "",
            )
        )

    def verification(
        self, route: str, module: str, cache: str, status: int, exc: BaseException | None
    ) -> str:
        """The audit log's verification field (see ``gomodproxy.ops.audit``)."""
        if isinstance(exc, VerificationError):
            return "refused"
        if route == "info" or not module or status >= 400:
            return ""  # .info bodies are not in the checksum database
        exempt = getattr(self.verifier, "exempt", None)
        if exempt is None or exempt(module):
            return "exempt"
        return "checked" if cache == "miss" else "stored"


def _nothing_private(module_path: str) -> bool:
    return False


def audit_event(status: int, exc: BaseException | None, gated: bool) -> str:
    """``download``, ``not_found``, ``refused`` (access control, rate limit, checksum
    database) or ``failed`` (our or an upstream fault)."""
    if status < 400:
        return "download"
    if gated or isinstance(exc, VerificationError):
        return "refused"
    if isinstance(exc, NotFound | InvalidInput):
        return "not_found"
    return "failed"


def _artifact_of(path: str) -> str:
    """``info``/``mod``/``zip`` for a path that looks like a download, else ""."""
    _, sep, name = path.rpartition("/@v/")
    ext = name.rpartition(".")[2] if sep else ""
    return ext if ext in sli.DOWNLOAD_ARTIFACTS else ""


def _labels(artifact: str, outcome: str) -> dict[str, str]:
    return {"artifact": artifact, "outcome": outcome}
