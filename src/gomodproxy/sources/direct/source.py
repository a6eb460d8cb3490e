"""DirectSource: module versions built straight from version control, as ``GOPROXY=direct``."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from gomodproxy.config.origins import OriginOverride, parse_origin
from gomodproxy.config.settings import UpstreamSettings
from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.gomod import module as gomodule
from gomodproxy.gomod.coderepo import Layout, ModuleVersionError, RevInfo, info_json
from gomodproxy.ports.source import SingleSource, Source
from gomodproxy.sources.direct.coderepo import CodeRepo
from gomodproxy.sources.direct.discovery import Discovery, RepoRoot
from gomodproxy.sources.direct.git import Git, GitRepo
from gomodproxy.sources.netguard import NetGuard

__all__ = ["DirectSource", "default_cache_dir", "from_settings"]

_ROOT_TTL = 600.0
_T = TypeVar("_T")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/gomodproxy/vcs`` (``~/.cache/gomodproxy/vcs``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "gomodproxy" / "vcs"


class DirectSource(SingleSource):
    """A :class:`~gomodproxy.ports.source.Source` reading git repositories directly."""

    name = "direct"

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        origins: Iterable[OriginOverride] = (),
        goinsecure: str = "",
        govcs: str = "",
        goprivate: str = "",
        git_env: Mapping[str, str] | None = None,
        max_git_processes: int = 16,
        git_timeout: float = 120.0,
        fetch_timeout: float = 900.0,
        refs_ttl: float = 5.0,
        discovery: Discovery | None = None,
        netguard: NetGuard | None = None,
    ) -> None:
        # One address policy for go-get, git and meta-tag GOPROXY servers (security.netguard).
        self.netguard = netguard if netguard is not None else NetGuard()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(git_env)
        self.git = Git(
            env=git_env,
            max_processes=max_git_processes,
            timeout=git_timeout,
            fetch_timeout=fetch_timeout,
            netguard=self.netguard,
        )
        self.refs_ttl = refs_ttl
        self.discovery = discovery or Discovery(
            origins=origins,
            goinsecure=goinsecure,
            govcs=govcs,
            goprivate=goprivate,
            ping=self._ping,
            netguard=self.netguard,
        )
        self._repos: dict[str, GitRepo] = {}
        self._roots: dict[str, tuple[float, RepoRoot]] = {}
        self._proxies: dict[str, Source] = {}

    async def _ping(self, url: str) -> bool:
        guard = await self.git.netguard.git_options(url, "go-get discovery")
        r = await self.git.run([*guard, "ls-remote", "--end-of-options", url], check=False)
        return r.returncode == 0

    async def _root(self, path: str) -> RepoRoot:
        now = time.monotonic()
        hit = self._roots.get(path)
        if hit is not None and now - hit[0] < _ROOT_TTL:
            return hit[1]
        rr = await self.discovery.repo_root(path)
        self._roots[path] = (now, rr)
        return rr

    async def _code(self, path: str) -> CodeRepo | Source:
        try:
            gomodule.check_path(path)
        except InvalidInput as exc:
            raise NotFound(str(exc)) from exc
        rr = await self._root(path)
        if rr.vcs == "mod":
            return self._proxy(rr.repo)
        repo = self._repos.get(rr.repo)
        if repo is None:
            repo = GitRepo(rr.repo, self.cache_dir, self.git, refs_ttl=self.refs_ttl)
            self._repos[rr.repo] = repo
        try:
            layout = Layout.new(rr.root, rr.subdir, path)
        except ValueError as exc:
            raise NotFound(str(exc)) from exc
        return CodeRepo(repo, layout)

    def _proxy(self, url: str) -> Source:
        src = self._proxies.get(url)
        if src is None:
            from gomodproxy.sources.proxy import HTTPProxySource

            src = HTTPProxySource(url, url_check=self.netguard.check_url)
            self._proxies[url] = src
        return src

    # -- Source ---------------------------------------------------------------------------

    async def list(self, path: str) -> bytes:
        code = await self._code(path)
        if not isinstance(code, CodeRepo):
            return await code.list(path)
        try:
            versions, _ = await code.versions()
        except ModuleVersionError as exc:
            raise NotFound(str(exc)) from exc
        return "".join(v + "\n" for v in versions).encode()

    async def info(self, path: str, query: str) -> bytes:
        code = await self._code(path)
        if not isinstance(code, CodeRepo):
            return await code.info(path, query)
        return _info(await _guard(code.stat(query)))

    async def latest(self, path: str) -> bytes:
        code = await self._code(path)
        if not isinstance(code, CodeRepo):
            return await code.latest(path)
        return _info(await _guard(code.latest()))

    async def mod(self, path: str, version: str) -> bytes:
        code = await self._code(path)
        if not isinstance(code, CodeRepo):
            return await code.mod(path, version)
        return await _guard(code.go_mod(version))

    async def zip(self, path: str, version: str, dest: Path) -> None:
        code = await self._code(path)
        if not isinstance(code, CodeRepo):
            await code.zip(path, version, dest)
            return
        try:
            await _guard(code.zip(version, dest))
        except InvalidInput as exc:
            # The zip rules refused the tree (invalid file names, sizes): as a proxy says it.
            raise NotFound(f"{path}@{version}: {exc}") from exc

    async def aclose(self) -> None:
        await self.discovery.aclose()
        for src in self._proxies.values():
            await src.aclose()


def _info(rv: RevInfo) -> bytes:
    origin = rv.origin.for_version(rv.version) if rv.origin is not None else None
    return info_json(rv.version, rv.time, origin)


async def _guard(aw: Awaitable[_T]) -> _T:
    try:
        return await aw
    except ModuleVersionError as exc:
        raise NotFound(str(exc)) from exc


def from_settings(upstream: UpstreamSettings) -> DirectSource:
    """The direct source ``upstream`` describes (used by ``sources.router``): its repository
    cache, static origins, GOINSECURE, GOPRIVATE, GOVCS, timeouts and the networks it may
    contact. A git command may take at least two minutes, however short ``upstream_timeout``.
    """
    return DirectSource(
        upstream.vcs_cache or None,
        origins=[parse_origin(spec) for spec in upstream.origins],
        goinsecure=upstream.goinsecure,
        goprivate=upstream.goprivate,
        govcs=upstream.govcs,
        git_timeout=max(upstream.upstream_timeout, 120.0),
        fetch_timeout=upstream.fetch_timeout,
        netguard=NetGuard(upstream.direct_allow_networks),
    )
