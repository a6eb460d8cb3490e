"""``gomodproxy nginx-config``: print an nginx front configuration (``gomodproxy.ops.nginx``)
that serves stored immutable artifacts from the filesystem storage and passes the rest on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.errors import ConfigError
from gomodproxy.ops.nginx import FrontConfig, render


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "nginx-config",
        help="print an nginx front config serving stored artifacts without Python",
        description=(
            "Print an nginx configuration for a front that serves immutable .info/.mod/.zip "
            "files straight from gomodproxy's filesystem storage and passes every other "
            "request to gomodproxy (at --listen). By default a complete nginx.conf; "
            "--server-only prints the upstream and server blocks for an existing http {}."
        ),
    )
    add_settings_flags(p)
    p.add_argument("--front", metavar="HOST:PORT", default="80", help="nginx listen (80)")
    p.add_argument("--server-only", action="store_true", help="only upstream + server blocks")
    p.add_argument("--pid", metavar="FILE", help="nginx pid file")
    p.add_argument("--error-log", metavar="FILE", help="nginx error log")
    p.add_argument("--access-log", metavar="FILE", help="nginx access log ('off' for none)")
    p.add_argument("--temp-dir", metavar="DIR", help="directory for nginx's temporary files")
    p.add_argument("--worker-processes", metavar="N", help="nginx workers (auto)")
    p.add_argument("--user", metavar="NAME", help="user of nginx's workers (must read storage)")
    p.set_defaults(func=run)


def front_config(args: argparse.Namespace) -> FrontConfig:
    """The front's configuration from the settings and flags.

    Raises:
        ConfigError: storage is not a local directory, or access control is configured
            (nginx would serve private modules to anyone).
    """
    settings = settings_from_args(args)
    security, server = settings.security, settings.server
    if security.auth_file or security.access_rules or not security.anonymous_public:
        raise ConfigError(
            "nginx-config: authentication or access rules are configured; an nginx front "
            "serving files directly would bypass them"
        )
    storage = settings.storage.storage.strip()
    if storage.startswith("file://"):
        storage = storage[len("file://") :]
    elif "://" in storage:
        raise ConfigError(
            f"nginx-config: storage {storage!r} is not a local directory (filesystem storage)"
        )
    host, port = server.listen_host_port()
    upstream = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    extra = {
        name: getattr(args, name)
        for name in ("pid", "error_log", "access_log", "temp_dir", "worker_processes", "user")
        if getattr(args, name) is not None
    }
    return FrontConfig(
        listen=args.front,
        upstream=upstream,
        storage_root=str(Path(storage).expanduser().resolve()),
        upstream_tls=bool(server.tls_cert),
        immutable_max_age=server.immutable_max_age,
        fetch_timeout=settings.upstream.fetch_timeout,
        **extra,
    )


def run(args: argparse.Namespace) -> int:
    print(render(front_config(args), server_only=args.server_only), end="")
    return 0
