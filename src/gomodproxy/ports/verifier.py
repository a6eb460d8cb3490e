"""The contract of the hash check run before an artifact is stored (the checksum database)."""

from __future__ import annotations

from typing import Protocol


class Verifier(Protocol):
    """Checks hashes before an artifact is stored (the checksum database plugs in here).

    Raise ``VerificationError`` on a mismatch, ``UpstreamError`` when the database cannot
    be asked; return normally when the hash is right or the module is exempt.
    """

    def prefetch(self, path: str, version: str) -> None:
        """A hint, before the download starts, that ``path@version`` will be verified: the
        database may be asked now, while the bytes are on their way (never raises)."""

    async def verify_mod(self, path: str, version: str, data: bytes) -> None: ...

    async def verify_zip(self, path: str, version: str, h1: str) -> None: ...


class NoVerifier:
    """The default: accept everything (validation still runs)."""

    def prefetch(self, path: str, version: str) -> None:
        return None

    async def verify_mod(self, path: str, version: str, data: bytes) -> None:
        return None

    async def verify_zip(self, path: str, version: str, h1: str) -> None:
        return None
