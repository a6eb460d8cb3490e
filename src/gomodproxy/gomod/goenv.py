"""The go command's environment settings: their effective values and what they mean.

The effective value of a setting is looked up as cmd/go/internal/cfg does: the process
environment when non-empty; else the user's go env file (an empty value there counts as
unset too, and hides ``$GOROOT/go.env``); else ``$GOROOT/go.env``; else the built-in default.
GONOPROXY and GONOSUMDB default to GOPRIVATE only when unset. Callers read the files; this
module takes their text, so it stays pure.

The grammars live in their own modules and are re-exported here:

- :mod:`~gomodproxy.gomod.proxylist`  GOPROXY (``parse_goproxy``)
- :mod:`~gomodproxy.gomod.sumdbenv`   GOSUMDB (``parse_gosumdb``)
- :mod:`~gomodproxy.gomod.govcs`      GOVCS (``parse_govcs``, ``check_govcs``)
- :mod:`~gomodproxy.gomod.goflags`    GOFLAGS (``parse_goflags``)
- :mod:`~gomodproxy.gomod.gotoolchain` GOTOOLCHAIN (``parse_gotoolchain``)
- :mod:`~gomodproxy.gomod.goauth`     GOAUTH (``parse_goauth``)
- :mod:`~gomodproxy.gomod.envfile`    the go env file (path, read, ``go env -w`` update)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gomodproxy.gomod.envfile import (
    KNOWN_ENV,
    check_env_write,
    env_file_path,
    parse_env_file,
    update_env_file,
)
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.gomod.goauth import AuthCommand, parse_goauth
from gomodproxy.gomod.goflags import GO_FLAG_NAMES, flag_name, parse_goflags, split_quoted
from gomodproxy.gomod.gotoolchain import Toolchain, parse_gotoolchain
from gomodproxy.gomod.govcs import DEFAULT_GOVCS, GovcsRule, check_govcs, govcs_allows, parse_govcs
from gomodproxy.gomod.proxylist import (
    DIRECT,
    NOPROXY,
    OFF,
    ProxySpec,
    check_proxy_url,
    parse_goproxy,
    split_goproxy,
)
from gomodproxy.gomod.sumdbenv import KNOWN_GOSUMDB, SumDB, check_verifier_key, parse_gosumdb

__all__ = [
    "DEFAULTS",
    "DEFAULT_GOVCS",
    "DIRECT",
    "GO_FLAG_NAMES",
    "KNOWN_ENV",
    "KNOWN_GOSUMDB",
    "NOPROXY",
    "OFF",
    "AuthCommand",
    "GoEnv",
    "GovcsRule",
    "Origin",
    "ProxySpec",
    "Setting",
    "SumDB",
    "Toolchain",
    "check_env_write",
    "check_govcs",
    "check_proxy_url",
    "check_verifier_key",
    "env_file_path",
    "flag_name",
    "govcs_allows",
    "parse_env_file",
    "parse_goauth",
    "parse_goflags",
    "parse_goproxy",
    "parse_gosumdb",
    "parse_gotoolchain",
    "parse_govcs",
    "split_goproxy",
    "split_quoted",
    "update_env_file",
]

#: Built-in defaults of cmd/go/internal/cfg for the settings a proxy and the doctor care
#: about. GOPROXY, GOSUMDB and GOTOOLCHAIN have none: their real defaults are in go.env.
DEFAULTS: Mapping[str, str] = {"GOAUTH": "netrc"}

#: Settings whose default is the effective GOPRIVATE.
_PRIVATE_DERIVED = ("GONOPROXY", "GONOSUMDB")


class Origin(StrEnum):
    """Where an effective value came from."""

    ENV = "environment"
    USER_FILE = "user go env file"
    GOROOT_FILE = "$GOROOT/go.env"
    DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    """The effective value of one setting and where it came from."""

    key: str
    value: str
    origin: Origin
    #: For a default taken from another setting (GONOPROXY from GOPRIVATE): that setting.
    via: str | None = None
    #: Whether the value differs from the default, as ``go env -changed`` reports it.
    changed: bool = False


@dataclass(frozen=True)
class GoEnv:
    """The inputs of the go command's configuration, and the effective values they give.

    ``env`` is the process environment; ``user_file`` and ``goroot_file`` are the parsed user
    go env file and ``$GOROOT/go.env`` (:func:`parse_env_file`), empty when missing.
    """

    env: Mapping[str, str] = field(default_factory=dict)
    user_file: Mapping[str, str] = field(default_factory=dict)
    goroot_file: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_texts(
        cls, env: Mapping[str, str], user_file: str = "", goroot_file: str = ""
    ) -> GoEnv:
        """Build from the process environment and the two files' text."""
        return cls(dict(env), parse_env_file(user_file), parse_env_file(goroot_file))

    def _lookup(self, key: str) -> tuple[str, Origin]:
        # cfg.Getenv: a non-empty process value, else the files (user first; a key present
        # in the user file, even empty, hides go.env).
        if self.env.get(key, ""):
            return self.env[key], Origin.ENV
        if key in self.user_file:
            return self.user_file[key], Origin.USER_FILE
        if key in self.goroot_file:
            return self.goroot_file[key], Origin.GOROOT_FILE
        return "", Origin.DEFAULT

    def get(self, key: str) -> Setting:
        """The effective value of ``key`` (cfg.EnvOrAndChanged) and its origin."""
        value, origin = self._lookup(key)
        via = None
        default = DEFAULTS.get(key, "")
        if key in _PRIVATE_DERIVED:
            default, via = self.get("GOPRIVATE").value, "GOPRIVATE"
        if value == "":
            return Setting(key, default, Origin.DEFAULT, via if default else None)
        base = self.goroot_file.get(key, default)
        return Setting(key, value, origin, None, value != base)

    def value(self, key: str) -> str:
        """The effective value of ``key``."""
        return self.get(key).value

    def goproxy(self) -> list[ProxySpec]:
        """The GOPROXY list the go command walks (:func:`parse_goproxy`)."""
        return parse_goproxy(self.value("GOPROXY"), self.value("GONOPROXY"))

    def gosumdb(self) -> SumDB | None:
        """The checksum database, None when off (:func:`parse_gosumdb`)."""
        return parse_gosumdb(self.value("GOSUMDB"))

    def goflags(self) -> list[str]:
        """The GOFLAGS fields (:func:`parse_goflags`)."""
        return parse_goflags(self.value("GOFLAGS"))

    def gotoolchain(self) -> Toolchain | None:
        """The GOTOOLCHAIN setting, None when empty (:func:`parse_gotoolchain`)."""
        return parse_gotoolchain(self.value("GOTOOLCHAIN"))

    def goauth(self) -> list[AuthCommand] | None:
        """The GOAUTH commands, None when off (:func:`parse_goauth`)."""
        return parse_goauth(self.value("GOAUTH"))

    def check_govcs(self, vcs: str, root: str) -> None:
        """Check GOVCS for a repository root (:func:`check_govcs`)."""
        check_govcs(self.value("GOVCS"), self.value("GOPRIVATE"), vcs, root)

    def is_private(self, path: str) -> bool:
        """Whether the module path matches GOPRIVATE."""
        return match_prefix_patterns(self.value("GOPRIVATE"), path)

    def is_direct(self, path: str) -> bool:
        """Whether the module path matches GONOPROXY (fetched from its VCS, never a proxy)."""
        return match_prefix_patterns(self.value("GONOPROXY"), path)

    def is_insecure(self, path: str) -> bool:
        """Whether the module path matches GOINSECURE (direct fetches may use plain HTTP)."""
        return match_prefix_patterns(self.value("GOINSECURE"), path)

    def uses_sumdb(self, path: str) -> bool:
        """Whether the checksum database is consulted for the module path: GOSUMDB is not
        ``off`` and the path does not match GONOSUMDB. (The go command also always checks
        golang.org/toolchain; that is the caller's rule.)"""
        return self.value("GOSUMDB") != "off" and not match_prefix_patterns(
            self.value("GONOSUMDB"), path
        )
