"""Direct mode: cold fetch of a module with a long history, and the warm fetch of a new tag.

gomodproxy's DirectSource (``.info`` + ``.mod`` + ``.zip``, as a proxy serves a cold version)
against ``GOPROXY=direct go mod download`` of the same version, both from the same local
repository reached through a git ``insteadOf`` rewrite. Cold: empty caches on both sides.
Warm: a new commit and tag are pushed, then both fetch it with their caches kept.

Run: ``python -m bench`` (all) or ``python -m bench.bench_direct``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.gitfixtures import GitWorld, go_env_for  # noqa: E402

from gomodproxy.sources.direct import DirectSource  # noqa: E402

MODULE = "github.com/bench/history"
COMMITS = int(os.environ.get("BENCH_DIRECT_COMMITS", "5000"))
FILES = 200
ROUNDS = int(os.environ.get("BENCH_DIRECT_ROUNDS", "3"))


def _fast_import(repo: Path, env: dict[str, str]) -> None:
    """Write COMMITS commits touching FILES files with git fast-import (seconds, not minutes)."""
    lines: list[bytes] = []
    t0 = 1600000000
    for i in range(COMMITS):
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer Gopher <g@example.test> {t0 + i * 60} +0000\n".encode())
        msg = f"commit {i}\n".encode()
        lines.append(f"data {len(msg)}\n".encode() + msg)
        if i == 0:
            gomod = f"module {MODULE}\n\ngo 1.21\n".encode()
            lines.append(f"M 100644 inline go.mod\ndata {len(gomod)}\n".encode() + gomod + b"\n")
        name = f"pkg{i % FILES:03d}/f.go"
        body = f"package pkg\n\n// revision {i}\nvar X = {i}\n".encode() * 20
        lines.append(f"M 100644 inline {name}\ndata {len(body)}\n".encode() + body + b"\n")
        if i % 500 == 499:
            lines.append(f"reset refs/tags/v0.{i // 500}.0\nfrom refs/heads/main\n\n".encode())
    lines.append(b"reset refs/tags/v1.0.0\nfrom refs/heads/main\n\n")
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(lines), env=env, check=True
    )


async def _ours(cache: Path, env: dict[str, str], version: str) -> float:
    src = DirectSource(cache, git_env=env, govcs="*:all")
    start = time.perf_counter()
    await src.info(MODULE, version)
    await src.mod(MODULE, version)
    await src.zip(MODULE, version, cache.parent / f"out-{version}.zip")
    elapsed = time.perf_counter() - start
    await src.aclose()
    return elapsed


def _theirs(env: dict[str, str], work: Path, version: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{version}"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def run() -> None:
    if shutil.which("go") is None or shutil.which("git") is None:
        print("skipped: needs go and git")
        return
    cold_ours, cold_go, warm_ours, warm_go = [], [], [], []
    for r in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="bench-direct-") as d:
            tmp = Path(d)
            world = GitWorld(tmp / "world")
            builder = world.repo("https://" + MODULE)
            _fast_import(builder.path, world.env())
            builder.git("checkout", "-q", "-f", "main")
            base = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
            genv = go_env_for(world, base, tmp / "go")
            (tmp / "work").mkdir()
            cold_ours.append(asyncio.run(_ours(tmp / "ours" / "vcs", world.env(), "v1.0.0")))
            cold_go.append(_theirs(genv, tmp / "work", "v1.0.0"))
            tag = f"v1.1.{r}"
            builder.commit({"pkg000/new.go": "package pkg\n"}, date="2030-01-01T00:00:00Z")
            builder.tag(tag)
            warm_ours.append(asyncio.run(_ours(tmp / "ours" / "vcs", world.env(), tag)))
            warm_go.append(_theirs(genv, tmp / "work", tag))
    med = statistics.median
    print(f"history: {COMMITS} commits, {FILES} packages; median of {ROUNDS} rounds")
    print(
        f"cold fetch  gomodproxy {med(cold_ours):7.3f}s   go direct {med(cold_go):7.3f}s   "
        f"ratio go/gomodproxy {med(cold_go) / med(cold_ours):5.2f}x"
    )
    print(
        f"new tag     gomodproxy {med(warm_ours):7.3f}s   go direct {med(warm_go):7.3f}s   "
        f"ratio go/gomodproxy {med(warm_go) / med(warm_ours):5.2f}x"
    )


if __name__ == "__main__":
    run()
