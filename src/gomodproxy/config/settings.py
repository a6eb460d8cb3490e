"""Settings of the proxy, each with the origin of its value.

Precedence, lowest first: built-in defaults < the TOML file (``--config``) < environment
(``GOMODPROXY_<NAME>``) < command-line flags. Go's own variables (``GOPROXY``, ``GONOPROXY``,
``GOPRIVATE``, ``GONOSUMDB``, ``GOSUMDB``, ``GOINSECURE``) are settings too and mean for the
proxy what they mean for the go command: when neither the file, the environment nor a flag
sets them, their default is what ``go env`` reports (which itself reads ``$GOENV`` and
``$GOROOT/go.env``); without a go command the upstream is ``direct``. The plain variable
(``GOPROXY``) is read from the environment like ``GOMODPROXY_GOPROXY``; the latter wins.

No registry host name is written here: the default upstream always comes from the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gomodproxy.errors import ConfigError

MiB = 1 << 20


@dataclass(frozen=True)
class Option:
    """One setting: its type, default and meaning."""

    name: str
    kind: type
    default: Any
    help: str
    #: The name of the go command's own variable this setting is, if any.
    go_var: str = ""


OPTIONS: tuple[Option, ...] = (
    Option("listen", str, "127.0.0.1:3000", "HOST:PORT to listen on"),
    Option(
        "storage",
        str,
        "./data",
        "storage URL: directory, file://, memory://, oci://HOST/PREFIX, s3://BUCKET/PREFIX",
    ),
    Option("workers", int, 0, "worker processes; 0 means one per CPU"),
    Option("http_server", str, "granian", "HTTP server: granian (fastest) or uvicorn"),
    Option("goproxy", str, "", "the proxy's own upstream list, as GOPROXY", "GOPROXY"),
    Option("gonoproxy", str, "", "module path globs fetched directly, as GONOPROXY", "GONOPROXY"),
    Option("goprivate", str, "", "private module path globs, as GOPRIVATE", "GOPRIVATE"),
    Option("gonosumdb", str, "", "globs not checked against the sumdb, as GONOSUMDB", "GONOSUMDB"),
    Option("gosumdb", str, "", "the checksum database, as GOSUMDB", "GOSUMDB"),
    Option(
        "goinsecure", str, "", "globs allowed over plain http direct, as GOINSECURE", "GOINSECURE"
    ),
    Option("govcs", str, "", "version control systems direct mode may use, as GOVCS", "GOVCS"),
    # Direct mode (gomodproxy.sources.direct).
    Option("vcs_cache", str, "", "bare git repository cache; default ~/.cache/gomodproxy/vcs"),
    Option(
        "origins",
        list,
        [],
        "static origins PREFIX=git+URL skipping go-get discovery (--origin, [[origins]])",
    ),
    Option("list_ttl", float, 60.0, "seconds a @v/list, @latest or query answer stays fresh"),
    Option("stale_ttl", float, 7 * 86400.0, "seconds a stale list may be served if upstream fails"),
    Option("upstream_timeout", float, 30.0, "seconds to connect to / wait for an upstream"),
    Option("fetch_timeout", float, 600.0, "seconds one whole upstream zip download may take"),
    Option("upstream_error_status", int, 404, "status for upstream failures: 404 or 502"),
    Option("hot_cache_bytes", int, 256 * MiB, "bytes of artifacts kept in memory per worker"),
    Option("hot_cache_item_bytes", int, 8 * MiB, "largest artifact kept in memory"),
    Option("max_zip_bytes", int, 500 * MiB, "largest module zip accepted from an upstream"),
    Option("immutable_max_age", int, 365 * 86400, "Cache-Control max-age of .info/.mod/.zip"),
    Option("access_log", bool, True, "write one JSON line per request to stdout"),
    Option("log_level", str, "info", "debug, info, warning or error"),
    Option("temp_dir", str, "", "directory for downloads in progress; default beside storage"),
    Option("shutdown_timeout", float, 30.0, "seconds in-flight requests get to finish on stop"),
    Option("redis", str, "", "redis:// URL for a shared metadata cache and locks (optional)"),
    # Checksum database (gomodproxy.checksumdb, server/sumdb_routes.py).
    Option("verify", str, "strict", "strict: refuse if GOSUMDB cannot be asked; or best-effort"),
    Option("sumdb_private_key", str, "", "signer key file of the private checksum database"),
    Option("sumdb_private_patterns", str, "", "globs the private database covers (GOPRIVATE)"),
    Option("sumdb_proxied", str, "", "further databases to pass through (';'-separated)"),
    Option("stream_cold_zips", bool, True, "stream a cold zip while fetching, tail held back"),
    Option(
        "stream_cold_zips_after",
        int,
        32 * MiB,
        "bytes of a cold zip to receive before streaming it (smaller: verified first)",
    ),
    # Air-gapped serving (gomodproxy.sources.store): also implied by goproxy = "off".
    Option("offline", bool, False, "answer only from storage: lists, latest and the sumdb too"),
    # Access control and hardening (gomodproxy.security, server/gate.py).
    Option("auth_file", str, "", "credentials file (gomodproxy user add); enables authentication"),
    Option("auth_trusted_header", str, "", "header naming the user, set by a fronting proxy"),
    Option("auth_trusted_networks", str, "", "addresses allowed to send auth_trusted_header"),
    Option("access_rules", str, "", "GLOBS=user @group *; ... who may read private modules"),
    Option("anonymous_public", bool, True, "anonymous callers may read public modules"),
    Option("rate_limit", float, 0.0, "requests per second per principal; 0 is off"),
    Option("rate_limit_burst", int, 0, "burst of rate_limit; default one second's worth"),
    Option("rate_limit_address", float, 0.0, "requests per second per client address; 0 is off"),
    Option("rate_limit_address_burst", int, 0, "burst of rate_limit_address"),
    Option("max_upstream_fetches_per_principal", int, 0, "concurrent upstream fetches; 0 is off"),
    Option("tls_cert", str, "", "PEM certificate chain to serve https"),
    Option("tls_key", str, "", "PEM private key of tls_cert"),
    Option("direct_allow_networks", str, "", "private/loopback networks direct mode may contact"),
    Option("access_decisions_log", str, "", "file for access decisions; default stderr"),
    # Operations (gomodproxy.ops).
    Option("audit_log", str, "", "audit log: '-' for stdout or a file path; empty is off"),
    Option("audit_log_max_bytes", int, 100 * MiB, "rotate the audit log file at this size"),
    Option("audit_log_backups", int, 5, "rotated audit log files kept"),
    Option("admin_token_file", str, "", "file holding the /admin/ bearer token; empty is off"),
    Option("metrics_token_file", str, "", "file holding a bearer token /metrics requires"),
    Option("metrics_networks", str, "", "client networks /metrics is served to without token"),
)
OPTION_BY_NAME = {o.name: o for o in OPTIONS}
ENV_PREFIX = "GOMODPROXY_"
_SIZE = re.compile(r"^\s*([0-9]+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$")


@dataclass
class Settings:
    """Effective settings: ``values[name]`` and where each came from (``origins[name]``)."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def effective_workers(self) -> int:
        return int(self.values["workers"]) or (os.cpu_count() or 1)

    def to_json(self) -> str:
        """Serialise for worker processes (which must not re-run ``go env``)."""
        return json.dumps({"values": self.values, "origins": self.origins})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        obj = json.loads(text)
        return cls(values=obj["values"], origins=obj["origins"])

    def is_offline(self) -> bool:
        """Serve only what storage holds (``offline = true`` or ``GOPROXY=off``)."""
        return bool(self.values.get("offline")) or str(self.values.get("goproxy", "")) == "off"

    def listen_host_port(self) -> tuple[str, int]:
        host, sep, port = str(self.values["listen"]).rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"listen: {self.values['listen']!r} is not HOST:PORT")
        return host.strip("[]") or "127.0.0.1", int(port)


def parse_value(opt: Option, raw: Any, where: str) -> Any:
    """Convert a value from a file, the environment or a flag to the option's type.

    Raises:
        ConfigError: the value does not fit the option.
    """
    try:
        if opt.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if opt.kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            if isinstance(raw, int):
                return raw
            m = _SIZE.match(str(raw))
            if not m:
                raise ValueError(raw)
            unit = (m.group(2) or "").upper().rstrip("B").rstrip("I")
            return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": MiB, "G": 1 << 30}[unit]
        if opt.kind is list:
            return _origin_specs(raw)
        if opt.kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            if isinstance(raw, int | float):
                return float(raw)
            m = _DURATION.match(str(raw))
            if not m:
                raise ValueError(raw)
            scale = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0, "d": 86400.0}[
                m.group(2)
            ]
            return float(m.group(1)) * scale
        if not isinstance(raw, str):
            raise ValueError(raw)
        return raw
    except ValueError:
        raise ConfigError(
            f"{where}: {opt.name} = {raw!r} is not a valid {opt.kind.__name__}"
        ) from None


def _origin_specs(raw: Any) -> list[str]:
    """Static origins as ``PREFIX=VCS+URL`` strings, from a flag or environment value
    (whitespace-separated), a TOML array of such strings, or ``[[origins]]`` tables."""
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise ValueError(raw)
    specs = []
    for item in items:
        if isinstance(item, str):
            specs.append(item)
        elif isinstance(item, dict):
            prefix, vcs, url = item.get("prefix"), item.get("vcs", "git"), item.get("url")
            if not all(isinstance(x, str) for x in (prefix, vcs, url)):
                raise ValueError(item)
            specs.append(f"{prefix}={vcs}+{url}")
        else:
            raise ValueError(item)
    return specs


def _check(values: Mapping[str, Any]) -> None:
    from gomodproxy.config.origins import parse_origin

    for spec in values["origins"]:
        parse_origin(spec)  # ConfigError with the reason
    if values["http_server"] not in ("granian", "uvicorn"):
        raise ConfigError("http_server must be granian or uvicorn")
    if values["upstream_error_status"] not in (404, 502):
        raise ConfigError("upstream_error_status must be 404 or 502")
    if values["verify"] not in ("strict", "best-effort"):
        raise ConfigError('verify must be "strict" or "best-effort"')
    sizes = ("hot_cache_bytes", "hot_cache_item_bytes", "max_zip_bytes", "stream_cold_zips_after")
    for name in ("workers", *sizes):
        if values[name] < 0:
            raise ConfigError(f"{name} must not be negative")


def go_env(names: list[str]) -> dict[str, str]:
    """What ``go env`` reports for ``names``; empty when there is no go command."""
    go = shutil.which("go")
    if go is None or not names:
        return {}
    try:
        out = subprocess.run(
            [go, "env", "-json", *names], capture_output=True, text=True, timeout=30, check=True
        )
        data = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items() if isinstance(v, str)}


def load_settings(
    config_file: str | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    ask_go: bool = True,
) -> Settings:
    """Merge defaults < TOML file < environment < flags.

    ``flags`` maps option names to values given on the command line (None = not given).
    The ``GOMODPROXY_CONFIG`` variable names a file when ``config_file`` is None.

    Raises:
        ConfigError: unreadable file, unknown key, or a value of the wrong type.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {o.name: o.default for o in OPTIONS}
    origins: dict[str, str] = dict.fromkeys(values, "default")

    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {config_file}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from exc
        for key, raw in data.items():
            opt = OPTION_BY_NAME.get(key)
            if opt is None:
                known = ", ".join(sorted(OPTION_BY_NAME))
                raise ConfigError(
                    f"config file {config_file}: unknown key {key!r} (known: {known})"
                )
            values[key] = parse_value(opt, raw, f"config file {config_file}")
            origins[key] = f"file {config_file}"

    for opt in OPTIONS:
        # An empty value counts as unset, as the go command treats its own variables.
        for var in ([opt.go_var] if opt.go_var else []) + [ENV_PREFIX + opt.name.upper()]:
            raw = env.get(var)
            if raw:
                values[opt.name] = parse_value(opt, raw, f"environment {var}")
                origins[opt.name] = f"env {var}"

    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        opt = OPTION_BY_NAME.get(name)
        if opt is None:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = parse_value(opt, raw, "command line")
        origins[name] = f"flag --{name.replace('_', '-')}"

    unset_go = [o.go_var for o in OPTIONS if o.go_var and origins[o.name] == "default"]
    if ask_go and unset_go:
        reported = go_env(unset_go)
        for opt in OPTIONS:
            if opt.go_var in unset_go and reported.get(opt.go_var):
                values[opt.name] = reported[opt.go_var]
                origins[opt.name] = "go env"
    if not values["goproxy"]:
        values["goproxy"] = "direct"
    # As for the go command, GONOPROXY and GONOSUMDB default to GOPRIVATE when unset.
    for name in ("gonoproxy", "gonosumdb"):
        if not values[name] and values["goprivate"]:
            values[name] = values["goprivate"]
            origins[name] = "from goprivate"
    _check(values)
    return Settings(values=values, origins=origins)


def set_flag_pairs(pairs: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--set KEY=VALUE`` flags.

    Raises:
        ConfigError: a pair without ``=`` or with an unknown key.
    """
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in OPTION_BY_NAME:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE with a known key")
        out[key] = value
    return out


def render_settings(settings: Settings) -> str:
    """The effective settings as TOML, each value followed by its origin as a comment."""
    lines = []
    for opt in OPTIONS:
        value = settings.values[opt.name]
        text = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        if opt.name == "workers" and value == 0:
            text = f"0  # = {settings.effective_workers()} CPUs;"
            lines.append(f"{opt.name} = {text} {settings.origins[opt.name]}")
            continue
        lines.append(f"{opt.name} = {text}  # {settings.origins[opt.name]}")
    return "\n".join(lines) + "\n"
