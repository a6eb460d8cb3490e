"""Finding the repository of a module path (cmd/go vcs.RepoRootForImportPath), plus origins.

Order, as the go command does it: static origins configured by the operator (``--origin
PREFIX=git+URL``, ``[[origins]]``) first, since they exist for paths no meta server answers;
then the well-known hosts; then ``https://<path>?go-get=1`` meta tags (http only when
GOINSECURE matches); GOVCS is enforced on the repository root with Go's message.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx

from gomodproxy.config.origins import SUPPORTED_VCS, OriginOverride
from gomodproxy.errors import InvalidInput, NotFound, UpstreamError
from gomodproxy.gomod.coderepo import go_quote, has_path_prefix
from gomodproxy.sources.netguard import NetGuard

__all__ = ["Discovery", "RepoRoot", "parse_meta_go_imports"]

_KNOWN_VCS = ("bzr", "fossil", "git", "hg", "svn")
_GIT_SCHEMES = ("git", "https", "http", "git+ssh", "ssh")
_SECURE_SCHEMES = frozenset({"https", "git+ssh", "ssh"})
#: Bytes of a go-get page read at most (the meta tags are in its head).
MAX_META_BYTES = 1 << 20
_MAX_REDIRECTS = 10


@dataclass(frozen=True)
class RepoRoot:
    """Where the code of an import path lives (vcs.RepoRoot)."""

    repo: str  # repository URL, with scheme
    root: str  # import path of the repository root
    vcs: str  # "git", "hg", ..., or "mod" for a GOPROXY-protocol server
    subdir: str = ""


# --- well-known hosts (vcs.vcsPaths) ----------------------------------------------------

_W = r"[0-9A-Za-z_.\-]"


@dataclass(frozen=True)
class _VcsPath:
    path_prefix: str
    regexp: re.Pattern[str]
    vcs: str = ""
    repo: str = ""
    check_suffix: bool = False
    schemeless: bool = False


_VCS_PATHS = (
    _VcsPath(
        "github.com",
        re.compile(rf"^(?P<root>github\.com/{_W}+/{_W}+)(/{_W}+)*$"),
        "git",
        "https://{root}",
        check_suffix=True,
    ),
    _VcsPath(
        "bitbucket.org",
        re.compile(rf"^(?P<root>bitbucket\.org/(?P<bitname>{_W}+/{_W}+))(/{_W}+)*$"),
        "git",
        "https://{root}",
        check_suffix=True,
    ),
    _VcsPath(
        "hub.jazz.net/git",
        re.compile(rf"^(?P<root>hub\.jazz\.net/git/[a-z0-9]+/{_W}+)(/{_W}+)*$"),
        "git",
        "https://{root}",
        check_suffix=True,
    ),
    _VcsPath(
        "git.apache.org",
        re.compile(rf"^(?P<root>git\.apache\.org/[a-z0-9_.\-]+\.git)(/{_W}+)*$"),
        "git",
        "https://{root}",
    ),
    _VcsPath(
        "git.openstack.org",
        re.compile(rf"^(?P<root>git\.openstack\.org/{_W}+/{_W}+)(\.git)?(/{_W}+)*$"),
        "git",
        "https://{root}",
    ),
    _VcsPath(
        "chiselapp.com",
        re.compile(r"^(?P<root>chiselapp\.com/user/[A-Za-z0-9]+/repository/" + _W + r"+)$"),
        "fossil",
        "https://{root}",
    ),
    _VcsPath(
        "",
        re.compile(
            r"(?P<root>(?P<repo>([a-z0-9.\-]+\.)+[a-z0-9.\-]+(:[0-9]+)?(/~?"
            + _W
            + r"+)+?)\.(?P<vcs>bzr|fossil|git|hg|svn))(/~?"
            + _W
            + r"+)*$"
        ),
        schemeless=True,
    ),
)
_LAUNCHPAD = re.compile(
    r"^(?P<root>launchpad\.net/((?P<project>[0-9A-Za-z_.\-]+)(?P<series>/[0-9A-Za-z_.\-]+)?"
    r"|~[0-9A-Za-z_.\-]+/(\+junk|[0-9A-Za-z_.\-]+)/[0-9A-Za-z_.\-]+))(/[0-9A-Za-z_.\-]+)*$"
)


class _Unknown(Exception):
    """No static pattern applies: dynamic lookup is needed."""


# --- meta tags ------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaImport:
    """One ``go-import`` meta tag."""

    prefix: str
    vcs: str
    repo_root: str
    subdir: str = ""


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.imports: list[MetaImport] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag.lower() == "body":
            self.done = True
            return
        if tag.lower() != "meta":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if values.get("name") != "go-import":
            return
        f = values.get("content", "").split()
        if len(f) in (3, 4):
            self.imports.append(MetaImport(f[0], f[1], f[2], f[3] if len(f) == 4 else ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag.lower() == "head":
            self.done = True


def parse_meta_go_imports(body: str) -> list[MetaImport]:
    """The go-import tags of an HTML page, ``mod`` entries first (module mode)."""
    parser = _MetaParser()
    try:
        parser.feed(body)
        parser.close()
    except Exception:  # html.parser is lenient; keep what was parsed
        pass
    imports = parser.imports
    have = {m.prefix for m in imports if m.vcs == "mod"}
    result = [m for m in imports if m.vcs == "mod"]
    result += [m for m in imports if m.vcs != "mod" and m.prefix not in have]
    return result


def _match_go_import(imports: list[MetaImport], path: str) -> MetaImport:
    match: MetaImport | None = None
    mismatches = []
    for im in imports:
        if not has_path_prefix(path, im.prefix):
            mismatches.append(im.prefix)
            continue
        if match is not None:
            if match.vcs == "mod" and im.vcs != "mod":
                break
            raise ValueError(f"multiple meta tags match import path {go_quote(path)}")
        match = im
    if match is None:
        raise _Mismatch(
            ", ".join(f"meta tag {p} did not match import path {path}" for p in mismatches)
        )
    return match


class _Mismatch(ValueError):
    pass


# --- the resolver ---------------------------------------------------------------------

Pinger = Callable[[str], Awaitable[bool]]


class Discovery:
    """Resolves module paths to repositories, with a cache of meta-tag answers."""

    def __init__(
        self,
        *,
        origins: Iterable[OriginOverride] = (),
        goinsecure: str = "",
        govcs: str = "",
        goprivate: str = "",
        http: httpx.AsyncClient | None = None,
        ping: Pinger | None = None,
        netguard: NetGuard | None = None,
    ) -> None:
        self.origins = sorted(origins, key=lambda o: len(o.prefix), reverse=True)
        self.goinsecure = goinsecure
        self.govcs = govcs
        self.goprivate = goprivate
        self._http = http
        self._own_http = http is None
        self._ping = ping
        #: Every go-get request and redirect hop is checked (security.netguard).
        self.netguard = netguard if netguard is not None else NetGuard()
        self._meta_cache: dict[str, tuple[str, list[MetaImport]]] = {}

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._http is not None and self._own_http:
            await self._http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                follow_redirects=False, timeout=30.0, headers={"User-Agent": "gomodproxy"}
            )
        return self._http

    def _insecure(self, path: str) -> bool:
        from gomodproxy.gomod.globs import match_prefix_patterns

        return match_prefix_patterns(self.goinsecure, path)

    def _check_govcs(self, vcs: str, root: str) -> None:
        from gomodproxy.gomod.govcs import check_govcs

        try:
            check_govcs(self.govcs, self.goprivate, vcs, root)
        except InvalidInput as exc:
            raise NotFound(str(exc)) from exc

    async def repo_root(self, path: str) -> RepoRoot:
        """Find the repository holding module ``path``.

        Raises:
            NotFound: no repository (Go's "unrecognized import path" and friends), a GOVCS
                refusal, or a VCS other than git.
            UpstreamError: the meta-tag server failed in a way that is not "not found".
        """
        for o in self.origins:
            if has_path_prefix(path, o.prefix):
                return RepoRoot(repo=o.url, root=o.prefix, vcs=o.vcs)
        insecure = self._insecure(path)
        try:
            rr = await self._from_vcs_paths(path, insecure)
        except _Unknown:
            try:
                rr = await self._dynamic(path, insecure)
            except (ValueError, UpstreamError) as exc:
                m = _LAUNCHPAD.match(path)
                if m is not None:
                    rr = RepoRoot(repo="https://" + m["root"], root=m["root"], vcs="bzr")
                else:
                    msg = f"unrecognized import path {go_quote(path)}: {exc}"
                    raise NotFound(msg) from exc
        except ValueError as exc:
            raise NotFound(str(exc)) from exc
        if rr.vcs not in SUPPORTED_VCS and rr.vcs != "mod":
            raise NotFound(
                f"{rr.root}: version control system {rr.vcs!r} is not supported by gomodproxy "
                "direct mode (only git)"
            )
        return rr

    async def _from_vcs_paths(self, path: str, insecure: bool) -> RepoRoot:
        if has_path_prefix(path, "example.net"):
            raise ValueError("no modules on example.net")
        if path == "rsc.io":
            raise ValueError("rsc.io is not a module")
        for scheme in ("http:", "https:"):
            if path.startswith(scheme):
                raise ValueError(f'"{scheme}//" not allowed in import path')
        for srv in _VCS_PATHS:
            if srv.path_prefix and not has_path_prefix(path, srv.path_prefix):
                continue
            m = srv.regexp.search(path) if not srv.path_prefix else srv.regexp.match(path)
            if m is None:
                if srv.path_prefix:
                    raise ValueError(f"invalid {srv.path_prefix} import path {go_quote(path)}")
                continue
            root = m["root"]
            if srv.schemeless:
                vcs = m["vcs"]
                self._check_govcs(vcs, root)
                if vcs not in SUPPORTED_VCS:
                    return RepoRoot(repo="", root=root, vcs=vcs)
                url = await self._probe_schemes(m["repo"], insecure)
                return RepoRoot(repo=url, root=root, vcs=vcs)
            repo = srv.repo.replace("{root}", root)
            if srv.check_suffix:
                for v in _KNOWN_VCS:
                    if repo.endswith("." + v):
                        raise ValueError(
                            f"invalid version control suffix in {srv.path_prefix}/ path"
                        )
            self._check_govcs(srv.vcs, root)
            return RepoRoot(repo=repo, root=root, vcs=srv.vcs)
        raise _Unknown()

    async def _probe_schemes(self, repo: str, insecure: bool) -> str:
        for scheme in _GIT_SCHEMES:
            if not insecure and scheme not in _SECURE_SCHEMES:
                continue
            url = f"{scheme}://{repo}"
            if self._ping is None or await self._ping(url):
                return url
        frag = "" if insecure else "secure "
        raise ValueError(f"no {frag}protocol found for repository")

    async def _fetch_meta(self, path: str, insecure: bool) -> tuple[str, list[MetaImport]]:
        cached = self._meta_cache.get(path)
        if cached is not None:
            return cached
        slash = path.find("/")
        host, rest = (path, "/") if slash < 0 else (path[:slash], path[slash:])
        if "." not in host:
            raise ValueError("import path does not begin with hostname")
        last_exc: Exception | None = None
        schemes = ("https", "http") if insecure else ("https",)
        for scheme in schemes:
            url = f"{scheme}://{host}{rest}?go-get=1"
            try:
                final_url, status, reason, text = await self._get_guarded(url)
            except httpx.HTTPError as exc:
                last_exc = exc
                continue
            if final_url.startswith("http:") and not insecure:
                raise ValueError(f"redirected from secure URL {url} to insecure URL {final_url}")
            imports = parse_meta_go_imports(text)
            if not imports and status != 200:
                raise ValueError(f"reading {url}: {status} {reason}")
            result = (final_url, imports)
            self._meta_cache[path] = result
            return result
        prefix = "http/https" if insecure else "https"
        raise UpstreamError(f"{prefix} fetch: {last_exc}", source="direct")

    async def _get_guarded(self, url: str) -> tuple[str, int, str, str]:
        """GET following redirects, checking every hop's address before connecting, and
        reading at most ``MAX_META_BYTES`` of the page (the meta tags are in its head).

        Raises:
            AddressRefused: a hop names a forbidden address (security.netguard).
            httpx.HTTPError: the request failed.
        """
        client = self._client()
        target = httpx.URL(url)
        for _ in range(_MAX_REDIRECTS + 1):
            await self.netguard.check_url(str(target), "go-get discovery")
            request = client.build_request("GET", target)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    target = target.join(response.headers["location"])
                    continue
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_META_BYTES:
                        break
                text = bytes(body[:MAX_META_BYTES]).decode(response.encoding or "utf-8", "replace")
                return str(target), response.status_code, response.reason_phrase, text
            finally:
                await response.aclose()
        raise httpx.TooManyRedirects(f"stopped after {_MAX_REDIRECTS} redirects")

    async def _dynamic(self, path: str, insecure: bool) -> RepoRoot:
        url, imports = await self._fetch_meta(path, insecure)
        try:
            mmi = _match_go_import(imports, path)
        except _Mismatch as exc:
            raise ValueError(f"parse {url}: no go-import meta tags ({exc})") from exc
        except ValueError as exc:
            raise ValueError(f"parse {url}: {exc}") from exc
        if mmi.prefix != path:
            url2, imports2 = await self._fetch_meta(mmi.prefix, insecure)
            if not imports2:
                raise ValueError(f"fetching {mmi.prefix}: no go-import meta tag found in {url2}")
            try:
                mmi2 = _match_go_import(imports2, path)
            except ValueError:
                mmi2 = None
            if mmi2 != mmi:
                raise ValueError(f"{url} and {url2} disagree about go-import for {mmi.prefix}")
        if mmi.subdir:
            if mmi.subdir.startswith("/"):
                raise ValueError(
                    f"{url}: invalid subdirectory {go_quote(mmi.subdir)}: leading slash"
                )
            if mmi.subdir.startswith("-"):
                raise ValueError(
                    f"{url}: invalid subdirectory {go_quote(mmi.subdir)}: leading hyphen"
                )
        scheme = mmi.repo_root.partition("://")[0] if "://" in mmi.repo_root else ""
        if not scheme:
            raise ValueError(f"{url}: invalid repo root {go_quote(mmi.repo_root)}: no scheme")
        if scheme == "file":
            raise ValueError(
                f"{url}: invalid repo root {go_quote(mmi.repo_root)}: file scheme disallowed"
            )
        if mmi.vcs != "mod" and mmi.vcs not in _KNOWN_VCS:
            raise ValueError(f"{url}: unknown vcs {go_quote(mmi.vcs)}")
        self._check_govcs(mmi.vcs, mmi.prefix)
        return RepoRoot(repo=mmi.repo_root, root=mmi.prefix, vcs=mmi.vcs, subdir=mmi.subdir)
