"""Module zip file selection and checks, as golang.org/x/mod/zip decides them.

This module is the pure half of x/mod's ``zip`` package: which files of a module tree go into
its zip (``checkFiles``, used by ``Create`` and ``CreateFromDir``), which entries of a received
zip are acceptable (``checkZip``), and the error texts Go writes for each problem. Reading
directories and zips and writing zips is the job of :mod:`gomodproxy.localfs.zipfiles`.

The File model
==============

A file of a module tree is a :class:`File`::

    File(path="sub/x.go", size=123, open=lambda: iter_chunks(...), kind=FileKind.REGULAR)

- ``path``: slash-separated, relative to the module root, exactly as the source names it (the
  checks decide whether it is clean and valid; never pre-clean it).
- ``size``: the size in bytes the source declares (for a symlink, anything).
- ``open``: a callable returning the content as an iterable of ``bytes`` chunks; called at
  most once per file by the zip writer, and for the root ``go.mod`` once more to read its
  ``go`` line. ``File.from_bytes(path, data)`` wraps content already in memory.
- ``kind``: :class:`FileKind` ``REGULAR``, ``SYMLINK`` (omitted; for git: mode 120000),
  ``DIR`` or ``OTHER`` (omitted, e.g. a git submodule entry).

Order matters: entries are written, and collisions reported, in the order given (Go's
``Create`` keeps the input order; ``CreateFromDir`` walks directories in byte order of names).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import modfile, module
from gomodproxy.gomod._fold import str_to_fold
from gomodproxy.gomod._gostr import quote

__all__ = [
    "MAX_GO_MOD",
    "MAX_LICENSE",
    "MAX_ZIP_FILE",
    "VCS_DIRS",
    "CheckedFiles",
    "File",
    "FileError",
    "FileKind",
    "ZipError",
    "check_files",
    "check_module_version",
    "check_zip_entries",
    "check_zip_size",
    "go_lang",
    "is_vendored_package",
    "select_files",
]

#: Largest zip file, and largest total uncompressed size of a module's files (500 MiB).
MAX_ZIP_FILE = 500 << 20
#: Largest go.mod in a module zip (16 MiB).
MAX_GO_MOD = 16 << 20
#: Largest LICENSE in a module zip (16 MiB).
MAX_LICENSE = 16 << 20

#: Directories CreateFromDir never descends into (Create, fed from git, keeps them).
VCS_DIRS = frozenset({".bzr", ".git", ".hg", ".svn"})

ERR_PATH_NOT_CLEAN = "file path is not clean"
ERR_PATH_NOT_RELATIVE = "file path is not relative"
ERR_GO_MOD_CASE = "go.mod files must have lowercase names"
ERR_GO_MOD_SIZE = f"go.mod file too large (max size is {MAX_GO_MOD} bytes)"
ERR_LICENSE_SIZE = f"LICENSE file too large (max size is {MAX_LICENSE} bytes)"
ERR_VCS = "directory is a version control repository"
ERR_VENDORED = "file is in vendor directory"
ERR_SUBMODULE_FILE = "file is in another module"
ERR_SUBMODULE_DIR = "directory is in another module"
ERR_HG_ARCHIVAL = "file is inserted by 'hg archive' and is always omitted"
ERR_SYMLINK = "file is a symbolic link"
ERR_NOT_REGULAR = "not a regular file"


class FileKind(Enum):
    """What a :class:`File` is, as its source's Lstat would say."""

    REGULAR = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(frozen=True)
class File:
    """One file of a module tree; see the module docstring."""

    path: str
    size: int
    open: Callable[[], Iterable[bytes]]
    kind: FileKind = FileKind.REGULAR

    @classmethod
    def from_bytes(cls, path: str, data: bytes, kind: FileKind = FileKind.REGULAR) -> File:
        """Return a file whose content is ``data``."""
        return cls(path, len(data), lambda: (data,), kind)


@dataclass(frozen=True)
class FileError:
    """A file that is omitted or invalid, and why (x/mod's FileError)."""

    path: str
    err: str

    def __str__(self) -> str:
        return f"{self.path}: {self.err}"


@dataclass
class CheckedFiles:
    """Which files are valid, omitted or invalid (x/mod's CheckedFiles)."""

    valid: list[str] = field(default_factory=list)
    omitted: list[FileError] = field(default_factory=list)
    invalid: list[FileError] = field(default_factory=list)
    size_error: str | None = None
    #: The valid files themselves, in order (for the writer); not part of Go's record.
    files: list[File] = field(default_factory=list, repr=False)

    def err(self) -> str | None:
        """Return Go's ``CheckedFiles.Err()`` text, or None when the set makes a valid zip."""
        if self.size_error is not None:
            return self.size_error
        if self.invalid:
            return "\n".join(map(str, self.invalid))
        return None


class ZipError(InvalidInput):
    """A module zip cannot be made: ``VERB[ PATH]: ERR`` as x/mod's zipError writes it."""

    def __init__(self, verb: str, err: str, path: str = "") -> None:
        self.verb = verb
        self.err = err
        self.path = path
        super().__init__(f"{verb} {path}: {err}" if path else f"{verb}: {err}")


# --- Go's path package -------------------------------------------------------------------


def _clean(p: str) -> str:
    """Go's path.Clean."""
    if (
        p
        and p[-1] != "/"
        and "//" not in p
        and "/./" not in p
        and "/../" not in p
        and not p.startswith(("./", "../"))
        and not p.endswith(("/.", "/.."))
        and p not in (".", "..")
    ):
        return p  # already clean: no empty, "." or ".." element
    if p == "":
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for elem in p.split("/"):
        if elem in ("", "."):
            continue
        if elem == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(elem)
    s = "/".join(out)
    if rooted:
        return "/" + s
    return s or "."


def _dir(p: str) -> str:
    """Go's path.Dir."""
    return _clean(p[: p.rfind("/") + 1])


# --- go line and vendoring -----------------------------------------------------------------


#: modfile.GoVersionRE, with the prerelease split out for internal/gover's stricter parse.
_GO_VERSION = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?(([a-z]+)([0-9]+))?")


def go_lang(gomod: bytes) -> str:
    """Return Go's ``version.Lang("go" + <go line>)`` for a root go.mod, or "" when the file
    has no go line or modfile.ParseLax rejects it (x/mod's parseGoVers)."""
    try:
        version = modfile.parse_gomod(gomod).go
    except InvalidInput:
        return ""
    m = _GO_VERSION.fullmatch(version or "")
    if m is None or (m[5] and (m[3] or (m[7] != "0" and m[7].startswith("0")))):
        return ""  # no go line, or internal/gover rejects it (1.21.1rc1, 1.21rc01)
    if (m[1], m[2]) == ("1", "0"):
        return "go1"
    return f"go{m[1]}.{m[2]}"


def _at_least_go124(lang: str) -> bool:
    if not lang:
        return False
    major, _, minor = lang[2:].partition(".")
    return (int(major), int(minor or "0")) >= (1, 24)


def is_vendored_package(name: str, lang: str) -> bool:
    """Report whether ``name`` lies in a vendored package and is left out of the zip.

    ``lang`` is :func:`go_lang` of the root go.mod. From go1.24 on, vendor/modules.txt is
    vendored too and ``x/vendor/f.go`` is not; before, Go's historical offset bug applies.
    """
    new = _at_least_go124(lang)
    if new and name == "vendor/modules.txt":
        return True
    if name.startswith("vendor/"):
        i = len("vendor/")
    elif (j := name.find("/vendor/")) >= 0:
        i = j + len("/vendor/") if new else len("/vendor/")
    else:
        return False
    return "/" in name[i:]


# --- checks ----------------------------------------------------------------------------------


class _Collisions:
    """Case-insensitive name collisions and paths that are both file and directory."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, bool]] = {}
        #: Directories whose walk up to the root found no problem. Entries of ``_seen`` never
        #: change, so walking up from one of them again would find none either.
        self._clean_dirs: set[str] = set()

    def check(self, p: str, is_dir: bool) -> str | None:
        walked: list[str] = []
        while True:
            if is_dir and p in self._clean_dirs:
                break
            fold = str_to_fold(p)
            other = self._seen.get(fold)
            if other is None:
                self._seen[fold] = (p, is_dir)
            elif p != other[0]:
                return f"case-insensitive file name collision: {quote(other[0])} and {quote(p)}"
            elif is_dir != other[1]:
                return f"entry {quote(p)} is both a file and a directory"
            elif not is_dir:
                return f"multiple entries for file {quote(p)}"
            if is_dir:
                walked.append(p)
            parent = _dir(p)
            if parent == ".":
                break
            p, is_dir = parent, True
        self._clean_dirs.update(walked)
        return None


def _file_path_error(p: str) -> str | None:
    try:
        module.check_file_path(p)
    except InvalidInput as e:
        return str(e)
    return None


def _root_go_lang(files: Sequence[File]) -> tuple[set[str], str]:
    """Directories holding a regular go.mod (any case), and the root go.mod's language."""
    have_go_mod: set[str] = set()
    lang = ""
    for f in files:
        d, base = f.path[: f.path.rfind("/") + 1], f.path[f.path.rfind("/") + 1 :]
        if str_to_fold(base) != "go.mod" or f.kind is not FileKind.REGULAR:
            continue
        have_go_mod.add(d)
        if base == "go.mod" and d == "":
            try:
                lang = go_lang(b"".join(f.open()))
            except OSError:
                pass  # Go ignores a root go.mod it cannot read here
    return have_go_mod, lang


def check_files(files: Sequence[File]) -> CheckedFiles:
    """Sort ``files`` into valid, omitted and invalid, as x/mod's CheckFiles does.

    Every file lands in exactly one list (the first problem of a path wins). The total size
    of the valid files is checked against :data:`MAX_ZIP_FILE`; see :meth:`CheckedFiles.err`.
    """
    cf = CheckedFiles()
    have_go_mod, lang = _root_go_lang(files)
    seen_err: set[str] = set()

    def add_error(p: str, omitted: bool, err: str) -> None:
        if p in seen_err:
            return
        seen_err.add(p)
        (cf.omitted if omitted else cf.invalid).append(FileError(p, err))

    def in_submodule(p: str) -> bool:
        while (slash := p.rfind("/")) >= 0:
            if p[: slash + 1] in have_go_mod:
                return True
            p = p[:slash]
        return False

    collisions = _Collisions()
    room = MAX_ZIP_FILE
    for f in files:
        p = f.path
        if p != _clean(p):
            add_error(p, False, ERR_PATH_NOT_CLEAN)
        elif p.startswith("/"):
            add_error(p, False, ERR_PATH_NOT_RELATIVE)
        elif is_vendored_package(p, lang):
            add_error(p, True, ERR_VENDORED)
        elif in_submodule(p):
            add_error(p, True, ERR_SUBMODULE_FILE)
        elif p == ".hg_archival.txt":
            add_error(p, True, ERR_HG_ARCHIVAL)
        elif (err := _file_path_error(p)) is not None:
            add_error(p, False, err)
        elif len(p) == 6 and p.lower() == "go.mod" and p != "go.mod":
            add_error(p, False, ERR_GO_MOD_CASE)
        elif (err := collisions.check(p, f.kind is FileKind.DIR)) is not None:
            add_error(p, False, err)
        elif f.kind is FileKind.SYMLINK:
            add_error(p, True, ERR_SYMLINK)
        elif f.kind is not FileKind.REGULAR:
            add_error(p, True, ERR_NOT_REGULAR)
        else:
            if 0 <= f.size <= room:
                room -= f.size
            elif cf.size_error is None:
                cf.size_error = f"module source tree too large (max size is {MAX_ZIP_FILE} bytes)"
            if (err := _size_error(p, f.size)) is not None:
                add_error(p, False, err)
            else:
                cf.valid.append(p)
                cf.files.append(f)
    return cf


def check_module_version(module_path: str, version: str) -> None:
    """Check that ``version`` is canonical and that ``module_path@version`` is valid.

    Raises:
        InvalidInput: with x/mod's text (``version "v1" is not canonical (should be ...)``).
    """
    canonical = module.canonical_version(version)
    if canonical != version:
        raise InvalidInput(
            f"version {quote(version)} is not canonical (should be {quote(canonical)})"
        )
    module.check(module_path, version)


def select_files(module_path: str, version: str, files: Sequence[File]) -> list[File]:
    """Return the files x/mod's Create would write into the zip of ``module_path@version``.

    Raises:
        ZipError: ``create zip: ...`` when the version or any file is invalid or the tree is
            too large.
    """
    try:
        check_module_version(module_path, version)
    except InvalidInput as e:
        raise ZipError("create zip", str(e)) from e
    cf = check_files(files)
    err = cf.err()
    if err is not None:
        raise ZipError("create zip", err)
    return cf.files


def check_zip_size(size: int) -> None:
    """Check the size of a zip file before it is opened (x/mod's checkZip).

    Raises:
        InvalidInput: the zip file is larger than :data:`MAX_ZIP_FILE`.
    """
    if size > MAX_ZIP_FILE:
        raise InvalidInput(
            f"module zip file is too large ({size} bytes; limit is {MAX_ZIP_FILE} bytes)"
        )


def _int64(n: int) -> int:
    """Go's int64(uint64) conversion."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def check_zip_entries(
    module_path: str, version: str, entries: Iterable[tuple[str, int]]
) -> CheckedFiles:
    """Check the entries ``(name, uncompressed size)`` of a zip for ``module_path@version``.

    Call :func:`check_module_version` and :func:`check_zip_size` first, as Go does. Valid
    names are the full entry names; directory entries and the bare prefix are skipped.
    """
    cf = CheckedFiles()
    prefix = f"{module_path}@{version}/"
    collisions = _Collisions()
    room = MAX_ZIP_FILE
    for full, usize in entries:
        if not full.startswith(prefix):
            cf.invalid.append(FileError(full, f"path does not have prefix {quote(prefix)}"))
            continue
        name = full[len(prefix) :]
        is_dir = name.endswith("/")
        if is_dir:
            name = name[:-1]
        elif name == "":
            continue
        err = _zip_name_error(name, is_dir, collisions)
        if err is None and is_dir:
            continue
        if err is None:
            size = _int64(usize)
            if 0 <= size <= room:
                room -= size
            elif cf.size_error is None:
                cf.size_error = (
                    "total uncompressed size of module contents too large "
                    f"(max size is {MAX_ZIP_FILE} bytes)"
                )
            err = _size_error(name, size)
        if err is not None:
            cf.invalid.append(FileError(full, err))
        else:
            cf.valid.append(full)
    return cf


def _zip_name_error(name: str, is_dir: bool, collisions: _Collisions) -> str | None:
    if _clean(name) != name:
        return ERR_PATH_NOT_CLEAN
    err = _file_path_error(name)
    if err is None:
        err = collisions.check(name, is_dir)
    if err is None and not is_dir:
        base = name[name.rfind("/") + 1 :]
        if str_to_fold(base) == "go.mod":
            if base != name:
                return "go.mod file not in module root directory"
            if name != "go.mod":
                return ERR_GO_MOD_CASE
    return err


def _size_error(name: str, size: int) -> str | None:
    if name == "go.mod" and size > MAX_GO_MOD:
        return ERR_GO_MOD_SIZE
    if name == "LICENSE" and size > MAX_LICENSE:
        return ERR_LICENSE_SIZE
    return None
