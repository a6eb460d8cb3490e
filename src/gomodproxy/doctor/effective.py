"""The Go settings in force in a context (spec doctor.md §2). Pure.

Lookup per key: the process environment when non-empty → the user go env file (a key present
there, even empty, hides ``$GOROOT/go.env``) → ``$GOROOT/go.env`` → the built-in default, which
is empty for GOPROXY and GOSUMDB (their real defaults live in go.env). GONOPROXY and GONOSUMDB
default to GOPRIVATE only when unset. ``GOENV=off`` disables the user file.

When a context's go.env is not known (a Docker image, a CI runner), the defaults of an official
Go distribution's go.env are assumed and marked ``source="go.env default"``; the GOPROXY default
is then kept as unknown (its value names a public host this code does not spell out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gomodproxy.doctor.model import Context, Setting
from gomodproxy.doctor.names import GO_KEYS
from gomodproxy.gomod.goenv import GoEnv, Origin

GOENV_DEFAULT_SOURCE = "go.env default"
#: What an official distribution's go.env sets, where it is known by name only.
_GOENV_DEFAULTS = {"GOSUMDB": "sum.golang.org", "GOTOOLCHAIN": "auto"}


@dataclass(frozen=True)
class Effective:
    """Effective Go settings of one context, each with its origin."""

    settings: dict[str, Setting]

    def __getitem__(self, key: str) -> str:
        return self.settings[key].value

    def setting(self, key: str) -> Setting:
        """The effective setting of ``key`` (a ``default`` one when nothing sets it)."""
        return self.settings[key]

    def is_set(self, key: str) -> bool:
        """True when something other than a built-in default gives ``key`` a value."""
        s = self.settings[key]
        return s.source not in ("default", GOENV_DEFAULT_SOURCE) and (s.value != "" or not s.known)

    def is_public_default_proxy(self) -> bool:
        """True when GOPROXY is the distribution's default (the public proxy, then direct)."""
        s = self.settings["GOPROXY"]
        return s.source in (GOENV_DEFAULT_SOURCE, "$GOROOT/go.env")


#: Placeholder for a value only known at run time, so that the lookup still sees it as set.
_UNKNOWN = "\x00unknown"


def compute(ctx: Context) -> Effective:
    """Effective settings of ``ctx``: the go command's own lookup (:class:`GoEnv`), mapped
    back to the layer, file and line each value came from."""
    goenv_off = (ctx.env.get("GOENV") or Setting("GOENV", "", "")).value == "off"
    layers: tuple[dict[str, Setting], ...] = (
        ctx.env,
        {} if goenv_off else ctx.env_file,
        ctx.goroot_env,
    )
    plain = [{k: (s.value if s.known else _UNKNOWN) for k, s in layer.items()} for layer in layers]
    lookup = GoEnv(plain[0], plain[1], plain[2])
    by_origin = dict(zip((Origin.ENV, Origin.USER_FILE, Origin.GOROOT_FILE), layers, strict=True))
    out: dict[str, Setting] = {}
    for key in GO_KEYS:
        got = lookup.get(key)
        if got.origin in by_origin:
            out[key] = by_origin[got.origin][key]
        elif got.via and got.value:
            p = out[got.via]
            out[key] = Setting(key, p.value, f"{got.via} ({p.source})", p.file, p.line, p.known)
        elif not ctx.goroot_known and key == "GOPROXY":
            out[key] = Setting(key, "", GOENV_DEFAULT_SOURCE, known=False)
        elif not ctx.goroot_known and key in _GOENV_DEFAULTS:
            out[key] = Setting(key, _GOENV_DEFAULTS[key], GOENV_DEFAULT_SOURCE)
        else:
            out[key] = Setting(key, got.value, "default")
    return Effective(out)


# ---------------------------------------------------------------------------------------------
# Go versions (cmd/go/internal/gover): 1.21 < 1.21rc1 < 1.21.0 < 1.21.1

_GOVER = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:(rc|beta)(\d+)|\.(\d+))?$")


def gover_key(v: str) -> tuple[int, int, int, int] | None:
    """Sort key of a Go version (``1.22``, ``1.22rc1``, ``1.22.3``, ``go1.22.3``); None if
    it is not one."""
    m = _GOVER.match(v.strip())
    if not m:
        return None
    major, minor = int(m[1]), int(m[2])
    if m[3]:
        return (major, minor, 1 if m[3] == "beta" else 2, int(m[4]))
    if m[5] is not None:
        return (major, minor, 3, int(m[5]))
    return (major, minor, 0, 0)


def is_language_version(v: str) -> bool:
    """True for ``1.N`` with no patch number (a language version, not a release)."""
    k = gover_key(v)
    return k is not None and k[2] == 0
