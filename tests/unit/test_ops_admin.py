"""Admin endpoints: token required, purge (audited), verify, configuration without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.ops import routes
from gomodproxy.ops.admin import version_keys
from tests.unit.test_server import make_full_app
from tests.unit.test_service import FakeSource

MOD = "example.com/M"
TOKEN = "s3cret-admin-token-0123456789"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[httpx.AsyncClient, object, Path, FakeSource]:
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    audit = tmp_path / "audit.jsonl"
    app, _ = make_full_app(
        tmp_path,
        source,
        admin_token_file=str(token_file),
        audit_log=str(audit),
        redis="redis://user:hunter2@127.0.0.1:1/0",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return client, app, audit, source


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_token_required(setup: tuple[httpx.AsyncClient, object, Path, FakeSource]) -> None:
    client, *_ = setup
    async with client:
        assert (await client.get("/admin/config")).status_code == 401
        assert (await client.get("/admin/config", headers=_auth("wrong"))).status_code == 401
        r = await client.get("/admin/config", headers={"authorization": TOKEN})
        assert r.status_code == 401
        assert (await client.get("/admin/purge", headers=_auth())).status_code == 405
        assert (await client.get("/admin/nope", headers=_auth())).status_code == 404


async def test_config_without_secrets(
    setup: tuple[httpx.AsyncClient, object, Path, FakeSource],
) -> None:
    client, *_ = setup
    async with client:
        r = await client.get("/admin/config", headers=_auth())
    assert r.status_code == 200
    assert "hunter2" not in r.text
    assert TOKEN not in r.text
    body = json.loads(r.text)
    assert body["settings"]["goproxy"] == "direct"  # as make_full_app sets it
    assert body["origins"]["redis"] == "flag --redis"


async def test_purge_deletes_and_audits(
    setup: tuple[httpx.AsyncClient, object, Path, FakeSource],
) -> None:
    client, app, audit, source = setup
    zip_url = "/example.com/!m/@v/v1.0.0.zip"
    async with client:
        assert (await client.get(zip_url)).status_code == 200
        assert (await client.get("/example.com/!m/@v/v1.0.0.mod")).status_code == 200
        r = await client.post(
            "/admin/purge", params={"module": MOD, "version": "v1.0.0"}, headers=_auth()
        )
        assert r.status_code == 200
        deleted = json.loads(r.text)["deleted"]
        assert sorted(deleted) == sorted(
            f"example.com/!m/@v/v1.0.0.{ext}" for ext in ("mod", "zip", "ziphash")
        )
        # gone from storage and from memory: the next request goes upstream again
        calls = source.calls[("zip", MOD, "v1.0.0")]
        assert (await client.get(zip_url)).status_code == 200
        assert source.calls[("zip", MOD, "v1.0.0")] == calls + 1
        bad = await client.post(
            "/admin/purge", params={"module": MOD, "version": "latest"}, headers=_auth()
        )
        assert bad.status_code == 400
        for hook in app.on_shutdown:  # type: ignore[attr-defined]
            await hook()
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    purges = [e for e in events if e["event"] == "purge"]
    assert len(purges) == 1
    assert purges[0]["module"] == MOD
    assert purges[0]["version"] == "v1.0.0"
    assert purges[0]["identity"] == "admin"


async def test_verify_without_checksum_database(
    setup: tuple[httpx.AsyncClient, object, Path, FakeSource],
) -> None:
    client, *_ = setup
    async with client:
        r = await client.post("/admin/verify", headers=_auth())
    assert r.status_code == 200
    assert json.loads(r.text)["note"] == "checksum database verification is off"


def test_version_keys_and_token_file(tmp_path: Path) -> None:
    assert version_keys("example.com/M", "v1.0.0")[0] == "example.com/!m/@v/v1.0.0.info"
    short = tmp_path / "t"
    short.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 16"):
        routes.read_token(str(short))
    with pytest.raises(ConfigError, match="admin_token_file"):
        routes.read_token(str(tmp_path / "missing"))


async def test_verify_against_a_checksum_database(tmp_path: Path) -> None:
    """POST /admin/verify re-hashes stored modules and asks the checksum database: a stored
    zip whose hash the database does not vouch for is reported; ?module= limits the run."""
    from gomodproxy.checksumdb.verify import SumdbVerifier
    from gomodproxy.gomod.dirhash import gomod_hash
    from gomodproxy.localfs.zipfiles import hash_zip
    from gomodproxy.storage.memory import MemoryStore
    from gomodproxy.sumdb.server import Log, gosum_record
    from tests.e2e.fixtures import ModuleVersion
    from tests.unit.test_sumdb_verify import FakeDB, make_db

    store = MemoryStore()
    log = Log()
    for path, lie in (("example.com/good", False), ("example.com/bad", True)):
        mv = ModuleVersion(path, "v1.0.0", {"x.go": b"package x\n"})
        zip_file = tmp_path / f"{path.rsplit('/', 1)[1]}.zip"
        zip_file.write_bytes(mv.zip_bytes())
        h1 = hash_zip(zip_file)
        base = f"{path}/@v/v1.0.0"
        await store.put(base + ".mod", mv.gomod)
        await store.put(base + ".zip", mv.zip_bytes())
        await store.put(base + ".ziphash", h1.encode())
        listed = "h1:" + "B" * 43 + "=" if lie else h1
        log.append(gosum_record(path, "v1.0.0", listed, gomod_hash(mv.gomod)))
    verifier = SumdbVerifier(make_db(FakeDB(log)))
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN)
    app, _ = make_full_app(
        tmp_path, FakeSource(), store=store, verifier=verifier, admin_token_file=str(token_file)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        everything = json.loads((await client.post("/admin/verify", headers=_auth())).text)
        one = json.loads(
            (
                await client.post(
                    "/admin/verify", params={"module": "example.com/good"}, headers=_auth()
                )
            ).text
        )
    await verifier.aclose()
    assert everything["checked"] == 4
    (problem,) = everything["problems"]
    assert "example.com/bad@v1.0.0" in problem
    assert "checksum mismatch" in problem
    assert one == {"checked": 2, "problems": []}


async def test_purge_clears_a_remembered_refusal(
    setup: tuple[httpx.AsyncClient, object, Path, FakeSource],
) -> None:
    """A checksum refusal stays until purge; then the version is fetched and checked again."""
    from gomodproxy.checksumdb.verify import ChecksumMismatch
    from gomodproxy.service.proxy import NoVerifier
    from gomodproxy.service.refusals import refusal_key

    client, app, _, source = setup

    class Mismatch(NoVerifier):
        async def verify_zip(self, path: str, version: str, h1: str) -> None:
            raise ChecksumMismatch("checksum mismatch", downloaded=h1, expected="h1:x=")

    service = app.service  # type: ignore[attr-defined]
    service.verifier = Mismatch()
    zip_url = "/example.com/!m/@v/v1.0.0.zip"
    async with client:
        first = await client.get(zip_url)
        again = await client.get(zip_url)
        assert (first.status_code, again.status_code) == (403, 403)
        assert "refused since" in again.text
        assert source.calls[("zip", MOD, "v1.0.0")] == 1
        r = await client.post(
            "/admin/purge", params={"module": MOD, "version": "v1.0.0"}, headers=_auth()
        )
        assert json.loads(r.text)["deleted"] == [refusal_key("zip", MOD, "v1.0.0")]
        service.verifier = NoVerifier()
        assert (await client.get(zip_url)).status_code == 200
        assert source.calls[("zip", MOD, "v1.0.0")] == 2
