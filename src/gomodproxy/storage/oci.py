"""A BlobStore in an OCI registry (``oci://HOST[:PORT]/REPO-PREFIX``).

Keys map to manifests as ``oci_names.py`` documents: one manifest per module version with its
``.info``/``.mod``/``.zip``/``.ziphash`` as layers, and one manifest per other key.

Theory of operation. Blobs are content-addressed, so a blob is never half-visible: a put
uploads the value's blob (skipped when the registry already has that digest), then pushes the
manifest that points at it. A module version appears, and each of its files appears, only when
the manifest naming it is pushed, after its blob. Adding a file to a version is a
read-modify-write of that version's manifest, serialized per manifest within this process;
across replicas the distributed single-flight means one replica writes a version at a time,
and if two ever race they write the same files, so the last manifest is still whole.

Reads verify the SHA-256 of every whole blob they return, so a registry that answers with
wrong bytes surfaces as ``StorageError`` rather than as a corrupt artifact. Version files are
immutable, so their layer descriptors are remembered in-process after the first lookup and a
hit costs one blob request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from gomodproxy.errors import ConfigError, NotFound, StorageError
from gomodproxy.ports.keys import VERSION_EXTS, check_key, check_prefix
from gomodproxy.ports.storage import BlobInfo, StandaloneStore
from gomodproxy.storage.oci_client import (
    OCI_MANIFEST,
    Manifest,
    RegistryAuth,
    RegistryClient,
    file_digest,
    sha256_digest,
)
from gomodproxy.storage.oci_names import (
    EXT_BY_MEDIA_TYPE,
    KEY_CONFIG_TYPE,
    KEY_LAYER_TYPE,
    MEDIA_TYPES,
    MODULES,
    VERSION_CONFIG_TYPE,
    VersionRef,
    decode_path,
    escape_version,
    is_repo_prefix,
    key_repo,
    key_tag,
    parse_version_key,
    tag_to_version,
    unescape_path,
    version_keys,
)

MTIME = "io.gomodproxy.mtime"
KEY = "io.gomodproxy.key"
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class _Layer:
    repo: str
    digest: str
    size: int
    mtime: float


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine, where plain http is the norm (as docker does)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _layer_of(manifest: Manifest, repo: str, media_type: str) -> _Layer | None:
    for layer in manifest.body.get("layers") or []:
        if isinstance(layer, dict) and layer.get("mediaType") == media_type:
            annotations = layer.get("annotations") or {}
            try:
                return _Layer(
                    repo,
                    str(layer["digest"]),
                    int(layer["size"]),
                    float(annotations.get(MTIME, 0)),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise StorageError(f"OCI registry: malformed layer in {repo}") from exc
    return None


K = TypeVar("K")
V = TypeVar("V")
#: Entries kept in each in-process cache (descriptors of immutable files, tag → key).
MAX_CACHED = 100_000


class LRU(OrderedDict[K, V]):
    """A dict that forgets its least recently set entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)


class OciStore(StandaloneStore):
    """Keys as manifests and blobs in an OCI registry."""

    kind = "oci"

    def __init__(self, client: RegistryClient, prefix: str) -> None:
        if not is_repo_prefix(prefix):
            raise ConfigError(
                f"OCI repository prefix {prefix!r} is not a valid repository name "
                "(lower-case letters, digits, '.', '_', '-' and '/')"
            )
        self.client = client
        self.prefix = prefix
        self._immutable: LRU[str, _Layer] = LRU(MAX_CACHED)
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._tag_keys: LRU[str, str] = LRU(MAX_CACHED)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        chunk_size: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> OciStore:
        """Open ``oci://HOST[:PORT]/REPO-PREFIX``: https, or http for loopback hosts and when
        ``insecure`` (also ``?insecure=true``); credentials may also be given in the URL
        (``oci://user:pass@host/p``)."""
        parts = urlsplit(url)
        if parts.scheme != "oci" or not parts.hostname:
            raise ConfigError(f"storage URL {url!r}: expected oci://HOST[:PORT]/REPO-PREFIX")
        for name, value in parse_qsl(parts.query):
            if name == "insecure":
                insecure = insecure or value.lower() in ("1", "true", "yes", "on")
            else:
                raise ConfigError(f"storage URL {url!r}: unknown parameter {name!r}")
        prefix = parts.path.strip("/")
        if not prefix:
            raise ConfigError(f"storage URL {url!r}: the repository prefix is missing")
        host = parts.hostname
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"storage URL {url!r}: bad port") from exc
        scheme = "http" if insecure or is_loopback(host) else "https"
        netloc = f"[{host}]" if ":" in host else host
        base = f"{scheme}://{netloc}" + (f":{port}" if port else "")
        auth = RegistryAuth(username or parts.username, password or parts.password, token)
        kwargs: dict[str, Any] = {"auth": auth, "timeout": timeout, "transport": transport}
        if chunk_size:
            kwargs["chunk_size"] = chunk_size
        return cls(RegistryClient(base, **kwargs), prefix)

    def __repr__(self) -> str:
        return f"OciStore({self.client.base_url!r}, {self.prefix!r})"

    @contextlib.asynccontextmanager
    async def _lock(self, repo: str, tag: str) -> AsyncIterator[None]:
        """Serialize the read-modify-write of one manifest in this process."""
        key = (repo, tag)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    # -- locating values ---------------------------------------------------------------

    async def _find(self, key: str) -> _Layer | None:
        check_key(key)
        ref = parse_version_key(self.prefix, key)
        if ref is not None:
            cached = self._immutable.get(key)
            if cached is not None:
                return cached
            manifest = await self.client.get_manifest(ref.repo, ref.tag)
            if manifest is None:
                return None
            layer = _layer_of(manifest, ref.repo, MEDIA_TYPES[ref.ext])
            if layer is not None:
                self._immutable[key] = layer
            return layer
        repo = key_repo(self.prefix)
        manifest = await self.client.get_manifest(repo, key_tag(key))
        return None if manifest is None else _layer_of(manifest, repo, KEY_LAYER_TYPE)

    # -- reads -------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        layer = await self._find(key)
        if layer is None:
            return None
        data = await self.client.get_blob(layer.repo, layer.digest)
        if data is None:  # deleted meanwhile by another replica
            self._immutable.pop(key, None)
            return None
        if sha256_digest(data) != layer.digest:
            raise StorageError(f"OCI registry: {key}: blob content does not match its digest")
        return data

    async def stat(self, key: str) -> BlobInfo | None:
        layer = await self._find(key)
        return None if layer is None else BlobInfo(size=layer.size, mtime=layer.mtime)

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        layer = await self._find(key)
        if layer is None:
            raise NotFound(f"{key}: not stored")
        if start >= layer.size or (end is not None and end <= start):
            return
        body = await self.client.stream_blob(layer.repo, layer.digest, start, end)
        if body is None:  # deleted meanwhile by another replica
            self._immutable.pop(key, None)
            raise NotFound(f"{key}: not stored")
        whole = start == 0 and (end is None or end >= layer.size)
        h = hashlib.sha256()
        async for chunk in body:
            if whole:
                h.update(chunk)
            yield chunk
        if whole and "sha256:" + h.hexdigest() != layer.digest:
            raise StorageError(f"OCI registry: {key}: blob content does not match its digest")

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        async for key in self._list_versions(prefix):
            yield key
        async for key in self._list_generic(prefix):
            yield key

    async def _list_versions(self, prefix: str) -> AsyncIterator[str]:
        head = f"{self.prefix}/{MODULES}/"
        async for repo in self.client.catalog():
            if not repo.startswith(head):
                continue
            path = decode_path(repo[len(head) :])
            if path is None or not _may_match(f"{path}/@v/", prefix):
                continue
            async for tag in self.client.tags(repo):
                version = tag_to_version(tag)
                escaped = None if version is None else escape_version(version)
                if escaped is None or not _may_match(f"{path}/@v/{escaped}.", prefix):
                    continue
                manifest = await self.client.get_manifest(repo, tag)
                if manifest is None:
                    continue
                exts = [
                    EXT_BY_MEDIA_TYPE[str(layer.get("mediaType"))]
                    for layer in manifest.body.get("layers") or []
                    if isinstance(layer, dict) and layer.get("mediaType") in EXT_BY_MEDIA_TYPE
                ]
                for key in version_keys(self.prefix, repo, tag, exts):
                    if key.startswith(prefix):
                        yield key

    async def _list_generic(self, prefix: str) -> AsyncIterator[str]:
        repo = key_repo(self.prefix)
        async for tag in self.client.tags(repo):
            key = self._tag_keys.get(tag)
            if key is None:
                manifest = await self.client.get_manifest(repo, tag)
                if manifest is None:
                    continue
                key = str((manifest.body.get("annotations") or {}).get(KEY, ""))
                if key_tag(key) != tag:
                    continue
                self._tag_keys[tag] = key
            if key.startswith(prefix):
                yield key

    # -- writes ------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        check_key(key)
        repo = self._repo_for(key)
        digest = await self.client.push_blob(repo, data)
        await self._commit(key, digest, len(data))

    async def put_file(self, key: str, src: Path) -> None:
        check_key(key)
        repo = self._repo_for(key)
        try:
            digest, size = await asyncio.to_thread(file_digest, Path(src))
        except OSError as exc:
            raise StorageError(f"OCI registry: {key}: cannot read {src}: {exc.strerror}") from exc
        await self.client.push_blob_file(repo, Path(src), digest, size)
        await self._commit(key, digest, size)

    def _repo_for(self, key: str) -> str:
        ref = parse_version_key(self.prefix, key)
        return ref.repo if ref is not None else key_repo(self.prefix)

    async def _commit(self, key: str, digest: str, size: int) -> None:
        """Push the manifest that makes ``key`` point at the uploaded blob ``digest``."""
        ref = parse_version_key(self.prefix, key)
        now = time.time()
        if ref is None:
            repo = key_repo(self.prefix)
            layer = _descriptor(KEY_LAYER_TYPE, digest, size, now, key.rpartition("/")[2])
            config = await self._push_config(repo, KEY_CONFIG_TYPE, {"key": key})
            manifest = _manifest(config, [layer], {KEY: key})
            await self.client.put_manifest(repo, key_tag(key), manifest)
            return
        async with self._lock(ref.repo, ref.tag):
            current = await self.client.get_manifest(ref.repo, ref.tag)
            media = MEDIA_TYPES[ref.ext]
            layers = [
                layer
                for layer in (current.body.get("layers") or [] if current else [])
                if isinstance(layer, dict) and layer.get("mediaType") != media
            ]
            layers.append(_descriptor(media, digest, size, now, key.rpartition("/")[2]))
            await self._push_version(ref, layers)
            self._immutable[key] = _Layer(ref.repo, digest, size, now)

    async def _push_version(self, ref: VersionRef, layers: Sequence[dict[str, Any]]) -> None:
        order = {MEDIA_TYPES[e]: i for i, e in enumerate(VERSION_EXTS)}
        layers = sorted(layers, key=lambda lay: order.get(str(lay.get("mediaType")), len(order)))
        path = unescape_path(ref.escaped_path) or ref.escaped_path
        config = await self._push_config(
            ref.repo, VERSION_CONFIG_TYPE, {"path": path, "version": ref.version}
        )
        annotations = {"io.gomodproxy.module": path, "io.gomodproxy.version": ref.version}
        await self.client.put_manifest(ref.repo, ref.tag, _manifest(config, layers, annotations))

    async def _push_config(self, repo: str, media: str, obj: dict[str, str]) -> dict[str, Any]:
        data = _canonical(obj)
        digest = await self.client.push_blob(repo, data)
        return {"mediaType": media, "digest": digest, "size": len(data)}

    async def delete(self, key: str) -> bool:
        check_key(key)
        ref = parse_version_key(self.prefix, key)
        self._immutable.pop(key, None)
        if ref is None:
            repo = key_repo(self.prefix)
            manifest = await self.client.get_manifest(repo, key_tag(key))
            return manifest is not None and await self.client.delete_manifest(repo, manifest.digest)
        async with self._lock(ref.repo, ref.tag):
            current = await self.client.get_manifest(ref.repo, ref.tag)
            if current is None:
                return False
            media = MEDIA_TYPES[ref.ext]
            layers = [
                layer
                for layer in current.body.get("layers") or []
                if isinstance(layer, dict) and layer.get("mediaType") != media
            ]
            if len(layers) == len(current.body.get("layers") or []):
                return False
            if layers:
                await self._push_version(ref, layers)
            else:
                await self.client.delete_manifest(ref.repo, current.digest)
            return True

    async def aclose(self) -> None:
        await self.client.aclose()


def _may_match(key_start: str, prefix: str) -> bool:
    """Whether some key starting with ``key_start`` can start with ``prefix``."""
    return key_start.startswith(prefix) or prefix.startswith(key_start)


def _descriptor(media: str, digest: str, size: int, mtime: float, title: str) -> dict[str, Any]:
    return {
        "mediaType": media,
        "digest": digest,
        "size": size,
        "annotations": {TITLE: title, MTIME: repr(mtime)},
    }


def _manifest(
    config: dict[str, Any], layers: list[dict[str, Any]], annotations: dict[str, str]
) -> bytes:
    return _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config,
            "layers": layers,
            "annotations": annotations,
        }
    )
