"""``/sumdb/<name>/...``: checksum databases proxied verbatim, and the private database.

The go command probes ``<proxy>/sumdb/<name>/supported`` and, on 200, sends all its traffic
for that database here. Only configured names answer (the database named by GOSUMDB, whose
verifier this proxy already uses, and the private database when a signer key is configured);
any other name is 404, so the go command goes to the database directly and the proxy is no
open relay. Built by the composition root (``gomodproxy.compose``) and mounted at ``PREFIX``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gomodproxy.checksumdb.database import SumdbDatabase
from gomodproxy.checksumdb.private import PrivateSumdb
from gomodproxy.checksumdb.remote import RemoteResponse
from gomodproxy.config.settings import CacheSettings, ChecksumDbSettings
from gomodproxy.errors import ConfigError, GoModProxyError, InvalidInput, NotFound
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.ports.keys import ziphash_key
from gomodproxy.ports.storage import BlobStore
from gomodproxy.server.http_errors import error_response, plain_line
from gomodproxy.service.proxy import ProxyService, Trace
from gomodproxy.sources.proxy import reason_from_body
from gomodproxy.sumdb import note

PREFIX = "/sumdb/"


class SumdbRoutes:
    """An ASGI app for the ``/sumdb/`` prefix."""

    def __init__(
        self,
        databases: dict[str, SumdbDatabase],
        private: PrivateSumdb | None = None,
        *,
        ttl: float = CacheSettings.list_ttl,
        upstream_error_status: int = 502,
    ) -> None:
        self.databases = databases
        self.private = private
        self.ttl = ttl
        self.upstream_error_status = upstream_error_status
        names = [*databases, *([private.name] if private else [])]
        self._names = sorted(names, key=len, reverse=True)

    def _route(self, path: str) -> tuple[str, str]:
        rest = path[len(PREFIX) :]
        for name in self._names:
            if rest.startswith(name + "/"):
                return name, rest[len(name) + 1 :]
        raise NotFound("not found: this proxy does not serve that checksum database")

    async def answer(self, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body for a GET of ``path``."""
        try:
            name, endpoint = self._route(path)
            if self.private is not None and name == self.private.name:
                resp = await self.private.handle(endpoint)
                immutable = False
            else:
                resp = await self.databases[name].passthrough(endpoint)
                immutable = endpoint.startswith("tile/") and ".p/" not in endpoint
        except GoModProxyError as exc:
            status, body, cc = error_response(exc, self.upstream_error_status)
            return (
                status,
                [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", cc)],
                body,
            )
        if resp.status != 200:
            # An upstream database's error body is relayed as one clean line of text (its
            # first line, printable, redacted), never verbatim: it may hold control
            # characters or anything else its sender chose.
            reason = reason_from_body(resp.body, f"checksum database answered {resp.status}")
            resp = RemoteResponse(resp.status, "text/plain; charset=utf-8", plain_line(reason))
        return resp.status, self._headers(resp, immutable), resp.body

    def _headers(self, resp: RemoteResponse, immutable: bool) -> list[tuple[bytes, bytes]]:
        if resp.status != 200:
            cc = b"no-store"
        elif immutable:
            cc = b"public, max-age=31536000, immutable"
        else:
            cc = f"public, max-age={int(self.ttl)}".encode()
        ctype = (resp.content_type or "text/plain; charset=utf-8").encode("latin-1", "replace")
        return [(b"content-type", ctype), (b"cache-control", cc)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            status, headers, body = 405, [(b"allow", b"GET, HEAD")], b"method not allowed\n"
        else:
            status, headers, body = await self.answer(scope["path"])
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _read_signer(key_file: str) -> note.Signer | None:
    """The private database's signer from ``key_file``; None when it is not set.

    Raises:
        ConfigError: the file is unreadable or holds no signer key (a worker that cannot
            start says which setting is wrong, not a traceback).
    """
    if not key_file:
        return None
    try:
        text = Path(key_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"sumdb_private_key: {key_file}: {reason}") from None
    try:
        return note.new_signer(text.strip())
    except InvalidInput as exc:
        raise ConfigError(f"sumdb_private_key: {key_file}: {exc}") from None


def sumdb_routes(
    checksum: ChecksumDbSettings,
    goprivate: str,
    list_ttl: float,
    service: ProxyService,
    store: BlobStore,
    databases: Mapping[str, SumdbDatabase],
    lock_dir: Path,
) -> SumdbRoutes | None:
    """The ``/sumdb/`` routes: the proxied ``databases`` and, when a signer key is set, the
    private database kept in ``store`` and fed by ``service``; None when there is neither.
    The private database covers ``sumdb_private_patterns``, by default ``goprivate``; answers
    about the proxied ones are cached ``list_ttl`` seconds.

    ``lock_dir`` is the host-wide lock directory the single-flight locks use too.
    """
    private = None
    signer = _read_signer(checksum.sumdb_private_key)
    if signer is not None:

        async def fetch_hashes(path: str, version: str) -> tuple[str, str]:
            trace = Trace()
            mod = await service.immutable("mod", path, version, trace)
            zip_art = await service.immutable("zip", path, version, trace)
            zip_h1 = await service.store.get(ziphash_key(zip_art.key))
            mod_data = mod.data if mod.data is not None else await service.store.get(mod.key)
            if not zip_h1 or mod_data is None:
                raise NotFound(f"not found: {path}@{version}")
            return zip_h1.decode().strip(), gomod_hash(mod_data)

        patterns = checksum.sumdb_private_patterns or goprivate
        private = PrivateSumdb(
            signer, store, patterns=patterns, fetch_hashes=fetch_hashes, lock_dir=lock_dir
        )
    if not databases and private is None:
        return None
    return SumdbRoutes(dict(databases), private, ttl=list_ttl)
