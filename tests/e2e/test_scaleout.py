"""Scale-out: stateless replicas of ``gomodproxy serve`` sharing one store (a real
docker-registry as OCI storage, or a real MinIO bucket as S3 storage with credentials from
the environment) and a real redis-server (metadata cache, single-flight), driven by the go
command."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from tests.e2e.fixtures import (
    ModuleVersion,
    Server,
    UpstreamServer,
    build_tree,
    escape,
    go,
    http_get,
    start_server,
)
from tests.e2e.servers import (
    MINIO_BUCKET,
    MinioServer,
    RedisServer,
    RegistryServer,
    minio_server,
    redis_server,
    registry_server,
)

__all__ = ["minio_server", "redis_server", "registry_server"]

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]


def expected_sums(tmp_path: Path, mv: ModuleVersion) -> tuple[str, str]:
    """The go.sum hashes (zip h1, go.mod h1) of a fixture version."""
    z = tmp_path / f"expected-{secrets.token_hex(4)}.zip"
    z.write_bytes(mv.zip_bytes())
    return hash_zip(z), gomod_hash(mv.gomod)


def start_replicas(
    n: int,
    tmp_path: Path,
    storage: str,
    redis_url: str,
    upstreams: list[str],
    env: dict[str, str] | None = None,
) -> list[Server]:
    """``n`` replicas on the shared storage and Redis; replica i uses ``upstreams[i]``."""
    servers: list[Server] = []
    try:
        for i in range(n):
            servers.append(
                start_server(
                    storage,
                    upstreams[i % len(upstreams)],
                    # Own temp dirs: no host-wide file locks shared, as on separate hosts.
                    args=["--redis", redis_url, "--set", f"temp_dir={tmp_path / f'r{i}'}"],
                    # Temp files of killed replicas (spools) stay in the test's directory.
                    env={"TMPDIR": str(tmp_path), **(env or {})},
                    log_path=tmp_path / f"replica-{i}.log",
                )
            )
    except BaseException:
        for s in servers:
            s.kill()
        raise
    return servers


@contextmanager
def replicas(*args: object, **kwargs: object) -> Iterator[list[Server]]:
    servers = start_replicas(*args, **kwargs)  # type: ignore[arg-type]
    try:
        yield servers
    finally:
        for s in servers:
            s.kill()


def go_download(go_env: dict[str, str], tmp: Path, proxy: str, target: str) -> dict[str, object]:
    """``go mod download -json target`` through ``proxy`` with a fresh module cache."""
    cache = tmp / f"modcache-{secrets.token_hex(4)}"
    env = {**go_env, "GOPROXY": proxy, "GOMODCACHE": str(cache), "GOSUMDB": "off"}
    result = go(env, "mod", "download", "-json", target, cwd=tmp, timeout=120)
    try:
        out: dict[str, object] = json.loads(result.stdout or "{}")
    except ValueError:
        out = {}
    out["_returncode"] = result.returncode
    out["_stderr"] = f"{result.stderr} {out.get('Error', '')}".strip()
    return out


@pytest.fixture(params=["oci", "s3"])
def shared_store(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """A fresh prefix of the shared store every replica uses: its URL and the environment
    the replicas need for it."""
    prefix = f"scaleout/t{secrets.token_hex(6)}"
    if request.param == "oci":
        registry: RegistryServer = request.getfixturevalue("registry_server")
        return registry.store_url(prefix), {}
    minio: MinioServer = request.getfixturevalue("minio_server")
    return minio.store_url(MINIO_BUCKET, prefix, credentials=False), minio.env()


class TestScaleOut:
    def test_goproxy_off_replica_serves_what_another_fetched(
        self,
        tmp_path: Path,
        go_env: dict[str, str],
        shared_store: tuple[str, dict[str, str]],
        redis_server: RedisServer,
    ) -> None:
        """A replica with no upstream (GOPROXY=off) serves, from the shared store, the
        version another replica fetched; go gets the same hashes from both."""
        mv = ModuleVersion("example.com/Shared", "v1.2.0", {"s.go": b"package shared\n"})
        zip_sum, mod_sum = expected_sums(tmp_path, mv)
        root = build_tree(tmp_path / "upstream", [mv])
        storage, env = shared_store
        redis_url = f"{redis_server.url}?prefix=t{secrets.token_hex(6)}"
        with (
            UpstreamServer(root) as up,
            replicas(2, tmp_path, storage, redis_url, [up.url, "off"], env) as (online, offline),
        ):
            first = go_download(go_env, tmp_path, online.url, "example.com/Shared@v1.2.0")
            assert first["_returncode"] == 0, first["_stderr"]
            fetched = up.hits.copy()
            second = go_download(go_env, tmp_path, offline.url, "example.com/Shared@v1.2.0")
            assert second["_returncode"] == 0, second["_stderr"]
            assert (first["Sum"], first["GoModSum"]) == (zip_sum, mod_sum)
            assert (second["Sum"], second["GoModSum"]) == (zip_sum, mod_sum)
            assert up.hits == fetched, "the offline replica must not reach the upstream"

    def test_200_concurrent_requests_over_3_replicas_fetch_once(
        self,
        tmp_path: Path,
        shared_store: tuple[str, dict[str, str]],
        redis_server: RedisServer,
    ) -> None:
        """200 concurrent requests for one uncached zip, spread over 3 replicas: exactly one
        upstream fetch cluster-wide and 200 identical successes."""
        mv = ModuleVersion(
            "example.com/hot", "v0.3.0", {"big.go": b"package hot\n//" + b"x" * 300_000 + b"\n"}
        )
        root = build_tree(tmp_path / "upstream", [mv])
        storage, env = shared_store
        prefix = f"t{secrets.token_hex(6)}"
        redis_url = f"{redis_server.url}?prefix={prefix}"
        path = f"/{escape(mv.path)}/@v/{mv.version}.zip"
        with (
            UpstreamServer(root) as up,
            replicas(3, tmp_path, storage, redis_url, [up.url], env) as rs,
        ):
            up.delay = 1.0  # the fetch is slow, so every request arrives while it runs
            with ThreadPoolExecutor(max_workers=200) as pool:
                results = list(
                    pool.map(lambda i: http_get(rs[i % 3].url + path, timeout=60), range(200))
                )
            statuses = [status for status, _, _ in results]
            assert statuses == [200] * 200
            assert {body for _, _, body in results} == {mv.zip_bytes()}
            assert up.count(".zip") == 1
        # The single-flight went through Redis (the replicas share no file locks).
        h = hashlib.sha256(path.lstrip("/").encode()).hexdigest()[:24]
        with redis.Redis.from_url(redis_server.url) as client:
            fences = client.get(f"{prefix}:sf:{{{h}}}:fence")
        assert fences is not None
        assert int(fences) >= 1
