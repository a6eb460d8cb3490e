"""gomodproxy.localfs.zipfiles: writing, hashing and checking module zips on disk."""

from __future__ import annotations

import os
import random
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import dirhash
from gomodproxy.gomod.modzip import MAX_ZIP_FILE, File, FileKind, ZipError
from gomodproxy.localfs import zipfiles

M, V = "example.com/m", "v1.0.0"
P = f"{M}@{V}/"


def write_zip(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return path


class TestHashZip:
    def test_worked_example(self, tmp_path: Path) -> None:
        """The zip of protocol.md §8 hashes to the value Go computed."""
        z = write_zip(
            tmp_path / "m.zip",
            [(P + "m.go", b"package m\n"), (P + "go.mod", b"module example.com/m\n")],
        )
        assert zipfiles.hash_zip(z) == "h1:fCHMqo5ggHEQvwcrsN81zr5orRk5lClR36KRHpfUjKg="

    def test_directory_entries_are_hashed(self, tmp_path: Path) -> None:
        """Every entry counts, directories too, as in dirhash.HashZip."""
        z = write_zip(tmp_path / "m.zip", [(P, b""), (P + "a", b"x")])
        assert zipfiles.hash_zip(z) == dirhash.hash1_bytes({P: b"", P + "a": b"x"})

    def test_stored_and_deflated_agree(self, tmp_path: Path) -> None:
        """Compression does not change the hash."""
        a = tmp_path / "a.zip"
        with zipfile.ZipFile(a, "w", zipfile.ZIP_STORED) as z:
            z.writestr(P + "f", b"data" * 1000)
        b = write_zip(tmp_path / "b.zip", [(P + "f", b"data" * 1000)])
        assert zipfiles.hash_zip(a) == zipfiles.hash_zip(b)

    def test_not_a_zip(self, tmp_path: Path) -> None:
        """Garbage is refused with Go's zip error text."""
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"not a zip at all")
        with pytest.raises(InvalidInput, match=r"^zip: not a valid zip file$"):
            zipfiles.hash_zip(bad)

    def test_corrupt_entry(self, tmp_path: Path) -> None:
        """A flipped content byte fails the CRC check."""
        z = tmp_path / "c.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zw:
            zw.writestr(P + "f", b"hello world")
        raw = bytearray(z.read_bytes())
        raw[raw.index(b"hello")] ^= 1
        z.write_bytes(bytes(raw))
        with pytest.raises(InvalidInput, match=r"^zip: checksum error$"):
            zipfiles.hash_zip(z)

    def test_entry_before_the_start_of_the_file(self, tmp_path: Path) -> None:
        """A directory that says the archive starts 8 bytes later than it does puts the
        first entry's header before byte 0: refused as not a zip, not an OSError."""
        z = write_zip(tmp_path / "o.zip", [(P + "a.go", b"package a\n"), (P + "go.mod", b"")])
        raw = bytearray(z.read_bytes())
        eocd = raw.rindex(b"PK\x05\x06")
        offset = int.from_bytes(raw[eocd + 16 : eocd + 20], "little")
        raw[eocd + 16 : eocd + 20] = (offset + 8).to_bytes(4, "little")
        z.write_bytes(bytes(raw))
        assert zipfile.ZipFile(z).infolist()[0].header_offset < 0  # what zipfile makes of it
        with pytest.raises(InvalidInput, match=r"^zip: not a valid zip file$"):
            zipfiles.hash_zip(z)
        with pytest.raises(InvalidInput, match=r"^zip: not a valid zip file$"):
            zipfiles.check_and_hash_zip(z, M, V)  # what ingesting a fetched zip runs

    def test_encrypted_entry(self, tmp_path: Path) -> None:
        """An entry flagged as encrypted (Go's archive/zip has no encryption) is refused
        with a reason, not zipfile's RuntimeError."""
        z = write_zip(tmp_path / "e.zip", [(P + "a.go", b"package a\n"), (P + "go.mod", b"")])
        raw = bytearray(z.read_bytes())
        central = raw.index(b"PK\x01\x02")
        raw[central + 8] |= 0x1  # general purpose flags: encrypted
        z.write_bytes(bytes(raw))
        with pytest.raises(InvalidInput, match=r"a\.go: encrypted entries are not supported$"):
            zipfiles.hash_zip(z)
        with pytest.raises(InvalidInput, match=r"a\.go: encrypted entries are not supported$"):
            zipfiles.check_and_hash_zip(z, M, V)

    def test_refuses_oversized_zip_file(self, tmp_path: Path) -> None:
        """A zip file over 500 MiB is refused before it is read (sparse file, no disk use)."""
        big = tmp_path / "big.zip"
        with big.open("wb") as fh:
            fh.truncate(MAX_ZIP_FILE + 1)
        with pytest.raises(InvalidInput, match="module zip file is too large"):
            zipfiles.hash_zip(big)

    def test_refuses_declared_bomb(self, tmp_path: Path) -> None:
        """Entries declaring more than 500 MiB in total are refused without inflating them."""
        z = write_zip(tmp_path / "bomb.zip", [(P + "a", b"")])
        raw = bytearray(z.read_bytes())
        # Patch the uncompressed size in the central directory header to 600 MiB.
        cd = raw.rindex(b"PK\x01\x02")
        raw[cd + 24 : cd + 28] = (600 << 20).to_bytes(4, "little")
        z.write_bytes(bytes(raw))
        with pytest.raises(InvalidInput, match="total uncompressed size"):
            zipfiles.hash_zip(z)


class TestCheckZip:
    def test_valid(self, tmp_path: Path) -> None:
        """A well-formed zip passes and lists its files."""
        z = write_zip(tmp_path / "m.zip", [(P + "go.mod", b"module m\n"), (P + "a/b.go", b"")])
        assert zipfiles.check_zip(z, M, V).valid == [P + "go.mod", P + "a/b.go"]

    def test_wrong_prefix(self, tmp_path: Path) -> None:
        """An entry outside path@version/ is named in Go's words."""
        z = write_zip(tmp_path / "m.zip", [("other@v1.0.0/x.go", b"")])
        with pytest.raises(InvalidInput) as e:
            zipfiles.check_zip(z, M, V)
        assert str(e.value) == (
            'other@v1.0.0/x.go: path does not have prefix "example.com/m@v1.0.0/"'
        )

    def test_noncanonical_version(self, tmp_path: Path) -> None:
        """The version must be canonical before the zip is even opened."""
        with pytest.raises(InvalidInput) as e:
            zipfiles.check_zip(tmp_path / "missing.zip", M, "v1.0")
        assert str(e.value) == 'version "v1.0" is not canonical (should be "v1.0.0")'

    def test_nul_in_name_not_truncated(self, tmp_path: Path) -> None:
        """A NUL byte in an entry name is checked, not cut off as Python's zipfile does."""
        z = write_zip(tmp_path / "m.zip", [(P + "a.go", b"")])
        raw = z.read_bytes().replace(b"a.go", b"a\x00go")
        z.write_bytes(raw)
        with pytest.raises(InvalidInput, match=r"invalid char '\\x00'"):
            zipfiles.check_zip(z, M, V)


class TestCreateZip:
    def test_from_files_and_hash(self, tmp_path: Path) -> None:
        """create_zip writes prefixed deflated entries and returns their h1."""
        dest = tmp_path / "out.zip"
        files = [
            File.from_bytes("go.mod", b"module example.com/m\n"),
            File.from_bytes("m.go", b"package m\n"),
            File.from_bytes("link.go", b"m.go", FileKind.SYMLINK),
        ]
        h = zipfiles.create_zip(dest, M, V, files)
        assert h == "h1:fCHMqo5ggHEQvwcrsN81zr5orRk5lClR36KRHpfUjKg="
        assert zipfiles.hash_zip(dest) == h
        with zipfile.ZipFile(dest) as z:
            assert [i.filename for i in z.infolist()] == [P + "go.mod", P + "m.go"]
            assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
        assert oct(dest.stat().st_mode & 0o777) == "0o644"

    def test_invalid_leaves_nothing(self, tmp_path: Path) -> None:
        """An invalid file name fails with Go's text and writes no file."""
        dest = tmp_path / "out.zip"
        with pytest.raises(ZipError) as e:
            zipfiles.create_zip(dest, M, V, [File.from_bytes("bad.go'", b"")])
        assert str(e.value) == (
            "create zip: bad.go': malformed file path \"bad.go'\": invalid char '\\''"
        )
        assert list(tmp_path.iterdir()) == []

    def test_larger_than_declared(self, tmp_path: Path) -> None:
        """A file yielding more bytes than it declared aborts the zip, leaving no temp file."""
        f = File("a.go", 1, lambda: (b"ab",))
        with pytest.raises(ZipError, match=r'^create zip: file "a.go" is larger than declared'):
            zipfiles.create_zip(tmp_path / "out.zip", M, V, [f])
        assert list(tmp_path.iterdir()) == []


class TestCreateFromDir:
    def test_tree(self, tmp_path: Path) -> None:
        """Nested modules, VCS dirs, vendored packages and symlinks stay out of the zip."""
        d = tmp_path / "m"
        for rel, data in {
            "go.mod": "module example.com/m\n\ngo 1.24\n",
            "m.go": "package m\n",
            "sub/go.mod": "module example.com/m/sub\n",
            "sub/s.go": "",
            ".git/HEAD": "",
            "vendor/modules.txt": "",
            "vendor/a/b/c.go": "",
            "vendor/top.go": "",
        }.items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(data)
        os.symlink("m.go", d / "link.go")
        dest = tmp_path / "out.zip"
        zipfiles.create_zip_from_dir(dest, M, V, str(d))
        with zipfile.ZipFile(dest) as z:
            names = [i.filename for i in z.infolist()]
        assert names == [P + "go.mod", P + "m.go", P + "vendor/top.go"]

    def test_error_names_directory(self, tmp_path: Path) -> None:
        """Errors name the directory the way Go's CreateFromDir does."""
        (tmp_path / "bad.go'").write_text("")
        with pytest.raises(ZipError) as e:
            zipfiles.create_zip_from_dir(tmp_path / "o.zip", M, V, str(tmp_path))
        assert str(e.value).startswith(f"create zip {tmp_path}: bad.go': malformed file path")

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A missing directory is reported as Go's walk reports it."""
        missing = str(tmp_path / "nope")
        with pytest.raises(ZipError) as e:
            zipfiles.create_zip_from_dir(tmp_path / "o.zip", M, V, missing)
        assert str(e.value) == (
            f"create zip from directory {missing}: lstat {missing}: no such file or directory"
        )


def test_hash_zip_bounds_work_of_repeated_names(tmp_path: Path) -> None:
    """Names repeated to re-read one large entry count toward the limit each time."""
    z = tmp_path / "dup.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zw, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the duplicate names are the point
        for _ in range(3):
            zw.writestr(P + "big", b"")
    raw = bytearray(z.read_bytes())
    start = 0
    for _ in range(3):  # declare 200 MiB in each central directory record
        cd = raw.index(b"PK\x01\x02", start)
        raw[cd + 24 : cd + 28] = (200 << 20).to_bytes(4, "little")
        start = cd + 4
    z.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput, match="total uncompressed size"):
        zipfiles.hash_zip(z)


def test_entry_name_is_the_stored_bytes(tmp_path: Path) -> None:
    """UTF-8 names stored without the UTF-8 flag come back as UTF-8, not as cp437."""
    z = write_zip(tmp_path / "m.zip", [(P + "a.go", b"")])
    z.write_bytes(z.read_bytes().replace(b"a.go", "é.g".encode()))
    with zipfile.ZipFile(z) as zf:
        (info,) = zf.infolist()
    assert info.flag_bits & 0x800 == 0
    assert zipfiles.entry_name(info) == P + "é.g"
    assert zipfiles.check_zip(z, M, V).valid == [P + "é.g"]


def test_corrupt_deflate_stream(tmp_path: Path) -> None:
    """A broken deflate stream is an InvalidInput naming the entry, not a zlib error."""
    z = write_zip(tmp_path / "d.zip", [(P + "f", bytes(range(256)) * 64)])
    raw = bytearray(z.read_bytes())
    start = raw.index(b"PK\x03\x04") + 30 + len(P + "f")
    raw[start : start + 8] = b"\xff" * 8
    z.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput, match=f"^zip: {P}f: "):
        zipfiles.hash_zip(z)


def test_directory_named_go_mod_is_no_module(tmp_path: Path) -> None:
    """A directory called go.mod does not make its parent a nested module (Go's Lstat test)."""
    (tmp_path / "sub" / "go.mod").mkdir(parents=True)
    (tmp_path / "sub" / "x.go").write_text("")
    files, omitted = zipfiles.list_dir(str(tmp_path))
    assert [f.path for f in files] == ["sub/x.go"]
    assert omitted == []


def _through_zipfile(path: Path) -> str:
    """hash_zip as it was written before entries were read directly: every entry through
    zipfile's ZipExtFile. The reference the direct reader must agree with, bytes and errors."""
    with zipfiles.open_zip(path) as zf:
        infos = {zipfiles.entry_name(i): i for i in zf.infolist()}
        names = [zipfiles.entry_name(i) for i in zf.infolist()]
        if sum(infos[n].file_size for n in names) > MAX_ZIP_FILE:
            raise InvalidInput("total uncompressed size of module contents too large")
        return dirhash.hash1(names, lambda name: zipfiles._read_entry(zf, infos[name]))


def _outcome(fn: Callable[[Path], str], path: Path) -> str:
    try:
        return fn(path)
    except (InvalidInput, OSError, RuntimeError) as e:
        return f"{type(e).__name__}: {str(e).split(' (max size')[0]}"


def _mutants(rng: random.Random, tmp_path: Path) -> Iterator[Path]:
    """Zips of stored and deflated entries (empty, tiny, a few KiB, over the 1 MiB read size,
    compressible or not), then copies with bytes flipped, zeroed, cut or sizes rewritten."""
    big = b"".join(rng.randbytes(64) * rng.randint(1, 40) for _ in range(800))
    entries = [
        (P + "empty", b"", zipfile.ZIP_DEFLATED),
        (P + "tiny", b"x", zipfile.ZIP_STORED),
        (P + "text.go", b"package m\n" * 500, zipfile.ZIP_DEFLATED),
        (P + "random.bin", rng.randbytes(9000), zipfile.ZIP_DEFLATED),
        (P + "big.bin", big, zipfile.ZIP_DEFLATED),
        (P + "big-stored.bin", big[: 1 << 20 | 4097], zipfile.ZIP_STORED),
    ]
    base = tmp_path / "base.zip"
    with zipfile.ZipFile(base, "w") as z:
        for name, data, method in entries:
            z.writestr(name, data, compress_type=method)
    yield base
    raw = base.read_bytes()
    with zipfile.ZipFile(base) as z:
        infos = z.infolist()
    cd = min(raw.index(b"PK\x01\x02"), len(raw))
    central = [j for j in range(cd, len(raw) - 4) if raw[j : j + 4] == b"PK\x01\x02"]
    for i in range(120):
        data = bytearray(raw)
        e = rng.randrange(len(infos))
        info = infos[e]
        start = info.header_offset + 30 + len(info.filename.encode())
        size = max(info.compress_size, 1)
        kind = i % 6
        if kind == 0:  # a flipped bit in the entry's data
            data[start + rng.randrange(size)] ^= 1 << rng.randrange(8)
        elif kind == 1:  # garbage over the start or the middle of the entry's data
            at = start + rng.choice([0, rng.randrange(size)])
            data[at : at + 8] = rng.randbytes(8)
        elif kind == 2:  # a local header field rewritten
            data[info.header_offset + rng.choice([0, 6, 7, 8, 26, 28, 30])] = rng.randrange(256)
        elif kind == 3:  # the directory's CRC, compressed or uncompressed size rewritten
            field = central[e] + rng.choice([16, 20, 24])
            value = rng.choice([0, 1, rng.randrange(1 << 32), info.file_size // 2 + 1])
            data[field : field + 4] = value.to_bytes(4, "little")
        elif kind == 4:  # the entry's data cut short, the rest of the file shifted
            cut = rng.randrange(1, 64)
            del data[start + rng.randrange(size) :][:cut]
        else:  # nothing after the entry's first bytes: the file ends early
            del data[start + rng.randrange(size) :]
        out = tmp_path / f"m{i}.zip"
        out.write_bytes(bytes(data))
        yield out


def test_direct_reads_agree_with_zipfile(tmp_path: Path) -> None:
    """On valid and damaged zips the direct reader gives zipfile's h1 or zipfile's error."""
    rng = random.Random(16)
    outcomes = set()
    for path in _mutants(rng, tmp_path):
        want = _outcome(_through_zipfile, path)
        assert _outcome(zipfiles.hash_zip, path) == want, path.name
        outcomes.add(want)
    # The damage reached many different outcomes, not just one kind of error.
    print(outcomes)
    assert len(outcomes) >= 6, outcomes
