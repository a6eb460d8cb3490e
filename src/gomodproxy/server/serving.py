"""Serving with TLS, and the checks of the security settings made before any worker starts.

The go command sends ``.netrc`` credentials over https only, so authentication needs TLS;
plain http stays possible for anonymous use. With one worker process, SIGHUP loads the
certificate files again into the live TLS context (new connections get the new certificate,
open ones keep theirs); with several, uvicorn's supervisor answers SIGHUP by replacing the
workers, which read the files afresh.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

from gomodproxy.config.networks import parse_networks
from gomodproxy.config.settings import SecuritySettings, ServerSettings
from gomodproxy.errors import ConfigError, InvalidInput
from gomodproxy.security.auth import authenticator_from_settings
from gomodproxy.security.authz import parse_rules

log = logging.getLogger("gomodproxy.security")


def tls_options(server: ServerSettings) -> dict[str, str]:
    """uvicorn's ``ssl_certfile``/``ssl_keyfile`` from the settings; empty for plain http."""
    if not server.tls_cert and not server.tls_key:
        return {}
    return {"ssl_certfile": server.tls_cert, "ssl_keyfile": server.tls_key}


def check_security_settings(
    server: ServerSettings, security: SecuritySettings, direct_allow_networks: str
) -> None:
    """Fail early, in the parent process, on unusable security settings.

    Raises:
        ConfigError: half a TLS pair, an unreadable file, a bad rule or network.
    """
    cert, key = server.tls_cert, server.tls_key
    if bool(cert) != bool(key):
        raise ConfigError("tls_cert and tls_key must be given together")
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        if path and not Path(path).is_file():
            raise ConfigError(f"{name}: {path}: no such file")
    parse_rules(security.access_rules)
    networks = {
        "auth_trusted_networks": security.auth_trusted_networks,
        "direct_allow_networks": direct_allow_networks,
    }
    for name, text in networks.items():
        try:
            parse_networks(text)
        except InvalidInput as exc:
            raise ConfigError(f"{name}: {exc}") from None
    authenticator = authenticator_from_settings(security)
    if authenticator is not None and authenticator.path is not None and not cert:
        print(
            "gomodproxy: warning: auth_file is set but TLS is not: the go command sends "
            "credentials over https only",
            file=sys.stderr,
        )


def uvicorn_options(host: str, port: int, level: str, shutdown_timeout: int) -> dict[str, Any]:
    """The uvicorn settings every way of serving shares (one worker or several, TLS or not)."""
    return {
        "app": "gomodproxy.compose:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "log_level": "warning" if level != "debug" else "debug",
        "timeout_graceful_shutdown": shutdown_timeout,
        "backlog": 4096,
    }


def run_single_tls(
    host: str, port: int, level: str, shutdown_timeout: int, tls: dict[str, str]
) -> None:
    """Run one worker with TLS; SIGHUP reloads the certificate chain."""
    import uvicorn

    config = uvicorn.Config(
        **uvicorn_options(host, port, level, shutdown_timeout),
        ssl_certfile=tls["ssl_certfile"],
        ssl_keyfile=tls["ssl_keyfile"],
    )
    server = uvicorn.Server(config)

    def reload(_signum: int, _frame: Any) -> None:
        # uvicorn's Config sets ``ssl`` only once loaded, and keeps it undocumented.
        context = getattr(config, "ssl", None)
        if context is None:
            return
        try:
            context.load_cert_chain(tls["ssl_certfile"], tls["ssl_keyfile"])
        except (OSError, ValueError) as exc:  # keep serving the old certificate
            log.error("SIGHUP: could not reload the TLS certificate: %s", exc)
            return
        log.warning("SIGHUP: TLS certificate reloaded from %s", tls["ssl_certfile"])

    signal.signal(signal.SIGHUP, reload)
    server.run()
