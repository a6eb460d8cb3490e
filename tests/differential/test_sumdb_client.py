"""The sans-IO client (gomodproxy.sumdb.client) against golang.org/x/mod/sumdb.Client on the
same scripted scenarios: lookups against a growing log, unknown versions, restarts that
reload the persisted tree, and a forked log. Lines, error texts and the SECURITY ERROR report
must be identical.

The harness gives our flow the same world Go's ClientOps sees (remote, config, cache) and the
same per-client memoization x/mod does (lookups and tiles are remembered per Client).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from gomodproxy.errors import GoModProxyError, NotFound
from gomodproxy.sumdb import client as sc
from gomodproxy.sumdb import note, tlog
from gomodproxy.sumdb.server import Log
from gomodproxy.sumdb.tile import Tile, full_tile, parse_tile_path, read_tile_data
from tests.differential.oracle import SCALE, ask

SKEY, VKEY = note.generate_key("sum.diff.example", bytes(range(7, 39)))
SIGNER = note.new_signer(SKEY)


def records(n: int, fork_at: int = -1) -> list[str]:
    out = []
    for i in range(n):
        h = "h1:" + ("F" if i == fork_at else "A") * 42 + f"{i % 10}="
        out.append(f"example.com/m{i} v1.0.0 {h}\nexample.com/m{i} v1.0.0/go.mod {h}\n")
    return out


class World:
    """What x/mod's ClientOps sees in the oracle: logs, config, cache, the chosen view."""

    def __init__(self, logs: list[list[str]], height: int) -> None:
        self.logs = []
        for texts in logs:
            log = Log(height)
            for t in texts:
                log.append(t.encode())
            self.logs.append(log)
        self.height = height
        self.config: dict[str, bytes] = {}
        self.cache: dict[str, bytes] = {}
        self.log, self.n = 0, 0

    def read(self, indexes: Any) -> list[bytes]:
        return [self.logs[self.log].hashes[i] for i in indexes]

    def remote(self, path: str) -> bytes:
        log = self.logs[self.log]
        if path.startswith("/lookup/"):
            target = path.removeprefix("/lookup/")
            for rid, text in enumerate(log.records[: self.n]):
                f = text.decode().split()
                if f"{f[0]}@{f[1]}" == target:
                    tree = tlog.Tree(self.n, tlog.tree_hash(self.n, self.read))
                    signed = note.sign(note.Note(tlog.format_tree(tree).decode()), [SIGNER])
                    return tlog.format_record(rid, text) + signed
            raise NotFound(f"404 not found: {path}")
        t = parse_tile_path(path[1:])
        if t.l < 0 or (t.n << t.h) + t.w > self.n >> (t.h * t.l):
            raise NotFound(f"404 not found: {path}")
        return read_tile_data(t, self.read)


class Harness:
    """Runs our Client flows over a World, memoizing per client as x/mod does."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.restart()

    def restart(self) -> None:
        self.client = sc.Client(VKEY, tile_height=self.world.height)
        self.records: dict[str, tuple[bytes | None, str]] = {}
        self.tiles: dict[Tile, tuple[bytes | None, GoModProxyError | None]] = {}
        self.saved: set[Tile] = set()
        self.security = ""

    def read_tile(self, t: Tile) -> bytes:
        if t not in self.tiles:
            self.tiles[t] = self._read_tile(t)
        data, err = self.tiles[t]
        if err is not None:
            raise err
        assert data is not None
        return data

    def _read_tile(self, t: Tile) -> tuple[bytes | None, GoModProxyError | None]:
        name = self.client.name
        full = full_tile(t)
        if f"{name}/{t.path()}" in self.world.cache:
            self.saved.add(t)
            return self.world.cache[f"{name}/{t.path()}"], None
        if t != full and f"{name}/{full.path()}" in self.world.cache:
            self.saved.add(t)
            return self.world.cache[f"{name}/{full.path()}"][: t.w * 32], None
        try:
            return self.world.remote("/" + t.path()), None
        except GoModProxyError as exc:
            if t != full:
                try:
                    return self.world.remote("/" + full.path())[: t.w * 32], None
                except GoModProxyError:
                    pass
            return None, exc

    def answer(self, req: sc.Request) -> Any:
        w = self.world
        if isinstance(req, sc.ReadRemote):
            return w.remote(req.path)
        if isinstance(req, sc.ReadCache):
            return w.cache.get(req.key)
        if isinstance(req, sc.WriteCache):
            w.cache[req.key] = req.data
        elif isinstance(req, sc.ReadConfig):
            return w.config.get(req.key, b"")
        elif isinstance(req, sc.WriteConfig):
            if w.config.get(req.key, b"") != req.old:
                return False
            w.config[req.key] = req.new
            return True
        elif isinstance(req, sc.ReadTiles):
            return [self.read_tile(t) for t in req.tiles]
        elif isinstance(req, sc.SaveTiles):
            for t, d in zip(req.tiles, req.data, strict=True):
                if t not in self.saved:
                    self.saved.add(t)
                    w.cache[f"{self.client.name}/{t.path()}"] = d
        return None

    def run(self, flow: sc.Flow[Any]) -> Any:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                req = flow.throw(error) if error is not None else flow.send(answer)
            except StopIteration as stop:
                return stop.value
            answer, error = None, None
            try:
                answer = self.answer(req)
            except GoModProxyError as exc:
                error = exc

    def lookup(self, path: str, vers: str) -> dict[str, Any]:
        key = f"{path}@{vers.removesuffix('/go.mod')}"
        if key not in self.records:
            try:
                self.run(self.client.lookup(path, vers))
                self.records[key] = (self._text(path, vers), "")
            except sc.ForkDetected as exc:
                self.security = exc.report
                self.records[key] = (None, str(exc).split(": ", 1)[1])
            except GoModProxyError as exc:
                self.records[key] = (None, str(exc).split(": ", 1)[1])
        text, err = self.records[key]
        if text is None:
            return {"lines": None, "error": f"{path}@{vers}: {err}"}
        prefix = f"{path} {vers} "
        lines = [ln for ln in text.decode().split("\n") if ln.startswith(prefix)]
        return {"lines": lines or None, "error": None}

    def _text(self, path: str, vers: str) -> bytes:
        evers = vers.removesuffix("/go.mod")
        data = self.world.cache[f"{self.client.name}/lookup/{path}@{evers}"]
        return tlog.parse_record(data)[1]


def scenario(rng: random.Random, size: int) -> list[dict[str, Any]]:
    steps = []
    n = rng.randint(1, size // 3)
    for _ in range(rng.randint(4, 12)):
        r = rng.random()
        if r < 0.55:
            n = min(size, n + rng.randint(0, size // 4))
            log = 0
        elif r < 0.7:
            n = rng.randint(1, size)
            log = 0
        else:
            log = 1
            n = rng.randint(1, size)
        i = rng.randrange(size)
        vers = rng.choice(["v1.0.0", "v1.0.0/go.mod", "v9.0.0"])
        steps.append(
            {
                "Path": f"example.com/m{i}",
                "Vers": vers,
                "Log": log,
                "N": n,
                "Restart": rng.random() < 0.2,
            }
        )
    return steps


@pytest.mark.parametrize("height", [2, 3])
def test_client_matches_x_mod(height: int) -> None:
    """Scripted lookups give the same lines, errors and fork reports as x/mod's Client."""
    rng = random.Random(height)
    size = 40
    cases = []
    for _ in range(12 * SCALE):
        logs = [records(size), records(size, fork_at=rng.randrange(size))]
        cases.append((logs, scenario(rng, size)))
    answers = ask(
        "sumdb.client",
        [{"Signer": SKEY, "Height": height, "Logs": logs, "Lookups": s} for logs, s in cases],
    )
    forks = 0
    for (logs, steps), a in zip(cases, answers, strict=True):
        assert a.error is None, a.error
        world = World(logs, height)
        h = Harness(world)
        for step, want in zip(steps, a.result, strict=True):
            if step["Restart"]:
                h.restart()
            world.log, world.n = step["Log"], step["N"]
            h.security = ""
            got = h.lookup(step["Path"], step["Vers"])
            assert got["error"] == want.get("error"), step
            assert got["lines"] == want["lines"], step
            assert h.security == want["security"], step
            forks += bool(want["security"])
    assert forks > 0


def test_memoized_tile_error_keeps_its_own_text() -> None:
    """Regression (conformance height 2): a tile 404 memoized per client is thrown into two
    lookups; the second error must carry only its own context, as in x/mod, not the first's."""
    steps = [
        {"Path": "example.com/m33", "Vers": "v1.0.0", "Log": 0, "N": 36, "Restart": False},
        {"Path": "example.com/m7", "Vers": "v1.0.0", "Log": 0, "N": 28, "Restart": False},
        {"Path": "example.com/m6", "Vers": "v1.0.0", "Log": 0, "N": 31, "Restart": False},
    ]
    logs = [records(40), records(40, fork_at=3)]
    [a] = ask("sumdb.client", [{"Signer": SKEY, "Height": 2, "Logs": logs, "Lookups": steps}])
    assert a.error is None, a.error
    assert [w.get("error") for w in a.result] == [
        None,
        "example.com/m7@v1.0.0: checking tree#28 against tree#36: 404 not found: /tile/2/1/001",
        "example.com/m6@v1.0.0: checking tree#31 against tree#36: 404 not found: /tile/2/1/001",
    ]
    world = World(logs, 2)
    h = Harness(world)
    for step, want in zip(steps, a.result, strict=True):
        world.log, world.n = step["Log"], step["N"]
        got = h.lookup(step["Path"], step["Vers"])
        assert (got["error"], got["lines"]) == (want.get("error"), want["lines"]), step
