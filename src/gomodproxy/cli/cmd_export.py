"""``gomodproxy export --out FILE [selection]``: write stored modules as an offline bundle.

Selections (all given must hold; none: everything): ``--gosum FILE`` (its lines: zips and
go.mod-only entries), ``--prefix PATH`` (module paths at or below it, repeatable),
``--since DATE`` (stored on or after an ISO date). With a checksum database configured
(GOSUMDB) the bundle carries the lookups and tiles a go command needs to verify every
covered module offline; ``--no-sumdb`` leaves them out.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from gomodproxy.bundle.export import ExportReport, Selection, export_bundle
from gomodproxy.cli.bundle_store import open_verified_store
from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.cli.main import EXIT_FAILED
from gomodproxy.errors import InvalidInput
from gomodproxy.mirror.plan import read_gosum
from gomodproxy.mirror.progress import human_bytes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write stored modules (and their checksum proofs) as an offline bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="FILE", help="bundle to write (.tar.zst)")
    p.add_argument("--gosum", action="append", metavar="FILE", help="only the lines of go.sum")
    p.add_argument("--prefix", action="append", default=[], metavar="PATH", help="module prefix")
    p.add_argument("--since", metavar="DATE", help="only versions stored since (YYYY-MM-DD...)")
    p.add_argument("--no-sumdb", action="store_true", help="leave out checksum database data")
    p.add_argument("--no-compress", action="store_true", help="a plain tar instead of zstd")
    add_settings_flags(p)
    p.set_defaults(func=run)


def parse_since(text: str) -> float:
    """A date or date-time (ISO 8601; UTC unless it says otherwise) as a UNIX time.

    Raises:
        InvalidInput: not an ISO date.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--since {text!r}: not an ISO date such as 2026-01-31") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def selection_from_args(args: argparse.Namespace) -> Selection:
    lines = None
    if args.gosum:
        lines = []
        for name in args.gosum:
            lines.extend(read_gosum(name))
    since = parse_since(args.since) if args.since else None
    return Selection(tuple(lines) if lines is not None else None, tuple(args.prefix), since)


async def _run(args: argparse.Namespace) -> ExportReport:
    selection = selection_from_args(args)
    async with open_verified_store(settings_from_args(args)) as (store, verifier, work):
        databases = []
        if verifier.db is not None and not args.no_sumdb:
            databases.append((verifier.db, verifier.exempt))
        work.mkdir(parents=True, exist_ok=True)
        return await export_bundle(
            store,
            Path(args.out),
            selection,
            databases=databases,
            compress=not args.no_compress,
            work=work,
        )


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(_run(args))
    print(
        f"exported {report.versions} module versions ({report.files} files, "
        f"{human_bytes(report.bytes)}), {report.lookups} checksum lookups and "
        f"{report.tiles} tiles to {args.out}"
    )
    for path, version in report.unverifiable:
        print(
            f"gomodproxy: {path}@{version}: no checksum database lookup could be obtained; "
            "the importer will not be able to verify it",
            file=sys.stderr,
        )
    return EXIT_FAILED if report.unverifiable else 0
