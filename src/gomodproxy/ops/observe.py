"""What operations make of each response: SLI counters, top modules, recent errors and audit
lines, all from the request's record (an observer of ``gomodproxy.ops.record``'s chain).

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
from typing import Any

from gomodproxy.checksumdb.database import SumdbUnavailable
from gomodproxy.errors import InvalidInput, NotFound, VerificationError
from gomodproxy.ops import sli
from gomodproxy.ops.audit import AuditLog, make_record
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ops.record import RequestRecord
from gomodproxy.ports.verifier import NoVerifier, Verifier
from gomodproxy.service.requests import ModRequest

MODULE_METRIC = "gomodproxy_module_downloads_total"
MODULE_HELP = "Module zips served (status 200), by module path (at most 500 paths per worker)."
BYTES_METRIC = "gomodproxy_response_bytes_total"
BYTES_HELP = (
    "Response body bytes by route (/sumdb/ and other mounted routes included; HEAD sends none)."
)
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
    """Counts, remembers and audits responses; sets each download's SLI ``outcome``."""

    def __init__(
        self,
        metrics: Metrics,
        verifier: Verifier | None = None,
        audit: AuditLog | None = None,
        *,
        is_private: Callable[[str], bool] | None = None,
    ) -> None:
        self.metrics = metrics
        self.verifier: Verifier = verifier if verifier is not None else NoVerifier()
        self.audit = audit
        self.started = time.time()
        self.recent: deque[RecentError] = deque(maxlen=RECENT_ERRORS)
        #: Downloads that failed because the checksum database could not be asked.
        self.sumdb_unavailable = 0
        self.sumdb_last_error: RecentError | None = None
        #: module path → series key of the module counter
        self._module_keys: dict[str, tuple[tuple[str, str], ...]] = {}
        self._other_key = (("module", "other"),)
        self._private_key = (("module", PRIVATE_PATH),)
        #: Whether a module path is private (the security gate's predicate; none by default).
        self.is_private: Callable[[str], bool] = is_private or _nothing_private
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

    def __call__(self, rec: RequestRecord) -> None:
        """Record one response, and its SLI outcome on ``rec`` ("" when it is no download)."""
        status, req, exc = rec.status, rec.req, rec.exc
        route = rec.route
        if rec.size and rec.method != "HEAD":
            bkey = (("route", route),)
            self._bytes[bkey] = self._bytes.get(bkey, 0) + rec.size
        gated = route == "refused"
        if gated:  # refused by the gate before routing: what did it ask for?
            route = req.kind if req is not None else ""
        if route == "query":  # an .info for a branch, tag or non-canonical version
            route = "info"
        elif route == "other":  # a download whose path did not parse (answered 400/404)
            route = _artifact_of(rec.path)
        outcome = ""
        if route in sli.DOWNLOAD_ARTIFACTS:
            outcome = sli.classify(status, exc)
            key = self._keys[(route, outcome)]
            self._sli[key] = self._sli.get(key, 0) + 1
            if route == "zip" and status == 200 and req is not None:
                self._count_module(req)
            if rec.cache == "miss" and route != "info":  # fetched from a source on this request
                self._count_verification(route, req, status, exc)
        if status >= 500 or outcome == sli.FAILURE:
            text = str(exc) if exc is not None else ""
            path = rec.path
            if req is not None and self.is_private(req.path):
                path, text = PRIVATE_PATH, ""
            err = RecentError(time.time(), status, path, " ".join(text.split())[:300])
            self.recent.append(err)
            if isinstance(exc, SumdbUnavailable):
                self.sumdb_unavailable += 1
                self.sumdb_last_error = err
        if self.audit is not None and route in sli.DOWNLOAD_ARTIFACTS:
            self._audit(rec, audit_event(status, exc, gated), route, outcome)
        rec.outcome = outcome

    def _count_verification(
        self, route: str, req: ModRequest | None, status: int, exc: BaseException | None
    ) -> None:
        module = req.path if req is not None else ""
        result = self.verification(route, module, "miss", status, exc)
        if result:
            labels = {"artifact": route, "result": result}
            self.metrics.inc(VERIFY_METRIC, VERIFY_HELP, labels)

    def _count_module(self, req: ModRequest) -> None:
        """One more zip of this module; hot-path cheap: one dict lookup by module path."""
        key = self._module_keys.get(req.path)
        if key is None:
            if len(self._module_keys) >= MAX_MODULES:
                key = self._other_key
            else:
                label = PRIVATE_PATH if self.is_private(req.path) else req.path
                key = self._module_keys[req.path] = (("module", label),)
            self.metrics.inc(MODULE_METRIC, MODULE_HELP, dict(key), 0)
        series = self.metrics.extra[MODULE_METRIC]
        series[key] = series.get(key, 0) + 1

    def _audit(self, rec: RequestRecord, event: str, route: str, outcome: str) -> None:
        assert self.audit is not None
        req, exc = rec.req, rec.exc
        module = req.path if req is not None else ""
        self.audit.write(
            make_record(
                time.time(),
                event=event,
                client=rec.client_host(),
                identity=_identity(rec.scope),
                module=module,
                version=req.version if req is not None else "",
                artifact=route,
                source=rec.source,
                cache=rec.cache,
                verification=self.verification(route, module, rec.cache, rec.status, exc),
                status=rec.status,
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
        if self.verifier.exempt(module):
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
