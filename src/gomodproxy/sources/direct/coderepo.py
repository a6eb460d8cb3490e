"""A module inside a git repository: versions, Stat, go.mod and zip (cmd/go codeRepo).

The decisions are the pure functions of :mod:`gomodproxy.gomod.coderepo`; this class fetches
what they need from :class:`~gomodproxy.sources.direct.git.GitRepo`, in the order cmd/go does,
so the same repository yields the same versions, hashes and error texts.
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import stat as statmod
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from gomodproxy.errors import NotFound
from gomodproxy.gomod import coderepo as cr
from gomodproxy.gomod import module as gomodule
from gomodproxy.gomod import modzip, pseudo, semver
from gomodproxy.gomod.coderepo import Layout, ModuleVersionError, Origin, RevInfo, go_quote
from gomodproxy.gomod.modfile import parse_gomod
from gomodproxy.gomod.modzip import File, FileKind
from gomodproxy.sources.direct.git import GitRepo
from gomodproxy.sources.direct.git import RevInfo as CodeRev

__all__ = ["CodeRepo"]


class CodeRepo:
    """One module (path) in one repository."""

    def __init__(self, repo: GitRepo, layout: Layout) -> None:
        self.repo = repo
        self.layout = layout
        self.path = layout.mod_path

    def _err(
        self, version: str, msg: str, *, pseudo_version: bool = False, kind: str = "invalid"
    ) -> ModuleVersionError:
        return ModuleVersionError(self.path, version, msg, pseudo_version=pseudo_version, kind=kind)

    async def _read(self, rev: str, file: str, limit: int = modzip.MAX_GO_MOD) -> bytes | None:
        try:
            return await self.repo.read_file(rev, file, limit)
        except NotFound:
            return None

    # -- versions -------------------------------------------------------------------------

    async def versions(self) -> tuple[list[str], Origin]:
        """The ``@v/list`` versions (codeRepo.Versions)."""
        lay = self.layout
        tags, origin = await self.repo.tags(lay.tag_prefix)
        origin.subdir = lay.code_dir
        listed, incompatible = cr.versions_from_tags(lay, [name for name, _ in tags])
        wanted = cr.incompatible_candidates(lay, listed, incompatible)
        if not wanted:
            return listed, origin
        found = await asyncio.gather(*(self._read(v, "go.mod") for v in dict.fromkeys(wanted)))
        has = {v: data is not None for v, data in zip(dict.fromkeys(wanted), found, strict=True)}
        return cr.select_incompatible(lay, listed, incompatible, has.__getitem__), origin

    async def _retractions(self) -> list[tuple[str, str]]:
        versions, _ = await self.versions()
        highest = cr.highest_for_retractions(versions)
        if not highest:
            return []
        data = await self.go_mod(highest)
        return _retraction_intervals(data)

    # -- Stat -----------------------------------------------------------------------------

    async def stat(self, rev: str) -> RevInfo:
        """Resolve a query (canonical version, tag, branch, hash) to a module version."""
        if rev == "latest":
            return await self.latest()
        code_rev = self.layout.rev_for(rev)
        try:
            info = await self.repo.stat(code_rev)
        except NotFound as exc:
            raise self._err(rev, str(exc)) from exc
        return await self._convert(info, rev)

    async def latest(self) -> RevInfo:
        """The version of the default branch's head (codeRepo.Latest)."""
        info = await self.repo.latest()
        return await self._convert(info, "")

    async def _convert(self, info: CodeRev, stat_vers: str) -> RevInfo:
        rv = await self._convert_version(info, stat_vers)
        origin = Origin(**vars(info.origin))
        origin.subdir = self.layout.code_dir
        v = rv.version
        if pseudo.is_pseudo_version(v) and (v != stat_vers or not v.startswith("v0.0.0-")):
            prefix = self.layout.tag_prefix
            if self.layout.path_major:
                prefix += self.layout.path_major[1:] + "."
            _, tags_origin = await self.repo.tags(prefix)
            origin.tag_prefix = tags_origin.tag_prefix
            origin.tag_sum = tags_origin.tag_sum
        rv.origin = origin
        return rv

    async def _convert_version(self, info: CodeRev, stat_vers: str) -> RevInfo:
        lay = self.layout
        incompatible_ok: dict[str, bool] = {}

        async def can_use_incompatible(v: str) -> bool:
            if lay.code_dir or lay.path_major:
                return False
            if "" not in incompatible_ok:
                incompatible_ok[""] = await self._read(info.name, "go.mod") is None
            if not incompatible_ok[""]:
                return False
            if v and not stat_vers.endswith("+incompatible"):
                major = semver.major(v)
                if major not in incompatible_ok:
                    sub = await self._read(info.name, posixpath.join(major, "go.mod"))
                    incompatible_ok[major] = sub is None
                if not incompatible_ok[major]:
                    return False
            return True

        async def check_canonical(v: str) -> RevInfo:
            try:
                await self.find_dir(v)
            except ModuleVersionError:
                raise
            except (ValueError, NotFound) as exc:
                raise self._err(v, str(exc)) from exc
            if v == stat_vers.removesuffix("+incompatible"):
                v = stat_vers
            base = v.removesuffix("+incompatible")
            err: ModuleVersionError | None = None
            if not gomodule.match_path_major(base, lay.path_major):
                if await can_use_incompatible(base):
                    v = base + "+incompatible"
                elif lay.path_major:
                    err = self._err(
                        v,
                        "module path includes a major version suffix, so major version must match",
                    )
                else:
                    want = posixpath.join(lay.path_prefix, semver.major(v))
                    err = self._err(
                        v,
                        "module contains a go.mod file, so module path must match major "
                        f"version ({go_quote(want)})",
                    )
            elif v.endswith("+incompatible"):
                err = self._err(
                    v,
                    f"+incompatible suffix not allowed: major version {semver.major(v)} "
                    "is compatible",
                )
            if stat_vers and stat_vers == gomodule.canonical_version(stat_vers):
                stat_base = stat_vers.removesuffix("+incompatible")
                if stat_base != base:
                    raise self._err(
                        stat_vers, f"resolves to version {v} ({stat_base} is not a tag)"
                    )
            if err is not None:
                raise err
            return RevInfo(version=v, time=info.time, name=info.name, short=info.short)

        if pseudo.is_pseudo_version(stat_vers):
            rv = await check_canonical(stat_vers)
            await self._validate_pseudo(info, stat_vers)
            return rv

        tag_prefix = lay.tag_prefix
        try:
            retractions = await self._retractions()
        except Exception:
            retractions = []

        v, canonical = cr.tag_to_version(tag_prefix, info.version)
        if canonical:
            try:
                return await check_canonical(v)
            except ModuleVersionError:
                pass

        highest = ""
        pseudo_base = ""
        for tag in info.tags:
            v, canonical = cr.tag_to_version(tag_prefix, tag)
            if stat_vers and semver.compare(v, stat_vers) == 0:
                if canonical:
                    return await check_canonical(v)
                pseudo_base = v
            if (
                canonical
                and semver.compare(highest, v) < 0
                and not cr.is_retracted(retractions, v)
                and (gomodule.match_path_major(v, lay.path_major) or await can_use_incompatible(v))
            ):
                highest = v
        if highest:
            return await check_canonical(highest)

        async def tag_allowed(tag: str) -> bool:
            tv, _ = cr.tag_to_version(tag_prefix, tag)
            if not tv:
                return False
            if not gomodule.match_path_major(tv, lay.path_major) and not (
                await can_use_incompatible(tv)
            ):
                return False
            return not cr.is_retracted(retractions, tv)

        if not pseudo_base:
            tag = await self._recent_tag(info, tag_prefix, tag_allowed)
            if tag:
                pseudo_base, _ = cr.tag_to_version(tag_prefix, tag)
        version = pseudo.pseudo_version(
            lay.pseudo_major, pseudo_base, datetime.fromtimestamp(info.time, UTC), info.short
        )
        return await check_canonical(version)

    async def _recent_tag(
        self, info: CodeRev, prefix: str, allowed: Callable[[str], Awaitable[bool]]
    ) -> str:
        """The highest allowed tag reachable from the commit (codehost RecentTag).

        A fresh go command's shallow clone has, as local tags, only the tag it fetched the
        commit through (if any): when that tag is allowed it is the answer; otherwise the
        full history decides.
        """

        async def highest_of(tags: list[str]) -> str:
            best = ""
            for tag in tags:
                if not tag.startswith(prefix) or not await allowed(tag):
                    continue
                sem = tag[len(prefix) :]
                if semver.compare(sem, best) > 0:
                    best = sem
            return prefix + best if best else ""

        ref = info.origin.ref
        if ref.startswith("refs/tags/"):
            at_commit = await highest_of([ref[len("refs/tags/") :]])
            if at_commit:
                return at_commit
        merged = await self.repo.merged_tags(info.name)
        return await highest_of(merged)

    async def _validate_pseudo(self, info: CodeRev, version: str) -> None:
        def bad(msg: str) -> ModuleVersionError:
            return self._err(version, msg, pseudo_version=True)

        try:
            rev = pseudo.pseudo_version_rev(version)
        except ValueError as exc:
            raise bad(str(exc)) from exc
        if rev != info.short:
            if rev.startswith(info.short):
                raise bad(f"revision is longer than canonical (expected {info.short})")
            if info.short.startswith(rev):
                raise bad(f"revision is shorter than canonical (expected {info.short})")
            raise bad(f"does not match short name of revision (expected {info.short})")
        stamp = cr.pseudo_timestamp(info.time)
        try:
            when = pseudo.pseudo_version_time(version)
        except ValueError as exc:
            raise bad(str(exc)) from exc
        if when != datetime.fromtimestamp(info.time, UTC):
            raise bad(f"does not match version-control timestamp (expected {stamp})")
        tag_prefix = self.layout.tag_prefix
        try:
            base = pseudo.pseudo_version_base(version.removesuffix("+incompatible"))
        except ValueError as exc:
            raise bad(str(exc)) from exc
        if not base:
            if not self.layout.pseudo_major and semver.major(version) == "v1":
                raise bad("major version without preceding tag must be v0, not v1")
            return
        for tag in info.tags:
            if tag.removeprefix(tag_prefix) == base:
                raise bad(
                    f"tag ({tag}) found on revision {rev} is already canonical, so should not "
                    "be replaced with a pseudo-version derived from that tag"
                )
        tags, _ = await self.repo.tags(tag_prefix + base)
        last_tag = ""
        found = False
        for name, _h in tags:
            if semver.compare(name.removeprefix(tag_prefix), base) == 0:
                last_tag = name
                found = await self.repo.descends_from(info.name, name)
                if found:
                    break
        if not last_tag:
            raise bad(f"preceding tag ({base}) not found")
        if not found:
            raise bad(f"revision {rev} is not a descendent of preceding tag ({last_tag})")

    # -- go.mod and zip -------------------------------------------------------------------

    async def find_dir(self, version: str) -> tuple[str, str, bytes | None]:
        """(revision, module directory, go.mod bytes) for a version (codeRepo.findDir).

        Raises:
            ModuleVersionError: the version is not valid semver.
            NotFound: the revision does not exist.
            ValueError: the layout is wrong at that revision (Go's message).
        """
        lay = self.layout
        if not semver.is_valid(version):
            raise self._err(version, "syntax error")
        rev = lay.rev_for(version)
        await self.repo.stat(rev)
        gomod1 = await self._read(rev, posixpath.join(lay.code_dir, "go.mod"))
        gomod2 = None
        if cr.needs_major_dir(lay):
            gomod2 = await self._read(
                rev, posixpath.join(lay.code_dir, lay.path_major[1:], "go.mod")
            )
        directory, gomod = cr.find_dir(lay, version, rev, gomod1, gomod2)
        return rev, directory, gomod

    async def _check_canonical_request(self, version: str) -> None:
        if version != gomodule.canonical_version(version):
            raise self._err(version, f"version {version} is not canonical", kind="plain")
        if pseudo.is_pseudo_version(version):
            await self.stat(version)

    async def go_mod(self, version: str) -> bytes:
        """The go.mod of a canonical version, or the synthesized one (codeRepo.GoMod)."""
        await self._check_canonical_request(version)
        rev, directory, gomod = await self._find(version)
        if gomod is not None:
            return gomod
        data = await self._read(rev, posixpath.join(directory, "go.mod"))
        return data if data is not None else cr.legacy_go_mod(self.path)

    async def _find(self, version: str) -> tuple[str, str, bytes | None]:
        try:
            return await self.find_dir(version)
        except ModuleVersionError:
            raise
        except NotFound as exc:
            raise self._err(version, str(exc)) from exc
        except ValueError as exc:
            raise ModuleVersionError(self.path, version, str(exc), kind="plain") from exc

    async def zip_files(self, version: str) -> list[File]:
        """The files of the module zip, as cmd/go feeds them to modzip.Create."""
        await self._check_canonical_request(version)
        rev, subdir, _ = await self._find(version)
        data = await self.repo.archive(rev, subdir, modzip.MAX_ZIP_FILE)
        zr = zipfile.ZipFile(io.BytesIO(data))
        files: list[File] = []
        prefix = subdir.strip("/")
        if prefix:
            prefix += "/"
        have_license = False
        top = ""
        for zi in zr.infolist():
            name = zi.filename
            if not top:
                i = name.find("/")
                if i < 0:
                    raise ModuleVersionError(
                        self.path, version, "missing top-level directory prefix", kind="plain"
                    )
                top = name[: i + 1]
            if not name.startswith(top):
                raise ModuleVersionError(
                    self.path,
                    version,
                    "zip file contains more than one top-level directory",
                    kind="plain",
                )
            name = name[len(top) :]
            if not name.startswith(prefix):
                continue
            name = name[len(prefix) :]
            if not name or name.endswith("/"):
                continue
            mode = zi.external_attr >> 16
            if statmod.S_ISLNK(mode):
                kind = FileKind.SYMLINK
            elif statmod.S_ISDIR(mode):
                kind = FileKind.DIR
            elif mode == 0 or statmod.S_ISREG(mode):
                kind = FileKind.REGULAR
            else:
                kind = FileKind.OTHER
            files.append(File(name, zi.file_size, _zip_opener(zr, zi), kind))
            if name == "LICENSE":
                have_license = True
        if not have_license and prefix:
            lic = await self._read(rev, "LICENSE", modzip.MAX_LICENSE)
            if lic is not None:
                files.append(File.from_bytes("LICENSE", lic))
        return files

    async def zip(self, version: str, dest: Path) -> None:
        """Write the module zip of a canonical version to ``dest``."""
        from gomodproxy.localfs.zipfiles import create_zip

        files = await self.zip_files(version)
        await asyncio.to_thread(create_zip, dest, self.path, version, files)


def _zip_opener(zr: zipfile.ZipFile, zi: zipfile.ZipInfo) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with zr.open(zi) as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    return
                yield b

    return chunks


def _retraction_intervals(data: bytes) -> list[tuple[str, str]]:
    """The retract intervals of a go.mod, parsed leniently (modfile.ParseLax)."""
    return [(r.low, r.high) for r in parse_gomod(data).retract]
