"""The contract of the hash check run before an artifact is stored (the checksum database)."""

from __future__ import annotations

from typing import Protocol


class Verifier(Protocol):
    """Checks hashes before an artifact is stored (the checksum database plugs in here).

    Raise ``VerificationError`` on a mismatch, ``UpstreamError`` when the database cannot
    be asked; return normally when the hash is right or the module is exempt.

    It also says what it checks against, for the status page, the audit log and
    ``/admin/verify``: the ``database_name`` ("" when nothing is checked), the ``mode``
    and which modules are ``exempt``.
    """

    @property
    def database_name(self) -> str:
        """The checksum database artifacts are checked against; "" when verification is off."""

    @property
    def mode(self) -> str:
        """``strict`` (refuse what cannot be checked) or ``best-effort``; "" when off."""

    def exempt(self, path: str) -> bool:
        """True if module ``path`` is not checked (GONOSUMDB/GOPRIVATE, or no database)."""

    def prefetch(self, path: str, version: str) -> None:
        """A hint, before the download starts, that ``path@version`` will be verified: the
        database may be asked now, while the bytes are on their way (never raises)."""

    async def verify_mod(self, path: str, version: str, data: bytes) -> None: ...

    async def verify_zip(self, path: str, version: str, h1: str) -> None: ...


class NoVerifier:
    """The default: accept everything (validation still runs)."""

    database_name = ""
    mode = ""

    def exempt(self, path: str) -> bool:
        return True

    def prefetch(self, path: str, version: str) -> None:
        return None

    async def verify_mod(self, path: str, version: str, data: bytes) -> None:
        return None

    async def verify_zip(self, path: str, version: str, h1: str) -> None:
        return None
