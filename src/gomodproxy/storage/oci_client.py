"""A small client of the OCI distribution API over httpx: blobs, uploads, manifests, tags.

Only what ``OciStore`` needs: HEAD/GET blobs by digest (ranges too), monolithic and chunked
uploads (a failed chunk is resumed from the offset the registry reports, a lost session is
restarted, an abandoned session is cancelled), manifests by tag or digest, tag and catalog
listings with ``Link`` pagination, and the auth schemes registries use: anonymous, basic, and
bearer tokens from the registry token flow (``RegistryAuth``).

Every failure leaves as ``StorageError``; a missing blob or manifest is ``None``/``False``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gomodproxy.errors import StorageError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

# httpx logs every request at INFO; storage traffic is one line per blob and manifest, on
# the hot path. Quiet it unless the operator configured that logger on purpose.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)
DEFAULT_CHUNK = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024
_RETRIES = 4


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    """Turn transport errors into ``StorageError``."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise StorageError(f"OCI registry: {what}: {type(exc).__name__}: {exc}") from exc


def _fail(resp: httpx.Response, what: str) -> StorageError:
    detail = ""
    try:
        errors = resp.json().get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except Exception:
        detail = ""
    if resp.status_code in (401, 403):
        detail = detail or "authentication or authorization failed"
    return StorageError(f"OCI registry: {what}: HTTP {resp.status_code} {detail}".rstrip())


# -- auth ----------------------------------------------------------------------------------


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPO_IN_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags)/")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` → (``bearer``, {realm, service, ...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


def _scope_key(path: str) -> str:
    m = _REPO_IN_PATH.match(path)
    return m.group(1) if m else path


class RegistryAuth(httpx.Auth):
    """Registry auth: a static bearer token, or a 401 challenge answered with basic
    credentials or with a token fetched from the challenge's realm (the token flow).
    Tokens are kept per repository until they expire."""

    def __init__(
        self, username: str | None = None, password: str | None = None, token: str | None = None
    ) -> None:
        self._basic = (
            "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            if username is not None
            else None
        )
        self._static = f"Bearer {token}" if token else None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._use_basic = False

    def _cached(self, key: str) -> str | None:
        item = self._tokens.get(key)
        if item is None or item[1] < time.monotonic():
            return None
        return item[0]

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._static:
            request.headers["Authorization"] = self._static
            yield request
            return
        key = _scope_key(request.url.path)
        cached = self._cached(key)
        if cached:
            request.headers["Authorization"] = cached
        elif self._use_basic and self._basic:
            request.headers["Authorization"] = self._basic
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic" and self._basic:
            self._use_basic = True
            request.headers["Authorization"] = self._basic
            yield request
        elif scheme == "bearer" and "realm" in params:
            query: dict[str, str] = {k: params[k] for k in ("service", "scope") if k in params}
            token_request = httpx.Request("GET", params["realm"], params=query)
            if self._basic:
                token_request.headers["Authorization"] = self._basic
            token_response = yield token_request
            if token_response.status_code != 200:
                return
            await token_response.aread()
            try:
                body = token_response.json()
                token = body.get("token") or body.get("access_token")
                ttl = float(body.get("expires_in") or 60)
            except (ValueError, AttributeError):
                return
            if not token:
                return
            header = f"Bearer {token}"
            self._tokens[key] = (header, time.monotonic() + max(ttl - 10, 1))
            request.headers["Authorization"] = header
            yield request


# -- client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """A manifest as stored: parsed JSON and its digest."""

    body: dict[str, Any]
    digest: str


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> tuple[str, int]:
    """Digest and size of a file, read in chunks (blocking: run in a thread)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


class RegistryClient:
    """The distribution API of one registry."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.chunk_size = chunk_size
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, url: str | httpx.URL, what: str, **kw: Any
    ) -> httpx.Response:
        """One request; idempotent ones are retried once on a transport error (a stale
        keep-alive connection after a registry restart)."""
        attempts = 2 if method in ("GET", "HEAD", "PUT", "DELETE") else 1
        for attempt in range(attempts):
            try:
                return await self._http.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt + 1 == attempts:
                    raise StorageError(
                        f"OCI registry: {what}: {type(exc).__name__}: {exc}"
                    ) from exc
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")  # pragma: no cover

    async def ping(self) -> None:
        """Check that the registry answers the API (``GET /v2/``)."""
        resp = await self._request("GET", "/v2/", "ping")
        if resp.status_code != 200:
            raise _fail(resp, "ping")

    # blobs

    async def blob_exists(self, repo: str, digest: str) -> bool:
        resp = await self._request("HEAD", f"/v2/{repo}/blobs/{digest}", f"stat blob {repo}")
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise _fail(resp, f"stat blob {repo}@{digest}")
        return True

    async def get_blob(self, repo: str, digest: str) -> bytes | None:
        resp = await self._request("GET", f"/v2/{repo}/blobs/{digest}", f"get blob {repo}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _fail(resp, f"get blob {repo}@{digest}")
        return resp.content

    async def stream_blob(
        self, repo: str, digest: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes] | None:
        """The bytes ``[start, end)`` of a blob, or None if it is missing."""
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        req = self._http.build_request("GET", f"/v2/{repo}/blobs/{digest}", headers=headers)
        with _mapped(f"get blob {repo}"):
            resp = await self._http.send(req, stream=True)
        if resp.status_code == 404:
            await resp.aclose()
            return None
        if resp.status_code not in (200, 206):
            with contextlib.suppress(httpx.HTTPError):
                await resp.aread()
            await resp.aclose()
            raise _fail(resp, f"get blob {repo}@{digest}")
        skip = start if resp.status_code == 200 else 0
        limit = None if end is None else end - start
        return _body(resp, skip, limit, f"get blob {repo}")

    async def push_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` unless present; returns its digest."""
        digest = sha256_digest(data)
        if await self.blob_exists(repo, digest):
            return digest
        location = await self._start_upload(repo)
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        resp = await self._request(
            "PUT",
            url,
            f"push blob {repo}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if resp.status_code != 201:
            await self._cancel(location)
            raise _fail(resp, f"push blob {repo}")
        return digest

    async def push_blob_file(self, repo: str, path: Path, digest: str, size: int) -> None:
        """Upload a file in chunks unless present, resuming after a failed chunk."""
        if await self.blob_exists(repo, digest):
            return
        if size <= self.chunk_size:
            data = await asyncio.to_thread(path.read_bytes)
            if sha256_digest(data) != digest:
                raise StorageError(
                    f"OCI registry: push blob {repo}: {path.name} changed while uploading"
                )
            await self.push_blob(repo, data)
            return
        location = await self._start_upload(repo)
        try:
            location = await self._upload_chunks(repo, path, size, location)
            url = httpx.URL(location).copy_merge_params({"digest": digest})
            resp = await self._request(
                "PUT", url, f"finish upload {repo}", headers={"Content-Length": "0"}
            )
            if resp.status_code != 201:
                raise _fail(resp, f"finish upload {repo}")
        except BaseException:
            await self._cancel(location)
            raise

    async def _start_upload(self, repo: str) -> str:
        resp = await self._request("POST", f"/v2/{repo}/blobs/uploads/", f"start upload {repo}")
        if resp.status_code != 202 or "Location" not in resp.headers:
            raise _fail(resp, f"start upload {repo}")
        return str(resp.url.join(resp.headers["Location"]))

    async def _upload_chunks(self, repo: str, path: Path, size: int, location: str) -> str:
        """PATCH the file chunk by chunk; after a failure ask the registry how far it got
        and go on from there (a lost session restarts from 0). Returns the final location."""
        offset = 0
        failures = 0
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                chunk = await asyncio.to_thread(f.read, min(self.chunk_size, size - offset))
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                }
                try:
                    resp = await self._http.request(
                        "PATCH", location, content=chunk, headers=headers
                    )
                    if resp.status_code == 202:
                        location = str(resp.url.join(resp.headers.get("Location", location)))
                        offset += len(chunk)
                        failures = 0
                        continue
                    error = f"HTTP {resp.status_code}"
                except httpx.TransportError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                failures += 1
                if failures > _RETRIES:
                    raise StorageError(
                        f"OCI registry: upload {repo}: chunk at {offset} failed: {error}"
                    )
                await asyncio.sleep(0.05 * 2**failures)
                try:
                    location, offset = await self._resume_point(repo, location)
                except httpx.TransportError:
                    continue
        return location

    async def _resume_point(self, repo: str, location: str) -> tuple[str, int]:
        """Where the registry says an interrupted upload stands (``Range: 0-<last>``)."""
        resp = await self._http.get(location)
        if resp.status_code == 404:
            return await self._start_upload(repo), 0
        if resp.status_code not in (200, 204):
            raise _fail(resp, f"resume upload {repo}")
        new_location = str(resp.url.join(resp.headers.get("Location", location)))
        m = re.fullmatch(r"(?:bytes=)?0-(\d+)", resp.headers.get("Range", "").strip())
        # Distribution writes "0-0" both for 0 and 1 byte received; 0 is the safe reading
        # (a wrong offset is answered 416 and resumed again).
        last = int(m.group(1)) if m else 0
        return new_location, (last + 1 if last else 0)

    async def _cancel(self, location: str) -> None:
        """Abandon an upload session so the registry drops its partial data (best effort)."""
        try:
            await self._http.delete(location)
        except httpx.HTTPError:
            pass

    # manifests

    async def get_manifest(self, repo: str, ref: str) -> Manifest | None:
        resp = await self._request(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            f"get manifest {repo}:{ref}",
            headers={"Accept": OCI_MANIFEST},
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _fail(resp, f"get manifest {repo}:{ref}")
        digest = resp.headers.get("Docker-Content-Digest") or sha256_digest(resp.content)
        try:
            body = resp.json()
        except ValueError as exc:
            raise StorageError(f"OCI registry: manifest {repo}:{ref} is not JSON") from exc
        if not isinstance(body, dict):
            raise StorageError(f"OCI registry: manifest {repo}:{ref} is not a JSON object")
        return Manifest(body, digest)

    async def put_manifest(self, repo: str, tag: str, body: bytes) -> str:
        resp = await self._request(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            f"push manifest {repo}:{tag}",
            content=body,
            headers={"Content-Type": OCI_MANIFEST},
        )
        if resp.status_code not in (200, 201):
            raise _fail(resp, f"push manifest {repo}:{tag}")
        return resp.headers.get("Docker-Content-Digest") or sha256_digest(body)

    async def delete_manifest(self, repo: str, digest: str) -> bool:
        resp = await self._request("DELETE", f"/v2/{repo}/manifests/{digest}", f"delete {repo}")
        if resp.status_code == 404:
            return False
        if resp.status_code not in (200, 202):
            raise _fail(resp, f"delete manifest {repo}@{digest} (are deletes enabled?)")
        return True

    # listings

    async def tags(self, repo: str) -> AsyncIterator[str]:
        async for page in self._pages(f"/v2/{repo}/tags/list?n=1000", f"list tags {repo}"):
            for tag in page.get("tags") or []:
                yield str(tag)

    async def catalog(self) -> AsyncIterator[str]:
        async for page in self._pages("/v2/_catalog?n=1000", "list repositories"):
            for repo in page.get("repositories") or []:
                yield str(repo)

    async def _pages(self, url: str, what: str) -> AsyncIterator[dict[str, Any]]:
        next_url: str | None = url
        while next_url:
            resp = await self._request("GET", next_url, what)
            if resp.status_code == 404:
                return
            if resp.status_code != 200:
                raise _fail(resp, what)
            try:
                page = resp.json()
            except ValueError as exc:
                raise StorageError(f"OCI registry: {what}: answer is not JSON") from exc
            yield page if isinstance(page, dict) else {}
            m = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", resp.headers.get("Link", ""))
            next_url = str(resp.url.join(m.group(1))) if m else None


async def _body(
    resp: httpx.Response, skip: int, limit: int | None, what: str
) -> AsyncIterator[bytes]:
    """The response body in chunks, dropping ``skip`` bytes and stopping after ``limit``."""
    try:
        with _mapped(what):
            async for chunk in resp.aiter_bytes(READ_CHUNK):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                if limit is not None:
                    if limit <= 0:
                        break
                    chunk = chunk[:limit]
                    limit -= len(chunk)
                if chunk:
                    yield chunk
    finally:
        await resp.aclose()
