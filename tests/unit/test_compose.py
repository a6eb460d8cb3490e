"""The composition root builds every part of a worker's app once, already wrapped, and hands
them to the app by constructor; the optional parts follow the settings."""

from __future__ import annotations

from pathlib import Path

from gomodproxy.cache.memory import LocalSingleFlight, MemoryMetadataCache
from gomodproxy.checksumdb.verify import SumdbVerifier
from gomodproxy.compose import build_app
from gomodproxy.config.settings import load_settings
from gomodproxy.ops.admin import AdminApp
from gomodproxy.ops.flightwatch import TimedFlight, TimedMetadataCache
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ops.observe import OpsObserver
from gomodproxy.ops.routes import StatusPage
from gomodproxy.ops.storagewatch import CountingStore
from gomodproxy.security.ratelimit import LimitedSource
from gomodproxy.server.app import ProxyApp
from gomodproxy.server.gate import Gate
from gomodproxy.storage.memory import MemoryStore
from tests.unit.test_service import FakeSource


def _app(tmp_path: Path, **flags: str) -> tuple[ProxyApp, Metrics, FakeSource]:
    cfg = load_settings(
        env={}, flags={"goproxy": "direct", "storage": "memory://", **flags}, ask_go=False
    )
    metrics, source = Metrics(), FakeSource()
    app = build_app(
        cfg,
        metrics=metrics,
        store=MemoryStore(),
        source=source,
        temp_dir=tmp_path,
        caches=(MemoryMetadataCache(), LocalSingleFlight()),
    )
    return app, metrics, source


def test_every_part_is_built_and_wrapped(tmp_path: Path) -> None:
    app, metrics, source = _app(tmp_path)
    service = app.service
    assert isinstance(service.store, CountingStore)
    assert isinstance(service.store.inner, MemoryStore)
    assert isinstance(service.flight, TimedFlight)
    assert isinstance(service.meta, TimedMetadataCache)
    assert service.source is source  # no fetch cap configured: not wrapped
    assert isinstance(service.verifier, SumdbVerifier)
    assert service.verifier.metrics is metrics
    assert service.observer is metrics
    assert isinstance(app.gate, Gate)
    assert isinstance(app.observers[0], OpsObserver)
    assert isinstance(app.exact_routes["/"], StatusPage)
    assert dict(app.mounts) == {}  # no checksum database, no admin token
    assert app.on_shutdown  # the gate's access-decision log is flushed


def test_optional_parts_follow_the_settings(tmp_path: Path) -> None:
    token = tmp_path / "admin.token"
    token.write_text("0123456789abcdef0123\n")
    audit = tmp_path / "audit.jsonl"
    app, _, source = _app(
        tmp_path,
        max_upstream_fetches_per_principal="2",
        admin_token_file=str(token),
        audit_log=str(audit),
    )
    assert isinstance(app.service.source, LimitedSource)
    assert app.service.source.inner is source
    assert isinstance(dict(app.mounts)["/admin/"], AdminApp)
    assert isinstance(app.observers[0], OpsObserver)
    assert app.observers[0].audit is not None
    # The audit log is closed, the gate flushed, the verifier built here closed.
    assert len(app.on_shutdown) == 3


def test_wrappers_declare_what_they_pass_through(tmp_path: Path) -> None:
    """No __getattr__ pass-through: a wrapper answers only what it declares."""
    app, _, _ = _app(tmp_path)
    store = app.service.store
    assert isinstance(store, CountingStore)
    assert store.kind == "memory"
    assert store.root is None
    assert store.degraded is False
    assert not hasattr(store, "no_such_attribute")
    assert not hasattr(app.service.flight, "no_such_attribute")


async def test_the_verifier_it_built_is_closed_with_the_app(tmp_path: Path) -> None:
    """The checksum-database client the app made is closed when the app is (its
    connections); a verifier handed in belongs to the caller and stays open."""
    from gomodproxy.sumdb import note

    _, vkey = note.generate_key("db.test", bytes(32))
    app, _, _ = _app(tmp_path, gosumdb=f"{vkey} http://127.0.0.1:1")
    verifier = app.service.verifier
    assert isinstance(verifier, SumdbVerifier)
    assert verifier.db is not None
    client = verifier.db.remote._client
    assert not client.is_closed
    await app.aclose()
    assert client.is_closed

    given = SumdbVerifier(None)
    cfg = load_settings(env={}, flags={"goproxy": "off", "storage": "memory://"}, ask_go=False)
    app = build_app(cfg, store=MemoryStore(), temp_dir=tmp_path, verifier=given)
    closed: list[bool] = []

    async def aclose() -> None:
        closed.append(True)

    given.aclose = aclose  # type: ignore[method-assign]
    await app.aclose()
    assert closed == []
