"""A BlobStore in an S3-compatible bucket (``s3://BUCKET/PREFIX?endpoint=URL&region=R``).

Layout: each key is one object, ``PREFIX/<key>``, so the objects under the prefix are exactly
the tree of a ``file://`` GOPROXY and the bucket can be served as it is by a static front or
a CDN (``.info``/``.mod``/``.zip`` carry the content types the go command expects).

Theory of operation. S3 makes an object visible only when its upload is complete: a PUT is
atomic, and a multipart upload (used for values of ``multipart_threshold`` bytes and more, the
large zips) shows nothing until ``CompleteMultipartUpload``. So a reader sees the old value or
the whole new one, never a part, and a version's zip appears only after its ``.ziphash``
(the service writes them in that order) with every byte uploaded. A failed multipart upload
is aborted at once; when the abort itself cannot reach the server (it died mid-upload), the
upload id is kept and aborted when the server answers again, and ``check`` (at start-up)
aborts the uploads under the prefix that are older than ``abandoned_after`` (left by a process
that was killed), so no hidden parts accumulate.

A zip is immutable once verified, so its PUT or its upload's completion carries
``If-None-Match: *`` where the server supports conditional writes: when another replica
stored the same version first, its copy stays and ours is dropped, and bytes a CDN has cached
never change under it. ``put`` overwrites (``@v/list``, ``@latest`` and internal state are
mutable, and the contract says a put replaces the value).

Listing pages through ``ListObjectsV2`` with its continuation token, so nothing is lost past
the 1,000 keys of one page. Reads stream the body in chunks and ask for ``Range`` when only a
part is wanted. Version files are immutable, so their size and age are remembered in-process
after the first ``HEAD`` (a storage hit on a zip then costs its GETs only); a read that finds
one gone (deleted by another replica) forgets it.

Credentials come from the standard AWS chain of botocore (environment, shared credentials and
config files with ``profile=``, web identity tokens, SSO, container and instance credentials);
keys given in the URL (``s3://KEY:SECRET@BUCKET/...``) are accepted for tests and masked like
any URL user-info.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from gomodproxy.errors import ConfigError, GoModProxyError, NotFound, StorageError
from gomodproxy.ports.keys import check_key, check_prefix, split_version_key
from gomodproxy.ports.storage import BlobInfo, StandaloneStore
from gomodproxy.storage.oci import LRU, MAX_CACHED

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger("gomodproxy.storage")
T = TypeVar("T")

CHUNK = 256 * 1024
MIB = 1024 * 1024
#: S3's smallest part (but the last) and the most parts of one upload.
MIN_PART = 5 * MIB
MAX_PARTS = 10_000
#: Error codes that mean "no such object" (HEAD answers a bare 404).
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
#: Error codes that mean the server does not do conditional writes.
_NO_CONDITIONAL = frozenset({"NotImplemented", "501"})
#: Error codes that say the configuration is wrong, not that the server is down.
_CONFIG_CODES = {
    "NoSuchBucket": "the bucket does not exist",
    "InvalidAccessKeyId": "the access key is not known to the server",
    "SignatureDoesNotMatch": "the secret key is wrong",
    "AccessDenied": "access denied (check the credentials and the bucket policy)",
    "InvalidBucketName": "the bucket name is not valid",
    "AuthorizationHeaderMalformed": "the region or the credentials are wrong",
    "PermanentRedirect": "the bucket is in another region (set region=)",
    "InvalidToken": "the session token is not valid",
    "ExpiredToken": "the session token has expired",
}
CONTENT_TYPES = {
    "info": "application/json",
    "mod": "text/plain; charset=utf-8",
    "zip": "application/zip",
    "ziphash": "text/plain; charset=utf-8",
    "list": "text/plain; charset=utf-8",
}


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _code(exc: BaseException) -> str:
    # botocore's errors carry the parsed ``response`` dict when the server answered at all.
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(code or "")
    return ""


def _content_type(key: str) -> str:
    name = key.rpartition("/")[2]
    ext = {"list": "list", "@latest": "info"}.get(name) or name.rpartition(".")[2]
    return CONTENT_TYPES.get(ext, "application/octet-stream")


class S3Store(StandaloneStore):
    """Keys as objects under a prefix of an S3-compatible bucket."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        path_style: bool | None = None,
        part_size: int = 16 * MIB,
        multipart_threshold: int = 32 * MIB,
        concurrency: int = 4,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        retries: int = 2,
        conditional_writes: bool = True,
        abandoned_after: float = 24 * 3600.0,
    ) -> None:
        if not bucket:
            raise ConfigError("S3 storage: the bucket name is missing")
        check_prefix(prefix + "/" if prefix else "")
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.profile = profile
        self._static = (access_key, secret_key, session_token) if access_key else None
        self.path_style = bool(endpoint) if path_style is None else path_style
        self.part_size = max(MIN_PART, part_size)
        self.multipart_threshold = max(self.part_size, multipart_threshold)
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        #: None until the server has shown whether it honours ``If-None-Match``.
        self.conditional_writes: bool | None = None if conditional_writes else False
        self.abandoned_after = abandoned_after
        self._client: S3Client | None = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._opening: asyncio.Lock | None = None
        #: Multipart uploads whose abort failed (server unreachable): (key, upload id).
        self._to_abort: set[tuple[str, str]] = set()
        #: Size and age of version files seen: immutable, so a hit needs no HEAD again.
        self._immutable: LRU[str, BlobInfo] = LRU(MAX_CACHED)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """Open ``s3://BUCKET[/PREFIX][?endpoint=URL&region=R&profile=P&path_style=true]``."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.hostname:
            raise ConfigError(f"storage URL {_safe(url)!r}: expected s3://BUCKET/PREFIX")
        kwargs: dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in ("endpoint", "region", "profile"):
                kwargs[name] = value or None
            elif name == "path_style" or name == "conditional_writes":
                kwargs[name] = _truthy(value)
            else:
                raise ConfigError(f"storage URL {_safe(url)!r}: unknown parameter {name!r}")
        endpoint = kwargs.get("endpoint")
        if endpoint is not None:
            ep = urlsplit(endpoint)
            if ep.scheme not in ("http", "https") or not ep.hostname:
                raise ConfigError(
                    f"storage URL {_safe(url)!r}: endpoint must be an http(s) URL, "
                    f"not {_safe(endpoint)!r}"
                )
        if parts.username:
            kwargs["access_key"] = unquote(parts.username)
            kwargs["secret_key"] = unquote(parts.password or "")
        # The bucket keeps its case: urlsplit lower-cases only ``hostname``.
        bucket = parts.netloc.rpartition("@")[2]
        prefix = unquote(parts.path).strip("/")
        try:
            check_prefix(prefix + "/" if prefix else "")
        except GoModProxyError as exc:
            raise ConfigError(f"storage URL {_safe(url)!r}: bad prefix: {exc}") from None
        kwargs.update(options)
        return cls(bucket, prefix, **kwargs)

    def __repr__(self) -> str:
        where = f", endpoint={self.endpoint!r}" if self.endpoint else ""
        return f"S3Store({self.bucket!r}, {self.prefix!r}{where})"

    def _object(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- the client ----------------------------------------------------------------------

    async def _s3(self) -> S3Client:
        if self._client is not None:
            return self._client
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._client is None:
                with self._mapped("open the client"):
                    self._client = await self._open_client()
        return self._client

    async def _open_client(self) -> S3Client:
        session = AioSession(profile=self.profile) if self.profile else AioSession()
        config = AioConfig(
            connect_timeout=self.connect_timeout,
            read_timeout=self.timeout,
            retries={"max_attempts": self.retries + 1, "mode": "standard"},
            max_pool_connections=max(16, 4 * self.concurrency),
            s3={"addressing_style": "path" if self.path_style else "auto"},
            # Checksums of every upload and of whole downloads, where the server has them.
            request_checksum_calculation="when_supported",
            response_checksum_validation="when_supported",
        )
        kwargs: dict[str, Any] = {"config": config}
        if self.endpoint:
            kwargs["endpoint_url"] = self.endpoint
        if self.region:
            kwargs["region_name"] = self.region
        elif self.endpoint and not (
            os.environ.get("AWS_REGION") or session.get_config_variable("region")
        ):
            kwargs["region_name"] = "us-east-1"  # S3-compatible servers mostly ignore it
        if self._static is not None:
            access, secret, token = self._static
            kwargs.update(
                aws_access_key_id=access, aws_secret_access_key=secret, aws_session_token=token
            )
        stack = contextlib.AsyncExitStack()
        try:
            client: S3Client = await stack.enter_async_context(
                session.create_client("s3", **kwargs)
            )
        except BaseException:
            await stack.aclose()
            raise
        self._exit = stack
        return client

    async def _call(self, what: str, call: Callable[[S3Client], Awaitable[T]]) -> T:
        """Run one request; every library error becomes ``StorageError`` or ``ConfigError``."""
        client = await self._s3()
        with self._mapped(what):
            result = await call(client)
        if self._to_abort:
            await self._abort_pending()
        return result

    @contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        try:
            yield
        except GoModProxyError:
            raise
        except ProfileNotFound as exc:
            raise ConfigError(f"S3 storage: {exc}") from None
        except NoCredentialsError:
            raise StorageError(
                f"S3 storage: {what}: no credentials found (environment, shared files, "
                "profile, web identity or instance)"
            ) from None
        except ClientError as exc:
            code = _code(exc)
            reason = _CONFIG_CODES.get(
                code, str(exc.response.get("Error", {}).get("Message") or code)
            )
            raise StorageError(f"S3 storage: {what}: {code}: {reason}") from exc
        except (TimeoutError, BotoCoreError, OSError) as exc:
            raise StorageError(f"S3 storage: {what}: {exc}") from exc
        except Exception as exc:  # aiohttp's payload and connection errors
            if type(exc).__module__.startswith(("aiohttp", "botocore", "aiobotocore")):
                raise StorageError(f"S3 storage: {what}: {type(exc).__name__}: {exc}") from exc
            raise

    async def check(self) -> None:
        """Fail at start-up, with a clear message, when the bucket cannot be used: it does
        not exist, the credentials are wrong or missing. Then abort the multipart uploads
        under the prefix older than ``abandoned_after`` (left by killed processes).

        Raises:
            ConfigError: the bucket or the credentials are wrong (not a transient failure).
            StorageError: the server cannot be reached.
        """
        client = await self._s3()
        where = f"bucket {self.bucket!r}" + (f" at {_safe(self.endpoint)}" if self.endpoint else "")
        with self._mapped(f"open {where}"):
            try:
                # A listing, not HEAD: its error body says which of bucket or key is wrong.
                await client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
            except ClientError as exc:
                code = _code(exc)
                if exc.operation_name.startswith(("AssumeRole", "GetRoleCredentials")):
                    message = exc.response.get("Error", {}).get("Message") or code
                    raise ConfigError(
                        f"S3 storage: {where}: no credentials: {exc.operation_name} was "
                        f"refused: {message}"
                    ) from None
                if code in _CONFIG_CODES:
                    raise ConfigError(
                        f"S3 storage: {where}: {_CONFIG_CODES[code]} ({code})"
                    ) from None
                raise
            except NoCredentialsError:
                raise ConfigError(
                    f"S3 storage: {where}: no credentials found (set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or profile=, or run with a role)"
                ) from None
        await self.abort_abandoned(self.abandoned_after)

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        name = self._object(key)

        async def call(s3: S3Client) -> bytes | None:
            try:
                resp = await s3.get_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    self._immutable.pop(key, None)  # deleted meanwhile by another replica
                    return None
                raise
            async with resp["Body"] as body:
                return await body.read()

        return await self._call(f"read {key}", call)

    async def stat(self, key: str) -> BlobInfo | None:
        name = self._object(key)
        known = self._immutable.get(key)
        if known is not None:
            return known

        async def call(s3: S3Client) -> BlobInfo | None:
            try:
                head = await s3.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            return BlobInfo(size=int(head["ContentLength"]), mtime=head["LastModified"].timestamp())

        info = await self._call(f"stat {key}", call)
        if info is not None and split_version_key(key) is not None:
            self._immutable[key] = info
        return info

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        name = self._object(key)
        if start < 0 or (end is not None and end <= start):
            if await self.stat(key) is None:
                raise NotFound(f"{key}: not stored")
            return
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if start or end is not None:
            args["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))

        async def call(s3: S3Client) -> Any:
            try:
                return await s3.get_object(**args)
            except ClientError as exc:
                code = _code(exc)
                if code in _MISSING:
                    self._immutable.pop(key, None)  # deleted meanwhile by another replica
                    raise NotFound(f"{key}: not stored") from None
                if code in ("InvalidRange", "416"):
                    return None  # start is at or past the end
                raise

        resp = await self._call(f"read {key}", call)
        if resp is None:
            if await self.stat(key) is None:
                raise NotFound(f"{key}: not stored")
            return
        body = resp["Body"]
        try:
            while True:
                with self._mapped(f"read {key}"):
                    chunk = await body.read(CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        head = f"{self.prefix}/" if self.prefix else ""
        client = await self._s3()
        paginator = client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=head + prefix).__aiter__()
        while True:
            with self._mapped(f"list {prefix or '/'}"):
                try:
                    page = await pages.__anext__()
                except StopAsyncIteration:
                    return
            for obj in page.get("Contents") or []:
                key = obj["Key"][len(head) :]
                if _is_key(key):
                    yield key

    # -- writes --------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        name = self._object(key)
        self._immutable.pop(key, None)
        await self._call(
            f"write {key}",
            lambda s3: s3.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=_content_type(key)
            ),
        )

    async def put_file(self, key: str, src: Path) -> None:
        name = self._object(key)
        self._immutable.pop(key, None)
        try:
            size = src.stat().st_size
        except OSError as exc:
            raise StorageError(f"S3 storage: {key}: cannot read {src}: {exc.strerror}") from exc
        if size >= self.multipart_threshold:
            await self._multipart(key, name, src, size)
            return
        data = await asyncio.to_thread(src.read_bytes)
        if not key.endswith(".zip"):
            await self.put(key, data)
            return

        async def call(s3: S3Client) -> None:
            await self._create_only(
                key,
                lambda extra: s3.put_object(
                    Bucket=self.bucket,
                    Key=name,
                    Body=data,
                    ContentType=_content_type(key),
                    **extra,
                ),
            )

        await self._call(f"write {key}", call)

    async def _multipart(self, key: str, name: str, src: Path, size: int) -> None:
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        count = math.ceil(size / part_size)
        created = await self._call(
            f"write {key}",
            lambda s3: s3.create_multipart_upload(
                Bucket=self.bucket, Key=name, ContentType=_content_type(key)
            ),
        )
        upload_id = created["UploadId"]
        etags: dict[int, str] = {}
        sem = asyncio.Semaphore(self.concurrency)

        async def part(number: int) -> None:
            async with sem:
                offset = (number - 1) * part_size
                data = await asyncio.to_thread(_read_at, src, offset, part_size)
                resp = await self._call(
                    f"write {key} (part {number}/{count})",
                    lambda s3: s3.upload_part(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                    ),
                )
                etags[number] = resp["ETag"]

        try:
            tasks = [asyncio.ensure_future(part(n)) for n in range(1, count + 1)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            await self._complete(key, name, upload_id, etags)
        except BaseException:
            await self._abort(name, upload_id)
            raise

    async def _complete(self, key: str, name: str, upload_id: str, etags: dict[int, str]) -> None:
        parts = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]

        async def call(s3: S3Client) -> None:
            args: dict[str, Any] = {
                "Bucket": self.bucket,
                "Key": name,
                "UploadId": upload_id,
                "MultipartUpload": {"Parts": parts},
            }
            if not key.endswith(".zip"):
                await s3.complete_multipart_upload(**args)
                return
            if not await self._create_only(
                key, lambda extra: s3.complete_multipart_upload(**args, **extra)
            ):
                await self._abort(name, upload_id)

        await self._call(f"write {key}", call)

    async def _create_only(
        self, key: str, send: Callable[[dict[str, Any]], Awaitable[object]]
    ) -> bool:
        """Send the request that makes an immutable zip visible, with ``If-None-Match: *``
        where the server does conditional writes; False when another writer stored the zip
        first (its copy, verified like ours, is kept)."""
        if self.conditional_writes is False:
            await send({})
            return True
        try:
            await send({"IfNoneMatch": "*"})
        except ClientError as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412"):
                log.info("S3 storage: %s was stored meanwhile; kept that copy", key)
                return False
            if code not in _NO_CONDITIONAL:
                raise
            self.conditional_writes = False
            await send({})
            return True
        self.conditional_writes = True
        return True

    async def _abort(self, name: str, upload_id: str) -> None:
        """Abort an upload; when the server is unreachable, remember it for later."""
        try:
            client = await self._s3()
            with self._mapped("abort"):
                try:
                    await client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload_id
                    )
                except ClientError as exc:
                    if _code(exc) not in ("NoSuchUpload", "404"):
                        raise
        except (StorageError, ConfigError) as exc:
            log.warning("S3 storage: cannot abort the upload of %s yet (%s)", name, exc)
            self._to_abort.add((name, upload_id))
        else:
            self._to_abort.discard((name, upload_id))

    async def _abort_pending(self) -> None:
        for name, upload_id in list(self._to_abort):
            self._to_abort.discard((name, upload_id))
            await self._abort(name, upload_id)
            if (name, upload_id) in self._to_abort:
                return  # still unreachable: try again after the next request that works

    async def _uploads(self) -> AsyncIterator[tuple[str, str, datetime]]:
        """(object name, upload id, start) of the multipart uploads under the prefix.

        The bucket's whole list is read and filtered here: MinIO answers a ``Prefix`` only
        when it is a whole object name."""
        head = f"{self.prefix}/" if self.prefix else ""
        client = await self._s3()
        pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket)
        with self._mapped("list multipart uploads"):
            async for page in pages:
                for up in page.get("Uploads") or []:
                    if up["Key"].startswith(head):
                        yield up["Key"], up["UploadId"], up["Initiated"]

    async def abort_abandoned(self, older_than: float) -> int:
        """Abort the multipart uploads under the prefix started more than ``older_than``
        seconds ago; returns how many were aborted."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        stale = [(name, uid) async for name, uid, started in self._uploads() if started <= cutoff]
        for name, upload_id in stale:
            await self._abort(name, upload_id)
        if stale:
            log.warning("S3 storage: aborted %d abandoned multipart uploads", len(stale))
        return len(stale)

    async def pending_uploads(self) -> builtins.list[str]:
        """Object names with a multipart upload in progress under the prefix."""
        return [name async for name, _, _ in self._uploads()]

    async def delete(self, key: str) -> bool:
        name = self._object(key)
        self._immutable.pop(key, None)
        # S3's DELETE succeeds for missing objects, so existence is asked first; a racing
        # delete by another replica may make both report True, which callers tolerate.
        if await self.stat(key) is None:
            return False
        await self._call(f"delete {key}", lambda s3: s3.delete_object(Bucket=self.bucket, Key=name))
        return True

    async def aclose(self) -> None:
        exit_stack, self._exit, self._client = self._exit, None, None
        if exit_stack is not None:
            with contextlib.suppress(Exception):
                await exit_stack.aclose()


def _is_key(key: str) -> bool:
    try:
        check_key(key)
    except GoModProxyError:
        return False
    return True


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def _safe(url: str) -> str:
    from gomodproxy.redact.secrets import redact

    return redact(url)
