"""``gomodproxy storage usage``: bytes per module path prefix, the top N, and totals."""

from __future__ import annotations

import argparse
import asyncio
import json

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.mirror.progress import human_bytes
from gomodproxy.storage.usage import Usage, measure


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("usage", help="bytes stored per module path prefix, top N, totals")
    p.add_argument("--top", type=int, default=20, metavar="N", help="prefixes shown (20)")
    p.add_argument("--depth", type=int, default=2, metavar="D", help="path elements (2)")
    p.add_argument("--json", action="store_true", help="machine-readable")
    add_settings_flags(p)
    p.set_defaults(func=run)


async def _run(args: argparse.Namespace) -> Usage:
    from gomodproxy.storage import open_store

    store = open_store(settings_from_args(args).storage.storage)
    try:
        return await measure(store, max(1, args.depth))
    finally:
        await store.aclose()


def run(args: argparse.Namespace) -> int:
    usage = asyncio.run(_run(args))
    top = usage.top(args.top)
    modules = sum(len(m) for m in usage.modules.values())
    versions = sum(usage.versions.values())
    if args.json:
        rows = [
            {
                "Prefix": p,
                "Bytes": b,
                "Files": usage.files[p],
                "Modules": len(usage.modules.get(p, ())),
                "Versions": usage.versions[p],
            }
            for p, b in top
        ]
        total = {"Bytes": usage.total_bytes, "Modules": modules, "Versions": versions}
        print(json.dumps({"Top": rows, "Total": total}, indent=1))
        return 0
    width = max([len(p) for p, _ in top] + [6])
    print(f"{'PREFIX':<{width}}  {'SIZE':>10}  {'MODULES':>7}  {'VERSIONS':>8}  {'FILES':>6}")
    for p, b in top:
        n_mod = len(usage.modules.get(p, ()))
        print(
            f"{p:<{width}}  {human_bytes(b):>10}  {n_mod:>7}  {usage.versions[p]:>8}  "
            f"{usage.files[p]:>6}"
        )
    print(
        f"total: {human_bytes(usage.total_bytes)} in {sum(usage.files.values())} files, "
        f"{modules} modules, {versions} versions; {len(usage.bytes)} prefixes"
    )
    return 0
