"""Never print a secret: mask URL user-info, well-known token shapes and secret-named values."""

from __future__ import annotations

import re

MASK = "***"

#: user-info of a URL: ``scheme://user:password@host`` or ``scheme://token@host``.
#: Linear time on any text: a match may only start where a run of scheme characters starts
#: (the lookbehind), so a long run of letters is scanned once, not once per letter (which
#: made ``[A-Za-z][A-Za-z0-9+.-]*://`` quadratic). ``lead`` keeps the digits, ``+``, ``.``
#: and ``-`` before the scheme's first letter, so the masked text is what the plain pattern
#: gave.
_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<lead>[0-9+.-]*)(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)"
    r"(?P<info>[^/@\s'\"]+)@"
)
#: token shapes of common forges and clouds (prefix kept so the reader knows what it was).
_TOKENS = re.compile(
    r"\b(?P<prefix>ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|gldt-|glcbt-|xox[abposr]-|AKIA)"
    r"[A-Za-z0-9_\-]{8,}"
)
#: ``password x`` / ``login x`` in a .netrc written inline.
_NETRC = re.compile(r"\b(?P<kw>password|passwd)\s+(?P<val>\S+)")
#: variable names whose value is a secret.
SECRET_NAME = re.compile(
    r"(TOKEN|PASSWORD|PASSWD|SECRET|APIKEY|API_KEY|PRIVATE_KEY|CREDENTIAL|NETRC|_PAT$|^PAT_|AUTH)",
    re.IGNORECASE,
)
#: names that look secret but are Go settings or harmless.
_NOT_SECRET = {"GOAUTH", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"}


def has_userinfo(text: str) -> bool:
    """True when ``text`` holds a URL with user-info (``https://u:p@host``)."""
    return _USERINFO.search(text) is not None


def is_secret_name(name: str) -> bool:
    """True when a variable named ``name`` is expected to hold a secret."""
    return name.upper() not in _NOT_SECRET and SECRET_NAME.search(name) is not None


def mask(text: str) -> str:
    """Return ``text`` with URL user-info, token shapes and inline netrc passwords masked."""
    text = _USERINFO.sub(lambda m: f"{m['lead']}{m['scheme']}{MASK}@", text)
    text = _TOKENS.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _NETRC.sub(lambda m: f"{m['kw']} {MASK}", text)


def mask_value(name: str, value: str) -> str:
    """Mask a variable's value: whole when its name says secret, else the secret parts."""
    if value and is_secret_name(name) and not value.startswith("${{"):
        return MASK
    return mask(value)
