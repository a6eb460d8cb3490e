"""Signed notes, as in golang.org/x/mod/sumdb/note (note.go).

Theory of operation
-------------------
A signed note is a UTF-8 text ending in ``\\n``, a blank line, and one or more signature lines
``— <name> <base64(4-byte key hash ‖ signature)>``. The split point is the *last* ``\\n\\n``.
What is signed is the text including its final newline. Only Ed25519 (algorithm byte 0x01)
exists. A verifier key string is ``name+hash+base64(0x01 ‖ 32-byte public key)`` where hash is
the first four bytes of SHA-256(name ‖ "\\n" ‖ keydata), as eight hex digits; a signer key
string is ``PRIVATE+KEY+name+hash+base64(0x01 ‖ 32-byte seed)``.

``open_note`` follows ``note.Open`` step by step, with its error texts: signatures by unknown
keys are kept as unverified (multiple signers are normal, e.g. witnesses), a bad signature by a
known key is fatal, a note without any verified signature is rejected. Everything here is pure:
randomness for new keys comes in as bytes from the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gomodproxy.errors import InvalidInput, VerificationError

__all__ = [
    "AmbiguousVerifierError",
    "InvalidSignatureError",
    "Note",
    "Signature",
    "Signer",
    "UnknownVerifierError",
    "UnverifiedNoteError",
    "Verifier",
    "Verifiers",
    "generate_key",
    "key_hash",
    "new_ed25519_verifier_key",
    "new_signer",
    "new_verifier",
    "open_note",
    "sign",
]

ALG_ED25519 = 1
#: More signature lines than this make a note malformed (note.Open).
MAX_SIGNATURES = 100
_SIG_PREFIX = "— ".encode()

# Unicode White_Space, which is what Go's unicode.IsSpace tests (Python's str.isspace differs
# on U+001C..U+001F).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def b64decode(s: str | bytes) -> bytes:
    """Decode standard padded base64 like Go's ``base64.StdEncoding`` (which skips CR and LF).

    Raises:
        InvalidInput: the text is not valid base64.
    """
    raw = s.encode("latin-1", "replace") if isinstance(s, str) else s
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    if len(raw) % 4:
        raise InvalidInput("illegal base64 data")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("illegal base64 data") from exc


def b64encode(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def key_hash(name: str, key: bytes) -> int:
    """The 32-bit key hash of a key: SHA-256(name ‖ "\\n" ‖ key)[:4], big-endian."""
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + key).digest()[:4], "big")


def _is_valid_name(name: str) -> bool:
    return (
        name != ""
        and _is_utf8(name)
        and not any(c in _WHITE_SPACE for c in name)
        and "+" not in name
    )


def _is_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_hex32(s: str) -> int | None:
    if len(s) != 8 or any(c not in "0123456789abcdefABCDEF" for c in s):
        return None
    return int(s, 16)


def _b64_or_none(s: str) -> bytes | None:
    try:
        return b64decode(s)
    except InvalidInput:
        return None


@dataclass(frozen=True)
class Verifier:
    """A public key that can check signatures of one name."""

    name: str
    key_hash: int
    public_key: bytes

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True if ``sig`` is a valid Ed25519 signature of ``msg`` by this key."""
        if len(sig) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig, msg)
        except (InvalidSignature, ValueError):
            return False
        return True

    def key_string(self) -> str:
        """The ``name+hash+keydata`` string of this key."""
        data = b64encode(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_hash:08x}+{data}"


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes under one name."""

    name: str
    key_hash: int
    seed: bytes = field(repr=False)

    def sign(self, msg: bytes) -> bytes:
        """The Ed25519 signature of ``msg`` (deterministic)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(msg)

    def verifier(self) -> Verifier:
        """The public half of this key."""
        return Verifier(self.name, self.key_hash, _public_from_seed(self.seed))


def _public_from_seed(seed: bytes) -> bytes:
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def new_verifier(vkey: str) -> Verifier:
    """Parse a verifier key string ``name+hash+keydata`` (note.NewVerifier).

    Raises:
        InvalidInput: "malformed verifier id", "invalid verifier hash" or
            "unknown verifier algorithm".
    """
    name, _, rest = vkey.partition("+")
    hash16, _, key64 = rest.partition("+")
    h = _parse_hex32(hash16)
    key = _b64_or_none(key64)
    if h is None or key is None or not _is_valid_name(name) or not key:
        raise InvalidInput("malformed verifier id")
    if h != key_hash(name, key):
        raise InvalidInput("invalid verifier hash")
    alg, pub = key[0], key[1:]
    if alg != ALG_ED25519:
        raise InvalidInput("unknown verifier algorithm")
    if len(pub) != 32:
        raise InvalidInput("malformed verifier id")
    return Verifier(name, h, pub)


def new_signer(skey: str) -> Signer:
    """Parse a signer key string ``PRIVATE+KEY+name+hash+keydata`` (note.NewSigner).

    Raises:
        InvalidInput: the same texts as ``new_verifier`` (Go reuses them for signers).
    """
    priv1, _, rest = skey.partition("+")
    priv2, _, rest = rest.partition("+")
    name, _, rest = rest.partition("+")
    hash16, _, key64 = rest.partition("+")
    h = _parse_hex32(hash16)
    key = _b64_or_none(key64)
    if (
        priv1 != "PRIVATE"
        or priv2 != "KEY"
        or h is None
        or key is None
        or not _is_valid_name(name)
        or not key
    ):
        raise InvalidInput("malformed verifier id")
    alg, seed = key[0], key[1:]
    if alg != ALG_ED25519:
        raise InvalidInput("unknown verifier algorithm")
    if len(seed) != 32:
        raise InvalidInput("malformed verifier id")
    if h != key_hash(name, bytes([ALG_ED25519]) + _public_from_seed(seed)):
        raise InvalidInput("invalid verifier hash")
    return Signer(name, h, seed)


def generate_key(name: str, seed: bytes) -> tuple[str, str]:
    """The (signer, verifier) key strings for ``name`` from 32 random bytes (note.GenerateKey).

    Raises:
        InvalidInput: the seed is not 32 bytes or the name is not a valid key name.
    """
    if len(seed) != 32:
        raise InvalidInput("an Ed25519 seed is 32 bytes")
    if not _is_valid_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    pubkey = bytes([ALG_ED25519]) + _public_from_seed(seed)
    h = key_hash(name, pubkey)
    skey = f"PRIVATE+KEY+{name}+{h:08x}+{b64encode(bytes([ALG_ED25519]) + seed)}"
    vkey = f"{name}+{h:08x}+{b64encode(pubkey)}"
    return skey, vkey


def new_ed25519_verifier_key(name: str, key: bytes) -> str:
    """The verifier key string for a raw Ed25519 public key (note.NewEd25519VerifierKey).

    Raises:
        InvalidInput: the key is not 32 bytes.
    """
    if len(key) != 32:
        raise InvalidInput(f"invalid public key size {len(key)}, expected 32")
    pubkey = bytes([ALG_ED25519]) + key
    return f"{name}+{key_hash(name, pubkey):08x}+{b64encode(pubkey)}"


class UnknownVerifierError(VerificationError):
    """No configured key has this name and hash."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"unknown key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class AmbiguousVerifierError(VerificationError):
    """Two configured keys share a name and hash."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"ambiguous key {name}+{key_hash:08x}")


class InvalidSignatureError(VerificationError):
    """A known key's signature does not verify."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class UnverifiedNoteError(VerificationError):
    """The note is well formed but no known key signed it."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


class Verifiers:
    """A set of trusted keys, looked up by (name, hash) (note.VerifierList)."""

    def __init__(self, verifiers: Iterable[Verifier] = ()) -> None:
        self._by_key: dict[tuple[str, int], list[Verifier]] = {}
        for v in verifiers:
            self._by_key.setdefault((v.name, v.key_hash), []).append(v)

    def verifier(self, name: str, key_hash: int) -> Verifier:
        """The key with this name and hash.

        Raises:
            UnknownVerifierError: no such key.
            AmbiguousVerifierError: more than one such key.
        """
        found = self._by_key.get((name, key_hash))
        if not found:
            raise UnknownVerifierError(name, key_hash)
        if len(found) > 1:
            raise AmbiguousVerifierError(name, key_hash)
        return found[0]


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and hash and the base64 of hash ‖ signature."""

    name: str
    key_hash: int
    base64: str


@dataclass(frozen=True)
class Note:
    """The text of a note with its verified and unverified signatures."""

    text: str
    sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = ()


def _malformed() -> InvalidInput:
    return InvalidInput("malformed note")


def open_note(msg: bytes, known: Verifiers | None = None) -> Note:
    """Parse a signed note and verify its signatures against ``known`` (note.Open).

    Raises:
        InvalidInput: "malformed note".
        VerificationError: an invalid signature by a known key, an ambiguous key, a
            verifier mismatch, or no verifiable signature (``UnverifiedNoteError``).
    """
    known = known or Verifiers()
    try:
        decoded = msg.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed() from None
    if any(c < " " and c != "\n" for c in decoded):
        raise _malformed()
    split = msg.rfind(b"\n\n")
    if split < 0:
        raise _malformed()
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs or not sigs.endswith(b"\n"):
        raise _malformed()

    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[bytes] = set()
    for num, raw_line in enumerate(sigs[:-1].split(b"\n"), start=1):
        if not raw_line.startswith(_SIG_PREFIX):
            raise _malformed()
        line = raw_line[len(_SIG_PREFIX) :]
        name_b, _, b64_b = line.partition(b" ")
        name, b64 = name_b.decode(), b64_b.decode()
        sig = _b64_or_none(b64)
        if sig is None or not _is_valid_name(name) or b64 == "" or len(sig) < 5:
            raise _malformed()
        h = int.from_bytes(sig[:4], "big")
        sig = sig[4:]
        if num > MAX_SIGNATURES:
            raise _malformed()
        try:
            v = known.verifier(name, h)
        except UnknownVerifierError:
            if line not in seen_unverified:
                seen_unverified.add(line)
                unverified.append(Signature(name, h, b64))
            continue
        if v.name != name or v.key_hash != h:
            raise VerificationError("verifier name or hash doesn't match signature")
        if (name, h) in seen:
            continue
        seen.add((name, h))
        if not v.verify(text, sig):
            raise InvalidSignatureError(name, h)
        verified.append(Signature(name, h, b64))

    note = Note(text.decode(), tuple(verified), tuple(unverified))
    if not verified:
        raise UnverifiedNoteError(note)
    return note


def sign(note: Note, signers: Sequence[Signer]) -> bytes:
    """The signed note: existing signatures by other keys first, then new ones (note.Sign).

    Raises:
        InvalidInput: the text does not end in a newline, a signer name is invalid, or an
            existing signature is malformed.
    """
    if not note.text.endswith("\n") or not _is_utf8(note.text):
        raise _malformed()
    text = note.text.encode()
    have: set[tuple[str, int]] = set()
    new_lines: list[bytes] = []
    for s in signers:
        have.add((s.name, s.key_hash))
        if not _is_valid_name(s.name):
            raise InvalidInput("invalid signer")
        b64 = b64encode(s.key_hash.to_bytes(4, "big") + s.sign(text))
        new_lines.append(_SIG_PREFIX + f"{s.name} {b64}\n".encode())

    out = [text, b"\n"]
    for sig in (*note.sigs, *note.unverified_sigs):
        if not _is_valid_name(sig.name):
            raise _malformed()
        if (sig.name, sig.key_hash) in have:
            continue
        raw = _b64_or_none(sig.base64)
        if raw is None or len(raw) < 4 or int.from_bytes(raw[:4], "big") != sig.key_hash:
            raise _malformed()
        out.append(_SIG_PREFIX + f"{sig.name} {sig.base64}\n".encode())
    out.extend(new_lines)
    return b"".join(out)
