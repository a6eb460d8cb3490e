"""Secrets are masked in messages, logs, error bodies and config show."""

from __future__ import annotations

import io
import logging
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.config.settings import load_settings
from gomodproxy.errors import UpstreamError
from gomodproxy.redact.mask import MASK, has_userinfo, mask
from gomodproxy.redact.secrets import RedactingFilter, redact, redact_settings
from gomodproxy.server.http_errors import error_response

SECRETS = ["s3cr3t-pw", "gmp_abcdefghijklmnop", "ghp_abcdefghijklmnop", "YWxpY2U6cHc="]


@pytest.mark.parametrize(
    "text",
    [
        "git ls-remote https://alice:s3cr3t-pw@git.corp/x.git: exit status 128",
        "fetching with token gmp_abcdefghijklmnop failed",
        "Authorization: Basic YWxpY2U6cHc=",
        "authorization=Bearer gmp_abcdefghijklmnop",
        "machine git.corp login alice password s3cr3t-pw",
        "remote: invalid credentials ghp_abcdefghijklmnop",
        "storage s3://AKIAEXAMPLE:s3cr3t-pw@bucket/mods?endpoint=http://127.0.0.1:9000",
        "GET /b/k?X-Amz-Credential=AKIAX%2F2026&X-Amz-Signature=s3cr3t-pw HTTP/1.1",
        "x-amz-security-token: s3cr3t-pw",
        "aws_secret_access_key = s3cr3t-pw",
    ],
)
def test_redact(text: str) -> None:
    """No secret survives; the rest of the message does."""
    out = redact(text)
    assert not any(s in out for s in SECRETS)
    assert "***" in out


def test_plain_text_unchanged() -> None:
    """Messages without secrets are left alone."""
    text = "corp.example.com/x@v1.0.0: invalid version: unknown revision v1.0.0"
    assert redact(text) == text


def test_error_body_is_redacted() -> None:
    """A git error holding a URL with a token reaches the client masked."""
    exc = UpstreamError("git ls-remote -q https://ci:gmp_abcdefghijklmnop@git.corp/x: exit 128")
    _, body, _ = error_response(exc, 404)
    assert b"gmp_abcdefghijklmnop" not in body
    assert b"https://***@git.corp/x" in body


def test_log_filter() -> None:
    """Log records are masked, arguments included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("upstream %s failed", "https://u:s3cr3t-pw@proxy.corp")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "upstream https://***@proxy.corp failed\n"


def test_config_show_values() -> None:
    """GOPROXY and redis URLs lose their user-info; file paths stay readable."""
    settings = load_settings(
        env={"GOPROXY": "https://u:s3cr3t-pw@proxy.corp,direct"},
        flags={"redis": "redis://:s3cr3t-pw@127.0.0.1:6379/0", "auth_file": "/etc/c.json"},
        ask_go=False,
    )
    shown = redact_settings(settings.by_name())
    assert shown["goproxy"] == "https://***@proxy.corp,direct"
    assert shown["redis"] == "redis://***@127.0.0.1:6379/0"
    assert shown["auth_file"] == "/etc/c.json"


def test_config_show_masks_each_origin() -> None:
    """A static origin's repository URL may carry credentials: masked like any URL."""
    settings = load_settings(
        env={},
        flags={"origins": "corp.example/x=git+https://bob:s3cr3t-pw@git.corp/x.git"},
        ask_go=False,
    )
    shown = redact_settings(settings.by_name())
    assert shown["origins"] == ["corp.example/x=git+https://***@git.corp/x.git"]
    assert redact_settings({"origins": ()}) == {"origins": []}


# The user-info pattern as it was before it was made linear (quadratic on long runs of
# letters): the linear one must mask exactly the same text.
_PLAIN_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"]+)@")
_URLISH = st.text(alphabet="ab1+.-:/@ '\"\tZ9", max_size=60)


@given(_URLISH)
@settings(max_examples=400, deadline=None, derandomize=True)
def test_linear_userinfo_masks_what_the_plain_pattern_masked(text: str) -> None:
    """Same output as the backtracking pattern on URL-shaped text."""
    plain = _PLAIN_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    assert mask(text) == _mask_tokens_and_netrc(plain)
    assert has_userinfo(text) == (_PLAIN_USERINFO.search(text) is not None)


def _mask_tokens_and_netrc(text: str) -> str:
    # mask() applies the token and netrc patterns after the user-info one.
    from gomodproxy.redact.mask import _NETRC, _TOKENS

    text = _TOKENS.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _NETRC.sub(lambda m: f"{m['kw']} {MASK}", text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000,
        "a" * 200_000 + "://",
        "a://" + "b" * 200_000,
        "AKIA-" * 40_000,
        "login " + "x" * 200_000,
        "x1://" * 50_000,
    ],
    ids=["letters", "no-colon", "no-at", "akia", "login", "schemes"],
)
def test_redact_long_hostile_text(text: str) -> None:
    """Long runs that made the masking quadratic (seconds per request) now pass in one scan;
    a hang would fail through the test timeout."""
    assert redact(text).startswith(text[:3])
