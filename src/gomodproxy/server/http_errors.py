"""The only place where errors become HTTP statuses.

- ``NotFound``: 404, the go command falls through to its next GOPROXY entry;
  ``Cache-Control: public, max-age=60``.
- ``UpstreamError`` / ``UpstreamTimeout``: ``upstream_error_status``, 404 by default so a
  client's ``,direct`` still works, 502 if the operator asks; ``no-store``.
- ``InvalidInput``: 400, ``no-store``.
- ``VerificationError``: 403, a refusal rather than "absent", so the client does not quietly
  fall back; ``no-store``.
- ``StorageError``: 503, ``no-store``.
- anything else: 500 with a fixed text, never a traceback; ``no-store``.

Bodies are one line of ``text/plain; charset=utf-8``, which the go command prints as
"server response:".
"""

from __future__ import annotations

from gomodproxy.config.settings import ServerSettings
from gomodproxy.errors import (
    InvalidInput,
    NotFound,
    StorageError,
    UpstreamError,
    VerificationError,
)
from gomodproxy.redact.secrets import redact

NO_STORE = b"no-store"
NOT_FOUND_CACHE_CONTROL = b"public, max-age=60"


def not_found_body(path: str) -> bytes:
    """The one 404 body for ``path`` (a decoded request path) when access control is on:
    an absent module and a private one refused to an anonymous caller read the same, so the
    answer tells nothing about which paths are private. (An upstream's own reason would
    differ from path to path.)"""
    return _line(f"not found: {path.lstrip('/')}")


def error_response(
    exc: BaseException, upstream_error_status: int = ServerSettings.upstream_error_status
) -> tuple[int, bytes, bytes]:
    """``(status, body, cache-control)`` for an exception raised while answering."""
    if isinstance(exc, NotFound):
        return 404, _line(str(exc) or "not found"), NOT_FOUND_CACHE_CONTROL
    if isinstance(exc, UpstreamError):
        status = exc.http_status_hint or upstream_error_status
        prefix = "not found: " if status == 404 else ""
        return status, _line(f"{prefix}upstream error: {exc}"), NO_STORE
    if isinstance(exc, VerificationError):
        return 403, _line(f"SECURITY ERROR: {exc}"), NO_STORE
    if isinstance(exc, InvalidInput):
        return 400, _line(f"bad request: {exc}"), NO_STORE
    if isinstance(exc, StorageError):
        return 503, _line(f"storage unavailable: {exc}"), NO_STORE
    return 500, b"internal error\n", NO_STORE


def plain_line(text: str) -> bytes:
    """``text`` as one printable, redacted line of at most 600 characters (a body the go
    command prints as "server response:"; it drops bodies with control characters)."""
    return _line(text)


def _line(text: str) -> bytes:
    """One printable line: the go command drops bodies with control characters."""
    flat = " ".join(redact(text).split())  # no user-info or token reaches a client
    clean = "".join(c if c.isprintable() else "?" for c in flat)[:600]
    return clean.encode("utf-8", "replace") + b"\n"
