"""``gomodproxy sumdb keygen NAME``: make the key pair of a private checksum database."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import Any

from gomodproxy.errors import ConfigError, InvalidInput
from gomodproxy.gomod.sumdbenv import parse_gosumdb
from gomodproxy.sumdb import note


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "keygen",
        help="make the signing key of a private checksum database",
        description=(
            "Generate an Ed25519 key pair for a private checksum database called NAME "
            "(host[/path], the URL clients will reach it at). The signer key is written to "
            "--out (mode 0600, never overwritten); point the proxy's sumdb_private_key "
            "setting at it. The verifier key, and the GOSUMDB value for clients, are printed."
        ),
    )
    p.add_argument("name", metavar="NAME", help="database name, host[/path]")
    p.add_argument("--out", metavar="FILE", help="signer key file (default: NAME.key, / → _)")
    p.add_argument("--url", metavar="URL", help="URL clients reach the database at")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    name: str = args.name
    skey, vkey = note.generate_key(name, secrets.token_bytes(32))
    try:
        parse_gosumdb(vkey)
    except InvalidInput as exc:
        raise ConfigError(f"{name}: not usable as a GOSUMDB name: {exc}") from exc
    out = Path(args.out or name.replace("/", "_") + ".key")
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{out} exists; refusing to overwrite a signing key") from None
    except OSError as exc:
        raise ConfigError(f"{out}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(skey + "\n")
    url = args.url or f"https://{name}"
    print(f"signer key written to {out} (keep it secret)")
    print(f"verifier key: {vkey}")
    print(f'clients: GOSUMDB="{vkey} {url}"')
    return 0
