"""Settings of the proxy, each with the origin of its value.

Precedence, lowest first: built-in defaults < the TOML file (``--config``) < environment
(``GOMODPROXY_<NAME>``) < command-line flags. Go's own variables (``GOPROXY``, ``GONOPROXY``,
``GOPRIVATE``, ``GONOSUMDB``, ``GOSUMDB``, ``GOINSECURE``) are settings too and mean for the
proxy what they mean for the go command: when neither the file, the environment nor a flag
sets them, their default is what ``go env`` reports (which itself reads ``$GOENV`` and
``$GOROOT/go.env``); without a go command the upstream is ``direct``. The plain variable
(``GOPROXY``) is read from the environment like ``GOMODPROXY_GOPROXY``; the latter wins.

Each setting is one field of a frozen dataclass of its concern (:class:`ServerSettings`,
:class:`UpstreamSettings`, ...): its type, its one default, and in the field's metadata its
help text and the go command variable it is. The option table (:data:`OPTIONS`) that the TOML
file, ``GOMODPROXY_<NAME>``, ``--set`` and ``config show`` use is derived from those fields,
in the order of :data:`ORDER`. :func:`load_settings` parses and validates once and returns a
:class:`Settings` of typed parts; the composition root hands each part (or the few values it
needs) to the code that uses it.

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
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, get_origin, get_type_hints

from gomodproxy.errors import ConfigError
from gomodproxy.gomod.modzip import MAX_ZIP_FILE

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MiB = 1 << 20
_T = TypeVar("_T")


def _setting(default: _T, help: str, go_var: str = "") -> _T:
    """A settings field: its one default, its help text and the go variable it is, if any."""
    return field(default=default, metadata={"help": help, "go_var": go_var})


@dataclass(frozen=True)
class ServerSettings:
    """How the proxy listens and answers over HTTP (``serve``, ``server``)."""

    listen: str = _setting("127.0.0.1:3000", "HOST:PORT to listen on")
    workers: int = _setting(0, "worker processes; 0 means one per CPU")
    http_server: str = _setting("granian", "HTTP server: granian (fastest) or uvicorn")
    upstream_error_status: int = _setting(404, "status for upstream failures: 404 or 502")
    immutable_max_age: int = _setting(365 * 86400, "Cache-Control max-age of .info/.mod/.zip")
    access_log: bool = _setting(True, "write one JSON line per request to stdout")
    log_level: str = _setting("info", "debug, info, warning or error")
    shutdown_timeout: float = _setting(30.0, "seconds in-flight requests get to finish on stop")
    tls_cert: str = _setting("", "PEM certificate chain to serve https")
    tls_key: str = _setting("", "PEM private key of tls_cert")

    def effective_workers(self) -> int:
        return self.workers or (os.cpu_count() or 1)

    def listen_host_port(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"listen: {self.listen!r} is not HOST:PORT")
        return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class StorageSettings:
    """Where artifacts are kept (``storage``)."""

    storage: str = _setting(
        "./data",
        "storage URL: directory, file://, memory://, oci://HOST/PREFIX, s3://BUCKET/PREFIX",
    )
    temp_dir: str = _setting("", "directory for downloads in progress; default beside storage")


@dataclass(frozen=True)
class UpstreamSettings:
    """Where modules come from and how they are fetched (``sources``, cold zips)."""

    goproxy: str = _setting("direct", "the proxy's own upstream list, as GOPROXY", "GOPROXY")
    gonoproxy: str = _setting("", "module path globs fetched directly, as GONOPROXY", "GONOPROXY")
    goprivate: str = _setting("", "private module path globs, as GOPRIVATE", "GOPRIVATE")
    goinsecure: str = _setting(
        "", "globs allowed over plain http direct, as GOINSECURE", "GOINSECURE"
    )
    govcs: str = _setting("", "version control systems direct mode may use, as GOVCS", "GOVCS")
    vcs_cache: str = _setting("", "bare git repository cache; default ~/.cache/gomodproxy/vcs")
    origins: tuple[str, ...] = _setting(
        (), "static origins PREFIX=git+URL skipping go-get discovery (--origin, [[origins]])"
    )
    upstream_timeout: float = _setting(30.0, "seconds to connect to / wait for an upstream")
    fetch_timeout: float = _setting(600.0, "seconds one whole upstream zip download may take")
    #: By default the go command's own limit.
    max_zip_bytes: int = _setting(MAX_ZIP_FILE, "largest module zip accepted from an upstream")
    stream_cold_zips: bool = _setting(True, "stream a cold zip while fetching, tail held back")
    stream_cold_zips_after: int = _setting(
        32 * MiB, "bytes of a cold zip to receive before streaming it (smaller: verified first)"
    )
    direct_allow_networks: str = _setting("", "private/loopback networks direct mode may contact")
    #: Air-gapped serving (``sources.store``); ``goproxy = "off"`` implies it too.
    offline: bool = _setting(False, "answer only from storage: lists, latest and the sumdb too")

    def is_offline(self) -> bool:
        """Serve only what storage holds (``offline = true`` or ``GOPROXY=off``)."""
        return self.offline or self.goproxy == "off"


@dataclass(frozen=True)
class CacheSettings:
    """How long answers stay fresh and what is kept in memory (``service``, ``cache``)."""

    list_ttl: float = _setting(60.0, "seconds a @v/list, @latest or query answer stays fresh")
    stale_ttl: float = _setting(7 * 86400.0, "seconds a stale list may be served if upstream fails")
    hot_cache_bytes: int = _setting(256 * MiB, "bytes of artifacts kept in memory per worker")
    hot_cache_item_bytes: int = _setting(8 * MiB, "largest artifact kept in memory")
    redis: str = _setting("", "redis:// URL for a shared metadata cache and locks (optional)")


@dataclass(frozen=True)
class ChecksumDbSettings:
    """The checksum databases asked, served and signed (``checksumdb``, ``/sumdb/``)."""

    gosumdb: str = _setting("", "the checksum database, as GOSUMDB", "GOSUMDB")
    gonosumdb: str = _setting("", "globs not checked against the sumdb, as GONOSUMDB", "GONOSUMDB")
    verify: str = _setting("strict", "strict: refuse if GOSUMDB cannot be asked; or best-effort")
    sumdb_private_key: str = _setting("", "signer key file of the private checksum database")
    sumdb_private_patterns: str = _setting("", "globs the private database covers (GOPRIVATE)")
    sumdb_proxied: str = _setting("", "further databases to pass through (';'-separated)")


@dataclass(frozen=True)
class SecuritySettings:
    """Who may read what, and how fast (``security``, the access gate)."""

    auth_file: str = _setting("", "credentials file (gomodproxy user add); enables authentication")
    auth_trusted_header: str = _setting("", "header naming the user, set by a fronting proxy")
    auth_trusted_networks: str = _setting("", "addresses allowed to send auth_trusted_header")
    access_rules: str = _setting("", "GLOBS=user @group *; ... who may read private modules")
    anonymous_public: bool = _setting(True, "anonymous callers may read public modules")
    rate_limit: float = _setting(0.0, "requests per second per principal; 0 is off")
    rate_limit_burst: int = _setting(0, "burst of rate_limit; default one second's worth")
    rate_limit_address: float = _setting(0.0, "requests per second per client address; 0 is off")
    rate_limit_address_burst: int = _setting(0, "burst of rate_limit_address")
    max_upstream_fetches_per_principal: int = _setting(0, "concurrent upstream fetches; 0 is off")
    access_decisions_log: str = _setting("", "file for access decisions; default stderr")


@dataclass(frozen=True)
class OpsSettings:
    """Operations: the audit log, ``/admin/`` and who may read ``/metrics`` (``ops``)."""

    audit_log: str = _setting("", "audit log: '-' for stdout or a file path; empty is off")
    audit_log_max_bytes: int = _setting(100 * MiB, "rotate the audit log file at this size")
    audit_log_backups: int = _setting(5, "rotated audit log files kept")
    admin_token_file: str = _setting("", "file holding the /admin/ bearer token; empty is off")
    metrics_token_file: str = _setting("", "file holding a bearer token /metrics requires")
    metrics_networks: str = _setting("", "client networks /metrics is served to without token")


#: The order settings are listed in (``config show``, its JSON, ``/admin/config``): fixed,
#: so their output does not change when a field moves between parts.
ORDER: tuple[str, ...] = (
    "listen", "storage", "workers", "http_server",
    "goproxy", "gonoproxy", "goprivate", "gonosumdb", "gosumdb", "goinsecure", "govcs",
    "vcs_cache", "origins",
    "list_ttl", "stale_ttl", "upstream_timeout", "fetch_timeout", "upstream_error_status",
    "hot_cache_bytes", "hot_cache_item_bytes", "max_zip_bytes", "immutable_max_age",
    "access_log", "log_level", "temp_dir", "shutdown_timeout", "redis",
    "verify", "sumdb_private_key", "sumdb_private_patterns", "sumdb_proxied",
    "stream_cold_zips", "stream_cold_zips_after", "offline",
    "auth_file", "auth_trusted_header", "auth_trusted_networks", "access_rules",
    "anonymous_public", "rate_limit", "rate_limit_burst", "rate_limit_address",
    "rate_limit_address_burst", "max_upstream_fetches_per_principal",
    "tls_cert", "tls_key", "direct_allow_networks", "access_decisions_log",
    "audit_log", "audit_log_max_bytes", "audit_log_backups",
    "admin_token_file", "metrics_token_file", "metrics_networks",
)  # fmt: skip


def _all_default() -> dict[str, str]:
    return dict.fromkeys(ORDER, "default")


@dataclass(frozen=True)
class Settings:
    """Effective settings, one typed part per concern, and where each value came from
    (``origins[name]``: ``default``, ``file F``, ``env VAR``, ``flag --name``, ``go env``)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    checksumdb: ChecksumDbSettings = field(default_factory=ChecksumDbSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    origins: dict[str, str] = field(default_factory=_all_default)

    def by_name(self) -> dict[str, object]:
        """Every value under its option name, in :data:`ORDER` (display, serialisation)."""
        return {o.name: getattr(getattr(self, o.part), o.name) for o in OPTIONS}

    def to_json(self) -> str:
        """Serialise for worker processes (which must not re-run ``go env``)."""
        return json.dumps({"values": self.by_name(), "origins": self.origins})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        obj = json.loads(text)
        values = {o.name: parse_value(o, obj["values"][o.name], "settings") for o in OPTIONS}
        return _assemble(values, obj["origins"])


@dataclass(frozen=True)
class Option:
    """One setting as the file, environment, flags and ``config show`` see it; derived from
    a field of one of the parts of :class:`Settings`."""

    name: str
    #: ``str``, ``int`` (sizes: ``64MiB``), ``float`` (durations: ``5m``), ``bool`` or
    #: ``list`` (origin specs, held as a tuple).
    kind: type
    default: object
    help: str
    #: The name of the go command's own variable this setting is, if any.
    go_var: str
    #: The attribute of :class:`Settings` holding the part this setting is a field of.
    part: str


def _derive_options() -> tuple[Option, ...]:
    found: dict[str, Option] = {}
    for part in fields(Settings):
        if part.name == "origins":
            continue
        cls = get_type_hints(Settings)[part.name]
        hints = get_type_hints(cls)
        for f in fields(cls):
            hint = hints[f.name]
            kind = list if get_origin(hint) is tuple else hint
            meta = f.metadata
            found[f.name] = Option(f.name, kind, f.default, meta["help"], meta["go_var"], part.name)
    if sorted(found) != sorted(ORDER):
        raise RuntimeError("settings: ORDER must name every settings field exactly once")
    return tuple(found[name] for name in ORDER)


OPTIONS: tuple[Option, ...] = _derive_options()
OPTION_BY_NAME = {o.name: o for o in OPTIONS}
ENV_PREFIX = "GOMODPROXY_"
_SIZE = re.compile(r"^\s*([0-9]+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$")
_Part = TypeVar("_Part", bound="DataclassInstance")


def _assemble(values: Mapping[str, object], origins: Mapping[str, str]) -> Settings:
    """The typed settings of already-parsed ``values`` (one per option name)."""

    def part(default: _Part) -> _Part:
        names = {f.name for f in fields(default)}
        return replace(default, **{name: values[name] for name in names})

    return Settings(
        server=part(ServerSettings()),
        storage=part(StorageSettings()),
        upstream=part(UpstreamSettings()),
        cache=part(CacheSettings()),
        checksumdb=part(ChecksumDbSettings()),
        security=part(SecuritySettings()),
        ops=part(OpsSettings()),
        origins=dict(origins),
    )


def parse_value(opt: Option, raw: object, where: str) -> object:
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


def _origin_specs(raw: object) -> tuple[str, ...]:
    """Static origins as ``PREFIX=VCS+URL`` strings, from a flag or environment value
    (whitespace-separated), a TOML array of such strings, or ``[[origins]]`` tables."""
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
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
    return tuple(specs)


def _check(settings: Settings) -> None:
    from gomodproxy.config.origins import parse_origin

    server, upstream, cache = settings.server, settings.upstream, settings.cache
    for spec in upstream.origins:
        parse_origin(spec)  # ConfigError with the reason
    if server.http_server not in ("granian", "uvicorn"):
        raise ConfigError("http_server must be granian or uvicorn")
    if server.upstream_error_status not in (404, 502):
        raise ConfigError("upstream_error_status must be 404 or 502")
    if settings.checksumdb.verify not in ("strict", "best-effort"):
        raise ConfigError('verify must be "strict" or "best-effort"')
    non_negative = {
        "workers": server.workers,
        "hot_cache_bytes": cache.hot_cache_bytes,
        "hot_cache_item_bytes": cache.hot_cache_item_bytes,
        "max_zip_bytes": upstream.max_zip_bytes,
        "stream_cold_zips_after": upstream.stream_cold_zips_after,
        "list_ttl": cache.list_ttl,
        "stale_ttl": cache.stale_ttl,
        "shutdown_timeout": server.shutdown_timeout,
        "immutable_max_age": server.immutable_max_age,
    }
    for name, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name} must not be negative")
    # A timeout of 0 (or a negative one from a TOML number) fails every upstream request at
    # once, before it is sent: refuse it here rather than answer each request "timed out".
    for name, seconds in (
        ("upstream_timeout", upstream.upstream_timeout),
        ("fetch_timeout", upstream.fetch_timeout),
    ):
        if not seconds > 0:
            raise ConfigError(f"{name} must be more than 0 seconds")


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
    flags: Mapping[str, object] | None = None,
    *,
    ask_go: bool = True,
) -> Settings:
    """Merge defaults < TOML file < environment < flags, then check the result once.

    ``flags`` maps option names to values given on the command line (None = not given).
    The ``GOMODPROXY_CONFIG`` variable names a file when ``config_file`` is None.

    Raises:
        ConfigError: unreadable file, unknown key, a value of the wrong type, or one no
            part of the proxy can use.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {o.name: o.default for o in OPTIONS}
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

    for name, given in (flags or {}).items():
        if given is None:
            continue
        opt = OPTION_BY_NAME.get(name)
        if opt is None:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = parse_value(opt, given, "command line")
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
    settings = _assemble(values, origins)
    _check(settings)
    return settings


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


def render_settings(settings: Settings, shown: Mapping[str, object] | None = None) -> str:
    """The effective settings as TOML, each value followed by its origin as a comment.

    ``shown`` replaces the values displayed (``config show`` passes them masked).
    """
    values = settings.by_name() if shown is None else shown
    lines = []
    for opt in OPTIONS:
        value = values[opt.name]
        text = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        if opt.name == "workers" and value == 0:
            text = f"0  # = {settings.server.effective_workers()} CPUs;"
            lines.append(f"{opt.name} = {text} {settings.origins[opt.name]}")
            continue
        lines.append(f"{opt.name} = {text}  # {settings.origins[opt.name]}")
    return "\n".join(lines) + "\n"
