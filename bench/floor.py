"""The HTTP server alone: granian, with the options ``gomodproxy serve`` uses, running an ASGI
app that answers every stored artifact from a table built at start-up.

It does no lookup beyond one dict access, no logging, no metrics: the same response messages
gomodproxy's hot path sends (the same headers; small bodies from memory, zips from 16 KiB up
by ASGI pathsend). Its time for a replay is the floor any app on this server can reach, so
bench.graph reports it beside nginx to tell the server's share of a gap from the app's.

Run: ``python -m bench.floor ROOT HOST:PORT [WORKERS]`` (ROOT: a filesystem store).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gomodproxy.cli.cmd_serve import granian_server  # noqa: E402
from gomodproxy.ports.cache import etag_of  # noqa: E402
from gomodproxy.service.proxy import CONTENT_TYPES, FILE_MIN_BYTES  # noqa: E402

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]

ROOT_VAR = "BENCH_FLOOR_ROOT"
_CC = b"public, max-age=31536000, immutable"


def responses(root: Path) -> dict[str, tuple[Message, Message]]:
    """Request path → (response start, body) of every ``.info``, ``.mod`` and ``.zip``."""
    table: dict[str, tuple[Message, Message]] = {}
    for path in root.rglob("*/@v/*"):
        kind = path.suffix.lstrip(".")
        if kind not in ("info", "mod", "zip") or not path.is_file():
            continue
        size = path.stat().st_size
        headers = [
            (b"content-type", CONTENT_TYPES[kind]),
            (b"content-length", str(size).encode()),
            (b"etag", etag_of(path.name.encode()).encode()),  # as long as gomodproxy's; not checked
            (b"cache-control", _CC),
        ]
        body: Message
        if kind == "zip":
            headers.append((b"accept-ranges", b"bytes"))
        if kind == "zip" and size >= FILE_MIN_BYTES:
            body = {"type": "http.response.pathsend", "path": str(path)}
        else:
            body = {"type": "http.response.body", "body": path.read_bytes()}
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        table["/" + str(path.relative_to(root))] = (start, body)
    return table


def create_app() -> App:
    """The app granian's workers build (a factory, as ``gomodproxy serve`` uses)."""
    table = responses(Path(os.environ[ROOT_VAR]))
    missing: tuple[Message, Message] = (
        {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]},
        {"type": "http.response.body", "body": b""},
    )

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        start, body = table.get(scope["path"], missing)
        await send(start)
        await send(body)

    return app


def main(argv: list[str]) -> int:
    root, listen = argv[0], argv[1]
    workers = int(argv[2]) if len(argv) > 2 else (os.cpu_count() or 1)
    host, _, port = listen.rpartition(":")
    os.environ[ROOT_VAR] = str(Path(root).resolve())
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src")])
    granian_server("bench.floor:create_app", host, int(port), workers, "warning", 5).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
