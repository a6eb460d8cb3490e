"""``gomodproxy mod download``: fetch module versions through the proxy's own service.

The same ProxyService as ``serve`` (sources, validation, verification, storage), without the
HTTP server. With ``--json`` each result is printed as the go command prints
``go mod download -json``: tab-indented objects with its field names (Path, Version, Query,
Error, Info, GoMod, Zip, Sum, GoModSum), plus Time from the .info. File paths are given when
the storage is a directory. Exit status 1 if any module failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.errors import GoModProxyError
from gomodproxy.gomod import dirhash, module
from gomodproxy.mirror.runner import resolve
from gomodproxy.ports.keys import ziphash_key
from gomodproxy.service.proxy import ProxyService, Trace

#: Go's encoding/json escapes these even inside MarshalIndent output.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "download", help="fetch module versions into storage, output like go mod download -json"
    )
    p.add_argument("targets", nargs="+", metavar="MODULE@QUERY", help="e.g. example.com/m@v1.2.3")
    p.add_argument("--json", action="store_true", help="print one JSON object per module")
    p.add_argument("--cache", metavar="DIR", help="storage to download into (default: storage)")
    add_settings_flags(p)
    p.set_defaults(func=run)


def go_json(obj: dict[str, Any]) -> str:
    """``json.MarshalIndent(obj, "", "\\t")`` as Go writes it."""
    text = json.dumps(obj, indent="\t", ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


async def download_one(service: ProxyService, target: str) -> dict[str, Any]:
    path, _, query = target.partition("@")
    query = query or "latest"
    out: dict[str, Any] = {"Path": path}
    try:
        module.check_path(path)
        version = await resolve(service, path, query)
        out["Version"] = version
        if query != version:
            out["Query"] = query
        trace = Trace()
        info = await service.immutable("info", path, version, trace)
        mod = await service.immutable("mod", path, version, trace)
        zipped = await service.immutable("zip", path, version, trace)
        for field, art in (("Info", info), ("GoMod", mod), ("Zip", zipped)):
            stat = await service.store.stat(art.key)
            if stat is not None and stat.local_path is not None:
                out[field] = str(stat.local_path)
        h1 = await service.store.get(ziphash_key(zipped.key))
        if h1:
            out["Sum"] = h1.decode("ascii").strip()
        out["GoModSum"] = dirhash.gomod_hash(mod.data or b"")
        t = json.loads(info.data or b"{}").get("Time")
        if isinstance(t, str):
            out["Time"] = t
    except GoModProxyError as exc:
        out["Error"] = str(exc)
    return out


async def download_all(service: ProxyService, targets: list[str]) -> list[dict[str, Any]]:
    try:
        return list(await asyncio.gather(*(download_one(service, t) for t in targets)))
    finally:
        await service.aclose()


def run(args: argparse.Namespace) -> int:
    from gomodproxy.compose import build_service

    if args.cache:
        args.storage = args.cache
    settings = settings_from_args(args)
    results = asyncio.run(download_all(build_service(settings), args.targets))
    failed = False
    for obj in results:
        if "Error" in obj:
            failed = True
            if not args.json:
                print(f"gomodproxy: {obj['Error']}", file=sys.stderr)
        if args.json:
            print(go_json(obj))
    return 1 if failed else 0
