"""Cold zips streamed while they are fetched (gomodproxy.service.livezip through ProxyService): the
first bytes go out before the download ends, the tail only once the checksum database
agreed; a failure ends the stream without the tail and stores nothing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gomodproxy.errors import NotFound, UpstreamError, VerificationError
from gomodproxy.ports.source import SingleSource
from gomodproxy.ports.verifier import NoVerifier
from gomodproxy.service.livezip import HOLD
from gomodproxy.service.proxy import Artifact, ProxyService, ServiceOptions, Trace
from gomodproxy.storage.memory import MemoryStore
from tests.e2e.fixtures import ModuleVersion

PATH, VERSION = "example.com/big", "v1.0.0"
KEY = "example.com/big/@v/v1.0.0.zip"


def module_zip(size: int) -> bytes:
    noise = random.Random(size).randbytes(size)  # incompressible: the zip is about this big
    return ModuleVersion(PATH, VERSION, {"blob.bin": noise}).zip_bytes()


class SlowSource(SingleSource):
    """Writes the zip in two parts; the second waits for ``rest``."""

    name = "slow"

    def __init__(self, data: bytes, first: int) -> None:
        self.data, self.first = data, first
        self.rest = asyncio.Event()
        self.missing = False
        self.restart = False
        self.replace = asyncio.Event()

    async def zip(self, path: str, version: str, dest: Path) -> None:
        if self.missing:
            raise NotFound("not found: upstream says no")
        if self.restart:
            # As a chain does when an entry fails: the file is replaced, then rewritten.
            with dest.open("wb") as f:
                f.write(self.data[: self.first])
            await self.replace.wait()
            dest.unlink()
        with dest.open("wb") as f:
            f.write(self.data[: self.first])
            f.flush()
            await self.rest.wait()
            f.write(self.data[self.first :])

    async def aclose(self) -> None:
        return None


class GatedVerifier(NoVerifier):
    """Verification waits for ``go``; then passes, or fails if ``fail`` is set."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.fail = False
        self.calls = 0

    async def verify_mod(self, path: str, version: str, data: bytes) -> None:
        return None

    async def verify_zip(self, path: str, version: str, h1: str) -> None:
        self.calls += 1
        await self.go.wait()
        if self.fail:
            raise VerificationError(f"{path}@{version}: checksum mismatch")


async def consume(art: Artifact, got: list[bytes]) -> None:
    assert art.store is not None
    async for chunk in art.store.stream(art.key, 0, art.size):
        got.append(chunk)


async def settle() -> None:
    await asyncio.sleep(0.15)


async def until(cond: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for ``cond`` (tests run on loaded machines: no fixed sleeps for progress)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def size(got: list[bytes]) -> int:
    return sum(len(c) for c in got)


@pytest.fixture
def world(tmp_path: Path) -> tuple[ProxyService, SlowSource, GatedVerifier, bytes]:
    data = module_zip(400_000)
    source = SlowSource(data, first=250_000)
    verifier = GatedVerifier()
    svc = ProxyService(
        MemoryStore(),
        source,  # type: ignore[arg-type]
        verifier=verifier,
        temp_dir=tmp_path,
        options=ServiceOptions(hot_cache_item_bytes=1),
    )
    return svc, source, verifier, data


class TestLiveZip:
    async def test_first_bytes_before_the_download_ends_tail_after_verification(
        self, world: tuple[ProxyService, SlowSource, GatedVerifier, bytes]
    ) -> None:
        """A client gets the bytes as they land, minus HOLD; the tail once verified."""
        svc, source, verifier, data = world
        art = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        assert art.size == -1
        got: list[bytes] = []
        reader = asyncio.create_task(consume(art, got))
        await until(lambda: size(got) == source.first - HOLD)
        source.rest.set()
        await until(lambda: verifier.calls == 1 and size(got) == len(data) - HOLD)
        await settle()
        assert size(got) == len(data) - HOLD  # all but the tail, until verified
        assert await svc.store.get(KEY) is None
        verifier.go.set()
        await asyncio.wait_for(reader, 5)
        assert b"".join(got) == data
        assert await svc.store.get(KEY) == data
        stored = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        assert stored.size == len(data)
        await svc.aclose()

    async def test_a_refused_zip_never_completes_and_is_not_stored(
        self, world: tuple[ProxyService, SlowSource, GatedVerifier, bytes]
    ) -> None:
        """When verification fails the stream raises before the tail; nothing is stored."""
        svc, source, verifier, data = world
        verifier.fail = True
        art = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        got: list[bytes] = []
        second: list[bytes] = []
        readers = [
            asyncio.create_task(consume(art, got)),
            asyncio.create_task(consume(art, second)),
        ]
        source.rest.set()
        await until(lambda: size(got) == size(second) == len(data) - HOLD)
        verifier.go.set()
        for r in readers:
            with pytest.raises(VerificationError, match="checksum mismatch"):
                await asyncio.wait_for(r, 5)
        assert len(b"".join(got)) == len(data) - HOLD
        assert b"".join(second) == b"".join(got)
        assert await svc.store.get(KEY) is None
        await svc.aclose()

    async def test_small_zips_and_early_errors_answer_as_before(self, tmp_path: Path) -> None:
        """A zip no bigger than HOLD is served whole once stored; a source error before any
        byte is raised (a proper status), not streamed."""
        data = module_zip(1000)
        source = SlowSource(data, first=len(data))
        source.rest.set()
        verifier = GatedVerifier()
        verifier.go.set()
        svc = ProxyService(MemoryStore(), source, verifier=verifier, temp_dir=tmp_path)  # type: ignore[arg-type]
        art = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        assert art.size == len(data)
        source.missing = True
        with pytest.raises(NotFound):
            await svc.immutable("zip", "example.com/other", VERSION, Trace(), live=True)
        await svc.aclose()

    async def test_without_live_the_caller_gets_the_stored_zip(
        self, world: tuple[ProxyService, SlowSource, GatedVerifier, bytes]
    ) -> None:
        """Callers that need the whole artifact (mod download, the private database) wait."""
        svc, source, verifier, data = world
        source.rest.set()
        verifier.go.set()
        art = await svc.immutable("zip", PATH, VERSION, Trace())
        assert art.size == len(data)
        await svc.aclose()

    async def test_a_download_that_starts_over_fails_readers_that_had_bytes(
        self, world: tuple[ProxyService, SlowSource, GatedVerifier, bytes]
    ) -> None:
        """Bytes of two attempts are never spliced: a reader of the first attempt fails; the
        zip itself is still fetched, verified and stored."""
        svc, source, verifier, data = world
        source.restart = True
        art = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        got: list[bytes] = []
        reader = asyncio.create_task(consume(art, got))
        await until(lambda: size(got) > 0)
        source.replace.set()
        # The second attempt stays unfinished until the reader failed: this is the reader
        # seeing the new file while it polls (the next test: only after the fetch is over).
        with pytest.raises(UpstreamError, match="started over"):
            await asyncio.wait_for(reader, 10)
        source.rest.set()
        verifier.go.set()
        stored = await svc.immutable("zip", PATH, VERSION, Trace())  # joins the fetch
        assert stored.size == len(data)
        assert await svc.store.get(KEY) == data
        await svc.aclose()

    async def test_a_reader_that_looks_again_only_after_the_restarted_download_was_stored_fails(
        self, world: tuple[ProxyService, SlowSource, GatedVerifier, bytes]
    ) -> None:
        """The restart is noticed even when the reader does not look at the download while
        the second attempt is in it: the second attempt lands, is verified and stored before
        the reader asks for more, and it still gets no bytes of it after those of the first."""
        svc, source, verifier, data = world
        source.restart = True
        art = await svc.immutable("zip", PATH, VERSION, Trace(), live=True)
        assert art.store is not None
        chunks = art.store.stream(art.key, 0, art.size)
        first = await anext(chunks)  # the reader holds bytes of the first attempt, then pauses
        assert first == data[: len(first)]
        source.replace.set()
        source.rest.set()
        verifier.go.set()
        stored = await svc.immutable("zip", PATH, VERSION, Trace())  # joins the fetch
        assert stored.size == len(data)
        assert await svc.store.get(KEY) == data
        with pytest.raises(UpstreamError, match="started over"):
            await anext(chunks)
        await svc.aclose()
