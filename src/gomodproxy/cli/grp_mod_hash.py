"""``gomodproxy mod hash``: print the h1: hash of a module zip or of a go.mod file."""

from __future__ import annotations

import argparse
from typing import Any

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "hash",
        help="print the h1: hash of a module zip or of a go.mod",
        description=(
            "Print the h1: hash go.sum records: of a module zip (FILE.zip), or with --gomod "
            "of a go.mod file (the '<path> <version>/go.mod h1:...' line)."
        ),
    )
    p.add_argument("--gomod", action="store_true", help="FILE is a go.mod, not a zip")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.gomod:
            with open(args.file, "rb") as fh:
                h1 = gomod_hash(fh.read())
        else:
            h1 = hash_zip(args.file)
    except OSError as e:
        raise InvalidInput(f"{e.filename or args.file}: {e.strerror or e}") from e
    print(h1)
    return 0
