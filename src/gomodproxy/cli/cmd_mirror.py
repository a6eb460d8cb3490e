"""``gomodproxy mirror SOURCES...``: fetch everything a build needs into storage, verified.

Sources: go.sum, go.mod, go.work files, directories holding them, or MODULE@QUERY (see
``gomodproxy.mirror.plan``). Everything goes through the same service as ``serve`` (sources,
checks, checksum database, storage), so an interrupted run resumes by running it again.
Progress: a live bar on a terminal, plain lines otherwise, JSON lines with ``--json``.
Exit status 1 when anything failed; the summary lists each failure and why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from rich.console import Console

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.cli.main import EXIT_FAILED
from gomodproxy.mirror.plan import read_sources
from gomodproxy.mirror.progress import JsonProgress, PlainProgress, RichProgress, human_bytes
from gomodproxy.mirror.runner import MirrorReport, mirror


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="pre-fetch the modules of go.sum/go.mod/go.work files or MODULE@VERSION",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="go.sum, go.mod, go.work, DIR, M@V")
    p.add_argument("--jobs", "-j", type=int, default=8, help="module versions fetched at once (8)")
    p.add_argument("--json", action="store_true", help="one JSON object per event and a summary")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    add_settings_flags(p)
    p.set_defaults(func=run)


def summary_lines(report: MirrorReport) -> list[str]:
    rate = report.fetched_bytes / report.seconds if report.seconds > 0 else 0.0
    lines = [
        f"mirrored {report.done} module versions ({report.fetched} fetched, "
        f"{report.stored} already stored), {human_bytes(report.bytes)} "
        f"({human_bytes(report.fetched_bytes)} fetched at {human_bytes(rate)}/s) "
        f"in {report.seconds:.1f}s"
    ]
    if report.failures:
        lines.append(f"{len(report.failures)} failed:")
        lines.extend(f"  {f.path}@{f.version}: {f.error}" for f in report.failures)
    return lines


async def _run(args: argparse.Namespace) -> MirrorReport:
    from gomodproxy.compose import build_service

    plan = read_sources(args.sources)
    service = build_service(settings_from_args(args))
    console = Console(file=sys.stdout)
    display: JsonProgress | PlainProgress | RichProgress
    if args.json:
        display = JsonProgress(sys.stdout)
    elif console.is_terminal and not args.plain:
        display = RichProgress(console)
    else:
        display = PlainProgress(sys.stdout)
    try:
        return await mirror(service, plan, display, concurrency=args.jobs)
    finally:
        display.close()
        await service.aclose()


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(_run(args))
    if args.json:
        print(json.dumps({"Event": "summary", **report.to_json()}))
    else:
        out = sys.stdout if report.ok else sys.stderr
        for line in summary_lines(report):
            print(line, file=out)
    return 0 if report.ok else EXIT_FAILED
