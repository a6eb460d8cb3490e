"""``gomodproxy gc``: remove module versions no retention rule keeps.

Rules: ``--keep-gosum FILE`` (versions a go.sum names are never removed; repeatable),
``--keep-days N`` (stored or served within N days), ``--keep-newest K`` (per module, semver
order), ``--max-size SIZE`` (then least recently used first, pinned versions excepted).
A version goes if no given rule keeps it; with no keep rule only the size budget removes.
``--dry-run`` lists what would go and how much space that frees. Safe while serving: a
version leaves the lists in one step (its .mod goes first); checksum data and lists stay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.cli.main import EXIT_FAILED
from gomodproxy.errors import InvalidInput
from gomodproxy.mirror.plan import read_gosum
from gomodproxy.mirror.progress import human_bytes
from gomodproxy.storage.access import day_of
from gomodproxy.storage.gc import GcPlan, Rules, execute, plan, scan

_SIZE = re.compile(r"([0-9]+)\s*([KMGT]?)(i?B)?", re.IGNORECASE)


def human_size_arg(text: str) -> int:
    """``50GiB``, ``500M``, ``1024``: bytes (K, M, G, T are powers of 1024)."""
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500MiB or 20G")
    return int(m.group(1)) << (10 * "KMGT".find(m.group(2).upper()) + 10 if m.group(2) else 0)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gc",
        help="remove stored module versions that no retention rule keeps",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--keep-gosum", action="append", default=[], metavar="FILE")
    p.add_argument("--keep-days", type=float, metavar="N")
    p.add_argument("--keep-newest", type=int, metavar="K")
    p.add_argument("--max-size", type=human_size_arg, metavar="SIZE", help="e.g. 50GiB")
    p.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    p.add_argument("--json", action="store_true", help="the plan and result as JSON")
    add_settings_flags(p)
    p.set_defaults(func=run)


def rules_from_args(args: argparse.Namespace) -> Rules:
    pinned: set[tuple[str, str]] = set()
    for name in args.keep_gosum:
        pinned |= {(line.path, line.version) for line in read_gosum(name)}
    if args.keep_newest is not None and args.keep_newest < 0:
        raise InvalidInput("--keep-newest must not be negative")
    if args.keep_days is not None and args.keep_days < 0:
        raise InvalidInput("--keep-days must not be negative")
    return Rules(frozenset(pinned), args.keep_days, args.keep_newest, args.max_size)


async def _run(args: argparse.Namespace) -> tuple[GcPlan, list[tuple[str, str]]]:
    from gomodproxy.storage import open_store

    rules = rules_from_args(args)
    settings = settings_from_args(args)
    store = open_store(settings.storage.storage)
    now = time.time()
    since = day_of(now - rules.keep_days * 86400) if rules.keep_days is not None else ""
    try:
        versions, access_keys = await scan(store, access_since=since)
        gc = plan(versions, rules, now, access_keys)
        failures = [] if args.dry_run else await execute(store, gc)
        return gc, failures
    finally:
        await store.aclose()


def run(args: argparse.Namespace) -> int:
    gc, failures = asyncio.run(_run(args))
    verb = "would remove" if args.dry_run else "removed"
    if args.json:
        doc = {
            "DryRun": args.dry_run,
            "Remove": [{"Path": v.path, "Version": v.version, "Bytes": v.size} for v in gc.remove],
            "Kept": len(gc.keep),
            "FreedBytes": gc.freed,
            "OverBudgetBytes": gc.over_budget,
            "Failures": [{"Key": k, "Error": e} for k, e in failures],
        }
        print(json.dumps(doc, indent=1))
    else:
        for v in gc.remove:
            print(f"{verb} {v.path} {v.version} ({human_bytes(v.size)})")
        print(
            f"gc: {verb} {len(gc.remove)} module versions, freeing {human_bytes(gc.freed)}; "
            f"kept {len(gc.keep)}"
        )
        if gc.over_budget:
            print(f"gc: still {human_bytes(gc.over_budget)} over --max-size: the rest is pinned")
        for key, error in failures:
            print(f"gc: could not remove {key}: {error}")
    return EXIT_FAILED if failures else 0
