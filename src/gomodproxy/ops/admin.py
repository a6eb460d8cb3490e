"""Admin endpoints under ``/admin/``, behind a bearer token (``admin_token_file``).

::

    POST /admin/purge?module=M&version=V   delete V's .info/.mod/.zip/.ziphash from storage and
                                           this worker's memory cache, and clear a remembered
                                           checksum refusal of V; audited (event "purge")
    POST /admin/verify[?module=M]          re-hash stored modules and check them against the
                                           checksum database (``gomodproxy mod verify``)
    POST /admin/mirror                     ``gomodproxy mirror`` in the server: the JSON body
                                           {"gosum": TEXT, "gomod": TEXT, "modules": ["M@Q"]}
                                           (any of them); answers the run's summary, 200 when
                                           everything was mirrored, else 502
    GET  /admin/config                     the effective settings, secrets masked

Answers are JSON. Without ``Authorization: Bearer <token>`` matching the token file: 401. No
token file configured: ``/admin/`` is not mounted at all (404, as any unknown path).
Purging removes the version from storage, so the next request fetches it again from the
upstream (and verifies it); other worker processes may serve it from their memory cache until
it is evicted.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from gomodproxy.errors import GoModProxyError, InvalidInput
from gomodproxy.gomod import module
from gomodproxy.ops.audit import AuditLog, make_record
from gomodproxy.ports.keys import version_key, versions_prefix
from gomodproxy.service import refusals
from gomodproxy.service.proxy import ProxyService

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("gomodproxy.admin")
ARTIFACT_EXTS = ("info", "mod", "zip", "ziphash")
#: Largest /admin/mirror body: a go.sum of tens of thousands of lines.
MAX_BODY = 8 << 20


def version_keys(path: str, version: str) -> list[str]:
    """Storage keys of one module version (raises ``InvalidInput`` for a bad path/version)."""
    module.check_path(path)
    if module.canonical_version(version) != version:
        raise InvalidInput(f"version {version!r} is not a canonical semantic version")
    return [version_key(path, version, ext) for ext in ARTIFACT_EXTS]


class AdminApp:
    """The ``/admin/`` ASGI app."""

    def __init__(
        self,
        service: ProxyService,
        shown_config: Mapping[str, object],
        token: str,
        audit: AuditLog | None = None,
    ) -> None:
        if not token:
            raise ValueError("an admin token is required")
        self.service = service
        #: The answer of ``GET /admin/config``: the effective settings, secrets masked.
        self.shown_config = dict(shown_config)
        self._token = ("Bearer " + token).encode()
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:  # read the request body (only /admin/mirror has one), bounded
            message = await receive()
            if len(body) <= MAX_BODY:
                body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if not self._authorized(scope):
            await _json(
                send, 401, {"error": "admin token required"}, [(b"www-authenticate", b"Bearer")]
            )
            return
        path, method = scope["path"], scope["method"]
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        try:
            if path == "/admin/config" and method == "GET":
                await _json(send, 200, self.config())
            elif path == "/admin/purge" and method == "POST":
                await _json(send, 200, await self.purge(scope, query))
            elif path == "/admin/verify" and method == "POST":
                await _json(send, 200, await self.verify(query.get("module", "")))
            elif path == "/admin/mirror" and method == "POST":
                report = await self.mirror(body)
                await _json(send, 200 if not report["Failures"] else 502, report)
            elif path in ("/admin/config", "/admin/purge", "/admin/verify", "/admin/mirror"):
                await _json(send, 405, {"error": f"method {method} not allowed"})
            else:
                await _json(send, 404, {"error": "unknown admin endpoint"})
        except InvalidInput as exc:
            await _json(send, 400, {"error": str(exc)})
        except GoModProxyError as exc:
            log.error("admin %s: %s", path, exc)
            await _json(send, 500, {"error": str(exc)})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value.strip(), self._token)
        return False

    def config(self) -> dict[str, object]:
        return self.shown_config

    async def purge(self, scope: Scope, query: dict[str, str]) -> dict[str, Any]:
        path, version = query.get("module", ""), query.get("version", "")
        if not path or not version:
            raise InvalidInput("purge needs module= and version=")
        keys = version_keys(path, version)
        service = self.service
        remembered = [refusals.refusal_key(kind, path, version) for kind in ("mod", "zip")]
        deleted = [key for key in (*keys, *remembered) if await service.store.delete(key)]
        for key in keys:
            service.hot.discard(key)
        if self.audit is not None:
            client = scope.get("client")
            self.audit.write(
                make_record(
                    time.time(),
                    event="purge",
                    client=str(client[0]) if client else "",
                    identity="admin",
                    module=path,
                    version=version,
                    status=200,
                )
            )
        log.warning("admin purge %s@%s: deleted %s", path, version, ", ".join(deleted) or "none")
        return {"module": path, "version": version, "deleted": deleted}

    async def mirror(self, body: bytes) -> dict[str, Any]:
        from gomodproxy.mirror.plan import plan_from_texts
        from gomodproxy.mirror.runner import mirror

        if len(body) > MAX_BODY:
            raise InvalidInput(f"mirror request body is larger than {MAX_BODY} bytes")
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            raise InvalidInput("mirror: the body is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidInput("mirror: the body is not a JSON object")
        modules = doc.get("modules", [])
        gosum, gomod = doc.get("gosum", ""), doc.get("gomod", "")
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            raise InvalidInput("mirror: modules must be a list of MODULE@QUERY strings")
        if not isinstance(gosum, str) or not isinstance(gomod, str):
            raise InvalidInput("mirror: gosum and gomod must be strings")
        plan = plan_from_texts(gosum=gosum, gomod=gomod, modules=modules)
        report = await mirror(self.service, plan, _Quiet())
        log.warning(
            "admin mirror: %d versions (%d fetched), %d failed",
            report.done,
            report.fetched,
            len(report.failures),
        )
        return report.to_json()

    async def verify(self, only: str) -> dict[str, Any]:
        from gomodproxy.checksumdb.recheck import verify_store

        service = self.service
        verifier = service.verifier
        if not verifier.database_name:
            return {"checked": 0, "problems": [], "note": "checksum database verification is off"}
        prefix = ""
        if only:
            module.check_path(only)
            prefix = versions_prefix(only)
        checked, problems = await verify_store(service.store, verifier, prefix)
        return {"checked": checked, "problems": problems}


class _Quiet:
    """No progress display for a mirror run inside the server (the answer is the summary)."""

    def total(self, n: int) -> None:
        return None

    def finished(self, mv: Any, size: int, fetched: bool, report: Any) -> None:
        return None

    def failed(self, failure: Any, report: Any) -> None:
        log.info("admin mirror: %s@%s: %s", failure.path, failure.version, failure.error)


async def _json(
    send: Send, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
