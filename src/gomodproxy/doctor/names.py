"""The names of Go settings: the one list every part of the doctor uses. Pure.

``GO_KEYS`` are the settings the doctor evaluates (where modules come from and how they are
checked, plus GOFLAGS, GOTOOLCHAIN, GOENV and GOAUTH); ``GO_VARIABLES`` is every variable the
go command reads (``go help environment``), used to tell a misspelled or invented
name (``GONOSUMCHECK``, ``GO_PRIVATE``, ``GOPROXY_URL``) from a real one.
"""

from __future__ import annotations

import functools

from gomodproxy.gomod.envfile import KNOWN_ENV

GO_KEYS = (
    "GOPROXY",
    "GOPRIVATE",  # before the two that default to it
    "GONOPROXY",
    "GONOSUMDB",
    "GOSUMDB",
    "GOINSECURE",
    "GOVCS",
    "GOFLAGS",
    "GOTOOLCHAIN",
    "GOENV",
    "GOAUTH",
)
#: settings whose difference between jobs of one pipeline changes where modules come from.
SOURCE_KEYS = ("GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOVCS")

#: every variable the go command reads: those ``go env -w`` accepts (cmd/go's KnownEnv), the
#: ones ``go env`` only reports or reads from the environment, and those the Go runtime of
#: the programs built reads.
GO_VARIABLES = KNOWN_ENV | frozenset(
    [
        "GOCOVERDIR",
        "GODEBUG",
        "GOMOD",
        "GOVERSION",
        "GOTELEMETRY",
        "GOTELEMETRYDIR",
        "GOGC",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "GOTRACEBACK",
        "GORACE",
    ]
)
#: names that tutorials recommend, or that people write, for a real setting.
_KNOWN_WRONG = {
    "GONOSUMCHECK": "GONOSUMDB",
    "GONOVERIFY": "GONOSUMDB",
    "GONOSUM": "GONOSUMDB",
    "GOSUMDBOFF": "GOSUMDB",
    "GOPROXYURL": "GOPROXY",
    "GOPRIVATES": "GOPRIVATE",
    "GOPROXIES": "GOPROXY",
}


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur.append(d)
        prev2, prev = prev, cur
    return prev[-1]


@functools.lru_cache(maxsize=4096)
def meant_setting(name: str) -> str | None:
    """The Go setting ``name`` was probably meant to be, when ``name`` is not a variable the
    go command reads but looks like one of the module settings; None otherwise."""
    if name in GO_VARIABLES or not name.upper().startswith("GO"):
        return None
    flat = name.upper().replace("_", "")
    if flat in _KNOWN_WRONG:
        return _KNOWN_WRONG[flat]
    for key in GO_KEYS:
        if flat == key or (flat.startswith(key) and flat[len(key) :] in ("URL", "URLS", "LIST")):
            return key
    close = [k for k in GO_KEYS if _distance(flat, k) == 1 and len(k) >= 6]
    return close[0] if len(close) == 1 else None
