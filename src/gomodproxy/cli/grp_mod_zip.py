"""``gomodproxy mod zip``: write the module zip of a directory, as the go command builds it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gomodproxy.errors import InvalidInput
from gomodproxy.localfs.zipfiles import create_zip_from_dir


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "zip",
        help="write the module zip of a directory and print its h1: hash",
        description=(
            "Write the zip of the module in DIR exactly as the go command selects its files "
            "(golang.org/x/mod/zip.CreateFromDir) and print the zip's h1: hash."
        ),
    )
    p.add_argument("--module", required=True, metavar="M", help="module path")
    p.add_argument("--version", required=True, metavar="V", help="canonical version")
    p.add_argument("-o", "--output", metavar="OUT", help="zip file to write (default: ./V.zip)")
    p.add_argument("dir", metavar="DIR", help="the module's root directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = args.output or f"{args.version}.zip"
    try:
        h1 = create_zip_from_dir(out, args.module, args.version, args.dir)
    except OSError as e:
        raise InvalidInput(f"{e.filename or out}: {e.strerror or e}") from e
    print(h1)
    print(f"wrote {os.path.abspath(out)}", file=sys.stderr)
    return 0
