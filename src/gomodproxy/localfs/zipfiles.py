"""Module zips on disk: read a directory or a zip, write a zip, hash and check a zip.

The I/O half of golang.org/x/mod/zip and sumdb/dirhash; every decision is taken by the pure
:mod:`gomodproxy.gomod.modzip` and :mod:`gomodproxy.gomod.dirhash`.

- :func:`create_zip` writes the zip of a list of :class:`~gomodproxy.gomod.modzip.File`
  (from git, from memory, ...) and :func:`create_zip_from_dir` that of a directory, as x/mod's
  ``Create`` and ``CreateFromDir`` select them. Entries are ``path@version/<file>``, deflated,
  with no directory entries; the file appears atomically (temp file, fsync, rename) and both
  return the h1: hash of what they wrote.
- :func:`hash_zip` streams a zip's entries through SHA-256 (dirhash.HashZip) and
  :func:`check_zip` applies x/mod's ``CheckZip``. Both refuse a zip file larger than
  ``MAX_ZIP_FILE``, and ``hash_zip`` also one whose entries declare more than that in total,
  so a hostile zip costs bounded work (a valid module zip never exceeds either limit).

Zip entry names are bytes; they are handled as ``str`` with surrogate escapes for bytes that are
not UTF-8, so names Go would reject still reach the checks that reject them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import dirhash
from gomodproxy.gomod._gostr import quote
from gomodproxy.gomod.modzip import (
    ERR_NOT_REGULAR,
    ERR_SUBMODULE_DIR,
    ERR_VCS,
    ERR_VENDORED,
    MAX_ZIP_FILE,
    VCS_DIRS,
    CheckedFiles,
    File,
    FileError,
    ZipError,
    check_files,
    check_module_version,
    check_zip_entries,
    check_zip_size,
    go_lang,
    is_vendored_package,
    select_files,
)

__all__ = [
    "check_and_hash_zip",
    "check_dir",
    "check_zip",
    "create_zip",
    "create_zip_from_dir",
    "entry_name",
    "hash_zip",
    "list_dir",
    "open_zip",
]

CHUNK = 1 << 20
#: Zip timestamps cannot be earlier; Go writes a zero DOS date, which the h1 ignores anyway.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _go_os_error(op: str, path: str, exc: OSError) -> str:
    """An OSError worded as Go's *PathError: ``open /x: no such file or directory``."""
    reason = exc.strerror or str(exc)
    return f"{op} {path}: {reason[:1].lower()}{reason[1:]}"


# --- reading zips ----------------------------------------------------------------------------


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name exactly as stored (before Python cuts it at a NUL byte), as ``str``."""
    name = info.orig_filename
    if name.isascii():  # the same bytes in either encoding
        return name
    raw = name.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    return raw.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def open_zip(path: str | os.PathLike[str]) -> Iterator[zipfile.ZipFile]:
    """Open a zip for reading, refusing one larger than ``MAX_ZIP_FILE``.

    Raises:
        InvalidInput: the zip is too large or not a zip (``zip: not a valid zip file``).
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        check_zip_size(os.fstat(fh.fileno()).st_size)
        try:
            zf = zipfile.ZipFile(fh)
        # NotImplementedError: a directory entry claiming an unsupported zip version (found by
        # the fuzz smoke test).
        except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, EOFError,
                NotImplementedError) as e:  # fmt: skip
            raise InvalidInput("zip: not a valid zip file") from e
        with zf:
            yield zf


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    try:
        with zf.open(info) as r:
            while chunk := r.read(CHUNK):
                yield chunk
    except zipfile.BadZipFile as e:
        text = "zip: checksum error" if "CRC" in str(e) else "zip: not a valid zip file"
        raise InvalidInput(text) from e
    except (zlib.error, NotImplementedError, EOFError, ValueError) as e:
        raise InvalidInput(f"zip: {entry_name(info)}: {e}") from e
    except RuntimeError as e:  # zipfile's "File ... is encrypted, password required"
        raise InvalidInput(f"zip: {entry_name(info)}: encrypted entries are not supported") from e
    except OSError as e:
        # An entry whose header offset, with the archive's own offset applied, lies before
        # the start of the file: zipfile seeks there and the seek fails.
        if e.errno != errno.EINVAL:
            raise
        raise InvalidInput("zip: not a valid zip file") from e


def _entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Iterator[bytes]:
    """The content of an entry: read straight from the file when it is a plain stored or
    deflated entry whose local header agrees with the directory, else through zipfile.

    The direct path makes the same reads and zlib calls as zipfile's ``ZipExtFile.read(CHUNK)``
    loop (same input pieces, same output limits, same stopping rules, same CRC check), so its
    bytes and errors are zipfile's, without the objects and method calls per piece that made
    hashing many small entries slow. Any error it meets is left to zipfile to report, so its
    text is exactly zipfile's too.
    """
    fd = zf.fp.fileno() if zf.fp is not None else -1
    start, ahead = -1, b""
    if fd >= 0 and info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        start, ahead = _data_offset(fd, info, name)
    if start < 0:
        yield from _read_entry(zf, info)
        return
    if info.compress_size <= CHUNK and info.file_size <= CHUNK:
        whole = _whole(fd, info, start, ahead)
        if whole is not None:
            if whole:  # an empty entry: zipfile's first read is already b""
                yield whole
            return
    sent = 0
    try:
        for chunk in _direct(fd, info, start):
            sent += len(chunk)
            yield chunk
    except _Unusual:
        # zipfile reads the same bytes in the same order: skip those sent, let it say why.
        for chunk in _read_entry(zf, info):
            if sent >= len(chunk):
                sent -= len(chunk)
                continue
            yield chunk[sent:]
            sent = 0


class _Unusual(Exception):
    """The direct read met something zipfile reports as an error."""


#: General-purpose flag bits zipfile treats specially (encryption, patched data).
_SPECIAL_FLAGS = 0x01 | 0x20 | 0x40


#: Bytes read past a local header's name with it: a small entry's extra field and data
#: usually fit, so its header and data cost one read.
_AHEAD = 16 << 10


def _data_offset(fd: int, info: zipfile.ZipInfo, name: str) -> tuple[int, bytes]:
    """Where an entry's data starts, or -1 if zipfile would do more than skip its header; and
    the file's bytes from there on, as far as they were read with the header (maybe none)."""
    if info.flag_bits & _SPECIAL_FLAGS:
        return -1, b""
    raw = name.encode("utf-8", "surrogateescape")
    fixed = 30 + len(raw)
    try:
        header = os.pread(fd, fixed + min(_AHEAD, 64 + info.compress_size), info.header_offset)
    except OSError:
        return -1, b""
    if len(header) < fixed or header[:4] != b"PK\x03\x04":
        return -1, b""
    flags, name_len, extra_len = (
        int.from_bytes(header[6:8], "little"),
        int.from_bytes(header[26:28], "little"),
        int.from_bytes(header[28:30], "little"),
    )
    if name_len != len(raw) or header[30:fixed] != raw or (flags ^ info.flag_bits) & 0x800:
        return -1, b""
    start = info.header_offset + fixed + extra_len
    end = getattr(info, "_end_offset", None)  # Pythons that refuse overlapping entries
    if end is not None and start + info.compress_size > end:
        return -1, b""
    return start, header[fixed + extra_len :]


def _whole(fd: int, info: zipfile.ZipInfo, start: int, ahead: bytes) -> bytes | None:
    """A small entry's content in one read and one zlib call, or None unless everything about
    it is plain: the data inflates to exactly ``file_size`` bytes, ending exactly at
    ``compress_size``, with the right CRC. Then zipfile's piecewise reads yield these bytes and
    raise nothing (its first ``read(CHUNK)`` returns the whole entry); any other entry takes
    the exact emulation, ``_direct``. Output is capped at ``file_size + 1`` bytes, so a small
    bomb costs no more than a small file.
    """
    size = info.compress_size
    try:
        data = ahead[:size] if len(ahead) >= size else os.pread(fd, size, start)
    except OSError:
        return None
    if len(data) != size:
        return None
    if info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        try:
            out = inflater.decompress(data, info.file_size + 1)
        except zlib.error:
            return None
        if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
            return None
    else:
        out = data
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        return None
    return out


def _direct(fd: int, info: zipfile.ZipInfo, start: int) -> Iterator[bytes]:
    """Emulate ``while chunk := ZipExtFile.read(CHUNK)`` over the entry's bytes at ``start``.

    Raises:
        _Unusual: where zipfile would raise (a short file, a zlib error, a bad CRC).
    """
    deflated = info.compress_type == zipfile.ZIP_DEFLATED
    inflater = zlib.decompressobj(-15) if deflated else None
    compress_left, left, pos = info.compress_size, info.file_size, start
    crc, expected = 0, info.CRC
    pending = b""  # output zipfile keeps in its read buffer for the next read()
    eof = False
    while True:
        n = CHUNK - len(pending)
        out = [pending] if pending else []
        pending = b""
        while n > 0 and not eof:
            # _read1(n): the unconsumed input first, then at least MIN_READ_SIZE more.
            data = inflater.unconsumed_tail if inflater is not None else b""
            if n > len(data) and compress_left > 0:
                want = min(max(n - len(data), _MIN_READ), compress_left)
                try:
                    more = os.pread(fd, want, pos)
                except OSError as e:
                    raise _Unusual from e
                if not more:
                    raise _Unusual
                pos += len(more)
                compress_left -= len(more)
                data = data + more if data else more
            if inflater is None:
                eof = compress_left <= 0
            else:
                try:
                    data = inflater.decompress(data, max(n, _MIN_READ))
                    eof = inflater.eof or (compress_left <= 0 and not inflater.unconsumed_tail)
                    if eof:
                        data += inflater.flush()
                except zlib.error as e:
                    raise _Unusual from e
            data = data[:left]
            left -= len(data)
            if left <= 0:
                eof = True
            crc = zlib.crc32(data, crc)
            if eof and crc != expected:
                raise _Unusual
            if n < len(data):
                out.append(data[:n])
                pending = data[n:]
                break
            out.append(data)
            n -= len(data)
        chunk = b"".join(out)
        if not chunk:
            return
        yield chunk


_MIN_READ = zipfile.ZipExtFile.MIN_READ_SIZE


def _hash_entries(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], names: list[str]) -> str:
    by_name = dict(zip(names, infos, strict=True))  # a repeated name: the last wins
    if sum(by_name[n].file_size for n in names) > MAX_ZIP_FILE:  # the work hash1 will do
        raise InvalidInput(
            "total uncompressed size of module contents too large "
            f"(max size is {MAX_ZIP_FILE} bytes)"
        )
    return dirhash.hash1(names, lambda name: _entry(zf, by_name[name], name))


def hash_zip(path: str | os.PathLike[str]) -> str:
    """Return the h1: hash of a zip's entries (dirhash.HashZip), streaming their content.

    Raises:
        InvalidInput: not a zip, corrupt, or larger than a module zip may be.
        OSError: the file cannot be read.
    """
    with open_zip(path) as zf:
        infos = zf.infolist()
        return _hash_entries(zf, infos, [entry_name(i) for i in infos])


def _checked(
    module_path: str, version: str, infos: list[zipfile.ZipInfo], names: list[str]
) -> CheckedFiles:
    cf = check_zip_entries(
        module_path, version, zip(names, (i.file_size for i in infos), strict=True)
    )
    err = cf.err()
    if err is not None:
        raise InvalidInput(err)
    return cf


def check_zip(path: str | os.PathLike[str], module_path: str, version: str) -> CheckedFiles:
    """Check a zip for ``module_path@version`` as x/mod's CheckZip does; return its record.

    Raises:
        InvalidInput: with Go's text: a bad version or path, a zip too large, an entry outside
            ``path@version/``, an invalid or colliding name, a misplaced go.mod, sizes over
            the limits (several problems: one line each).
        OSError: the file cannot be read.
    """
    check_module_version(module_path, version)
    with open_zip(path) as zf:
        infos = zf.infolist()
        return _checked(module_path, version, infos, [entry_name(i) for i in infos])


def check_and_hash_zip(path: str | os.PathLike[str], module_path: str, version: str) -> str:
    """:func:`check_zip`, then :func:`hash_zip`, over one open and one parse of the zip.

    Raises:
        InvalidInput: what either would raise, in that order.
        OSError: the file cannot be read.
    """
    check_module_version(module_path, version)
    with open_zip(path) as zf:
        infos = zf.infolist()
        names = [entry_name(i) for i in infos]
        _checked(module_path, version, infos, names)
        return _hash_entries(zf, infos, names)


# --- reading directories ------------------------------------------------------------------


def _disk_opener(fs_path: str) -> Callable[[], Iterable[bytes]]:
    def chunks() -> Iterator[bytes]:
        with open(fs_path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    return chunks


def list_dir(directory: str) -> tuple[list[File], list[FileError]]:
    """List a module directory as x/mod's CreateFromDir does (listFilesInDir).

    Walks in byte order of names without following symlinks; skips VCS directories, nested
    modules (a directory with a ``go.mod`` that is not a directory) and vendored packages, and
    reports irregular files as omitted.

    Raises:
        ZipError: ``create zip from directory DIR: lstat ...`` when the walk fails.
    """
    lang = ""
    with contextlib.suppress(OSError), open(os.path.join(directory, "go.mod"), "rb") as fh:
        lang = go_lang(fh.read())
    files: list[File] = []
    omitted: list[FileError] = []
    # Depth-first, children in byte order: a stack of (fs path, slash path) still to visit.
    stack: list[tuple[str, str]] = [(directory, ".")]
    while stack:
        fs_path, slash = stack.pop()
        try:
            st = os.lstat(fs_path)
        except OSError as e:
            raise ZipError("create zip from directory", _go_os_error("lstat", fs_path, e)) from e
        vendored = is_vendored_package(slash, lang)
        if vendored:
            # Go still walks into a vendored directory, reporting each file in it.
            omitted.append(FileError(slash, ERR_VENDORED))
        if stat.S_ISDIR(st.st_mode):
            if not vendored and slash != "." and _skip_dir(fs_path, slash, omitted):
                continue
            try:
                names = sorted(os.listdir(os.fsencode(fs_path)))
            except OSError as e:
                raise ZipError("create zip from directory", _go_os_error("open", fs_path, e)) from e
            prefix = "" if slash == "." else slash + "/"
            stack.extend(
                (os.path.join(fs_path, os.fsdecode(n)), prefix + os.fsdecode(n))
                for n in reversed(names)
            )
        elif vendored:
            continue
        elif not stat.S_ISREG(st.st_mode):
            omitted.append(FileError(slash, ERR_NOT_REGULAR))
        else:
            files.append(File(slash, st.st_size, _disk_opener(fs_path)))
    return files, omitted


def _skip_dir(fs_path: str, slash: str, omitted: list[FileError]) -> bool:
    if os.path.basename(fs_path) in VCS_DIRS:
        omitted.append(FileError(slash, ERR_VCS))
        return True
    try:
        st = os.lstat(os.path.join(fs_path, "go.mod"))
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        return False
    omitted.append(FileError(slash, ERR_SUBMODULE_DIR))
    return True


def check_dir(directory: str) -> CheckedFiles:
    """Check a module directory as x/mod's CheckDir does, with paths relative to it.

    Raises:
        ZipError: the walk failed.
    """
    files, omitted = list_dir(directory)
    cf = check_files(files)
    cf.omitted.extend(omitted)
    return cf


# --- writing zips -------------------------------------------------------------------------


def create_zip(
    dest: str | os.PathLike[str], module_path: str, version: str, files: Sequence[File]
) -> str:
    """Write the zip of ``module_path@version`` made of ``files`` to ``dest`` (x/mod Create).

    Returns the h1: hash of the written zip. ``dest`` appears only once complete.

    Raises:
        ZipError: ``create zip: ...`` with Go's text when the version, a file or the size is
            invalid, or a file yields more bytes than its declared size.
        OSError: reading a file or writing ``dest`` failed.
    """
    valid = select_files(module_path, version, files)
    prefix = f"{module_path}@{version}/"
    digests: list[tuple[str, str]] = []
    dest = os.fspath(dest)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=os.path.dirname(dest) or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zw:
                for f in valid:
                    digests.append((prefix + f.path, _write_entry(zw, prefix + f.path, f)))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dirhash.hash1_digests(digests)


def _write_entry(zw: zipfile.ZipFile, name: str, f: File) -> str:
    info = zipfile.ZipInfo(name, _EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = f.size
    digest = hashlib.sha256()
    written = 0
    with zw.open(info, "w") as w:
        for chunk in f.open():
            written += len(chunk)
            if written > f.size:
                raise ZipError("create zip", f"file {quote(f.path)} is larger than declared size")
            digest.update(chunk)
            w.write(chunk)
    return digest.hexdigest()


def create_zip_from_dir(
    dest: str | os.PathLike[str], module_path: str, version: str, directory: str
) -> str:
    """Write the zip of the module in ``directory`` to ``dest`` (x/mod CreateFromDir).

    Returns the h1: hash of the written zip.

    Raises:
        ZipError: ``create zip DIR: ...`` (invalid content) or ``create zip from directory
            DIR: ...`` (the walk failed), with Go's texts.
        OSError: reading a file or writing ``dest`` failed.
    """
    try:
        files, _ = list_dir(directory)
        return create_zip(dest, module_path, version, files)
    except ZipError as e:
        raise ZipError(e.verb, e.err, directory) from e
