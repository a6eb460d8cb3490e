"""The git CLI adapter: a persistent bare-repository cache per remote (cmd/go codehost/git.go).

Theory of operation
-------------------
Each remote URL gets one bare repository under the cache directory, named after a hash of the
URL, created once and reused by every request and every process (a file lock beside it guards
fetches). Refs come from ``git ls-remote`` (kept for a short TTL so one client's
``.info``/``.mod``/``.zip`` sequence costs one round trip). Objects are fetched lazily, as the
go command does: a cold repository gets ``--depth=1`` fetches of the single ref a query needs;
history is fetched in full only when a pseudo-version base or an ancestry check needs it. A
repository that already holds full history fetches new refs incrementally, never shallowly, so
it stays complete.

Everything runs through the git CLI, so the user's git configuration applies unchanged:
``url.*.insteadOf``, credential helpers, ``.netrc``, SSH. Prompts are disabled
(``GIT_TERMINAL_PROMPT=0``), each command has a timeout, and a semaphore bounds the number of
git processes across all repositories.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.errors import NotFound, UpstreamError, UpstreamTimeout
from gomodproxy.gomod.coderepo import Origin, repo_sum, tag_sum
from gomodproxy.localfs import filelock
from gomodproxy.sources.netguard import NetGuard

__all__ = ["Git", "GitRepo", "RevInfo", "UnknownRevision", "VcsError"]

MIN_HASH_DIGITS = 7
_STDERR_TAIL = 2000


class VcsError(UpstreamError):
    """A git command failed; ``stderr`` keeps the end of its error output."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message, source="direct")
        self.stderr = stderr


class UnknownRevision(NotFound):
    """The revision does not exist in the repository (codehost.UnknownRevisionError)."""

    def __init__(self, rev: str) -> None:
        super().__init__(f"unknown revision {rev}")
        self.rev = rev


class NoCommits(NotFound):
    """The repository has no HEAD (codehost.ErrNoCommits)."""

    def __init__(self) -> None:
        super().__init__("no commits")


@dataclass
class RevInfo:
    """A commit as the code host reports it (codehost.RevInfo)."""

    name: str
    short: str
    version: str
    time: int
    tags: list[str] = field(default_factory=list)
    origin: Origin = field(default_factory=Origin)


@dataclass
class _Result:
    returncode: int
    stdout: bytes
    stderr: bytes


def _all_hex(s: str) -> bool:
    return all(c in "0123456789abcdef" for c in s)


#: Options of every git command: no hooks, no fsmonitor helper, no protocol.ext.
_HARDENING = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
#: Environment variables git keeps (the rest, API tokens and cloud keys included, is dropped).
_ENV_KEEP = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        "SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT",
        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "XDG_CONFIG_HOME",
        "GIT_TERMINAL_PROMPT", "GCM_INTERACTIVE", "GIT_HTTP_USER_AGENT", "GIT_TRACE",
    }
)  # fmt: skip


def scrub_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` git may see: locale, proxies, TLS roots, ssh agent, config."""
    return {k: v for k, v in env.items() if k in _ENV_KEEP or k.startswith("LC_")}


class Git:
    """Runs git commands with a bounded number of processes, timeouts and no prompts."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        max_processes: int = 16,
        timeout: float = 120.0,
        fetch_timeout: float = 900.0,
        netguard: NetGuard | None = None,
    ) -> None:
        #: Checks every remote before git contacts it (security.netguard).
        self.netguard = netguard if netguard is not None else NetGuard()
        base = scrub_env(os.environ if env is None else env)
        base["GIT_TERMINAL_PROMPT"] = "0"
        # Only these transports: never ext:: (runs a command) nor fd::.
        base["GIT_ALLOW_PROTOCOL"] = "file:git:http:https:ssh"
        base.setdefault("GCM_INTERACTIVE", "never")
        # As cmd/go does: no ssh connection pooling, no interactive ssh prompts.
        base.setdefault("GIT_SSH_COMMAND", "ssh -o ControlMaster=no -o BatchMode=yes")
        for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            base.pop(var, None)
        self.env = base
        self.timeout = timeout
        self.fetch_timeout = fetch_timeout
        self._max = max_processes
        self._sem: asyncio.Semaphore | None = None
        #: Number of git processes started (for tests and metrics).
        self.runs = 0

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._max)
        return self._sem

    async def run(
        self,
        args: Sequence[str],
        *,
        git_dir: Path | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> _Result:
        """Run ``git args...``; raise VcsError on a non-zero exit when ``check``."""
        env = self.env
        if git_dir is not None:
            env = {**env, "GIT_DIR": str(git_dir)}
        limit = self.timeout if timeout is None else timeout
        async with self._semaphore():
            self.runs += 1
            try:
                proc = await asyncio.create_subprocess_exec(
                    "git",
                    *_HARDENING,
                    *args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=str(cwd or git_dir or "."),
                )
            except OSError as exc:
                raise VcsError(f"git: {exc}") from exc
            try:
                out, err = await asyncio.wait_for(proc.communicate(), limit)
            except (TimeoutError, asyncio.CancelledError) as exc:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise UpstreamTimeout(
                    f"git {' '.join(args[:3])}: timed out after {limit:g}s", source="direct"
                ) from exc
        result = _Result(proc.returncode or 0, out, err)
        if check and result.returncode != 0:
            raise _run_error(args, git_dir, result)
        return result


def _run_error(args: Sequence[str], git_dir: Path | None, r: _Result) -> VcsError:
    stderr = r.stderr.decode("utf-8", "replace").rstrip("\n")[-_STDERR_TAIL:]
    text = f"git {' '.join(args)}: exit status {r.returncode}"
    if stderr:
        text += ":\n\t" + stderr.replace("\n", "\n\t")
    return VcsError(text, stderr=stderr)


class _FileLock:
    """An exclusive lock shared by every process using the cache (flock on ``path``).

    ``localfs.filelock`` polls for it rather than blocking a thread in ``flock``: a request
    cancelled while waiting must not leave a thread that takes the lock later and keeps it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._local, filelock.held(self.path):
            yield


class GitRepo:
    """One remote repository mirrored in a bare repository of the cache (codehost.gitRepo)."""

    def __init__(self, url: str, cache_dir: Path, git: Git, *, refs_ttl: float = 5.0) -> None:
        self.url = url
        key = "git3:" + url
        self.dir = cache_dir / hashlib.sha256(key.encode()).hexdigest()
        self.git = git
        self.refs_ttl = refs_ttl
        self._lock = _FileLock(Path(str(self.dir) + ".lock"))
        self._refs: dict[str, str] | None = None
        self._refs_at = 0.0
        self._refs_task: asyncio.Task[dict[str, str]] | None = None
        self._stat_cache: dict[str, RevInfo] = {}
        self._initialized = False
        self._sha256 = False
        #: True when this object created the repository: it holds no objects yet.
        self._fresh = False
        self._files: dict[tuple[str, str], bytes | None] = {}

    # -- plumbing -------------------------------------------------------------------------

    async def _git(self, *args: str, timeout: float | None = None, check: bool = True) -> _Result:
        return await self.git.run(args, git_dir=self.dir, timeout=timeout, check=check)

    async def _ensure_init(self) -> None:
        if self._initialized:
            return
        if not (self.dir / "objects").is_dir() or not (self.dir / "config").is_file():
            async with self._lock.hold():
                if not (self.dir / "objects").is_dir() or not (self.dir / "config").is_file():
                    await self._init_locked()
        self._sha256 = (self.dir / "gomodproxy-sha256").exists()
        self._initialized = True

    async def _init_locked(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        refs = await self.refs()
        fmt = "sha1"
        if any(len(h) == 64 for h in refs.values()):
            fmt = "sha256"
        # An empty template skips copying sample hooks: most of the cost of git init.
        await self.git.run(
            ["init", "--bare", "--quiet", "--template=", f"--object-format={fmt}", str(self.dir)],
            cwd=self.dir,
        )
        # What `git remote add origin URL` writes, without another process.
        with (self.dir / "config").open("a", encoding="utf-8") as f:
            f.write(f'[remote "origin"]\n\turl = {_config_quote(self.url)}\n')
        # cmd/go's ensureGitAttributes: git archive must include export-ignore files and
        # leave $Format$ unexpanded.
        info = self.dir / "info"
        info.mkdir(exist_ok=True)
        (info / "attributes").write_text("\n* -export-subst -export-ignore\n")
        (self.dir / "url").write_text(self.url)
        if fmt == "sha256":
            (self.dir / "gomodproxy-sha256").touch()
        self._fresh = True

    def _hex_len(self) -> int:
        return 64 if self._sha256 else 40

    def _shorten(self, h: str) -> str:
        if _all_hex(h) and len(h) == self._hex_len():
            return h[:12]
        return h

    def _is_hash_like(self, rev: str) -> bool:
        return MIN_HASH_DIGITS <= len(rev) <= self._hex_len() and _all_hex(rev)

    # -- refs -----------------------------------------------------------------------------

    async def refs(self) -> dict[str, str]:
        """HEAD, branches and tags of the remote (annotated tags peeled), cached for the TTL."""
        now = time.monotonic()
        if self._refs is not None and now - self._refs_at < self.refs_ttl:
            return self._refs
        if self._refs_task is None or self._refs_task.done():
            self._refs_task = asyncio.ensure_future(self._load_refs())
        refs = await asyncio.shield(self._refs_task)
        if refs is not self._refs:
            self._refs = refs
            self._refs_at = time.monotonic()
            self._stat_cache.clear()
        return refs

    async def _load_refs(self) -> dict[str, str]:
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        guard = await self.git.netguard.git_options(self.url)
        result = await self.git.run(
            [*guard, "ls-remote", "-q", "--end-of-options", self.url],
            cwd=self.dir.parent,
            timeout=self.git.fetch_timeout,
            check=False,
        )
        if result.returncode != 0:
            err = _run_error(["ls-remote", "-q", self.url], None, result)
            if _looks_missing(err.stderr):
                raise NotFound(str(err)) from err
            raise err
        refs: dict[str, str] = {}
        for line in result.stdout.decode("utf-8", "replace").split("\n"):
            f = line.split()
            if len(f) != 2:
                continue
            h, ref = f
            if ref == "HEAD" or ref.startswith(("refs/heads/", "refs/tags/")):
                refs[ref] = h
        for ref in [r for r in refs if r.endswith("^{}")]:
            refs[ref[: -len("^{}")]] = refs.pop(ref)
        return refs

    async def tags(self, prefix: str) -> tuple[list[tuple[str, str]], Origin]:
        """Tags starting with ``prefix``, sorted, with the Origin (TagPrefix, TagSum)."""
        refs = await self.refs()
        tags = sorted(
            (ref[len("refs/tags/") :], h)
            for ref, h in refs.items()
            if ref.startswith("refs/tags/") and ref[len("refs/tags/") :].startswith(prefix)
        )
        origin = Origin(vcs="git", url=self.url, tag_prefix=prefix, tag_sum=tag_sum(tags, prefix))
        return tags, origin

    async def repo_sum(self) -> str:
        """Origin.RepoSum of the current refs."""
        return repo_sum(await self.refs())

    # -- stat -----------------------------------------------------------------------------

    async def latest(self) -> RevInfo:
        """The commit at the remote's HEAD (codehost Latest)."""
        refs = await self.refs()
        head = refs.get("HEAD", "")
        if not head:
            raise NoCommits()
        info = await self.stat(head)
        origin = Origin(**vars(info.origin))
        origin.ref = "HEAD"
        origin.hash = head
        return RevInfo(info.name, info.short, info.version, info.time, list(info.tags), origin)

    async def stat(self, rev: str) -> RevInfo:
        """Resolve a revision (hash prefix, tag, branch, HEAD) to a commit, fetching as needed."""
        if rev == "latest":
            return await self.latest()
        refs = await self.refs()
        cached = self._stat_cache.get(rev)
        if cached is not None:
            return cached
        info = await self._stat(rev, refs)
        self._stat_cache[rev] = info
        return info

    async def _stat(self, rev: str, refs: dict[str, str]) -> RevInfo:
        await self._ensure_init()
        did_local = False
        if self._is_hash_like(rev):
            info = await self._stat_local(rev, rev, refs)
            if info is not None:
                return info
            did_local = True
        ref = h = ""
        if refs.get("refs/tags/" + rev):
            ref = "refs/tags/" + rev
            h = refs[ref]
        elif refs.get("refs/heads/" + rev):
            ref = "refs/heads/" + rev
            h = refs[ref]
            rev = h
        elif rev == "HEAD" and refs.get("HEAD"):
            ref = "HEAD"
            h = refs[ref]
            rev = h
        elif self._is_hash_like(rev):
            prefix = rev
            for k, v in refs.items():
                if v.startswith(prefix):
                    if h and h != v:
                        raise VcsError(f"ambiguous revision {rev}")
                    if not ref or ref > k:
                        ref = k
                    rev = v
                    h = v
            if not h and len(rev) == self._hex_len():
                h = rev
        else:
            raise UnknownRevision(rev)

        info = await self._stat_fetching(rev, ref, h, did_local, refs)
        info.origin.hash = info.name
        if ref != info.origin.hash:
            info.origin.ref = ref
        return info

    async def _stat_fetching(
        self, rev: str, ref: str, h: str, did_local: bool, refs: dict[str, str]
    ) -> RevInfo:
        if not did_local:
            info = await self._stat_local(rev, h or rev, refs)
            if info is not None:
                return info
        async with self._lock.hold():
            if ref and h:
                refspec = f"{h}:refs/dummy" if ref == "HEAD" else f"{ref}:{ref}"
                if ref == "HEAD":
                    ref = h
                try:
                    await self._fetch(refspec)
                except VcsError:
                    pass
                else:
                    info = await self._stat_local(rev, ref, refs)
                    if info is not None:
                        return info
            await self._fetch_all_locked()
        info = await self._stat_local(rev, rev, refs)
        if info is None:
            raise UnknownRevision(rev)
        return info

    async def _stat_local(self, version: str, rev: str, refs: dict[str, str]) -> RevInfo | None:
        if self._fresh:
            return None
        r = await self._git(
            "-c",
            "log.showsignature=false",
            "log",
            "--no-decorate",
            "-n1",
            "--format=format:%H %ct %D",
            "--end-of-options",
            rev,
            "--",
            check=False,
        )
        if r.returncode != 0:
            return None
        f = r.stdout.decode("utf-8", "replace").split()
        if len(f) < 2:
            raise VcsError(f"unexpected response from git log: {r.stdout!r}")
        h = f[0]
        if h.startswith(version):
            version = h
        try:
            t = int(f[1])
        except ValueError as exc:
            raise VcsError(f"invalid time from git log: {r.stdout!r}") from exc
        origin = Origin(vcs="git", url=self.url, hash=h)
        if not h.startswith(rev):
            origin.ref = rev
        tags: list[str] = []
        i = 2
        while i < len(f):
            if f[i] == "tag:":
                i += 1
                if i < len(f):
                    tags.append(f[i].removesuffix(","))
            i += 1
        for ref, v in refs.items():
            if v == h and ref.startswith("refs/tags/"):
                tags.append(ref[len("refs/tags/") :])
        tags = sorted(set(tags))
        info = RevInfo(name=h, short=self._shorten(h), version=h, time=t, tags=tags, origin=origin)
        if version in tags:
            info.version = version
        return info

    # -- fetching -------------------------------------------------------------------------

    def _complete(self) -> bool:
        return (self.dir / "gomodproxy-complete").exists() and not (self.dir / "shallow").exists()

    async def _fetch(self, refspec: str) -> None:
        """Fetch one refspec: shallow into a cold repository, incremental into a complete one."""
        guard = await self.git.netguard.git_options(self.url)
        args = [*guard, "-c", "protocol.version=2", "fetch", "-f", "--no-tags", "--quiet"]
        if not self._complete():
            args.append("--depth=1")
        args += ["--end-of-options", "origin", refspec]
        await self._git(*args, timeout=self.git.fetch_timeout)
        self._fresh = False

    async def fetch_all(self) -> None:
        """Fetch every branch and tag with full history (fetchRefsLocked)."""
        await self._ensure_init()
        async with self._lock.hold():
            await self._fetch_all_locked()

    async def _fetch_all_locked(self) -> None:
        self._fresh = False
        guard = await self.git.netguard.git_options(self.url)
        await self._git(
            *guard,
            "fetch",
            "-f",
            "--prune",
            "--quiet",
            "--end-of-options",
            "origin",
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
            timeout=self.git.fetch_timeout,
        )
        if (self.dir / "shallow").exists():
            await self._git(
                *guard,
                "fetch",
                "--unshallow",
                "-f",
                "--quiet",
                "--end-of-options",
                "origin",
                timeout=self.git.fetch_timeout,
            )
        (self.dir / "gomodproxy-complete").touch()

    async def _local_tag_refs(self) -> dict[str, str]:
        r = await self._git(
            "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/tags/"
        )
        out: dict[str, str] = {}
        for line in r.stdout.decode("utf-8", "replace").split("\n"):
            f = line.split()
            if len(f) >= 2:
                out[f[0]] = f[2] if len(f) >= 3 else f[1]
        return out

    async def _sync_history(self) -> None:
        """Make the local tags equal to the remote's and the history complete."""
        refs = await self.refs()
        remote_tags = {k: v for k, v in refs.items() if k.startswith("refs/tags/")}
        if self._complete() and await self._local_tag_refs() == remote_tags:
            return
        async with self._lock.hold():
            await self._fetch_all_locked()

    # -- reading --------------------------------------------------------------------------

    async def read_file(self, rev: str, path: str, max_size: int) -> bytes | None:
        """The bytes of ``path`` at ``rev``, or None when it does not exist."""
        info = await self.stat(rev)
        key = (info.name, path)
        if key in self._files:
            data = self._files[key]
        else:
            spec = f"{info.name}:{path}"
            r = await self._git("cat-file", "--end-of-options", "blob", spec, check=False)
            data = r.stdout if r.returncode == 0 else None
            if data is None or len(data) <= 1 << 20:
                # Commits are immutable, so small answers can be kept.
                if len(self._files) > 4096:
                    self._files.clear()
                self._files[key] = data
        if data is not None and len(data) > max_size:
            raise VcsError(f"{path} at {info.short}: file too large")
        return data

    async def merged_tags(self, commit: str) -> list[str]:
        """Every tag reachable from ``commit``, after making local tags and history complete
        (the ``git for-each-ref --merged`` step of codehost RecentTag)."""
        await self._ensure_init()
        await self._sync_history()
        r = await self._git("for-each-ref", "--format=%(refname)", f"--merged={commit}")
        out = []
        for line in r.stdout.decode("utf-8", "replace").split("\n"):
            line = line.strip()
            if line.startswith("refs/tags/"):
                out.append(line[len("refs/tags/") :])
        return out

    async def descends_from(self, rev: str, tag: str) -> bool:
        """Report whether commit ``rev`` descends from ``tag`` (git merge-base --is-ancestor)."""
        await self._ensure_init()
        r = await self._git("merge-base", "--is-ancestor", "--", tag, rev, check=False)
        if r.returncode == 0:
            return True
        await self.stat(rev)
        await self._sync_history()
        r = await self._git("merge-base", "--is-ancestor", "--", tag, rev, check=False)
        if r.returncode == 0:
            return True
        if r.returncode == 1:
            return False
        raise _run_error(["merge-base", "--is-ancestor", "--", tag, rev], self.dir, r)

    async def archive(self, rev: str, subdir: str, max_size: int) -> bytes:
        """``git archive --format=zip`` of ``rev`` (restricted to ``subdir``), as cmd/go runs it."""
        info = await self.stat(rev)
        args = [
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=zip",
            "--prefix=prefix/",
            "--end-of-options",
            info.name,
        ]
        if subdir:
            args.append(subdir)
        r = await self._git(*args, timeout=self.git.fetch_timeout, check=False)
        if r.returncode != 0:
            if b"did not match any files" in r.stderr:
                raise NotFound(f"{subdir}: not found at revision {info.short}")
            raise _run_error(args, self.dir, r)
        if len(r.stdout) > max_size:
            raise VcsError("downloaded zip file too large")
        return r.stdout


def _config_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _looks_missing(stderr: str) -> bool:
    text = stderr.lower()
    return any(
        s in text
        for s in (
            "not found",
            "does not exist",
            "does not appear to be a git repository",
            "could not read username",
        )
    )
