"""``gomodproxy mod verify``: re-hash every stored zip and go.mod, compare with the stored hash
and the checksum database, and report every difference (exit 3 if there is any)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gomodproxy.checksumdb.recheck import verify_store
from gomodproxy.config.settings import load_settings
from gomodproxy.errors import VerificationError
from gomodproxy.storage import open_store


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "verify",
        help="re-hash stored modules and check them against the checksum database",
        description=(
            "Re-hash every stored module zip and go.mod; compare each zip with its stored "
            ".ziphash and both with the checksum database (GOSUMDB, unless GONOSUMDB or "
            "GOPRIVATE exempts the module). Prints one line per problem; exits 3 if any."
        ),
    )
    p.add_argument("--storage", metavar="DIR", help="storage URL or directory (default: settings)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gomodproxy.compose import verifier_for

    flags = {"storage": args.storage}
    settings = load_settings(args.config, flags=flags)
    # Not through the degrading wrapper: a registry read that fails must be a problem here.
    store = open_store(settings.storage.storage, degrade=False)

    async def main() -> tuple[int, list[str]]:
        verifier = verifier_for(settings, store)
        try:
            return await verify_store(store, verifier)
        finally:
            await verifier.aclose()
            await store.aclose()

    checked, problems = asyncio.run(main())
    for line in problems:
        print(line)
    if problems:
        raise VerificationError(
            f"{len(problems)} of {checked} stored artifacts failed verification"
        )
    print(f"all {checked} stored artifacts verified")
    return 0
