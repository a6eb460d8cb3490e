"""From a VCS repository to module versions: the pure rules of cmd/go's modfetch/coderepo.go.

Theory of operation
-------------------
A module lives in a repository whose root import path is ``code_root``. Its path splits into
``path_prefix`` + ``path_major`` (``/v2``, ``.v2`` for gopkg.in, or empty); the directory
inside the repository where its go.mod is expected is ``code_dir`` (``sub/dir`` for
``example.com/repo/sub/dir``), and when ``path_major`` is ``/vN`` the go.mod may also live in
``code_dir/vN`` (the "major subdirectory"). Tags of a module carry ``code_dir + "/"`` as a
prefix.

This module holds every decision that can be made from data alone: the layout, which tags are
versions, the ``+incompatible`` filtering given which revisions have a go.mod, the findDir
verdict given the go.mod bytes at a revision, which tag or pseudo-version a revision resolves
to, the ``Origin`` metadata and its checksums, and the JSON the go command expects. The git
adapter (``gomodproxy.sources.direct``) fetches the data and calls these functions, in the
same order cmd/go calls its own helpers, so error texts match the go command's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gomodproxy.gomod import _gostr, modfile, pseudo, semver
from gomodproxy.gomod import module as gomodule

__all__ = [
    "Layout",
    "ModuleVersionError",
    "Origin",
    "find_dir",
    "go_quote",
    "has_path_prefix",
    "incompatible_candidates",
    "info_json",
    "is_major",
    "is_origin_tag",
    "legacy_go_mod",
    "module_path_of",
    "repo_sum",
    "select_incompatible",
    "tag_sum",
    "tag_to_version",
    "versions_from_tags",
]


class ModuleVersionError(ValueError):
    """A version of a module cannot be used, with cmd/go's message (module.ModuleError).

    ``not_exist`` mirrors Go's errors.Is(err, fs.ErrNotExist): a proxy answers those with 404.
    """

    def __init__(
        self,
        path: str,
        version: str,
        message: str,
        *,
        pseudo_version: bool = False,
        not_exist: bool = True,
        kind: str = "invalid",
    ) -> None:
        noun = ("pseudo-version" if pseudo_version else "version") if kind == "invalid" else ""
        super().__init__(gomodule.module_error_text(path, version, message, invalid=noun))
        self.path = path
        self.version = version
        self.reason = message
        self.not_exist = not_exist


def has_path_prefix(s: str, prefix: str) -> bool:
    """Report whether the path ``s`` begins with the elements of ``prefix`` (str.HasPathPrefix)."""
    if len(s) == len(prefix):
        return s == prefix
    if len(s) > len(prefix):
        if prefix and prefix.endswith("/"):
            return s.startswith(prefix)
        return s[len(prefix)] == "/" and s.startswith(prefix)
    return False


@dataclass(frozen=True)
class Layout:
    """Where a module lives inside its repository (cmd/go's codeRepo fields)."""

    mod_path: str
    code_root: str
    code_dir: str
    path_prefix: str
    path_major: str
    pseudo_major: str

    @classmethod
    def new(cls, code_root: str, subdir: str, path: str) -> Layout:
        """Compute the layout of module ``path`` in the repository rooted at ``code_root``.

        Raises:
            ValueError: with cmd/go's newCodeRepo message.
        """
        if not has_path_prefix(path, code_root):
            raise ValueError(f"mismatched repo: found {code_root} for {path}")
        path_prefix, path_major, ok = gomodule.split_path_version(path)
        if not ok:
            raise ValueError(f"invalid module path {go_quote(path)}")
        if code_root == path:
            path_prefix = path
        code_dir = ""
        if code_root != path:
            if not has_path_prefix(path_prefix, code_root):
                raise ValueError(f"repository rooted at {code_root} cannot contain module {path}")
            code_dir = path_prefix[len(code_root) :].strip("/")
        if subdir:
            code_dir = posixpath.normpath(posixpath.join(code_dir, subdir))
        return cls(
            mod_path=path,
            code_root=code_root,
            code_dir=code_dir,
            path_prefix=path_prefix,
            path_major=path_major,
            pseudo_major=gomodule.path_major_prefix(path_major),
        )

    @property
    def tag_prefix(self) -> str:
        """The prefix of this module's tags: ``code_dir + "/"`` or empty."""
        return self.code_dir + "/" if self.code_dir else ""

    def rev_for(self, rev: str) -> str:
        """Map a version to the revision to look up in the repository (codeRepo.revToRev)."""
        if semver.is_valid(rev):
            if pseudo.is_pseudo_version(rev):
                return pseudo.pseudo_version_rev(rev)
            if semver.build(rev) == "+incompatible":
                rev = rev[: -len("+incompatible")]
            return self.tag_prefix + rev
        return rev


def go_quote(s: str) -> str:
    """Quote ``s`` the way Go's strconv.Quote / %q does (Go's escapes and IsPrint tables)."""
    return _gostr.quote(s)


# --- tags and version lists -------------------------------------------------------------


def versions_from_tags(layout: Layout, tags: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split a repository's tag names into the module's versions and ``+incompatible``
    candidates (codeRepo.Versions, before the go.mod checks). Both lists are sorted."""
    if layout.mod_path.startswith("gopkg.in/") and layout.mod_path.endswith("-unstable"):
        return [], []
    p = layout.tag_prefix
    versions: list[str] = []
    incompatible: list[str] = []
    for tag in tags:
        if not tag.startswith(p):
            continue
        v = tag[len(p) :]
        if not v or v != semver.canonical(v):
            continue
        if pseudo.is_pseudo_version(v):
            continue
        if not gomodule.match_path_major(v, layout.path_major):
            if not layout.code_dir and not layout.path_major and semver.major(v) > "v1":
                incompatible.append(v)
            continue
        versions.append(v)
    return semver.sort_versions(versions), semver.sort_versions(incompatible)


def incompatible_candidates(
    layout: Layout, versions: Sequence[str], incompatible: Sequence[str]
) -> list[str]:
    """The versions whose go.mod presence decides the ``+incompatible`` list, in the order
    cmd/go reads them: the highest compatible version, then the highest of each major."""
    if not incompatible or layout.path_major:
        return []
    wanted = [versions[-1]] if versions else []
    last: dict[str, str] = {}
    for v in incompatible:
        last[semver.major(v)] = v
    wanted.extend(last.values())
    return wanted


def select_incompatible(
    layout: Layout,
    versions: Sequence[str],
    incompatible: Sequence[str],
    has_go_mod: Callable[[str], bool],
) -> list[str]:
    """Finish codeRepo.Versions: append ``+incompatible`` versions where allowed.

    ``has_go_mod(v)`` answers whether the tag of ``v`` has a root go.mod; it is called only for
    the versions listed by :func:`incompatible_candidates`.
    """
    result = list(versions)
    if not incompatible or layout.path_major:
        return result
    if versions and has_go_mod(versions[-1]):
        return result
    by_major: dict[str, list[str]] = {}
    for v in incompatible:
        by_major.setdefault(semver.major(v), []).append(v)
    for major_versions in by_major.values():
        if has_go_mod(major_versions[-1]):
            continue
        result.extend(v + "+incompatible" for v in major_versions)
    return result


def tag_to_version(tag_prefix: str, tag: str) -> tuple[str, bool]:
    """Return (version, tag_is_canonical) for a tag; ("", False) if it is not a usable version."""
    if not tag.startswith(tag_prefix):
        return "", False
    trimmed = tag[len(tag_prefix) :]
    if pseudo.is_pseudo_version(tag):
        return "", False
    v = semver.canonical(trimmed)
    if not v or not trimmed.startswith(v):
        return "", False
    return v, v == trimmed


def is_origin_tag(tag: str) -> bool:
    """Report whether a tag takes part in Origin.TagSum (codehost.isOriginTag)."""
    c = semver.canonical(tag)
    return bool(c) and tag.startswith(c) and not pseudo.is_pseudo_version(tag)


def tag_sum(tags: Sequence[tuple[str, str]], prefix: str) -> str:
    """Origin.TagSum over tags (name, hash) sorted by name, all starting with ``prefix``."""
    d = prefix[: prefix.rfind("/") + 1]
    h = hashlib.sha256()
    for name, hash_ in sorted(tags):
        if is_origin_tag(name[len(d) :] if name.startswith(d) else name):
            h.update(f"{go_quote(name)} {hash_}\n".encode())
    return "t1:" + base64.b64encode(h.digest()).decode()


def repo_sum(refs: Mapping[str, str]) -> str:
    """Origin.RepoSum over every ref."""
    h = hashlib.sha256()
    for ref in sorted(refs):
        h.update(f"{go_quote(ref)} {refs[ref]}\n".encode())
    return "r1:" + base64.b64encode(h.digest()).decode()


# --- go.mod location --------------------------------------------------------------------


def module_path_of(gomod: bytes) -> str:
    """The module path declared by a go.mod, cheaply (modfile.ModulePath)."""
    return modfile.module_path(gomod)


def is_major(mpath: str, path_major: str) -> bool:
    """Report whether go.mod path ``mpath`` is compatible with ``path_major`` (coderepo.isMajor)."""
    if not mpath:
        return False
    _, mpath_major, ok = gomodule.split_path_version(mpath)
    if not ok:
        return False
    if not path_major:
        return gomodule.path_major_prefix(mpath_major) in ("", "v0", "v1")
    if not mpath_major:
        return False
    return path_major[1:] == mpath_major[1:]


def find_dir(
    layout: Layout,
    version: str,
    rev: str,
    gomod1: bytes | None,
    gomod2: bytes | None,
) -> tuple[str, bytes | None]:
    """Decide where the module lives at ``rev`` (codeRepo.findDir), given the bytes of
    ``code_dir/go.mod`` and, when :func:`needs_major_dir` says so, ``code_dir/vN/go.mod``.

    Returns:
        (module directory inside the repository, its go.mod bytes or None).

    Raises:
        ValueError: with cmd/go's message.
    """
    file1 = posixpath.join(layout.code_dir, "go.mod")
    mpath1 = module_path_of(gomod1) if gomod1 is not None else ""
    found1 = gomod1 is not None and (
        is_major(mpath1, layout.path_major)
        or (not layout.path_major and mpath1.startswith("gopkg.in/"))
    )
    file2 = ""
    if needs_major_dir(layout):
        dir2 = posixpath.join(layout.code_dir, layout.path_major[1:])
        file2 = posixpath.join(dir2, "go.mod")
        mpath2 = module_path_of(gomod2) if gomod2 is not None else ""
        found2 = gomod2 is not None and is_major(mpath2, layout.path_major)
        if found1 and found2:
            raise ValueError(
                f"{layout.path_prefix}/{file1} and ...{layout.path_major}/go.mod both have "
                f"...{layout.path_major} module paths at revision {rev}"
            )
        if found2:
            return dir2, gomod2
        if gomod2 is not None:
            if not mpath2:
                raise ValueError(
                    f"{layout.code_root}/{file2} is missing module path at revision {rev}"
                )
            raise ValueError(
                f"{layout.code_root}/{file2} has non-...{layout.path_major} module path "
                f"{go_quote(mpath2)} at revision {rev}"
            )
    if found1:
        return layout.code_dir, gomod1
    if gomod1 is not None:
        suffix = f" (and ...{layout.path_major}/go.mod does not exist)" if file2 else ""
        if not mpath1:
            raise ValueError(f"{file1} is missing module path{suffix} at revision {rev}")
        if layout.path_major:
            raise ValueError(
                f"{file1} has non-...{layout.path_major} module path {go_quote(mpath1)}"
                f"{suffix} at revision {rev}"
            )
        if not gomodule.split_path_version(mpath1)[2]:
            raise ValueError(
                f"{file1} has malformed module path {go_quote(mpath1)}{suffix} at revision {rev}"
            )
        raise ValueError(
            f"{file1} has post-{semver.major(version)} module path {go_quote(mpath1)}{suffix} "
            f"at revision {rev}"
        )
    if not layout.code_dir and (not layout.path_major or layout.path_major.startswith(".")):
        return "", None
    if file2:
        raise ValueError(
            f"missing {layout.path_prefix}/go.mod and ...{layout.path_major}/go.mod "
            f"at revision {rev}"
        )
    raise ValueError(f"missing {layout.path_prefix}/go.mod at revision {rev}")


def needs_major_dir(layout: Layout) -> bool:
    """Report whether findDir also looks at ``code_dir/vN/go.mod``."""
    return (
        bool(layout.path_major)
        and layout.code_root != layout.mod_path
        and not layout.path_major.startswith(".")
    )


def legacy_go_mod(mod_path: str) -> bytes:
    """The go.mod synthesized for a module without one (modfetch.LegacyGoMod)."""
    return f"module {_auto_quote(mod_path)}\n".encode()


def _auto_quote(s: str) -> str:
    must = not s or "//" in s or "/*" in s
    for ch in s:
        if ch in " \"'`" or (ch in "()[]{}," and len(s) > 1) or not _gostr.is_print(ch):
            must = True
    return go_quote(s) if must else s


# --- Origin and .info JSON --------------------------------------------------------------


@dataclass
class Origin:
    """Where a version came from (codehost.Origin); JSON field order as in cmd/go."""

    vcs: str = ""
    url: str = ""
    subdir: str = ""
    hash: str = ""
    tag_prefix: str = ""
    tag_sum: str = ""
    ref: str = ""
    repo_sum: str = ""

    def to_json_dict(self) -> dict[str, str]:
        """The object cmd/go marshals, empty fields omitted."""
        pairs = [
            ("VCS", self.vcs),
            ("URL", self.url),
            ("Subdir", self.subdir),
            ("Hash", self.hash),
            ("TagPrefix", self.tag_prefix),
            ("TagSum", self.tag_sum),
            ("Ref", self.ref),
            ("RepoSum", self.repo_sum),
        ]
        return {k: v for k, v in pairs if v}

    def for_version(self, version: str) -> Origin:
        """The Origin the go command stores beside a resolved version: without TagPrefix,
        TagSum and RepoSum, and without Ref for pseudo-versions."""
        return Origin(
            vcs=self.vcs,
            url=self.url,
            subdir=self.subdir,
            hash=self.hash,
            ref="" if pseudo.is_pseudo_version(version) else self.ref,
        )


@dataclass
class RevInfo:
    """A resolved version: what ``.info`` serves."""

    version: str
    time: int  # Unix seconds, UTC
    origin: Origin | None = None
    name: str = ""
    short: str = ""
    tags: list[str] = field(default_factory=list)


def format_time(unix: int) -> str:
    """RFC 3339 in UTC with whole seconds, as Go marshals a git commit time."""
    days, secs = divmod(unix, 86400)
    y, m, d = _civil_from_days(days)
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def pseudo_timestamp(unix: int) -> str:
    """The ``yyyymmddhhmmss`` UTC stamp of a pseudo-version."""
    return format_time(unix).replace("-", "").replace(":", "").replace("T", "")[:14]


def _civil_from_days(z: int) -> tuple[int, int, int]:
    # Howard Hinnant's days-from-civil inverse; pure integer arithmetic, no clock.
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


_SURROGATE = re.compile("[\ud800-\udfff]")


def go_json(obj: object) -> bytes:
    """Compact JSON with Go's HTML-safe escaping of ``<``, ``>``, ``&``, U+2028 and U+2029."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(a, b)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    # A lone surrogate is a byte that is not UTF-8 (surrogateescape); Go writes \ufffd for it.
    return _SURROGATE.sub(r"\\ufffd", text).encode()


def info_json(version: str, unix_time: int, origin: Origin | None) -> bytes:
    """The ``.info`` body: Version, Time and (when known) Origin."""
    obj: dict[str, object] = {"Version": version, "Time": format_time(unix_time)}
    if origin is not None and origin.to_json_dict():
        obj["Origin"] = origin.to_json_dict()
    return go_json(obj)


def is_retracted(intervals: Sequence[tuple[str, str]], v: str) -> bool:
    """Report whether ``v`` lies in one of the closed retraction intervals."""
    return any(semver.compare(lo, v) <= 0 <= semver.compare(hi, v) for lo, hi in intervals)


def highest_for_retractions(versions: Sequence[str]) -> str:
    """The version whose go.mod lists the retractions (codeRepo.retractedVersions)."""
    compatible: list[str] = []
    for v in versions:
        if v.endswith("+incompatible"):
            break
        compatible.append(v)
    if not compatible:
        return ""
    for v in reversed(compatible):
        if not semver.prerelease(v):
            return v
    return compatible[-1]
