"""``gomodproxy import FILE`` or ``gomodproxy import --from-gomodcache DIR``.

Everything is verified before anything becomes visible: each file's size and SHA-256
against the manifest, each .info, .mod and zip against itself (the go command's zip checks,
h1 hashes), and each module against the checksum database (the one the bundle carries, else
the configured one), unless GOSUMDB=off or GONOSUMDB/GOPRIVATE exempt it. A tampered bundle
is refused with exit status 3 and the store is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gomodproxy.bundle.importer import ImportReport, import_bundle, import_gomodcache
from gomodproxy.cli.bundle_store import open_verified_store
from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.errors import InvalidInput
from gomodproxy.mirror.progress import human_bytes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="verify and store an offline bundle or a $GOMODCACHE download tree",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bundle", nargs="?", metavar="FILE", help="bundle written by export")
    p.add_argument("--from-gomodcache", metavar="DIR", help="$GOMODCACHE or its cache/download")
    add_settings_flags(p)
    p.set_defaults(func=run)


async def _run(args: argparse.Namespace) -> ImportReport:
    if bool(args.bundle) == bool(args.from_gomodcache):
        raise InvalidInput("import: give either a bundle FILE or --from-gomodcache DIR")
    async with open_verified_store(settings_from_args(args)) as (store, verifier, work):
        if args.bundle:
            return await import_bundle(store, Path(args.bundle), work=work, verifier=verifier)
        return await import_gomodcache(
            store, Path(args.from_gomodcache), work=work, verifier=verifier
        )


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(_run(args))
    where = f" (checksums verified offline against {', '.join(report.verified_offline)})"
    print(
        f"imported {report.versions} module versions ({report.files} files, "
        f"{human_bytes(report.bytes)}), {report.skipped} already stored, "
        f"{report.sumdb_files} checksum database files" + (where if report.verified_offline else "")
    )
    return 0
