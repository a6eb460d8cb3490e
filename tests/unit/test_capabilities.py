"""The optional capabilities the ports declare, seen through the real adapters and the
wrappers ``build_app`` puts around them: a degraded remote store in ``/readyz`` and
``/metrics``, a filesystem store's root holding the work directory and measured by the status
page, the checksum database the verifier names; and mypy rejecting a wrapper that does not
forward one. (``storage migrate`` and ``serve`` running the S3 store's ``check`` before they
start is shown against a real MinIO in ``tests/e2e/test_s3_store.py``.)"""

from __future__ import annotations

import asyncio
import gc
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from mypy import api as mypy_api

from gomodproxy.cache.redis_factory import open_redis
from gomodproxy.checksumdb.verify import SumdbVerifier
from gomodproxy.localfs.workdir import work_dir
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ops.observe import OpsObserver
from gomodproxy.ops.routes import StatusPage
from gomodproxy.ops.storagewatch import CountingStore
from gomodproxy.ports.keys import artifact_key
from gomodproxy.security.ratelimit import FetchLimiter, LimitedSource
from gomodproxy.server.app import ProxyApp
from gomodproxy.service.proxy import ProxyService
from gomodproxy.sources.router import Router
from gomodproxy.storage import open_store
from gomodproxy.storage.degrading import DegradingStore
from gomodproxy.storage.filesystem import FilesystemStore
from gomodproxy.storage.memory import MemoryStore
from tests.conftest import free_port
from tests.unit.test_server import make_app, make_full_app
from tests.unit.test_service import FakeSource
from tests.unit.test_sumdb_verify import FakeDB, make_db, make_log

MOD = "example.com/m"
SRC = Path(__file__).resolve().parents[2] / "src"


def _client(app: ProxyApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def _status_page(app: ProxyApp) -> StatusPage:
    page = app.exact_routes["/"]
    assert isinstance(page, StatusPage)
    return page


async def test_a_degraded_remote_store_is_named_by_readyz_and_metrics(tmp_path: Path) -> None:
    """An S3 store whose endpoint does not answer starts degraded (its ``check`` says so
    through the counting wrapper); the replica stays ready and says what is down."""
    store = open_store(f"s3://k:s@bucket/p?endpoint=http://127.0.0.1:{free_port()}", retries=0)
    assert isinstance(store, DegradingStore)
    app, _ = make_full_app(tmp_path, FakeSource(), store=store)
    counted = app.service.store
    assert isinstance(counted, CountingStore)
    assert counted.can_degrade
    assert not counted.degraded
    await counted.check()
    assert counted.degraded
    try:
        async with _client(app) as client:
            r = await client.get("/readyz")
            assert (r.status_code, r.text) == (200, "ready, degraded: storage unavailable\n")
            metrics = (await client.get("/metrics")).text
        assert 'gomodproxy_degraded{component="storage"} 1.0' in metrics
        assert 'gomodproxy_degraded{component="redis"} 0.0' in metrics
        assert (await _status_page(app).gather()).degraded == ["storage"]
    finally:
        await app.service.aclose()


async def test_redis_down_is_named_by_readyz_and_lookups_say_memory(tmp_path: Path) -> None:
    """With Redis unreachable the single-flight degrades to its fallback and the metadata
    cache answers from process memory; through the timing wrappers ``/readyz`` names redis
    and a repeated ``@v/list`` counts as a memory hit, not a Redis one."""
    source = FakeSource()
    source.answers[("list", MOD, "")] = b"v1.0.0\n"
    caches = open_redis(f"redis://127.0.0.1:{free_port()}/0")
    app, _ = make_full_app(tmp_path, source, caches=caches)
    assert app.service.flight.can_degrade
    assert not app.service.store.can_degrade
    try:
        async with _client(app) as client:
            for _ in range(2):
                assert (await client.get(f"/{MOD}/@v/list")).text == "v1.0.0\n"
            assert app.service.flight.degraded
            assert app.service.meta.tier == "memory"
            r = await client.get("/readyz")
            assert (r.status_code, r.text) == (200, "ready, degraded: redis unavailable\n")
            metrics = (await client.get("/metrics")).text
        assert 'gomodproxy_degraded{component="redis"} 1.0' in metrics
        assert 'gomodproxy_cache_lookups_total{result="hit",tier="memory"} 1.0' in metrics
        lookups = [line for line in metrics.splitlines() if line.startswith("gomodproxy_cache_")]
        assert not [line for line in lookups if 'tier="redis"' in line], lookups
    finally:
        await app.service.aclose()


@pytest.mark.parametrize("kind", ["memory", "filesystem"])
async def test_a_store_that_cannot_degrade_is_not_listed(tmp_path: Path, kind: str) -> None:
    store = MemoryStore() if kind == "memory" else FilesystemStore(tmp_path / "store")
    app, _ = make_full_app(tmp_path, FakeSource(), store=store)
    assert not app.service.store.can_degrade
    assert not app.service.flight.can_degrade  # in-process single-flight
    async with _client(app) as client:
        r = await client.get("/readyz")
        assert (r.status_code, r.text) == (200, "ready\n")
        metrics = (await client.get("/metrics")).text
    assert 'gomodproxy_degraded{component="storage"} 0.0' in metrics
    await app.service.aclose()


async def test_a_filesystem_root_holds_the_work_dir_and_is_measured(tmp_path: Path) -> None:
    """The root a filesystem store declares (forwarded by the counting wrapper) is where
    downloads go, so storing a fetched zip is a rename on one filesystem; the status page
    measures the tree under it, without the work files. Other stores declare no root."""
    root = (tmp_path / "store").resolve()
    counted = CountingStore(FilesystemStore(root), Metrics())
    assert counted.root == root
    assert work_dir("", counted) == root / ".gomodproxy"
    assert work_dir(str(tmp_path / "w"), counted) == tmp_path / "w"  # the setting wins
    memory = CountingStore(MemoryStore(), Metrics())
    assert memory.root is None
    assert work_dir("", memory) == Path(tempfile.gettempdir()) / "gomodproxy"

    source = FakeSource()
    source.add(MOD, "v1.0.0")
    app, _ = make_full_app(tmp_path, source, store=FilesystemStore(root))
    assert app.service.store.root == root
    async with _client(app) as client:
        assert (await client.get(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
    (root / ".gomodproxy").mkdir(exist_ok=True)
    (root / ".gomodproxy" / "work").write_bytes(b"x" * 1000)  # not counted
    stored = [p for p in root.rglob("*") if p.is_file() and ".gomodproxy" not in p.parts]
    status = await _status_page(app).gather()
    assert status.storage_backend == "filesystem"
    assert (status.storage_bytes, status.storage_files) == (
        sum(p.stat().st_size for p in stored),
        len(stored),
    )
    await app.service.aclose()

    app, _ = make_full_app(tmp_path, source)
    status = await _status_page(app).gather()
    assert (status.storage_backend, status.storage_bytes, status.storage_files) == (
        "memory",
        None,
        None,
    )


async def test_the_verifier_names_its_database_mode_and_exemptions(tmp_path: Path) -> None:
    """The status page and the audit log's verification field read what the real verifier
    declares; without a database it checks nothing and names nothing."""
    db = make_db(FakeDB(make_log(1)))
    verifier = SumdbVerifier(db, gonosumdb="corp.example.com", mode="best-effort")
    assert (verifier.database_name, verifier.mode) == (db.name, "best-effort")
    app, _ = make_full_app(tmp_path, FakeSource(), verifier=verifier)
    status = await _status_page(app).gather()
    assert (status.sumdb_name, status.sumdb_mode) == (db.name, "best-effort")
    observer = OpsObserver(Metrics(), verifier)
    assert observer.verification("zip", "corp.example.com/x", "miss", 200, None) == "exempt"
    assert observer.verification("zip", MOD, "miss", 200, None) == "checked"
    off = SumdbVerifier(None)
    assert off.database_name == ""
    assert OpsObserver(Metrics(), off).verification("zip", MOD, "miss", 200, None) == "exempt"
    assert OpsObserver(Metrics()).verification("zip", MOD, "miss", 200, None) == "exempt"
    await app.service.aclose()


async def test_prepared_responses_go_with_the_hot_cache_entry(tmp_path: Path) -> None:
    """The app keeps the responses it prepared for immutable artifacts beside the service's
    hot cache, not on the artifacts: once the hot cache drops an artifact its prepared
    response goes too, and the next request prepares a new one."""
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    app, _ = make_app(tmp_path, source)
    url = f"/{MOD}/@v/v1.0.0.info"
    async with _client(app) as client:
        first = await client.get(url)
        assert (await client.get(url)).content == first.content
        assert len(app._prepared) == 1
        app.service.hot.discard(artifact_key("info", MOD, "v1.0.0"))
        await asyncio.sleep(0)  # the fetch's finished future is released by its last callback
        gc.collect()
        assert app._prepared == {}
        again = await client.get(url)
        assert (again.status_code, again.content) == (200, first.content)
        assert len(app._prepared) == 1
    assert source.calls[("info", MOD, "v1.0.0")] == 1  # the second answer came from storage


def test_a_limited_router_labels_each_path_with_the_source_it_picks(tmp_path: Path) -> None:
    """Metrics and logs name the source a path goes to: the router declares its pick, the
    per-principal fetch cap around it forwards that."""
    router = Router(FakeSource("proxy:up"), FakeSource("direct"), gonoproxy="git.corp")
    limited = LimitedSource(router, FetchLimiter(2))
    assert limited.name == "proxy:up"
    assert (limited.label("git.corp/x"), limited.label("public.test/x")) == ("direct", "proxy:up")
    service = ProxyService(MemoryStore(), limited, temp_dir=tmp_path)
    assert service.source_label("git.corp/x") == "direct"


_WRAPPERS = {
    "storagewatch": "\n\ndef wrap(inner: BlobStore) -> BlobStore:\n"
    "    return CountingStore(inner, Metrics())\n",
    "flightwatch": "\n\ndef wrap(inner: SingleFlight) -> SingleFlight:\n"
    "    return TimedFlight(inner, Metrics())\n",
}


@pytest.mark.parametrize(
    ("module", "forgotten"),
    [
        ("storagewatch", ""),
        ("storagewatch", "degraded"),
        ("storagewatch", "can_degrade"),
        ("storagewatch", "root"),
        ("storagewatch", "check"),
        ("flightwatch", ""),
        ("flightwatch", "degraded"),
    ],
)
def test_mypy_rejects_a_wrapper_that_does_not_forward_a_capability(
    tmp_path: Path, module: str, forgotten: str
) -> None:
    """The counting store and the timed single-flight, each with one forwarded capability
    taken out, are no longer a ``BlobStore`` / ``SingleFlight`` to mypy --strict where they
    are used as one (as they are, whole)."""
    code = (SRC / "gomodproxy" / "ops" / f"{module}.py").read_text()
    if forgotten:
        member = rf"    (@property\n    |async )def {forgotten}\(self.*?\n\n"
        code, n = re.subn(member, "", code, count=1, flags=re.DOTALL)
        assert n == 1, forgotten
    code += "\nfrom gomodproxy.ports.cache import SingleFlight\n"
    code += "from gomodproxy.ports.storage import BlobStore\n" + _WRAPPERS[module]
    (tmp_path / "wrapper.py").write_text(code)
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {SRC}\n")
    out, err, status = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(tmp_path / "wrapper.py"),
        ]
    )
    if not forgotten:
        assert status == 0, out + err
        return
    assert status == 1, out + err
    assert "Incompatible return value type" in out
    assert re.search(rf"note: +{forgotten}$", out, re.MULTILINE), out
