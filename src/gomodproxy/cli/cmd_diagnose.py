"""``gomodproxy diagnose``: map a failed go command log to its causes and fixes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gomodproxy.cli.output import write_stdout
from gomodproxy.doctor.diagnose import diagnose
from gomodproxy.errors import InvalidInput


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "diagnose",
        help="map a failed go log to its cause and fix",
        description=(
            "Read the output of a failed go command (a file, or - for standard input) and "
            "print each recognised cause (K01-K31), the lines that show it and the fix, "
            "innermost cause first. Exit 0 when a cause is recognised, 1 when none is."
        ),
    )
    p.add_argument("log", nargs="?", default="-", metavar="LOG")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        if args.log == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.log, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise InvalidInput(f"{args.log}: {exc.strerror or exc}") from exc
    found = diagnose(data.decode("utf-8", errors="replace"))
    out: list[str] = []
    if args.format == "json":
        out.append(json.dumps({"causes": [d.to_json() for d in found]}, indent=2))
    elif not found:
        out.append("no known cause recognised; run the command again with -x to see each request")
    for d in found if args.format == "text" else []:
        e = d.entry
        out.append(f"{e.code} {e.title}")
        out.extend(f"  line {n}: {text.strip()}" for n, text in d.lines)
        out.append(f"  cause: {e.cause}")
        out.append(f"  fix:   {e.fix}\n")
    write_stdout("".join(f"{line}\n" for line in out))
    return 0 if found else 1
