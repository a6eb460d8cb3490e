"""ProxyService: cache tiers, validation before storing, single-flight, TTLs and stale answers."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from gomodproxy.config.settings import load_settings
from gomodproxy.errors import InvalidInput, NotFound, UpstreamError, VerificationError
from gomodproxy.gomod import modfile
from gomodproxy.ports.cache import CacheEntry, etag_of
from gomodproxy.ports.source import SingleSource
from gomodproxy.ports.verifier import NoVerifier
from gomodproxy.service.freshness import FreshnessPolicy
from gomodproxy.service.proxy import ProxyService, ServiceOptions, Trace
from gomodproxy.service.validate import check_mod
from gomodproxy.sources.chain import ChainEntry, ProxyChain
from gomodproxy.sources.router import Router, UnavailableDirect, build_source
from gomodproxy.storage.memory import MemoryStore


def make_zip(path: str, version: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{path}@{version}/{name}", data)
    return buf.getvalue()


class FakeSource(SingleSource):
    """A source answering from a dict; values may be exceptions. Counts calls per artifact."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.answers: dict[tuple[str, str, str], bytes | Exception] = {}
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.delay = 0.0

    def add(
        self,
        path: str,
        version: str,
        *,
        gomod: bytes | None = None,
        time: str = "2023-01-01T00:00:00Z",
    ) -> None:
        gomod = gomod if gomod is not None else f"module {path}\n".encode()
        self.answers[("info", path, version)] = json.dumps(
            {"Version": version, "Time": time}
        ).encode()
        self.answers[("mod", path, version)] = gomod
        self.answers[("zip", path, version)] = make_zip(
            path, version, {"go.mod": gomod, "a.go": b"package a\n"}
        )

    async def _get(self, kind: str, path: str, version: str = "") -> bytes:
        self.calls[(kind, path, version)] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.get((kind, path, version))
        if answer is None:
            raise NotFound(f"not found: {path}@{version} {kind}")
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def list(self, path: str) -> bytes:
        return await self._get("list", path)

    async def latest(self, path: str) -> bytes:
        return await self._get("latest", path)

    async def info(self, path: str, query: str) -> bytes:
        return await self._get("info", path, query)

    async def mod(self, path: str, version: str) -> bytes:
        return await self._get("mod", path, version)

    async def zip(self, path: str, version: str, dest: Path) -> None:
        dest.write_bytes(await self._get("zip", path, version))

    async def aclose(self) -> None:
        return None


class Clock:
    """Wall-clock time that a test can move forward (stored files carry real mtimes)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def source() -> FakeSource:
    s = FakeSource()
    s.add("example.com/m", "v1.0.0")
    s.add("example.com/Up", "v1.0.0-RC1")
    s.answers[("list", "example.com/m", "")] = b"v1.0.0\n"
    s.answers[("latest", "example.com/m", "")] = b'{"Version":"v1.0.0"}'
    return s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(source: FakeSource, clock: Clock, tmp_path: Path) -> ProxyService:
    return ProxyService(
        MemoryStore(),
        source,
        temp_dir=tmp_path / "work",
        options=ServiceOptions(freshness=FreshnessPolicy(list_ttl=60, stale_ttl=3600)),
        clock=clock,
    )


class TestImmutable:
    async def test_fetch_stores_and_serves_from_memory_afterwards(
        self, service: ProxyService, source: FakeSource
    ) -> None:
        """First request fetches and stores; later ones come from memory without the source."""
        t1, t2 = Trace(), Trace()
        art = await service.immutable("zip", "example.com/m", "v1.0.0", t1)
        again = await service.immutable("zip", "example.com/m", "v1.0.0", t2)
        assert (t1.cache, t2.cache, t2.source) == ("miss", "hit", "memory")
        assert again is art
        assert source.calls[("zip", "example.com/m", "v1.0.0")] == 1
        h1 = await service.store.get("example.com/m/@v/v1.0.0.ziphash")
        assert h1 is not None
        assert h1.startswith(b"h1:")
        assert art.etag == '"' + h1.decode() + '"'

    async def test_escaped_keys(self, service: ProxyService) -> None:
        """Upper case in paths and versions is stored under the escaped key."""
        await service.immutable("mod", "example.com/Up", "v1.0.0-RC1", Trace())
        assert (
            await service.store.get("example.com/!up/@v/v1.0.0-!r!c1.mod")
            == b"module example.com/Up\n"
        )

    async def test_concurrent_misses_fetch_once(
        self, service: ProxyService, source: FakeSource
    ) -> None:
        """50 concurrent requests for one missing zip: one upstream call, 50 answers."""
        source.delay = 0.05
        arts = await asyncio.gather(
            *(service.immutable("zip", "example.com/m", "v1.0.0", Trace()) for _ in range(50))
        )
        assert len({a.etag for a in arts}) == 1
        assert source.calls[("zip", "example.com/m", "v1.0.0")] == 1

    @pytest.mark.parametrize(
        ("kind", "bad", "message"),
        [
            ("info", b'{"Version":"v1.0.1"}', "instead of"),
            ("info", b"<html>", "invalid .info"),
            ("info", b'{"Version":"v1.0"}', "not canonical"),
            ("mod", b"<html>login</html>", "no module line"),
            ("mod", b"module example.com/m/v2\n", "declares module"),
            ("mod", b"module example.com/M\n", "the requested path in another case"),
            ("mod", b"module Example.COM/m\n", "the requested path in another case"),
            ("zip", b"not a zip", "zip rejected"),
            (
                "zip",
                make_zip("example.com/other", "v1.0.0", {"go.mod": b"module x\n"}),
                "zip rejected",
            ),
        ],
    )
    async def test_invalid_upstream_answers_are_refused_and_not_stored(
        self, service: ProxyService, source: FakeSource, kind: str, bad: bytes, message: str
    ) -> None:
        """Garbage and mismatched artifacts raise UpstreamError and never reach storage."""
        source.answers[(kind, "example.com/m", "v1.0.0")] = bad
        with pytest.raises(UpstreamError, match=message):
            await service.immutable(kind, "example.com/m", "v1.0.0", Trace())
        assert [k async for k in service.store.list("")] == []

    async def test_fork_go_mod_with_other_path_is_accepted(
        self, service: ProxyService, source: FakeSource
    ) -> None:
        """Like the go command in direct mode, only the major suffix of the module line must fit."""
        source.answers[("mod", "example.com/m", "v1.0.0")] = b"// fork\nmodule github.com/orig/m\n"
        art = await service.immutable("mod", "example.com/m", "v1.0.0", Trace())
        assert art.data == b"// fork\nmodule github.com/orig/m\n"

    async def test_lookups_start_early(self, service: ProxyService, source: FakeSource) -> None:
        """The verifier hears of a version before its go.mod or zip is downloaded (a go.mod's
        requirements are not looked up ahead: measured, that cost more CPU than it saved)."""
        hints: list[tuple[str, str]] = []

        class Recording(NoVerifier):
            def prefetch(self, path: str, version: str) -> None:
                hints.append((path, version))

        source.answers[("mod", "example.com/m", "v1.0.0")] = (
            b"module example.com/m\n\nrequire (\n\texample.com/a v1.2.0\n"
            b"\texample.com/b v0.1.0 // indirect\n)\n"
        )
        service.verifier = Recording()
        await service.immutable("mod", "example.com/m", "v1.0.0", Trace())
        await service.immutable("zip", "example.com/m", "v1.0.0", Trace())
        await service.immutable("info", "example.com/m", "v1.0.0", Trace())
        assert hints == [("example.com/m", "v1.0.0"), ("example.com/m", "v1.0.0")]

    async def test_verifier_runs_before_storing(self, service: ProxyService) -> None:
        """A verifier refusal keeps the artifact out of storage."""

        class Refuse(NoVerifier):
            async def verify_mod(self, path: str, version: str, data: bytes) -> None:
                raise VerificationError("mod mismatch")

            async def verify_zip(self, path: str, version: str, h1: str) -> None:
                raise VerificationError(f"zip mismatch {h1}")

        service.verifier = Refuse()
        for kind in ("mod", "zip"):
            with pytest.raises(VerificationError):
                await service.immutable(kind, "example.com/m", "v1.0.0", Trace())
        # Only the remembered refusals (gomodproxy.service.refusals) are stored.
        assert [k async for k in service.store.list("")] == [
            "_meta/refused/example.com/m/@v/v1.0.0.mod",
            "_meta/refused/example.com/m/@v/v1.0.0.zip",
        ]

    async def test_large_zip_streams_from_storage(self, source: FakeSource, tmp_path: Path) -> None:
        """A zip larger than the hot-cache item limit is not held in memory."""
        svc = ProxyService(
            MemoryStore(),
            source,
            temp_dir=tmp_path,
            options=ServiceOptions(hot_cache_item_bytes=10),
        )
        art = await svc.immutable("zip", "example.com/m", "v1.0.0", Trace())
        assert art.data is None
        assert art.store is svc.store
        assert len(svc.hot) == 0
        await svc.aclose()
        assert not any(tmp_path.iterdir())


class TestMutable:
    async def test_list_ttl_and_stale_while_revalidate(
        self, service: ProxyService, source: FakeSource, clock: Clock
    ) -> None:
        """Fresh: cached; stale: served at once and refreshed once in the background."""
        key = ("list", "example.com/m", "")
        assert (await service.list("example.com/m", Trace())).data == b"v1.0.0\n"
        assert (await service.list("example.com/m", Trace())).data == b"v1.0.0\n"
        assert source.calls[key] == 1
        source.answers[key] = b"v1.0.0\nv1.1.0\n"
        clock.now += 120
        trace = Trace()
        assert (await service.list("example.com/m", trace)).data == b"v1.0.0\n"
        assert trace.cache == "stale"
        await asyncio.gather(*service._background)
        assert source.calls[key] == 2
        assert (await service.list("example.com/m", Trace())).data == b"v1.0.0\nv1.1.0\n"

    async def test_large_list_etag_follows_its_value(
        self,
        service: ProxyService,
        source: FakeSource,
        clock: Clock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A large list is hashed once per cached value, and its ETag changes with it."""
        key = ("list", "example.com/m", "")
        big = "".join(f"v1.0.{i}\n" for i in range(20_000)).encode()  # about 190 KB
        source.answers[key] = big
        first = await service.list("example.com/m", Trace())
        hashed: list[int] = []

        def counting(data: bytes) -> str:
            hashed.append(len(data))
            return etag_of(data)

        monkeypatch.setattr("gomodproxy.ports.cache.etag_of", counting)
        hits = [await service.list("example.com/m", Trace()) for _ in range(3)]
        assert {first.etag, *(h.etag for h in hits)} == {etag_of(big)}
        assert len(hashed) <= 1  # once for the cached entry, not once per hit
        bigger = big + b"v1.1.0\n"
        source.answers[key] = bigger
        clock.now += 120
        await service.list("example.com/m", Trace())  # stale: refreshed in the background
        await asyncio.gather(*service._background)
        after = await service.list("example.com/m", Trace())
        assert after.data == bigger
        assert after.etag == etag_of(bigger) != first.etag

    def test_an_entry_hashes_its_value_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        hashed: list[bytes] = []

        def counting(data: bytes) -> str:
            hashed.append(data)
            return etag_of(data)

        monkeypatch.setattr("gomodproxy.ports.cache.etag_of", counting)
        entry, again = CacheEntry(b"v1.0.0\n", 1.0), CacheEntry(b"v1.1.0\n", 2.0)
        assert entry.etag == entry.etag == etag_of(b"v1.0.0\n")
        assert again.etag == etag_of(b"v1.1.0\n") != entry.etag  # stored again: hashed anew
        assert hashed == [b"v1.0.0\n", b"v1.1.0\n"]

    async def test_too_old_copy_is_not_served_on_error(
        self, service: ProxyService, source: FakeSource, clock: Clock, tmp_path: Path
    ) -> None:
        """A stored list older than stale_ttl is not served when the upstream fails."""
        await service.list("example.com/m", Trace())
        fresh = ProxyService(
            service.store,
            source,
            temp_dir=tmp_path / "w2",
            clock=clock,
            options=ServiceOptions(freshness=FreshnessPolicy(list_ttl=60, stale_ttl=3600)),
        )
        source.answers[("list", "example.com/m", "")] = UpstreamError("down")
        clock.now += 10_000_000  # older than stale_ttl: the error shows
        with pytest.raises(UpstreamError):
            await fresh.list("example.com/m", Trace())

    async def test_stale_if_error_within_stale_ttl(
        self, service: ProxyService, source: FakeSource, clock: Clock
    ) -> None:
        """An upstream failure after the TTL serves the previous answer instead of failing."""
        await service.latest("example.com/m", Trace())
        source.answers[("latest", "example.com/m", "")] = UpstreamError("down")
        await service.meta.aclose()  # forget the memory copy: the stored one must do
        clock.now += 120
        trace = Trace()
        art = await service.latest("example.com/m", trace)
        assert art.data == b'{"Version":"v1.0.0"}'
        assert trace.cache in ("stale", "stale-if-error")

    async def test_not_found_is_cached_for_the_ttl(
        self, service: ProxyService, source: FakeSource, clock: Clock
    ) -> None:
        """The go command probes path prefixes: 404s are remembered for list_ttl."""
        for _ in range(3):
            with pytest.raises(NotFound):
                await service.list("example.com/none", Trace())
        assert source.calls[("list", "example.com/none", "")] == 1
        clock.now += 61
        with pytest.raises(NotFound):
            await service.list("example.com/none", Trace())
        assert source.calls[("list", "example.com/none", "")] == 2

    async def test_invalid_list_is_refused(self, service: ProxyService, source: FakeSource) -> None:
        """A list with a line that is not a version is garbage."""
        source.answers[("list", "example.com/m", "")] = b"<html>\n"
        with pytest.raises(UpstreamError, match="invalid @v/list"):
            await service.list("example.com/m", Trace())

    async def test_query_keeps_resolved_info(
        self, service: ProxyService, source: FakeSource
    ) -> None:
        """A branch query answers the resolved .info and stores it as immutable."""
        source.answers[("info", "example.com/m", "main")] = source.answers[
            ("info", "example.com/m", "v1.0.0")
        ]
        art = await service.query("example.com/m", "main", Trace())
        assert json.loads(art.data or b"")["Version"] == "v1.0.0"
        assert not art.immutable
        assert await service.store.get("example.com/m/@v/v1.0.0.info") == art.data


class TestChain:
    @staticmethod
    def chain(*entries: tuple[FakeSource | None, bool]) -> ProxyChain:
        return ProxyChain([ChainEntry(s, fb) for s, fb in entries])

    async def test_comma_falls_through_on_not_found_only(self) -> None:
        """After ',' a 404 goes on, an error stops; after '|' any error goes on."""
        empty, down, good = FakeSource("empty"), FakeSource("down"), FakeSource("good")
        good.answers[("list", "m.test/x", "")] = b"v1.0.0\n"
        down.answers[("list", "m.test/x", "")] = UpstreamError("500")
        assert await self.chain((empty, False), (good, False)).list("m.test/x") == b"v1.0.0\n"
        with pytest.raises(UpstreamError):
            await self.chain((down, False), (good, False)).list("m.test/x")
        assert await self.chain((down, True), (good, False)).list("m.test/x") == b"v1.0.0\n"

    async def test_error_priority_and_off(self) -> None:
        """A proxy error is reported over a later not-found; 'off' is a not-found."""
        down, empty = FakeSource("down"), FakeSource("empty")
        down.answers[("list", "m.test/x", "")] = UpstreamError("boom")
        with pytest.raises(UpstreamError, match="boom"):
            await self.chain((down, True), (empty, False)).list("m.test/x")
        with pytest.raises(NotFound, match="GOPROXY=off"):
            await self.chain((None, False)).list("m.test/x")


@pytest.mark.parametrize(
    "gomod",
    [
        b"module example.com/m\n",
        b'// c\nmodule "example.com/m" // x\n',
        # A Go string escape: modfile.ModulePath unquotes it, as the go command does.
        b'module "ex\\x61mple.com/m"\n',
        b"module `example.com/m`\n",
        b"go 1.20\r\nmodule\texample.com/m\r\n",
        # ModulePath reads "(" from the block form; the major-version rule lets it through.
        b"module (\n\texample.com/m\n)\n",
    ],
)
def test_check_mod_accepts_the_module_line(gomod: bytes) -> None:
    """The module directive is read as the go command reads it (``modfile.ModulePath``)."""
    check_mod(gomod, "example.com/m", "v1.0.0")


@pytest.mark.parametrize(
    ("gomod", "error"),
    [
        (b"go 1.20\n", "no module line"),
        (b"\xff\xfe", "no module line"),
        (b'module "example.com/m\n', "no module line"),  # unterminated string
        (b"module example.com/M\n", "in another case"),
        (b"module example.com/m/v2\n", "declares module 'example.com/m/v2'"),
    ],
)
def test_check_mod_refuses(gomod: bytes, error: str) -> None:
    with pytest.raises(UpstreamError, match=re.escape(error)):
        check_mod(gomod, "example.com/m", "v1.0.0")


def test_check_mod_agrees_with_module_path_on_escapes() -> None:
    """``module "ex\\x61mple.com/m"`` declares example.com/m: the private line parser that
    read it as no module at all is gone, the validator uses the oracle-tested one."""
    gomod = b'module "ex\\x61mple.com/m"\n'
    assert modfile.module_path(gomod) == "example.com/m"
    check_mod(gomod, "example.com/m", "v1.0.0")
    with pytest.raises(UpstreamError, match=re.escape("declares module 'example.com/m'")):
        check_mod(gomod, "example.com/m/v2", "v2.0.0")


def test_invalid_input_is_value_error() -> None:
    """InvalidInput keeps `except ValueError` working for generic callers."""
    assert issubclass(InvalidInput, ValueError)


class TestRouter:
    async def test_gonoproxy_goes_direct(self) -> None:
        """Paths matching GONOPROXY go to the direct source, the others to the chain."""
        chain, direct = FakeSource("proxy:up"), FakeSource("direct")
        chain.answers[("list", "public.test/x", "")] = b"v1.0.0\n"
        direct.answers[("list", "git.corp/x", "")] = b"v2.0.0\n"
        router = Router(chain, direct, "*.corp,private.test")
        assert await router.list("public.test/x") == b"v1.0.0\n"
        assert await router.list("git.corp/x") == b"v2.0.0\n"
        assert (router.label("git.corp/x"), router.label("public.test/x")) == ("direct", "proxy:up")

    async def test_build_source_from_settings(self, tmp_path: Path) -> None:
        """GOPROXY entries become sources; without direct mode a private path is a clear 404."""
        settings = load_settings(
            env={}, flags={"goproxy": f"{tmp_path.as_uri()}|off", "goprivate": ""}, ask_go=False
        )
        router = build_source(settings.upstream)
        assert router.name == "file,off"
        with pytest.raises(NotFound, match="GOPROXY=off"):
            await router.list("example.com/m")
        await router.aclose()
        unavailable = UnavailableDirect()
        with pytest.raises(NotFound, match="direct mode not available"):
            await unavailable.list("git.corp/x")


class TestRefusalMemory:
    async def test_mismatch_is_remembered_with_both_hashes_until_cleared(
        self, service: ProxyService, source: FakeSource
    ) -> None:
        """A checksum mismatch is refused again from storage, without another fetch; once
        the record is deleted (admin purge), the artifact is fetched and verified again."""
        from gomodproxy.checksumdb.verify import ChecksumMismatch
        from gomodproxy.service.refusals import Refused, refusal_key

        class Mismatch(NoVerifier):
            calls = 0

            async def verify_zip(self, path: str, version: str, h1: str) -> None:
                Mismatch.calls += 1
                raise ChecksumMismatch(
                    f"{path}@{version}: checksum mismatch downloaded: {h1} db: h1:other=",
                    downloaded=h1,
                    expected="h1:other=",
                )

        service.verifier = Mismatch()
        with pytest.raises(ChecksumMismatch):
            await service.immutable("zip", "example.com/m", "v1.0.0", Trace())
        for live in (False, True):
            with pytest.raises(Refused) as info:
                await service.immutable("zip", "example.com/m", "v1.0.0", Trace(), live=live)
            assert "checksum mismatch" in str(info.value)
            assert "h1:other=" in str(info.value)
            assert "refused since" in str(info.value)
        assert source.calls[("zip", "example.com/m", "v1.0.0")] == 1
        assert Mismatch.calls == 1
        key = refusal_key("zip", "example.com/m", "v1.0.0")
        record = json.loads(await service.store.get(key) or b"")
        assert record["expected"] == "h1:other="
        assert record["downloaded"].startswith("h1:")
        assert [k async for k in service.store.list("example.com")] == []
        assert await service.store.delete(key)
        with pytest.raises(ChecksumMismatch):
            await service.immutable("zip", "example.com/m", "v1.0.0", Trace())
        assert source.calls[("zip", "example.com/m", "v1.0.0")] == 2
