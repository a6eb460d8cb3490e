"""The check every request passes first: limits, authentication, authorization, audit.

``ProxyApp`` calls :meth:`Gate.check` before its hot cache, its mounted routes (``/sumdb/``)
and the protocol routes, so no storage or upstream access happens for a refused request,
whatever the artifact: ``list``, ``@latest``, ``.info`` queries and checksum-database lookups
of private paths included. Health and metrics endpoints are not gated (they name no module),
nor is ``/admin/`` (its own bearer token); the status page (``/``) needs a principal when
authentication is on, since it names recently failed paths.

Order: header size (431) and the per-address rate limit (429) for every request, health,
metrics and admin included, and whether or not any access control is configured; then
``/metrics`` protection (``metrics_token_file``, ``metrics_networks``); then, for module
routes when access control is configured: the per-principal rate limit (429, before any
scrypt work so guessing passwords is rate limited too), authentication (401 for wrong
credentials, with ``WWW-Authenticate``), authorization (404 anonymous / 403 authenticated /
401 when anonymous access is off). Each access decision becomes one ``audit`` event.

An anonymous caller refused a private module gets exactly the answer of an absent one: the
same status, ``Cache-Control`` and body (``http_errors.not_found_body``, which the app also
uses for every 404 an anonymous caller gets while access control is on).

The private checksum database (its name taken from the mounted ``/sumdb/`` routes) answers
lookups per module like the protocol routes. Its ``latest`` and hash tiles hold no module
path (hashes only) and need an authenticated principal; its data tiles list the records of
every private module, so only a principal every access rule allows may read them (the go
command never asks for data tiles; auditors and mirrors do).
"""

from __future__ import annotations

import functools
import hmac
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gomodproxy.config.networks import IPNetwork, in_networks, parse_networks
from gomodproxy.config.settings import OpsSettings, SecuritySettings
from gomodproxy.errors import ConfigError, GoModProxyError, InvalidInput
from gomodproxy.gomod import module
from gomodproxy.ops.metrics import RequestLog
from gomodproxy.ports.keys import MAX_KEY_BYTES
from gomodproxy.security.auth import (
    AuthenticationFailed,
    Authenticator,
    Principal,
    authenticator_from_settings,
)
from gomodproxy.security.authz import ALLOW, Decision, Policy, parse_rules
from gomodproxy.security.ratelimit import (
    RateLimiter,
    current_principal,
)
from gomodproxy.server.http_errors import NOT_FOUND_CACHE_CONTROL, not_found_body
from gomodproxy.service.requests import KINDS, parse_request

#: Largest total of request header bytes accepted (431 beyond).
MAX_HEADER_BYTES = 32 << 10
_UNGATED = frozenset({"/healthz", "/readyz", "/metrics"})
METRICS = "/metrics"
#: Prefixes with their own authentication (the ops admin API's bearer token).
_OWN_AUTH = ("/admin/",)
_TEXT = b"text/plain; charset=utf-8"
#: Targets answered by the protocol routes (where an absent module is a plain 404).
_PROTOCOL_KINDS = frozenset({*KINDS, "list", "latest", "query"})


@dataclass(frozen=True)
class Target:
    """What a request path asks for, as far as access control cares."""

    module: str = ""
    version: str = ""
    artifact: str = ""
    #: True for private checksum-database data not tied to one module (tiles, latest).
    private_db: bool = False


@dataclass(frozen=True)
class Refusal:
    """A ready answer for a refused request."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


AuditSink = Callable[[dict[str, Any]], None]


def audit_writer(target: str = "") -> RequestLog:
    """The default sink of access decisions: buffered JSON lines (``{"event":"audit",...}``)
    on stderr, or appended to the file ``target`` (setting ``access_decisions_log``); written
    in batches off the request path. The ops audit log (``audit_log``, gomodproxy.ops.audit)
    records downloads and refusals with the principal this gate puts in the ASGI scope.

    Raises:
        ConfigError: the file ``target`` cannot be opened for appending.
    """
    if not target or target == "-":
        return RequestLog(sys.stderr)
    try:
        return RequestLog(open(target, "a", encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"access_decisions_log {target}: {exc.strerror or exc}") from None


class Gate:
    """Limits, authentication and authorization for every request."""

    def __init__(
        self,
        *,
        authenticator: Authenticator | None,
        policy: Policy,
        limiter: RateLimiter | None = None,
        private_sumdb: Iterable[str] = (),
        audit: RequestLog | None = None,
        metrics_token: str = "",
        metrics_networks: Iterable[IPNetwork] = (),
    ) -> None:
        self.authenticator = authenticator
        self.policy = policy
        self.limiter = limiter if limiter is not None and limiter.enabled else None
        self.private_sumdb = tuple(private_sumdb)
        #: The buffered writer of access decisions (``audit_writer``), flushed at shutdown.
        self.audit_log = audit if audit is not None else audit_writer()
        self.audit: AuditSink = self.audit_log.write
        self._metrics_token = ("Bearer " + metrics_token).encode() if metrics_token else b""
        self.metrics_networks = list(metrics_networks)
        #: Authentication or authorization is configured (else only limits apply).
        self.controls_access = bool(
            authenticator is not None
            or policy.rules
            or policy.goprivate
            or not policy.anonymous_public
        )
        self._only_header_limit = (
            self.limiter is None
            and not self.controls_access
            and not self._metrics_token
            and not self.metrics_networks
        )

    def flush(self) -> None:
        """Write buffered audit events now (at shutdown)."""
        self.audit_log.flush()

    def target(self, path: str) -> Target:
        """Classify a decoded request path (memoised: parsing is most of the gate's cost).

        A path longer than any servable one is not memoised: the cache would keep every
        such path (granian accepts request lines of ~400 KB) and never name a module."""
        if len(path) > MAX_KEY_BYTES:
            return Target()
        return self._target(path)

    @functools.lru_cache(maxsize=16384)  # noqa: B019 - one gate per process, bounded
    def _target(self, path: str) -> Target:
        if path.startswith("/sumdb/"):
            return self._sumdb_target(path[len("/sumdb/") :])
        if path == "/":
            return Target(artifact="status")
        try:
            req = parse_request(path)
        except GoModProxyError:
            return Target()
        return Target(req.path, req.version, req.kind)

    def _sumdb_target(self, rest: str) -> Target:
        private = any(rest.startswith(name + "/") for name in self.private_sumdb)
        if private and "/tile/" in rest and "/data/" in rest.partition("/tile/")[2]:
            return Target("", "", "sumdb-data", private_db=True)
        _, sep, lookup = rest.partition("/lookup/")
        if sep:
            escaped, _, version = lookup.rpartition("@")
            try:
                return Target(module.unescape_path(escaped), version, "sumdb-lookup")
            except GoModProxyError:
                pass
        return Target("", "", "sumdb", private_db=private)

    def decide(self, principal: Principal | None, target: Target) -> Decision:
        if target.artifact == "status" and self.authenticator is not None and principal is None:
            # The status page names recently failed paths, private ones included.
            return Decision(False, 401, "authentication required")
        if target.module:
            return self.policy.decide(principal, target.module)
        if target.artifact == "sumdb-data":
            return self.policy.decide_every_rule(principal, "the private checksum database")
        if target.private_db:
            return self.policy.decide_authenticated(principal, "private checksum database")
        return self.policy.decide_public(principal)

    async def check(self, scope: dict[str, Any] | Any) -> Refusal | None:
        """None when the request may go on; else the answer to send."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        size = 0
        for name, value in headers:
            size += len(name) + len(value)
        if size <= MAX_HEADER_BYTES and self._only_header_limit:
            return None  # the hot path when nothing else is configured
        path: str = scope["path"]
        client = scope.get("client")
        address = str(client[0]) if client else ""
        if size > MAX_HEADER_BYTES:
            return self._refuse(
                scope,
                address,
                None,
                Target(),
                431,
                "request headers too large",
                audit=self.controls_access,
            )
        if self.limiter is not None:
            retry = self.limiter.check("", address)
            if retry:
                return self._limited(scope, address, None, retry)
        if path == METRICS:
            return self._metrics_refusal(scope, address, headers)
        if path in _UNGATED or path.startswith(_OWN_AUTH) or not self.controls_access:
            return None
        principal: Principal | None = None
        if self.authenticator is not None:
            try:
                principal = await self.authenticator.authenticate(headers, address)
            except AuthenticationFailed as exc:
                return self._refuse(scope, address, None, Target(), 401, str(exc))
            if principal is not None:  # who it is, for the audit log (gomodproxy.ops)
                scope.setdefault("state", {})["principal"] = principal.name
        if principal is not None and self.limiter is not None:
            retry = self.limiter.check("user:" + principal.name, "")
            if retry:
                return self._limited(scope, address, principal, retry)
        target = self.target(path)
        decision = self.decide(principal, target)
        if not decision.allowed:
            return self._refuse(scope, address, principal, target, decision.status, decision.reason)
        current_principal.set("user:" + principal.name if principal else "addr:" + address)
        if principal is not None:
            # For the ops audit log (ops.observe reads scope["state"]["principal"]).
            state = scope.get("state")
            if not isinstance(state, dict):
                state = scope["state"] = {}
            state["principal"] = principal.name
        self._audit(scope, address, principal, target, "allow", 0, decision)
        return None

    def _metrics_refusal(
        self, scope: Any, address: str, headers: list[tuple[bytes, bytes]]
    ) -> Refusal | None:
        """``/metrics`` is open unless a token or networks are configured; then either one
        lets a scraper in (the token as ``Authorization: Bearer``)."""
        if not self._metrics_token and not self.metrics_networks:
            return None
        if self.metrics_networks and in_networks(address, self.metrics_networks):
            return None
        if self._metrics_token:
            for name, value in headers:
                if name == b"authorization" and hmac.compare_digest(
                    value.strip(), self._metrics_token
                ):
                    return None
            refusal = self._refuse(scope, address, None, Target(), 401, "metrics token required")
            refusal.headers[-1] = (b"www-authenticate", b'Bearer realm="gomodproxy metrics"')
            return refusal
        return self._refuse(
            scope, address, None, Target(), 403, "forbidden: /metrics is not served to this address"
        )

    def _limited(
        self, scope: Any, address: str, principal: Principal | None, retry: int
    ) -> Refusal:
        # Not an access decision, and a flood of them must not flood the audit log: 429s
        # are in the request log and the metrics.
        refusal = self._refuse(
            scope, address, principal, Target(), 429, "rate limit exceeded", audit=False
        )
        refusal.headers.append((b"retry-after", str(retry).encode()))
        return refusal

    def _refuse(
        self,
        scope: Any,
        address: str,
        principal: Principal | None,
        target: Target,
        status: int,
        reason: str,
        *,
        audit: bool = True,
    ) -> Refusal:
        if audit:
            self._audit(
                scope, address, principal, target, "deny", status, Decision(False, status, reason)
            )
        if status == 404 and principal is None and target.artifact in _PROTOCOL_KINDS:
            # Byte for byte what an absent module gets (see the module docstring).
            return Refusal(
                404,
                [(b"content-type", _TEXT), (b"cache-control", NOT_FOUND_CACHE_CONTROL)],
                not_found_body(scope["path"]),
            )
        headers = [(b"content-type", _TEXT), (b"cache-control", b"no-store")]
        if status == 401:
            headers.append((b"www-authenticate", b'Basic realm="gomodproxy"'))
        body = (" ".join(reason.split()) or "refused").encode("utf-8", "replace") + b"\n"
        return Refusal(status, headers, body)

    def _audit(
        self,
        scope: Any,
        address: str,
        principal: Principal | None,
        target: Target,
        decision: str,
        status: int,
        detail: Decision,
    ) -> None:
        event: dict[str, Any] = {
            "event": "audit",
            "time": round(time.time(), 3),
            "client": address,
            "principal": principal.name if principal else "",
            "auth": principal.method if principal else "anonymous",
            "module": target.module,
            "version": target.version,
            "artifact": target.artifact,
            "path": scope["path"],
            "decision": decision,
            "status": status,
        }
        if detail.rule:
            event["rule"] = detail.rule
        if detail.reason:
            event["reason"] = detail.reason
        self.audit(event)


def gate_from_settings(
    security: SecuritySettings, ops: OpsSettings, goprivate: str, private_sumdb: Iterable[str] = ()
) -> Gate:
    """The gate the settings ask for: with nothing configured it still limits header size.

    ``ops`` says who may read ``/metrics``; ``goprivate`` marks private paths once
    authentication or access rules are on.

    Raises:
        ConfigError: the metrics token file or the access decisions log cannot be used, or
            ``metrics_networks`` is not a list of networks.
    """
    try:
        metrics_networks = parse_networks(ops.metrics_networks)
    except InvalidInput as exc:
        raise ConfigError(f"metrics_networks: {exc}") from None
    authenticator = authenticator_from_settings(security)
    rules = parse_rules(security.access_rules)
    limiter = RateLimiter(
        principal_rate=security.rate_limit,
        principal_burst=float(security.rate_limit_burst),
        address_rate=security.rate_limit_address,
        address_burst=float(security.rate_limit_address_burst),
    )
    policy = Policy(
        rules,
        goprivate=goprivate if (authenticator or rules) else "",
        anonymous_public=security.anonymous_public,
    )
    return Gate(
        authenticator=authenticator,
        policy=policy,
        limiter=limiter,
        private_sumdb=private_sumdb,
        audit=audit_writer(security.access_decisions_log),
        metrics_token=_read_token(ops.metrics_token_file),
        metrics_networks=metrics_networks,
    )


def private_predicate(access_rules: str, goprivate: str) -> Callable[[str], bool]:
    """Whether a module path is private: an access rule or GOPRIVATE covers it (whether or
    not authentication is on)."""
    return Policy(parse_rules(access_rules), goprivate=goprivate).is_private


def _read_token(path: str) -> str:
    """The first line of the ``metrics_token_file`` ("" when no file is configured).

    Raises:
        ConfigError: the file is unreadable or empty.
    """
    if not path:
        return ""
    try:
        lines = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"metrics_token_file {path}: {reason}") from None
    if not lines:
        raise ConfigError(f"metrics_token_file {path}: the file is empty")
    return lines[0].strip()


__all__ = ["ALLOW", "Gate", "Refusal", "Target", "gate_from_settings"]
