"""The gate in front of the ASGI app: refusals happen before any storage or upstream access."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gomodproxy.cache.memory import LocalSingleFlight, MemoryMetadataCache
from gomodproxy.compose import build_app
from gomodproxy.config.settings import OpsSettings, SecuritySettings, Settings, load_settings
from gomodproxy.errors import NotFound
from gomodproxy.ops.metrics import Metrics
from gomodproxy.security.ratelimit import LimitedSource
from gomodproxy.security.users import add_user
from gomodproxy.server.app import ProxyApp
from gomodproxy.server.gate import Gate
from gomodproxy.storage.memory import MemoryStore
from tests.unit.test_service import FakeSource

SECRET = "corp.example.com/secret"
PUBLIC = "example.org/pub"


def full_app(
    cfg: Settings, source: FakeSource, tmp_path: Path, store: MemoryStore | None = None
) -> ProxyApp:
    """The app as ``serve`` composes it, over ``source`` (standing in for the upstream, so
    never in offline mode), a memory store and in-process caches."""
    return build_app(
        dataclasses.replace(cfg, upstream=dataclasses.replace(cfg.upstream, goproxy="direct")),
        metrics=Metrics(),
        store=store or MemoryStore(),
        source=source,
        temp_dir=tmp_path,
        caches=(MemoryMetadataCache(), LocalSingleFlight()),
    )


def auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def source() -> FakeSource:
    s = FakeSource()
    for path in (SECRET, PUBLIC):
        s.add(path, "v1.0.0")
        s.answers[("list", path, "")] = b"v1.0.0\n"
    return s


@pytest.fixture
def audit() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def app(
    tmp_path: Path, source: FakeSource, audit: list[dict[str, Any]]
) -> tuple[ProxyApp, MemoryStore]:
    creds = tmp_path / "c.json"
    add_user(creds, "alice", password="pw-a")
    add_user(creds, "bob", password="pw-b")
    flags = {
        "goproxy": "off",
        "storage": "memory://",
        "auth_file": str(creds),
        "access_rules": f"{SECRET}=alice",
        "rate_limit_address": "1000",
        "max_upstream_fetches_per_principal": "4",
    }
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    store = MemoryStore()
    proxy = full_app(cfg, source, tmp_path, store)
    assert isinstance(proxy.gate, Gate)
    proxy.gate.audit = audit.append
    return proxy, store


@pytest.fixture
async def client(app: tuple[ProxyApp, MemoryStore]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app[0], client=("192.0.2.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(
    "artifact",
    ["@v/list", "@latest", "@v/v1.0.0.info", "@v/master.info", "@v/v1.0.0.mod", "@v/v1.0.0.zip"],
)
async def test_refused_before_storage_or_upstream(
    client: httpx.AsyncClient,
    source: FakeSource,
    app: tuple[ProxyApp, MemoryStore],
    artifact: str,
) -> None:
    """Every artifact of a private module: 404 anonymous, 403 for bob; nothing fetched."""
    r = await client.get(f"/{SECRET}/{artifact}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")
    r = await client.get(f"/{SECRET}/{artifact}", headers=auth("bob", "pw-b"))
    assert r.status_code == 403
    assert r.text == f"forbidden: bob may not read {SECRET}\n"
    assert sum(source.calls.values()) == 0
    assert [k async for k in app[1].list("")] == []


async def test_allowed_then_hot_cache_still_gated(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    """alice reads the zip; later anonymous requests for the now-hot artifact are still 404."""
    path = f"/{SECRET}/@v/v1.0.0.zip"
    r = await client.get(path, headers=auth("alice", "pw-a"))
    assert r.status_code == 200
    assert (await client.get(path, headers=auth("alice", "pw-a"))).status_code == 200
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers=auth("bob", "pw-b"))).status_code == 403


async def test_wrong_password_401(client: httpx.AsyncClient) -> None:
    """Wrong credentials: 401 with a Basic challenge, even for public modules."""
    r = await client.get(f"/{PUBLIC}/@v/list", headers=auth("alice", "nope"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="gomodproxy"'


async def test_audit_events(client: httpx.AsyncClient, audit: list[dict[str, Any]]) -> None:
    """Each decision is one audit event with who, what and the outcome."""
    await client.get(f"/{PUBLIC}/@v/v1.0.0.info")
    await client.get(f"/{SECRET}/@v/v1.0.0.mod", headers=auth("bob", "pw-b"))
    await client.get("/healthz")
    assert [
        (
            e["client"],
            e["principal"],
            e["module"],
            e["version"],
            e["artifact"],
            e["decision"],
            e["status"],
        )
        for e in audit
    ] == [
        ("192.0.2.7", "", PUBLIC, "v1.0.0", "info", "allow", 0),
        ("192.0.2.7", "bob", SECRET, "v1.0.0", "mod", "deny", 403),
    ]
    assert all(isinstance(e["time"], float) for e in audit)


async def test_sumdb_lookup_of_private_path_gated(client: httpx.AsyncClient) -> None:
    """/sumdb/<db>/lookup/<private path>@v is refused like the module itself."""
    r = await client.get(f"/sumdb/sum.example/lookup/{SECRET}@v1.0.0")
    assert r.status_code == 404
    r = await client.get(f"/sumdb/sum.example/lookup/{SECRET}@v1.0.0", headers=auth("bob", "pw-b"))
    assert r.status_code == 403


async def test_rate_limit_429(tmp_path: Path, source: FakeSource) -> None:
    """Past the address burst: 429 with Retry-After; another address still gets through."""
    cfg = load_settings(
        env={},
        flags={
            "goproxy": "off",
            "storage": "memory://",
            "rate_limit_address": "0.5",
            "rate_limit_address_burst": "2",
        },
        ask_go=False,
    )
    proxy = full_app(cfg, source, tmp_path)
    statuses = []
    for address in ("192.0.2.1",) * 3 + ("192.0.2.2",):
        transport = httpx.ASGITransport(app=proxy, client=(address, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get(f"/{PUBLIC}/@v/list")
            statuses.append((r.status_code, r.headers.get("retry-after")))
    assert statuses == [(200, None), (200, None), (429, "2"), (200, None)]


async def test_limits_without_access_configuration(tmp_path: Path, source: FakeSource) -> None:
    """Nothing configured: the gate still limits header size, on every route (health and
    metrics included); no access decision, no audit event, no fetch-cap wrapper."""
    cfg = load_settings(env={}, flags={"goproxy": "off", "storage": "memory://"}, ask_go=False)
    proxy = full_app(cfg, source, tmp_path)
    assert isinstance(proxy.gate, Gate)
    assert not proxy.gate.controls_access
    events: list[dict[str, Any]] = []
    proxy.gate.audit = events.append
    assert not isinstance(proxy.service.source, LimitedSource)
    transport = httpx.ASGITransport(app=proxy, client=("192.0.2.7", 1))
    big = {"X-Pad": "x" * (33 << 10)}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get(f"/{PUBLIC}/@v/list")).status_code == 200
        for path in (f"/{PUBLIC}/@v/list", "/healthz", "/metrics", "/admin/config"):
            r = await c.get(path, headers=big)
            assert (r.status_code, r.text) == (431, "request headers too large\n"), path
    assert events == []


async def test_rate_limit_without_access_rules_covers_health_and_metrics(
    tmp_path: Path, source: FakeSource
) -> None:
    """A per-address rate limit alone applies to /healthz and /metrics too."""
    flags = {"goproxy": "off", "storage": "memory://", "rate_limit_address": "0.001"}
    cfg = load_settings(env={}, flags={**flags, "rate_limit_address_burst": "2"}, ask_go=False)
    proxy = full_app(cfg, source, tmp_path)
    transport = httpx.ASGITransport(app=proxy, client=("192.0.2.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        statuses = [(await c.get(p)).status_code for p in ("/healthz", "/metrics", "/healthz")]
    assert statuses == [200, 200, 429]


async def test_principal_in_scope_state(app: tuple[ProxyApp, MemoryStore]) -> None:
    """The gate hands the principal to later hooks (the ops audit log) in scope["state"]."""
    gate = app[0].gate
    headers = [(b"authorization", b"Basic " + base64.b64encode(b"alice:pw-a"))]
    scope: dict[str, Any] = {
        "path": f"/{SECRET}/@v/list",
        "headers": headers,
        "client": ("192.0.2.7", 1),
    }
    assert await gate.check(scope) is None
    assert scope["state"]["principal"] == "alice"
    anonymous: dict[str, Any] = {"path": f"/{PUBLIC}/@v/list", "headers": [], "client": None}
    assert await gate.check(anonymous) is None
    assert "principal" not in anonymous.get("state", {})


async def test_status_page_and_admin(client: httpx.AsyncClient) -> None:
    """The status page needs a principal (401 anonymous); /admin/ is left to its own token."""
    assert (await client.get("/")).status_code == 401
    assert (await client.get("/", headers=auth("bob", "pw-b"))).status_code != 401
    r = await client.get("/admin/config", headers={"Authorization": "Bearer not-a-user-token"})
    assert r.status_code != 401


async def test_private_sumdb_tiles_need_a_principal(tmp_path: Path) -> None:
    """Tiles of the mounted private database list private paths: a principal is required."""
    from gomodproxy.server.gate import gate_from_settings

    creds = tmp_path / "c.json"
    add_user(creds, "bob", password="pw-b")
    names = ["sum.corp"]

    gate = gate_from_settings(SecuritySettings(auth_file=str(creds)), OpsSettings(), "", names)
    assert gate is not None
    gate.audit = lambda event: None

    def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"path": path, "headers": headers, "client": ("192.0.2.1", 1)}

    bob = [(b"authorization", b"Basic " + base64.b64encode(b"bob:pw-b"))]
    refusal = await gate.check(scope("/sumdb/sum.corp/tile/8/0/000", []))
    assert refusal is not None
    assert refusal.status == 404
    assert await gate.check(scope("/sumdb/sum.corp/tile/8/0/000", bob)) is None
    assert await gate.check(scope("/sumdb/sum.corp/latest", bob)) is None
    assert await gate.check(scope("/sumdb/sum.public/tile/8/0/000", [])) is None


async def test_private_and_absent_answers_are_identical(
    client: httpx.AsyncClient, source: FakeSource
) -> None:
    """Anonymous: a private module and an absent one get the same status, headers and body
    shape (an upstream's own not-found text is not relayed while access control is on)."""
    absent = "corp.example.com/nothere"
    source.answers[("list", absent, "")] = NotFound("not found: some upstream's own words")
    for artifact in ("@v/list", "@latest", "@v/v1.0.0.info", "@v/v1.0.0.mod", "@v/v1.0.0.zip"):
        private = await client.get(f"/{SECRET}/{artifact}")
        missing = await client.get(f"/{absent}/{artifact}")
        for r, path in ((private, SECRET), (missing, absent)):
            assert r.status_code == 404
            assert r.text == f"not found: {path}/{artifact}\n"
            assert r.headers["cache-control"] == "public, max-age=60"
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert sorted(private.headers.keys()) == sorted(missing.headers.keys())


async def test_access_rules_ignore_case(tmp_path: Path, source: FakeSource) -> None:
    """/Secret (escaped !secret) falls under the rule for /secret, not a broader one."""
    creds = tmp_path / "c.json"
    add_user(creds, "alice", password="pw-a")
    add_user(creds, "carol", password="pw-c", groups=["ci"])
    flags = {
        "goproxy": "off",
        "storage": "memory://",
        "auth_file": str(creds),
        "access_rules": f"{SECRET}=alice; corp.example.com=@ci",
    }
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    proxy = full_app(cfg, source, tmp_path)
    proxy.gate.audit = lambda event: None
    transport = httpx.ASGITransport(app=proxy, client=("192.0.2.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for variant in ("corp.example.com/!secret", "corp.example.com/!s!e!c!r!e!t"):
            r = await c.get(f"/{variant}/@v/list", headers=auth("carol", "pw-c"))
            assert r.status_code == 403, variant
            r = await c.get(f"/{variant}/@v/list")
            assert r.status_code == 404, variant
        assert sum(source.calls.values()) == 0


async def test_metrics_token_and_networks(tmp_path: Path, source: FakeSource) -> None:
    """/metrics behind a token or a network allow-list: either one lets a scraper in."""
    token = tmp_path / "metrics.token"
    token.write_text("m-3tr1cs\n")
    flags = {
        "goproxy": "off",
        "storage": "memory://",
        "metrics_token_file": str(token),
        "metrics_networks": "10.9.0.0/16",
    }
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    proxy = full_app(cfg, source, tmp_path)

    async def get(address: str, headers: dict[str, str] | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=proxy, client=(address, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/metrics", headers=headers)

    refused = await get("192.0.2.7")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "gomodproxy_" not in refused.text
    assert (await get("192.0.2.7", {"Authorization": "Bearer wrong"})).status_code == 401
    assert (await get("192.0.2.7", {"Authorization": "Bearer m-3tr1cs"})).status_code == 200
    assert (await get("10.9.3.4")).status_code == 200
    assert (await get("::ffff:10.9.3.4")).status_code == 200
    assert (await get("192.0.2.7")).status_code == 401
    flags.pop("metrics_token_file")
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    proxy = full_app(cfg, source, tmp_path)
    assert (await get("192.0.2.7")).status_code == 403
    assert (await get("10.9.3.4")).status_code == 200


async def test_private_sumdb_data_tiles_need_every_rule(tmp_path: Path) -> None:
    """Data tiles name every private module: only a principal every rule allows reads them;
    hash tiles and the tree head (hashes only) stay open to any authenticated principal."""
    from gomodproxy.server.gate import gate_from_settings

    creds = tmp_path / "c.json"
    add_user(creds, "alice", password="pw-a")
    add_user(creds, "root", password="pw-r", groups=["admins"])
    rules = f"{SECRET}=alice @admins; corp.example.com/other=@admins"
    security = SecuritySettings(auth_file=str(creds), access_rules=rules)
    gate = gate_from_settings(security, OpsSettings(), "", ["sum.corp"])
    gate.audit = lambda event: None

    def scope(path: str, user: bytes = b"") -> dict[str, Any]:
        headers = [(b"authorization", b"Basic " + base64.b64encode(user))] if user else []
        return {"path": path, "headers": headers, "client": ("192.0.2.1", 1)}

    data = "/sumdb/sum.corp/tile/8/data/000"
    refusal = await gate.check(scope(data, b"alice:pw-a"))
    assert refusal is not None
    assert refusal.status == 403
    anonymous = await gate.check(scope(data))
    assert anonymous is not None
    assert anonymous.status == 404
    assert await gate.check(scope(data, b"root:pw-r")) is None
    for path in ("/sumdb/sum.corp/tile/8/0/000", "/sumdb/sum.corp/latest"):
        assert await gate.check(scope(path, b"alice:pw-a")) is None


@pytest.mark.parametrize(
    ("setting", "make", "message"),
    [
        ("metrics_token_file", None, "metrics_token_file {}: No such file or directory"),
        ("metrics_token_file", "\n\n", "metrics_token_file {}: the file is empty"),
        ("access_decisions_log", "dir", "access_decisions_log {}: Is a directory"),
    ],
)
def test_unusable_gate_files_are_config_errors(
    tmp_path: Path, setting: str, make: str | None, message: str
) -> None:
    """A worker that cannot read its metrics token or append to its access decisions log
    says which setting is wrong (a ConfigError), like every other setting build_app uses."""
    from gomodproxy.errors import ConfigError
    from gomodproxy.server.gate import gate_from_settings

    path = tmp_path / "f"
    if make == "dir":
        path.mkdir()
    elif make is not None:
        path.write_text(make)
    security, ops = SecuritySettings(), OpsSettings()
    if setting == "metrics_token_file":
        ops = dataclasses.replace(ops, metrics_token_file=str(path))
    else:
        security = dataclasses.replace(security, access_decisions_log=str(path))
    with pytest.raises(ConfigError, match="^" + message.format(path) + "$"):
        gate_from_settings(security, ops, "")


def test_the_metrics_token_is_the_first_line(tmp_path: Path) -> None:
    from gomodproxy.server.gate import gate_from_settings

    token = tmp_path / "metrics.token"
    token.write_text("m-3tr1cs\n# rotated monthly\n")
    ops = dataclasses.replace(OpsSettings(), metrics_token_file=str(token))
    gate = gate_from_settings(SecuritySettings(), ops, "")
    assert gate._metrics_token == b"Bearer m-3tr1cs"
