"""Who is asking: HTTP basic, bearer tokens, or a trusted header from a fronting proxy.

The go command authenticates to a GOPROXY natively only with what ``.netrc`` (or a GOAUTH
command) gives it, over https: HTTP basic. So a user's ``.netrc`` line holds either their
password or one of their tokens as the password; ``Authorization: Bearer <token>`` works too
(GOAUTH commands, curl). A trusted header (``X-Forwarded-User``) is honoured only when it is
configured and the request comes from one of the configured proxy networks: off by default,
since anybody can send any header.

Successful scrypt checks are remembered for a few minutes under a keyed BLAKE2 hash of the
credentials
with a per-process random key, so a build's hundreds of requests cost one scrypt, not
hundreds, and no plaintext is kept. The credentials file is re-read when it changes, so
``gomodproxy user add`` takes effect without a restart.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.config.networks import IPNetwork, in_networks, parse_networks
from gomodproxy.config.settings import SecuritySettings
from gomodproxy.errors import InvalidInput
from gomodproxy.security.credentials import (
    Credentials,
    burn_password_time,
    hash_token,
    load_credentials,
    verify_password,
)

_CACHE_SECONDS = 300.0
_CACHE_MAX = 10_000
_RELOAD_CHECK_SECONDS = 1.0
_MAX_HEADER = 4096


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a name, its groups and how it proved itself."""

    name: str
    groups: frozenset[str] = frozenset()
    method: str = "basic"


class AuthenticationFailed(InvalidInput):
    """Credentials were presented and are wrong (401); never says which part was wrong."""


class Authenticator:
    """Turns request headers into a :class:`Principal` (or None for anonymous)."""

    def __init__(
        self,
        credentials_file: str | Path | None,
        *,
        trusted_header: str = "",
        trusted_networks: Iterable[IPNetwork] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(credentials_file) if credentials_file else None
        self.trusted_header = trusted_header.strip().lower().encode("latin-1")
        self.trusted_networks = list(trusted_networks)
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._creds = Credentials()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = -1e18
        self.reload(force=True)

    # -- the credentials file -------------------------------------------------------------

    def reload(self, *, force: bool = False) -> None:
        """Re-read the credentials file if it changed (or always with ``force``).

        Raises:
            ConfigError: the file is malformed (the previous contents stay in force when
                this happens on a periodic check).
        """
        self._checked = self._clock()
        if self.path is None:
            return
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = (0, 0, 0)
        if not force and stamp == self._stamp:
            return
        self._creds = load_credentials(self.path)
        self._stamp = stamp
        self._cache.clear()

    def _maybe_reload(self) -> None:
        if self._clock() - self._checked < _RELOAD_CHECK_SECONDS:
            return
        try:
            self.reload()
        except Exception:  # a broken edit in progress: keep the last good credentials
            self._checked = self._clock()

    @property
    def credentials(self) -> Credentials:
        return self._creds

    def _principal(self, name: str, method: str) -> Principal:
        user = self._creds.users.get(name)
        groups = frozenset(user.groups) if user is not None else frozenset()
        return Principal(name, groups, method)

    # -- requests -------------------------------------------------------------------------

    async def authenticate(
        self, headers: Iterable[tuple[bytes, bytes]], client_address: str
    ) -> Principal | None:
        """The principal of a request; None when it carries no credentials.

        Raises:
            AuthenticationFailed: credentials present but wrong or malformed.
        """
        self._maybe_reload()
        authorization = b""
        forwarded = b""
        for name, value in headers:
            if name == b"authorization":
                authorization = value
            elif self.trusted_header and name == self.trusted_header:
                forwarded = value
        if forwarded and in_networks(client_address, self.trusted_networks):
            user = forwarded.decode("latin-1").strip()
            if user:
                return self._principal(user, "header")
        if not authorization:
            return None
        if len(authorization) > _MAX_HEADER:
            raise AuthenticationFailed("authorization header too long")
        scheme, _, credential = authorization.decode("latin-1").strip().partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if scheme == "bearer":
            return self._token(credential)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise AuthenticationFailed("malformed basic credentials") from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise AuthenticationFailed("malformed basic credentials")
            return await self._basic(user, password)
        raise AuthenticationFailed(f"unsupported authorization scheme {scheme[:20]!r}")

    def _token(self, token: str) -> Principal:
        owner = self._creds.token_owner.get(hash_token(token))
        if owner is None or owner not in self._creds.users:
            raise AuthenticationFailed("invalid credentials")
        return self._principal(owner, "token")

    async def _basic(self, user: str, password: str) -> Principal:
        # A keyed hash (a MAC with a per-process key): fast, and no plaintext is kept.
        key = hashlib.blake2b(
            f"{user}\0{password}".encode("utf-8", "surrogatepass"), key=self._key, digest_size=16
        ).digest()
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        entry = self._creds.users.get(user)
        # A token as the password: what a .netrc line for a machine account holds.
        if entry is not None and self._creds.token_owner.get(hash_token(password)) == user:
            principal = self._principal(user, "token")
        elif entry is not None and entry.password:
            ok = await asyncio.to_thread(verify_password, password, entry.password)
            if not ok:
                raise AuthenticationFailed("invalid credentials")
            principal = self._principal(user, "basic")
        else:
            await asyncio.to_thread(burn_password_time, password)
            raise AuthenticationFailed("invalid credentials")
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now + _CACHE_SECONDS, principal)
        return principal


def authenticator_from_settings(security: SecuritySettings) -> Authenticator | None:
    """The authenticator the settings ask for, or None when authentication is off."""
    path, header = security.auth_file, security.auth_trusted_header
    if not path and not header:
        return None
    return Authenticator(
        os.path.expanduser(path) if path else None,
        trusted_header=header,
        trusted_networks=parse_networks(security.auth_trusted_networks),
    )
