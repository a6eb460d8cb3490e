"""Secrets never leave the process: masking for messages, logs and ``config show``.

What is masked: URL user-info (``https://user:token@host`` → ``https://***@host``), the value
of ``Authorization`` headers, bearer tokens, our own ``gmp_`` tokens and the token shapes of
common forges, AWS secrets (session tokens, presigned-URL signatures, secret keys written as
``aws_secret_access_key = ...``), and ``password``/``login`` values of ``.netrc`` text.
``redact.mask``, which the doctor uses too, is the base, so both parts of the program hide the
same things.

Used by the server's error bodies (``server/http_errors._line``), the request log, every log
record (``install_log_redaction`` puts a filter on the root handlers) and ``config show``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from gomodproxy.redact.mask import MASK, is_secret_name, mask

_AUTH_HEADER = re.compile(
    r"(?P<name>(?:proxy-)?authorization)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:basic|bearer|token)\s+)?[^\s\"',;]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
_OUR_TOKEN = re.compile(r"\bgmp_[A-Za-z0-9_\-]{8,}")
_AWS_SECRET = re.compile(
    r"(?P<name>x-amz-security-token|x-amz-signature|x-amz-credential|aws_secret_access_key"
    r"|aws_session_token|secret_access_key|session_token)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;&]+",
    re.IGNORECASE,
)
_NETRC_LOGIN = re.compile(r"\b(?P<kw>login)\s+(?P<val>\S+)(?=\s+password\b)")
#: Settings whose whole value is a secret even when it does not look like one.
_SECRET_SETTINGS = frozenset({"sumdb_private_key_text"})


def redact(text: str) -> str:
    """``text`` with every secret we can recognise replaced by ``***``."""
    if not text:
        return text
    text = _AUTH_HEADER.sub(lambda m: f"{m['name']}{m['sep']}{m['scheme'] or ''}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {MASK}", text)
    text = _OUR_TOKEN.sub("gmp_" + MASK, text)
    text = _AWS_SECRET.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    text = _NETRC_LOGIN.sub(lambda m: f"{m['kw']} {MASK}", text)
    return mask(text)


def redact_value(name: str, value: Any) -> Any:
    """A setting's value as it may be shown: strings masked, secret-named ones wholly; each
    string of a list (``origins``: repository URLs that may carry credentials) the same way."""
    if isinstance(value, list | tuple):
        return [redact_value(name, item) for item in value]
    if not isinstance(value, str) or not value:
        return value
    if name in _SECRET_SETTINGS or (is_secret_name(name) and not name.endswith(("_file", "_key"))):
        return MASK
    return redact(value)


def redact_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting, masked for display (``config show``)."""
    return {name: redact_value(name, value) for name, value in values.items()}


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put a :class:`RedactingFilter` on every handler of ``logger`` (the root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
