"""The OCI backend beyond the shared contract: registry auth (anonymous, basic, the token
flow), chunked uploads resumed after failures, visibility only through manifests, the
manifest layout, digest checks on reads, and a registry that is down."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gomodproxy.errors import StorageError
from gomodproxy.storage import open_store
from gomodproxy.storage.oci import OciStore
from gomodproxy.storage.oci_client import parse_challenge
from tests.conftest import free_port
from tests.e2e.servers import (
    RegistryServer,
    TokenServer,
    htpasswd_config,
    registry_server,
    running,
)

__all__ = ["registry_server"]

MIB = 1024 * 1024


def prefix() -> str:
    return f"unit/t{secrets.token_hex(6)}"


class Flaky(httpx.AsyncBaseTransport):
    """Passes requests to a real transport, failing those ``rule`` picks: ``before``
    sending (connection refused) or ``after`` the registry handled it (answer lost)."""

    def __init__(self, rule: Callable[[httpx.Request], str | None]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rule = rule

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        action = self.rule(request)
        if action == "before":
            raise httpx.ConnectError("injected failure", request=request)
        resp = await self.inner.handle_async_request(request)
        if action == "after":
            await resp.aread()
            await resp.aclose()
            raise httpx.ReadError("injected failure", request=request)
        return resp

    async def aclose(self) -> None:
        await self.inner.aclose()


class TestAuthFlow:
    """RegistryAuth against a scripted registry (httpx.MockTransport)."""

    @staticmethod
    def registry(expected: str, challenge: str, tokens: list[str]) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.host == "auth.test":
                tokens.append(request.headers.get("Authorization", ""))
                assert request.url.params["service"] == "reg"
                assert request.url.params["scope"] == "repository:p/keys:pull"
                return httpx.Response(200, json={"token": "tok", "expires_in": 300})
            if request.headers.get("Authorization") != expected:
                return httpx.Response(401, headers={"WWW-Authenticate": challenge})
            return httpx.Response(404)

        return httpx.MockTransport(handler)

    async def test_bearer_token_flow(self) -> None:
        """A Bearer challenge is answered with a token from the realm, fetched with the
        basic credentials, and reused for the next requests to that repository."""
        tokens: list[str] = []
        challenge = (
            'Bearer realm="https://auth.test/token",service="reg",scope="repository:p/keys:pull"'
        )
        transport = self.registry("Bearer tok", challenge, tokens)
        store = OciStore.from_url(
            "oci://reg.test/p", username="u", password="pw", transport=transport
        )
        assert await store.get("example.com/m/@v/list") is None
        assert await store.get("example.com/n/@v/list") is None
        assert tokens == ["Basic dTpwdw=="]
        await store.aclose()

    async def test_basic_challenge(self) -> None:
        """A Basic challenge is answered with the configured credentials."""
        transport = self.registry("Basic dTpwdw==", 'Basic realm="r"', [])
        store = OciStore.from_url(
            "oci://reg.test/p", username="u", password="pw", transport=transport
        )
        assert await store.get("example.com/m/@v/list") is None
        await store.aclose()

    async def test_static_token(self) -> None:
        """A configured token is sent as a bearer token up front."""
        transport = self.registry("Bearer fixed", 'Basic realm="r"', [])
        store = OciStore.from_url("oci://reg.test/p", token="fixed", transport=transport)
        assert await store.get("example.com/m/@v/list") is None
        await store.aclose()

    async def test_rejected_credentials_are_a_storage_error(self) -> None:
        """Credentials the registry refuses give StorageError, never a foreign exception."""
        transport = self.registry("Basic other", 'Basic realm="r"', [])
        store = OciStore.from_url(
            "oci://reg.test/p", username="u", password="pw", transport=transport
        )
        with pytest.raises(StorageError, match="401"):
            await store.get("example.com/m/@v/list")
        await store.aclose()

    def test_parse_challenge(self) -> None:
        """WWW-Authenticate parameters are read whatever their order."""
        scheme, params = parse_challenge('Bearer service="s",realm="https://a/t",scope="x:y:z"')
        assert scheme == "bearer"
        assert params == {"service": "s", "realm": "https://a/t", "scope": "x:y:z"}

    def test_https_unless_loopback_or_insecure(self) -> None:
        """Plain http only for loopback registries or with insecure = true."""
        urls = {
            "oci://registry.example:5000/p": "https://registry.example:5000",
            "oci://127.0.0.1:5000/p": "http://127.0.0.1:5000",
            "oci://localhost/p": "http://localhost",
            "oci://[::1]:5000/p": "http://[::1]:5000",
        }
        for url, base in urls.items():
            assert OciStore.from_url(url).client.base_url == base
        insecure = OciStore.from_url("oci://registry.example/p", insecure=True)
        assert insecure.client.base_url == "http://registry.example"


class TestIntegrity:
    async def test_wrong_blob_bytes_are_refused(self) -> None:
        """A registry answering with bytes that do not match the digest is a StorageError."""
        good = b'{"Version":"v1.0.0"}'
        digest = "sha256:" + hashlib.sha256(good).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "layers": [
                {
                    "mediaType": "application/vnd.gomodproxy.module.info.v1+json",
                    "digest": digest,
                    "size": len(good),
                }
            ],
        }

        def handler(request: httpx.Request) -> httpx.Response:
            if "/manifests/" in request.url.path:
                return httpx.Response(200, json=manifest)
            return httpx.Response(200, content=b'{"Version":"v6.6.6"}')

        store = OciStore.from_url("oci://127.0.0.1/p", transport=httpx.MockTransport(handler))
        with pytest.raises(StorageError, match="digest"):
            await store.get("example.com/m/@v/v1.0.0.info")
        with pytest.raises(StorageError, match="digest"):
            _ = [c async for c in store.stream("example.com/m/@v/v1.0.0.info")]
        await store.aclose()

    async def test_registry_down_is_a_storage_error(self) -> None:
        """Nothing listening: every operation fails fast as StorageError."""
        store = open_store(f"oci://127.0.0.1:{free_port()}/p", timeout=2.0, degrade=False)
        with pytest.raises(StorageError):
            await store.get("example.com/m/@v/v1.0.0.info")
        with pytest.raises(StorageError):
            await store.put("example.com/m/@v/list", b"v1.0.0\n")
        await store.aclose()


@pytest.mark.e2e
class TestRealRegistry:
    async def test_manifest_layout(self, registry_server: RegistryServer) -> None:
        """One manifest per version: its files as typed layers, the module in the config."""
        p = prefix()
        store = open_store(registry_server.store_url(p), degrade=False)
        base = "example.com/!foo/@v/v2.0.0+incompatible"
        for ext, data in [("zip", b"PK"), ("mod", b"module example.com/Foo\n"), ("info", b"{}")]:
            await store.put(f"{base}.{ext}", data)
        url = f"http://{registry_server.host}/v2/{p}/modules/example.com/x__eftg63y/"
        async with httpx.AsyncClient() as http:
            tags = (await http.get(url + "tags/list")).json()["tags"]
            assert tags == ["v2.0.0_incompatible"]
            resp = await http.get(
                url + "manifests/v2.0.0_incompatible",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
            manifest = resp.json()
            assert [layer["mediaType"] for layer in manifest["layers"]] == [
                "application/vnd.gomodproxy.module.info.v1+json",
                "application/vnd.gomodproxy.module.mod.v1",
                "application/vnd.gomodproxy.module.zip.v1+zip",
            ]
            config = (await http.get(url + "blobs/" + manifest["config"]["digest"])).json()
            assert config == {"path": "example.com/Foo", "version": "v2.0.0+incompatible"}
        assert sorted([k async for k in store.list()]) == [
            f"{base}.info",
            f"{base}.mod",
            f"{base}.zip",
        ]
        await store.aclose()

    async def test_version_invisible_until_manifest_pushed(
        self, registry_server: RegistryServer
    ) -> None:
        """When the manifest push fails, the uploaded blob stays invisible: no key appears."""

        def rule(request: httpx.Request) -> str | None:
            return (
                "before" if request.method == "PUT" and "/manifests/" in request.url.path else None
            )

        store = OciStore.from_url(registry_server.store_url(prefix()), transport=Flaky(rule))
        with pytest.raises(StorageError):
            await store.put("example.com/m/@v/v1.0.0.info", b"{}")
        assert await store.get("example.com/m/@v/v1.0.0.info") is None
        assert [k async for k in store.list()] == []
        await store.aclose()

    @pytest.mark.parametrize(
        ("failure", "patches", "sessions"),
        [
            # The chunk never reached the registry: resumed in the same session.
            ("before", 7, 1),
            # The registry took the chunk but the answer was lost: distribution's upload
            # state token is then stale, so the status query says 404 and a new session
            # starts from 0 (registries without state tokens resume).
            ("after", 8, 2),
        ],
    )
    async def test_chunked_upload_survives_a_failed_chunk(
        self,
        registry_server: RegistryServer,
        tmp_path: Path,
        failure: str,
        patches: int,
        sessions: int,
    ) -> None:
        """A large zip uploads in chunks; a failed chunk is resumed from the offset the
        registry reports, or the session restarted, and the stored bytes are exact."""
        seen = {"PATCH": 0, "POST": 0}

        def rule(request: httpx.Request) -> str | None:
            if request.method in seen:
                seen[request.method] += 1
            return failure if request.method == "PATCH" and seen["PATCH"] == 2 else None

        store = OciStore.from_url(
            registry_server.store_url(prefix()), transport=Flaky(rule), chunk_size=MIB
        )
        data = os.urandom(5 * MIB + 123)
        src = tmp_path / "big.zip"
        src.write_bytes(data)
        await store.put_file("example.com/big/@v/v1.0.0.zip", src)
        assert seen == {"PATCH": patches, "POST": sessions + 1}  # +1: the config blob
        assert await store.get("example.com/big/@v/v1.0.0.zip") == data
        await store.aclose()

    async def test_basic_auth_registry(self, tmp_path: Path) -> None:
        """Against a registry with htpasswd auth, credentials work and their absence fails."""
        server = RegistryServer(tmp_path, htpasswd_config(tmp_path, "ci", "s3cret"))
        with running(server):
            store = open_store(
                server.store_url("auth/basic"), username="ci", password="s3cret", degrade=False
            )
            await store.put("example.com/m/@v/v1.0.0.mod", b"module example.com/m\n")
            assert await store.get("example.com/m/@v/v1.0.0.mod") == b"module example.com/m\n"
            assert [k async for k in store.list()] == ["example.com/m/@v/v1.0.0.mod"]
            await store.aclose()
            anonymous = open_store(server.store_url("auth/basic"), degrade=False)
            with pytest.raises(StorageError, match="401"):
                await anonymous.get("example.com/m/@v/v1.0.0.mod")
            await anonymous.aclose()

    async def test_token_auth_registry(self, tmp_path: Path) -> None:
        """Against a registry using the token flow, the store gets scoped tokens from the
        token service with its basic credentials, and reuses them."""
        with TokenServer(tmp_path, "ci", "s3cret") as tokens:
            server = RegistryServer(tmp_path, tokens.registry_config())
            with running(server):
                url = server.store_url("auth/token")
                store = open_store(url, username="ci", password="s3cret", degrade=False)
                for i in range(5):
                    await store.put(f"example.com/m/@v/v1.0.{i}.info", json.dumps(i).encode())
                assert await store.get("example.com/m/@v/v1.0.3.info") == b"3"
                assert len([k async for k in store.list()]) == 5
                assert tokens.requests <= 8
                await store.aclose()
                wrong = open_store(url, username="ci", password="nope", degrade=False)
                with pytest.raises(StorageError):
                    await wrong.get("example.com/m/@v/v1.0.0.info")
                await wrong.aclose()
