"""The credentials file: users with salted scrypt password hashes, groups and hashed tokens.

Format (JSON, mode 0600, written atomically)::

    {"version": 1,
     "users": {"alice": {"password": "scrypt$16384$8$1$<salt b64>$<hash b64>",
                         "groups": ["dev"],
                         "tokens": [{"id": "3f2a9c1e", "hash": "sha256$<hex>"}]}}}

Passwords are hashed with scrypt (memory-hard, in the standard library) so a stolen file does
not give them away; tokens are 256-bit random strings, so one SHA-256 is enough at rest and
lets a request find its user in O(1). Neither a password nor a token is ever stored or logged.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gomodproxy.errors import ConfigError, InvalidInput

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 14, 8, 1
_MAXMEM = 64 << 20
TOKEN_PREFIX = "gmp_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def check_name(name: str, what: str = "user name") -> None:
    """Raise InvalidInput unless ``name`` is a plain identifier (letters, digits, ``._@+-``)."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-64 letters, digits or ._@+- (not starting with one)"
        )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of a password: ``scrypt$N$r$p$salt$hash``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=_MAXMEM,
        dklen=32,
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        want = base64.b64decode(hash_b64, validate=True)
        got = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def burn_password_time(password: str) -> None:
    """Spend what a real check costs, so an unknown user name does not answer faster."""
    verify_password(password, _dummy_hash())


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return "sha256$" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh random token (shown once, stored only as its hash)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class User:
    """One principal of the credentials file."""

    name: str
    password: str = ""
    groups: list[str] = field(default_factory=list)
    tokens: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Credentials:
    """The parsed credentials file, with the token index built once."""

    users: dict[str, User] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.token_owner: dict[str, str] = {}
        for user in self.users.values():
            for tok in user.tokens:
                self.token_owner[tok.get("hash", "")] = user.name

    def to_json(self) -> str:
        users: dict[str, Any] = {}
        for name in sorted(self.users):
            u = self.users[name]
            users[name] = {"password": u.password, "groups": sorted(u.groups), "tokens": u.tokens}
        return json.dumps({"version": 1, "users": users}, indent=2) + "\n"


def parse_credentials(text: str, where: str = "credentials file") -> Credentials:
    """Parse the JSON credentials file.

    Raises:
        ConfigError: not the expected shape.
    """
    try:
        obj = json.loads(text) if text.strip() else {"version": 1, "users": {}}
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("users", {}), dict):
        raise ConfigError(f"{where}: expected an object with a 'users' object")
    users: dict[str, User] = {}
    for name, entry in obj.get("users", {}).items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: user {name!r} is not an object")
        password = entry.get("password", "")
        groups = entry.get("groups", [])
        tokens = entry.get("tokens", [])
        if (
            not isinstance(password, str)
            or not isinstance(groups, list)
            or not all(isinstance(g, str) for g in groups)
            or not isinstance(tokens, list)
            or not all(isinstance(t, dict) and isinstance(t.get("hash"), str) for t in tokens)
        ):
            raise ConfigError(f"{where}: user {name!r}: password, groups or tokens malformed")
        users[name] = User(name, password, list(groups), [dict(t) for t in tokens])
    return Credentials(users)


def load_credentials(path: str | Path) -> Credentials:
    """Read the credentials file; a missing file is an empty one.

    Raises:
        ConfigError: unreadable or malformed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Credentials()
    except OSError as exc:
        raise ConfigError(f"credentials file {p}: {exc.strerror or exc}") from exc
    return parse_credentials(text, f"credentials file {p}")


def save_credentials(path: str | Path, creds: Credentials) -> None:
    """Write the file atomically with mode 0600 (it holds hashes, still worth hiding)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=p.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(creds.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def _dummy_hash() -> str:
    return hash_password("", salt=b"\x00" * 16)
