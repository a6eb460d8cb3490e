"""The one error tree of gomodproxy.

::

    GoModProxyError
    ├── InvalidInput (ValueError)      bad path, version, config value, zip, go.mod, note ...
    ├── NotFound                       the module or version does not exist (HTTP 404/410)
    ├── VerificationError              hashes disagree with the checksum database or go.sum
    ├── UpstreamError                  an upstream (proxy, VCS, sumdb) failed or sent garbage
    │   └── UpstreamTimeout (TimeoutError)
    ├── StorageError                   a storage backend failed
    └── ConfigError                    the configuration cannot be used

Adapters raise these ``from`` the library error they caught; no foreign exception escapes an
adapter. Only ``server/`` maps them to HTTP statuses and only ``cli/`` maps them to exit codes.
Messages are written to be shown to a user as they are (the go command prints our text/plain
error bodies), so they never contain secrets or tracebacks.
"""

from __future__ import annotations


class GoModProxyError(Exception):
    """Root of every error gomodproxy raises on purpose."""


class InvalidInput(GoModProxyError, ValueError):
    """Input that is malformed: a module path, version, file name, zip, go.mod, config value."""


class NotFound(GoModProxyError):
    """The requested module, version or artifact does not exist at this source."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        #: True when the source answered 410 Gone rather than 404.
        self.gone = gone


class VerificationError(GoModProxyError):
    """Content does not match the hash it must have (checksum database, stored h1, go.sum)."""

    #: The hash of what was downloaded and the hash it should have had, when the refusal is
    #: a mismatch of two known hashes ("" otherwise); a remembered refusal records both.
    downloaded = ""
    expected = ""


class UpstreamError(GoModProxyError):
    """An upstream proxy, VCS server or checksum database failed or answered garbage."""

    #: The HTTP status this error insists on (0: the configured ``upstream_error_status``);
    #: the checksum database unreachable is a 502, so a client never falls through to an
    #: unverified path.
    http_status_hint = 0

    def __init__(self, message: str, *, source: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.status = status


class UpstreamTimeout(UpstreamError, TimeoutError):
    """An upstream did not answer in time."""


class StorageError(GoModProxyError):
    """A storage backend (filesystem, OCI registry, Redis) failed."""


class ConfigError(GoModProxyError):
    """The configuration is invalid or inconsistent."""
