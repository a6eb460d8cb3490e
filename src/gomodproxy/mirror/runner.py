"""Fetch a plan through the proxy's own service: verified, stored, resumable, idempotent.

Theory of operation
-------------------
Every artifact goes through ``ProxyService.immutable``, the path a client's request takes:
storage first, else one single-flight fetch from the configured sources, validated, hashed
and checked against the checksum database before it is stored. So a mirror run that was
killed resumes by simply running again: what was stored is a storage hit (nothing fetched
twice), what was in flight is fetched again, and a second run over the same sources fetches
nothing.

Jobs run with bounded concurrency. go.sum targets are known up front; a module graph grows
as go.mod files arrive (``ModuleGraph.provide``), and once the walk is complete the zips of
the selected versions follow. Each finished or failed job is reported to a ``Progress``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Protocol

from gomodproxy.errors import GoModProxyError, InvalidInput, UpstreamError, VerificationError
from gomodproxy.gomod import dirhash, module, semver
from gomodproxy.gomod.modfile import parse_gomod
from gomodproxy.gomod.modgraph import ModuleGraph
from gomodproxy.gomod.module import ModuleVersion
from gomodproxy.mirror.plan import Plan
from gomodproxy.ports.keys import ziphash_key
from gomodproxy.service.proxy import ProxyService, Trace

__all__ = ["Failure", "MirrorReport", "Progress", "mirror", "resolve"]


@dataclass(frozen=True)
class Failure:
    path: str
    version: str
    error: str


@dataclass
class MirrorReport:
    done: int = 0
    fetched: int = 0
    stored: int = 0
    bytes: int = 0
    fetched_bytes: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, object]:
        return {
            "Done": self.done,
            "Fetched": self.fetched,
            "AlreadyStored": self.stored,
            "Bytes": self.bytes,
            "FetchedBytes": self.fetched_bytes,
            "Seconds": round(self.seconds, 3),
            "Failures": [
                {"Path": f.path, "Version": f.version, "Error": f.error} for f in self.failures
            ],
        }


class Progress(Protocol):
    """Receives what the run does (the terminal display, plain lines or JSON)."""

    def total(self, n: int) -> None: ...

    def finished(
        self, mv: ModuleVersion, size: int, fetched: bool, report: MirrorReport
    ) -> None: ...

    def failed(self, failure: Failure, report: MirrorReport) -> None: ...


async def resolve(service: ProxyService, path: str, query: str) -> str:
    """The canonical version a query names: itself; for ``latest`` as cmd/go/internal/modload
    queries it, the highest release that is not retracted, else the highest such pre-release,
    else ``@latest`` (retractions read from the go.mod of the highest listed version); other
    queries via .info."""
    if semver.is_valid(query) and module.canonical_version(query) == query:
        try:
            module.check(path, query)
        except GoModProxyError:
            pass
        else:
            return query
    if query == "latest":
        listing = await service.list(path, Trace())
        versions = [
            line.split()[0]
            for line in (listing.data or b"").decode().splitlines()
            if line.split() and semver.is_valid(line.split()[0])
        ]
        releases = [v for v in versions if not semver.prerelease(v)]
        pre = [v for v in versions if semver.prerelease(v)]
        if versions:
            retracted = await _retractions(service, path, max(releases or pre, key=_semver))
            for pool in (releases, pre):
                allowed = [v for v in pool if not retracted(v)]
                if allowed:
                    return max(allowed, key=_semver)
        art = await service.latest(path, Trace())
    else:
        art = await service.query(path, query, Trace())
    version = json.loads(art.data or b"{}").get("Version", "")
    if not isinstance(version, str) or not version:
        raise UpstreamError(f"{path}@{query}: no version in the answer")
    return version


_semver = cmp_to_key(semver.compare)


async def _retractions(service: ProxyService, path: str, top: str) -> Callable[[str], bool]:
    """Whether a version is retracted by the go.mod of ``top`` (lax parse, as the go command)."""
    mod = await service.immutable("mod", path, top, Trace())
    try:
        intervals = parse_gomod(mod.data or b"").retract
    except InvalidInput:
        intervals = ()

    def retracted(v: str) -> bool:
        return any(semver.compare(r.low, v) <= 0 <= semver.compare(r.high, v) for r in intervals)

    return retracted


class _Run:
    def __init__(
        self, service: ProxyService, progress: Progress, concurrency: int, report: MirrorReport
    ) -> None:
        self.service = service
        self.progress = progress
        self.sem = asyncio.Semaphore(max(1, concurrency))
        self.report = report
        self.known = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.seen: set[tuple[ModuleVersion, frozenset[str]]] = set()

    def spawn(self, mv: ModuleVersion, kinds: tuple[str, ...], sums: dict[str, str]) -> None:
        tag = (mv, frozenset(kinds))
        if tag in self.seen:
            return
        self.seen.add(tag)
        self.known += 1
        self.progress.total(self.known)
        task = asyncio.create_task(self.job(mv, kinds, sums))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    async def fetch(self, mv: ModuleVersion, kinds: tuple[str, ...], sums: dict[str, str]) -> bytes:
        """Fetch the kinds of one version at once; return its go.mod. Raises on any failure."""
        traces = [Trace() for _ in kinds]
        arts = await asyncio.gather(
            *(
                self.service.immutable(k, mv.path, mv.version, t)
                for k, t in zip(kinds, traces, strict=True)
            )
        )
        size = sum(max(a.size, 0) for a in arts)
        fetched = any(t.cache == "miss" for t in traces)
        gomod = b""
        for kind, art in zip(kinds, arts, strict=True):
            if kind == "mod":
                gomod = art.data or b""
                want = sums.get("mod")
                got = dirhash.gomod_hash(gomod)
                if want and got != want:
                    raise _mismatch(mv, "go.mod", got, want)
            elif kind == "zip" and sums.get("zip"):
                stored = await self.service.store.get(ziphash_key(art.key))
                got = (stored or b"").decode("ascii", "replace").strip()
                if got != sums["zip"]:
                    raise _mismatch(mv, "zip", got, sums["zip"])
        r = self.report
        r.done += 1
        r.bytes += size
        if fetched:
            r.fetched += 1
            r.fetched_bytes += size
        else:
            r.stored += 1
        self.progress.finished(mv, size, fetched, r)
        return gomod

    async def job(self, mv: ModuleVersion, kinds: tuple[str, ...], sums: dict[str, str]) -> None:
        async with self.sem:
            try:
                await self.fetch(mv, kinds, sums)
            except GoModProxyError as exc:
                self.fail(mv, str(exc))

    def fail(self, mv: ModuleVersion, error: str) -> None:
        failure = Failure(mv.path, mv.version, error)
        self.report.failures.append(failure)
        self.progress.failed(failure, self.report)


def _mismatch(mv: ModuleVersion, what: str, got: str, want: str) -> VerificationError:
    return VerificationError(
        f"{mv.path}@{mv.version}: {what} hash {got} differs from the go.sum line {want}"
    )


async def _walk(run: _Run, graph: ModuleGraph) -> None:
    """Fetch go.mod files as the graph asks for them, then the zips of the build list."""
    pending: dict[asyncio.Task[bytes], ModuleVersion] = {}

    async def one(mv: ModuleVersion) -> bytes:
        async with run.sem:
            return await run.fetch(mv, ("info", "mod"), {})

    def ask() -> None:
        for mv in graph.pending():
            run.known += 1
            run.progress.total(run.known)
            pending[asyncio.create_task(one(mv))] = mv

    ask()
    while pending:
        done, _ = await asyncio.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            mv = pending.pop(task)
            try:
                graph.provide(mv, task.result())
            except GoModProxyError as exc:
                run.fail(mv, str(exc))
        ask()
    for selected in graph.build_list():
        target = graph.resolve(selected)
        if target is not None:
            run.spawn(target, ("zip",), {})


async def mirror(
    service: ProxyService,
    plan: Plan,
    progress: Progress,
    *,
    concurrency: int = 8,
) -> MirrorReport:
    """Fetch everything ``plan`` names into the service's storage."""
    report = MirrorReport()
    start = time.perf_counter()
    run = _Run(service, progress, concurrency, report)
    for mv, sums in sorted(plan.sums.items()):
        kinds = ("info", "mod", "zip") if "zip" in sums else ("info", "mod")
        run.spawn(mv, kinds, sums)
    roots = list(plan.roots)
    for path, query in plan.queries:
        try:
            roots.append(ModuleVersion(path, await resolve(service, path, query)))
        except GoModProxyError as exc:
            run.fail(ModuleVersion(path, query), str(exc))
    if roots:
        graph = ModuleGraph.from_replaces(roots, plan.replaces)
        await _walk(run, graph)
    await run.drain()
    report.seconds = time.perf_counter() - start
    return report
