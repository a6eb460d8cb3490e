"""The upstream GOPROXY client over httpx.MockTransport, and the file:// source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gomodproxy.errors import InvalidInput, NotFound, UpstreamError, UpstreamTimeout
from gomodproxy.sources.proxy import FileProxySource, HTTPProxySource, open_proxy
from tests.e2e.fixtures import UpstreamServer

Handler = Callable[[httpx.Request], httpx.Response]


def source(
    handler: Handler, base: str = "https://proxy.test/base", **kw: object
) -> HTTPProxySource:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)
    return HTTPProxySource(base, client=client, **kw)  # type: ignore[arg-type]


class TestHTTPProxySource:
    async def test_escaped_and_percent_encoded_on_the_wire(self) -> None:
        """Upper case becomes !x, and ! is sent as %21, as the go command sends it."""
        seen: list[str] = []

        def handler(req: httpx.Request) -> httpx.Response:
            seen.append(req.url.raw_path.decode())
            return httpx.Response(200, content=b"module example.com/Azure/x\n")

        src = source(handler)
        await src.mod("example.com/Azure/x", "v1.0.0-RC1+incompatible")
        assert seen == ["/base/example.com/%21azure/x/@v/v1.0.0-%21r%21c1+incompatible.mod"]

    @pytest.mark.parametrize(("status", "gone"), [(404, False), (410, True)])
    async def test_404_410_are_not_found(self, status: int, gone: bool) -> None:
        """404/410 → NotFound carrying the upstream's one-line reason."""
        src = source(lambda r: httpx.Response(status, text="not found: no such module\n"))
        with pytest.raises(NotFound, match="no such module") as err:
            await src.list("example.com/x")
        assert err.value.gone is gone

    async def test_other_statuses_are_upstream_errors(self) -> None:
        """500 → UpstreamError with the status."""
        src = source(lambda r: httpx.Response(500, text="boom"))
        with pytest.raises(UpstreamError, match="status 500") as err:
            await src.info("example.com/x", "v1.0.0")
        assert err.value.status == 500

    async def test_timeout(self) -> None:
        """A transport timeout is UpstreamTimeout (a TimeoutError)."""

        def handler(req: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=req)

        with pytest.raises(UpstreamTimeout):
            await source(handler).latest("example.com/x")

    async def test_connection_refused(self) -> None:
        """A transport error is UpstreamError, never an httpx exception."""

        def handler(req: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=req)

        with pytest.raises(UpstreamError, match="ConnectError"):
            await source(handler).list("example.com/x")

    async def test_redirects_followed_up_to_ten(self) -> None:
        """Ten redirects are followed, the eleventh is an error."""

        def handler(n: int) -> Handler:
            def h(req: httpx.Request) -> httpx.Response:
                path = req.url.path
                hop = int(path.rsplit("/", 1)[1]) if path.startswith("/hop/") else 0
                if hop < n:
                    return httpx.Response(
                        302, headers={"Location": f"https://proxy.test/hop/{hop + 1}"}
                    )
                return httpx.Response(200, content=b"v1.0.0\n")

            return h

        assert await source(handler(10)).list("example.com/x") == b"v1.0.0\n"
        with pytest.raises(UpstreamError, match="redirects"):
            await source(handler(11)).list("example.com/x")

    async def test_https_to_http_redirect_refused(self) -> None:
        """A redirect from https to http is refused."""
        src = source(lambda r: httpx.Response(302, headers={"Location": "http://proxy.test/x"}))
        with pytest.raises(UpstreamError, match="https to http"):
            await src.list("example.com/x")

    async def test_netrc_only_over_https_and_same_host(self) -> None:
        """.netrc credentials go to the https host they name, not over http, not elsewhere."""
        auth: dict[str, str | None] = {}

        def handler(req: httpx.Request) -> httpx.Response:
            auth[f"{req.url.scheme}://{req.url.host}"] = req.headers.get("authorization")
            if req.url.host == "proxy.test" and req.url.path.endswith("list"):
                return httpx.Response(302, headers={"Location": "https://other.test/x"})
            return httpx.Response(200, content=b"")

        creds = {"proxy.test": ("me", "secret"), "other.test": ("o", "p")}
        await source(handler, netrc_hosts=creds).list("example.com/x")
        assert auth["https://proxy.test"] is not None
        assert auth["https://other.test"] is None
        await source(handler, base="http://proxy.test", netrc_hosts=creds).latest("example.com/x")
        assert auth["http://proxy.test"] is None

    async def test_http_proxy_and_no_proxy_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """HTTP_PROXY carries the requests; NO_PROXY exempts a host (httpx trust_env)."""
        (tmp_path / "example.com/x/@v").mkdir(parents=True)
        (tmp_path / "example.com/x/@v/list").write_text("v1.0.0\n")
        with UpstreamServer(tmp_path) as forward_proxy:
            monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            src = HTTPProxySource("http://unreachable.invalid", timeout=5)
            assert await src.list("example.com/x") == b"v1.0.0\n"
            await src.aclose()
            assert forward_proxy.count("/example.com/x/@v/list") == 1
            monkeypatch.setenv("NO_PROXY", "unreachable.invalid")
            src = HTTPProxySource("http://unreachable.invalid", timeout=5)
            with pytest.raises(UpstreamError):
                await src.list("example.com/x")
            await src.aclose()
            assert forward_proxy.count("/example.com/x/@v/list") == 1

    async def test_zip_size_limit_and_truncation(self, tmp_path: Path) -> None:
        """A zip over the limit is refused while streaming; a short body is truncated."""
        big = source(lambda r: httpx.Response(200, content=b"x" * 2000), max_zip_bytes=1000)
        with pytest.raises(UpstreamError, match="limit"):
            await big.zip("example.com/x", "v1.0.0", tmp_path / "a.zip")

        def short(req: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200, headers={"Content-Length": "100"}, stream=httpx.ByteStream(b"x" * 10)
            )

        with pytest.raises(UpstreamError):
            await source(short).zip("example.com/x", "v1.0.0", tmp_path / "b.zip")

    async def test_zip_written_to_dest(self, tmp_path: Path) -> None:
        """The zip bytes land in the destination file."""
        src = source(lambda r: httpx.Response(200, content=b"PK" + b"z" * 3_000_000))
        await src.zip("example.com/x", "v1.0.0", tmp_path / "z.zip")
        assert (tmp_path / "z.zip").stat().st_size == 3_000_002

    async def test_invalid_request_is_invalid_input(self) -> None:
        """A path that cannot be escaped never reaches the network."""
        src = source(lambda r: httpx.Response(200))
        with pytest.raises(InvalidInput):
            await src.list("Not A Path")


class TestFileProxySource:
    async def test_tree(self, tmp_path: Path) -> None:
        """A file:// tree: files are answers, missing files are 404."""
        (tmp_path / "example.com/!x/@v").mkdir(parents=True)
        (tmp_path / "example.com/!x/@v/list").write_text("v1.0.0\n")
        (tmp_path / "example.com/!x/@v/v1.0.0.zip").write_bytes(b"PKzip")
        src = open_proxy(tmp_path.as_uri())
        assert isinstance(src, FileProxySource)
        assert await src.list("example.com/X") == b"v1.0.0\n"
        await src.zip("example.com/X", "v1.0.0", tmp_path / "out.zip")
        assert (tmp_path / "out.zip").read_bytes() == b"PKzip"
        with pytest.raises(NotFound):
            await src.mod("example.com/X", "v1.0.0")
        with pytest.raises(NotFound):
            await src.zip("example.com/Y", "v1.0.0", tmp_path / "none.zip")

    def test_bad_scheme(self) -> None:
        """Only https, http and file are proxies."""
        with pytest.raises(InvalidInput):
            open_proxy("ftp://x.test/")
