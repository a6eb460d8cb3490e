"""Which variable names hold a secret value, judged by whole words of the name. Pure.

Masking output errs on the side of hiding (see :mod:`.mask`); a finding must not: ``AUTHOR``,
``OAUTH_CALLBACK_URL`` or ``NETRC_FILE`` hold no secret, ``GITHUB_PASS`` does. The name is
split into words at ``_``, ``-`` and ``.``; a secret word anywhere makes it a secret unless the
last word says the value only names or locates one (``*_FILE``, ``*_PATH``, ``*_URL``,
``*_ID`` ...).
"""

from __future__ import annotations

import re

_SECRET_WORDS = frozenset(
    [
        "TOKEN",
        "TOKENS",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "SECRET",
        "SECRETS",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "NETRC",
        "PAT",
        "APIKEY",
    ]
)
#: ``<word>_KEY`` is a secret for these words (``API_KEY``, ``SSH_PRIVATE_KEY``), not for
#: ``GPG_KEY`` (a key id) or ``CACHE_KEY``.
_KEY_OWNERS = frozenset(["API", "ACCESS", "PRIVATE", "SECRET", "DEPLOY", "SSH", "SIGNING"])
#: last words that say the value names, locates or describes a secret instead of holding it.
_NOT_VALUE = frozenset(
    [
        "FILE",
        "FILES",
        "PATH",
        "DIR",
        "URL",
        "URI",
        "ENDPOINT",
        "HOST",
        "ID",
        "NAME",
        "USER",
        "USERNAME",
        "TYPE",
        "HEADER",
        "ENABLED",
        "MODE",
    ]
)
#: Go settings whose names contain secret-looking words.
_GO_SETTINGS = frozenset(["GOAUTH", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"])


def words_of(name: str) -> list[str]:
    """The upper-cased words of a variable name."""
    return [w for w in re.split(r"[_\-.]+", name.upper()) if w]


def is_secret_name(name: str) -> bool:
    """True when a variable named ``name`` holds a secret value."""
    words = words_of(name)
    if not words or name.upper() in _GO_SETTINGS or words[-1] in _NOT_VALUE:
        return False
    for i, w in enumerate(words):
        if w in _SECRET_WORDS or w.endswith(("TOKEN", "PASSWORD", "PASSWD")):
            return True
        if w == "KEY" and i > 0 and words[i - 1] in _KEY_OWNERS:
            return True
    # AUTH names a secret only as the last word (GIT_AUTH); GF_AUTH_ANONYMOUS_ENABLED is a
    # setting about authentication.
    return words[-1] == "AUTH"


_PLAIN = re.compile(r"(?i)^(?:true|false|yes|no|on|off|none|\d{1,6}|)$")


def is_plain_value(value: str) -> bool:
    """True for values that cannot be a credential: booleans, small numbers, empty."""
    return _PLAIN.match(value.strip().strip("'\"")) is not None
