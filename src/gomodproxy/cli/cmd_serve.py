"""``gomodproxy serve``: run the caching GOPROXY server."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gomodproxy.config.settings import ServerSettings, Settings, load_settings, set_flag_pairs

if TYPE_CHECKING:  # the app is built lazily, in run()
    from gomodproxy.server.app import ProxyApp


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the caching GOPROXY server")
    add_settings_flags(p)
    p.set_defaults(func=run)


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``serve`` and ``config show``."""
    p.add_argument("--config", metavar="FILE", help="TOML settings file")
    p.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (127.0.0.1:3000)")
    p.add_argument("--storage", metavar="DIR|URL", help="storage directory or URL (./data)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (CPU count)")
    # Scale-out: shared metadata cache and single-flight in Redis.
    p.add_argument("--redis", metavar="URL", help="redis://HOST:PORT/DB shared by replicas")
    p.add_argument("--upstream", metavar="GOPROXY", help="upstream list, in GOPROXY syntax")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any setting (repeatable)")
    p.add_argument("--tls-cert", metavar="PEM", help="certificate chain: serve https")
    p.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    # Direct mode: the repository of a vanity path without a go-get meta server.
    p.add_argument(
        "--origin",
        action="append",
        metavar="PREFIX=git+URL",
        help="fetch modules under PREFIX from this git repository (repeatable)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags: dict[str, object] = dict(set_flag_pairs(args.set))
    for name in ("listen", "storage", "workers", "redis"):
        if getattr(args, name) is not None:
            flags[name] = getattr(args, name)
    if args.upstream is not None:
        flags["goproxy"] = args.upstream
    for name in ("tls_cert", "tls_key"):
        if getattr(args, name, None) is not None:
            flags[name] = getattr(args, name)
    if getattr(args, "origin", None):
        flags["origins"] = list(args.origin)
    return load_settings(args.config, flags=flags)


async def _check_app(app: ProxyApp) -> None:
    """Let the store say now, not at the first request, that it cannot be used (an S3
    bucket that does not exist, wrong credentials); then close the probe app."""
    try:
        await app.service.store.check()
    finally:
        await app.aclose()


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # TLS and access-control settings are checked here, in the parent, before any worker.
    from gomodproxy.server.serving import check_security_settings, tls_options

    server = settings.server
    check_security_settings(server, settings.security, settings.upstream.direct_allow_networks)
    tls = tls_options(server)
    # Then any other setting a worker could not use (storage, GOPROXY, GOSUMDB, token and key
    # files, logs): the app is built once here as each worker builds it, so a bad value is
    # one message and exit code, not a traceback per worker.
    from gomodproxy.compose import build_app

    asyncio.run(_check_app(build_app(settings)))

    host, port = server.listen_host_port()
    workers = server.effective_workers()
    metrics_dir = Path(tempfile.mkdtemp(prefix="gomodproxy-metrics-"))
    os.environ["GOMODPROXY_SETTINGS_JSON"] = settings.to_json()
    os.environ["GOMODPROXY_METRICS_DIR"] = str(metrics_dir)
    level = server.log_level.lower()
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs one INFO line per upstream request; our JSON request log already says it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from gomodproxy.redact.secrets import install_log_redaction, redact

    install_log_redaction()
    backend = server.http_server
    if backend == "granian" and importlib.util.find_spec("granian") is None:
        print("gomodproxy: granian is not installed; using uvicorn", file=sys.stderr)
        backend = "uvicorn"
    if tls:
        backend = "uvicorn"  # TLS (and its SIGHUP reload) is served by uvicorn
    # The banner goes through the same masking as the logs and ``config show``: the upstream
    # list may carry user-info (``https://user:token@host``).
    print(
        redact(
            f"gomodproxy: serving on {'https' if tls else 'http'}://{host}:{port} with "
            f"{workers} {backend} worker(s); "
            f"storage {settings.storage.storage}; upstream {settings.upstream.goproxy}"
        ),
        file=sys.stderr,
        flush=True,
    )
    try:
        if tls and workers <= 1:
            # One process: SIGHUP reloads the certificate into the live TLS context
            # (with several workers uvicorn's supervisor answers SIGHUP by replacing them).
            from gomodproxy.server.serving import run_single_tls

            run_single_tls(host, port, level, int(server.shutdown_timeout), tls)
        elif backend == "granian":
            _serve_granian(server, host, port, workers, level)
        else:
            _serve_uvicorn(server, host, port, workers, level)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


APP = "gomodproxy.compose:create_app"


def _serve_granian(server: ServerSettings, host: str, port: int, workers: int, level: str) -> None:
    """Granian: a Rust HTTP server running our ASGI app; forked workers share the socket.

    Chosen by measurement (bench/bench_server.py): about 1.4x the warm-hit rate of uvicorn.
    """
    granian_server(APP, host, port, workers, level, server.shutdown_timeout).serve()


def granian_server(
    factory: str, host: str, port: int, workers: int, level: str, shutdown_timeout: float
) -> Any:
    """The granian server ``serve`` runs, for the ASGI app ``factory`` returns (also used by
    bench/ to measure the server alone with the very same options)."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    return Server(
        factory,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        backlog=4096,
        log_enabled=True,
        log_level=LogLevels.debug if level == "debug" else LogLevels.warning,
        log_access=False,
        factory=True,
        workers_kill_timeout=max(1, int(shutdown_timeout)),
    )


def _serve_uvicorn(server: ServerSettings, host: str, port: int, workers: int, level: str) -> None:
    import uvicorn

    from gomodproxy.server.serving import uvicorn_options

    uvicorn.run(
        **uvicorn_options(host, port, level, int(server.shutdown_timeout)),
        workers=workers if workers > 1 else None,
        # https with several workers (SIGHUP makes uvicorn replace them)
        ssl_certfile=server.tls_cert or None,
        ssl_keyfile=server.tls_key or None,
    )
