"""The S3 store against a real MinIO server: listings past one page, a large zip uploaded in
parts and read back by ranges, the server killed mid-upload, and start-up errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.cli.main import main
from gomodproxy.errors import ConfigError, NotFound, StorageError
from gomodproxy.storage import open_store
from gomodproxy.storage import s3 as s3mod
from gomodproxy.storage.degrading import DegradingStore
from gomodproxy.storage.s3 import MIB, S3Store
from tests.e2e.fixtures import LoopbackHTTP, QuietHandler, send_json
from tests.e2e.servers import (
    MINIO_BUCKET,
    MinioServer,
    b64url,
    jwt_signing_input,
    minio_binary,
    minio_server,
    running,
)

__all__ = ["minio_server"]

pytestmark = pytest.mark.e2e


def s3_store(minio: MinioServer, prefix: str | None = None, **options: Any) -> S3Store:
    url = minio.store_url(MINIO_BUCKET, prefix or f"s3test/t{secrets.token_hex(6)}")
    store = open_store(url, degrade=False, **options)
    assert isinstance(store, S3Store)
    return store


async def read(store: S3Store, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in store.stream(key, start, end)])


async def test_more_than_1000_versions_are_listed_completely(minio_server: MinioServer) -> None:
    """A module with 1,203 versions lists all of them: the listing follows its pages."""
    store = s3_store(minio_server)
    keys = {f"example.com/many/@v/v1.0.{i}.info" for i in range(1203)}
    keys.add("example.com/many/@v/list")
    sem = asyncio.Semaphore(32)

    async def put(key: str) -> None:
        async with sem:
            await store.put(key, b"{}")

    await asyncio.gather(*(put(k) for k in keys))
    await store.put("example.com/manyother/@v/v1.0.0.info", b"{}")
    try:
        listed = [k async for k in store.list("example.com/many/")]
        assert len(listed) == len(keys)
        assert set(listed) == keys
        assert len({k async for k in store.list("example.com/many")}) == len(keys) + 1
    finally:
        await store.aclose()


async def test_300_mib_zip_is_uploaded_in_parts_and_read_back_by_ranges(
    minio_server: MinioServer, tmp_path: Path
) -> None:
    """A 300 MiB zip goes up as a multipart upload (16 MiB parts), becomes one object, and
    reads back byte-exact: whole, and by ranges at the start, across a part edge and at the
    end."""
    store = s3_store(minio_server)
    src = tmp_path / "big.zip"
    block = os.urandom(MIB)
    whole = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(300):
            chunk = bytes([i & 0xFF]) + block[1:]
            f.write(chunk)
            whole.update(chunk)
    size = src.stat().st_size
    key = "example.com/big/@v/v1.0.0.zip"
    try:
        await store.put_file(key, src)
        info = await store.stat(key)
        assert info is not None
        assert info.size == size
        head = minio_server.client().head_object(Bucket=MINIO_BUCKET, Key=f"{store.prefix}/{key}")
        assert head["ETag"].strip('"').endswith("-19"), "19 parts of 16 MiB"
        assert head["ContentType"] == "application/zip"
        digest = hashlib.sha256()
        async for chunk in store.stream(key):
            digest.update(chunk)
        assert digest.hexdigest() == whole.hexdigest()
        edge = 16 * MIB
        with open(src, "rb") as f:
            for start, end in [(0, 100), (edge - 5, edge + 5), (150 * MIB, 151 * MIB)]:
                f.seek(start)
                assert await read(store, key, start, end) == f.read(end - start)
            f.seek(size - 10)
            assert await read(store, key, size - 10) == f.read()
        assert await read(store, key, size) == b""
        assert await store.pending_uploads() == []
    finally:
        await store.delete(key)
        await store.aclose()


def kill_after_parts(
    monkeypatch: pytest.MonkeyPatch, server: MinioServer, bucket: str, key: str, parts: int
) -> list[list[str]]:
    """Kill ``server`` when the store first reads part ``parts + 1`` of the upload of ``key``
    (5 MiB parts); returns the object names listed at that moment, after checking that the
    upload is in progress."""
    seen: list[list[str]] = []
    read_at = s3mod._read_at

    def killing_read_at(path: Path, offset: int, size: int) -> bytes:
        if offset == parts * 5 * MIB and not seen:
            client = server.client()
            listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
            seen.append([obj["Key"] for obj in listed])
            ups = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            assert [u["Key"] for u in ups] == [key]
            server.stop(kill=True)
        return read_at(path, offset, size)

    monkeypatch.setattr(s3mod, "_read_at", killing_read_at)
    return seen


async def test_server_killed_mid_upload_leaves_no_partial_version_or_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MinIO killed while a zip's parts go up: the upload fails, the zip is never visible
    (not while uploading, not after the restart), and once the server is back the store
    aborts the upload it could not abort while the server was down."""
    server = MinioServer(tmp_path / "minio", minio_binary())
    with running(server):
        server.make_bucket("crash")
        store = S3Store.from_url(
            server.store_url("crash", "p"), part_size=5 * MIB, concurrency=1, retries=0
        )
        src = tmp_path / "v.zip"
        src.write_bytes(os.urandom(MIB) * 40)
        key = "example.com/m/@v/v1.0.0.zip"
        seen = kill_after_parts(monkeypatch, server, "crash", f"p/{key}", 3)
        await store.put("example.com/m/@v/v1.0.0.ziphash", b"h1:x")
        with pytest.raises(StorageError):
            await store.put_file(key, src)
        assert seen == [["p/example.com/m/@v/v1.0.0.ziphash"]], "three parts up, no zip"
        assert store._to_abort, "the abort could not reach the server"

        server.start()
        assert await store.stat(key) is None  # the first request that works ...
        assert not store._to_abort  # ... also aborts the pending upload
        assert await store.pending_uploads() == []
        assert [k async for k in store.list("")] == ["example.com/m/@v/v1.0.0.ziphash"]
        await store.aclose()


async def test_server_killed_mid_upload_under_the_service_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same kill under the store ``serve`` uses (degrading): the write does not fail,
    the zip is served from the local copy meanwhile, and once MinIO is back the zip is
    uploaded whole and no multipart upload is left behind."""
    server = MinioServer(tmp_path / "minio", minio_binary())
    with running(server):
        server.make_bucket("crash")
        store = open_store(
            server.store_url("crash", "p"), part_size=5 * MIB, concurrency=1, retries=0
        )
        assert isinstance(store, DegradingStore)
        store.retry_after = 0.2
        src = tmp_path / "v.zip"
        data = os.urandom(MIB) * 40
        src.write_bytes(data)
        key = "example.com/m/@v/v1.0.0.zip"
        seen = kill_after_parts(monkeypatch, server, "crash", f"p/{key}", 2)
        await store.put_file(key, src)
        assert seen == [[]]
        assert store.degraded
        assert b"".join([c async for c in store.stream(key)]) == data

        server.start()
        remote = store.remote
        assert isinstance(remote, S3Store)
        deadline = asyncio.get_running_loop().time() + 30
        while store.status()["unstored"] and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert store.status()["unstored"] == 0
        assert not store.degraded
        assert await remote.get(key) == data
        assert await remote.pending_uploads() == []
        assert not remote._to_abort
        await store.aclose()


async def test_uploads_abandoned_by_a_killed_process_are_aborted_at_start_up(
    minio_server: MinioServer,
) -> None:
    """A multipart upload left behind (its process was killed) is aborted by ``check`` once
    older than ``abandoned_after``; younger ones (other replicas' uploads) are left alone."""
    prefix = f"s3test/t{secrets.token_hex(6)}"
    client = minio_server.client()
    name = f"{prefix}/example.com/m/@v/v1.0.0.zip"
    up = client.create_multipart_upload(Bucket=MINIO_BUCKET, Key=name)
    client.upload_part(
        Bucket=MINIO_BUCKET, Key=name, UploadId=up["UploadId"], PartNumber=1, Body=b"x" * MIB
    )
    young = s3_store(minio_server, prefix)
    await young.check()
    assert await young.pending_uploads() == [name]
    await young.aclose()
    old = s3_store(minio_server, prefix, abandoned_after=0.0)
    await old.check()
    assert await old.pending_uploads() == []
    assert [k async for k in old.list("")] == []
    await old.aclose()


async def test_missing_bucket_is_a_clear_error_at_start_up(minio_server: MinioServer) -> None:
    store = S3Store.from_url(minio_server.store_url("no-such-bucket", "p"))
    with pytest.raises(ConfigError, match=r"bucket 'no-such-bucket' .*does not exist"):
        await store.check()
    await store.aclose()


@pytest.mark.parametrize(
    ("user", "error"),
    [
        ("nobody:gomodproxy-test-secret", "access key is not known"),
        ("gomodproxy-test:wrong-secret", "secret key is wrong"),
    ],
)
async def test_wrong_credentials_are_a_clear_error_at_start_up(
    minio_server: MinioServer, user: str, error: str
) -> None:
    url = f"s3://{user}@{MINIO_BUCKET}/p?endpoint={minio_server.endpoint}"
    store = S3Store.from_url(url)
    with pytest.raises(ConfigError, match=error) as info:
        await store.check()
    assert "wrong-secret" not in str(info.value)
    await store.aclose()


async def test_credentials_from_the_environment_and_a_profile(
    minio_server: MinioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without keys in the URL the standard chain is used: environment variables, or a
    named profile of the shared credentials file."""
    for name, value in minio_server.env().items():
        monkeypatch.setenv(name, value)
    url = minio_server.store_url(MINIO_BUCKET, "creds", credentials=False)
    store = S3Store.from_url(url)
    await store.check()
    await store.aclose()
    for name in minio_server.env():
        monkeypatch.delenv(name)
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[ci]\naws_access_key_id = {minio_server.access_key}\n"
        f"aws_secret_access_key = {minio_server.secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    store = S3Store.from_url(url + "&profile=ci")
    await store.check()
    await store.put("_meta/probe", b"ok")
    assert await store.get("_meta/probe") == b"ok"
    await store.aclose()
    store = S3Store.from_url(url + "&profile=absent")
    with pytest.raises(ConfigError, match="absent"):
        await store.check()
    await store.aclose()
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store.from_url(url)
    with pytest.raises(ConfigError, match="no credentials found"):
        await store.check()
    await store.aclose()


@pytest.mark.parametrize("size", [6 * MIB, 1024])
async def test_a_stored_zip_is_never_replaced(
    minio_server: MinioServer, tmp_path: Path, size: int
) -> None:
    """Writers of one immutable zip, in parts or in one PUT, concurrently and later: the first
    whole copy stays (conditional writes), the others are dropped, nothing is left pending."""
    store = s3_store(minio_server, part_size=5 * MIB, multipart_threshold=5 * MIB)
    srcs = []
    for name in "abc":
        srcs.append(tmp_path / f"{name}.zip")
        srcs[-1].write_bytes(name.encode() * size)
    key = "example.com/m/@v/v1.0.0.zip"
    await asyncio.gather(store.put_file(key, srcs[0]), store.put_file(key, srcs[1]))
    first = await store.get(key)
    assert first in (srcs[0].read_bytes(), srcs[1].read_bytes())
    await store.put_file(key, srcs[2])
    assert await store.get(key) == first
    assert await store.pending_uploads() == []
    assert store.conditional_writes is True
    await store.aclose()


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_serve_and_migrate_refuse_a_missing_bucket_before_starting(
    minio_server: MinioServer, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve`` and ``storage migrate`` stop at once with the reason (exit 2), not at the
    first request or key; the secret in the URL is not printed."""
    url = minio_server.store_url("no-such-bucket", "p")
    if command == "serve":
        argv = ["serve", "--storage", url, "--listen", "127.0.0.1:0"]
    else:
        argv = ["storage", "migrate", "--no-progress", "--from", str(tmp_path), "--to", url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "bucket 'no-such-bucket' at http://127.0.0.1" in err
    assert "the bucket does not exist" in err
    assert minio_server.secret_key not in err


class ContainerCredentials(LoopbackHTTP):
    """The container credentials endpoint (as ECS and EKS Pod Identity serve it) on loopback:
    answers the MinIO keys to a request carrying the expected authorization token."""

    token = "pod-identity-token"

    def __init__(self, minio: MinioServer) -> None:
        body = json.dumps(
            {
                "AccessKeyId": minio.access_key,
                "SecretAccessKey": minio.secret_key,
                "Token": "",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        ).encode()
        outer = self
        self.requests = 0

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                ok = self.headers.get("Authorization") == outer.token
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(body)

        super().__init__(Handler)


def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No keys in the environment, no shared credentials or config file, no instance
    metadata: only the source the test sets up can give credentials."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def test_credentials_from_the_container_endpoint(
    minio_server: MinioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no keys in the environment or the shared files, the chain asks the container
    credentials endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + its token)."""
    _no_ambient_credentials(monkeypatch, tmp_path)
    with ContainerCredentials(minio_server) as endpoint:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url + "/creds")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", endpoint.token)
        store = S3Store.from_url(minio_server.store_url(MINIO_BUCKET, "pod", credentials=False))
        await store.check()
        await store.put("_meta/probe", b"ok")
        assert await store.get("_meta/probe") == b"ok"
        await store.aclose()
        assert endpoint.requests >= 1


async def test_servers_without_conditional_writes_get_plain_completions(
    minio_server: MinioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers NotImplemented to ``If-None-Match`` (older S3-compatible ones)
    gets the completion again without it, and is not asked conditionally again."""
    from botocore.exceptions import ClientError

    store = s3_store(minio_server, part_size=5 * MIB, multipart_threshold=5 * MIB)
    client = await store._s3()
    complete = client.complete_multipart_upload
    conditional: list[bool] = []

    async def no_conditionals(**kwargs: Any) -> Any:
        conditional.append("IfNoneMatch" in kwargs)
        if "IfNoneMatch" in kwargs:
            error = {"Error": {"Code": "NotImplemented", "Message": "not implemented"}}
            raise ClientError(error, "CompleteMultipartUpload")
        return await complete(**kwargs)

    monkeypatch.setattr(client, "complete_multipart_upload", no_conditionals)
    src = tmp_path / "z.zip"
    src.write_bytes(b"z" * (6 * MIB))
    for version in ("v1.0.0", "v1.0.1"):
        await store.put_file(f"example.com/m/@v/{version}.zip", src)
        assert await store.get(f"example.com/m/@v/{version}.zip") == src.read_bytes()
    assert conditional == [True, False, False]
    assert store.conditional_writes is False
    assert await store.pending_uploads() == []
    await store.aclose()


async def test_version_files_are_stat_once_and_forgotten_when_gone(
    minio_server: MinioServer,
) -> None:
    """A version file's size is asked of the server once; when another replica deletes it,
    the next read says NotFound and the store forgets it. Mutable keys are asked each time."""
    prefix = f"s3test/t{secrets.token_hex(6)}"
    a, b = s3_store(minio_server, prefix), s3_store(minio_server, prefix)
    zip_key, list_key = "example.com/m/@v/v1.0.0.zip", "example.com/m/@v/list"
    await a.put(zip_key, b"PK zip")
    await a.put(list_key, b"v1.0.0\n")
    assert (await a.stat(zip_key), await a.stat(list_key)) != (None, None)
    await b.put(list_key, b"v1.0.0\nv1.1.0\n")
    assert await b.delete(zip_key)
    list_info = await a.stat(list_key)
    assert list_info is not None
    assert list_info.size == len(b"v1.0.0\nv1.1.0\n")
    cached = await a.stat(zip_key)
    assert cached is not None
    assert cached.size == 6, "remembered: no request"
    with pytest.raises(NotFound):
        await read(a, zip_key)
    assert await a.stat(zip_key) is None
    await a.aclose()
    await b.aclose()


class OpenIDProvider(LoopbackHTTP):
    """An OpenID provider on loopback for MinIO's web identity STS: discovery document and
    JWKS, and RS256 ID tokens whose ``policy`` claim MinIO maps to a policy."""

    client_id = "gomodproxy"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "kid": "k1",
            "use": "sig",
            "alg": "RS256",
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/openid-configuration"):
                    doc: dict[str, Any] = {
                        "issuer": outer.url,
                        "jwks_uri": outer.url + "/jwks",
                        "authorization_endpoint": outer.url + "/auth",
                        "token_endpoint": outer.url + "/token",
                        "response_types_supported": ["id_token"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                else:
                    doc = {"keys": [jwk]}
                send_json(self, doc)

        super().__init__(Handler)

    def id_token(self, policy: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
        claims = {
            "iss": self.url,
            "sub": "ci-job",
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "policy": policy,
        }
        signing_input = jwt_signing_input(header, claims)
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


async def test_credentials_from_a_web_identity_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain's web identity step (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``, as
    EKS sets them for a service account) exchanges an OpenID token at MinIO's STS for
    temporary keys, which the store then uses; a token the STS refuses is a start-up error."""
    with OpenIDProvider() as oidc:
        env = {
            "MINIO_IDENTITY_OPENID_CONFIG_URL": oidc.url + "/.well-known/openid-configuration",
            "MINIO_IDENTITY_OPENID_CLIENT_ID": oidc.client_id,
        }
        server = MinioServer(tmp_path / "minio", minio_binary(), extra_env=env)
        with running(server):
            server.make_bucket("identity")
            token = tmp_path / "token"
            token.write_text(oidc.id_token("readwrite"))
            _no_ambient_credentials(monkeypatch, tmp_path)
            monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
            monkeypatch.setenv("AWS_ROLE_ARN", "arn:minio:iam:::role/gomodproxy")
            monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.endpoint)
            monkeypatch.setenv("AWS_REGION", "us-east-1")
            store = S3Store.from_url(server.store_url("identity", "p", credentials=False))
            await store.check()
            await store.put("_meta/probe", b"ok")
            assert await store.get("_meta/probe") == b"ok"
            await store.aclose()
            token.write_text(oidc.id_token("no-such-policy"))
            store = S3Store.from_url(server.store_url("identity", "p", credentials=False))
            with pytest.raises(ConfigError, match="AssumeRoleWithWebIdentity was refused"):
                await store.check()
            await store.aclose()
