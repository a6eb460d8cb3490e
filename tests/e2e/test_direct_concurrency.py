"""Direct mode under concurrency: one cold repository, many simultaneous requests."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from gomodproxy.localfs.zipfiles import create_zip_from_dir, hash_zip
from gomodproxy.sources.direct import DirectSource
from tests.e2e.gitfixtures import GitWorld

pytestmark = [pytest.mark.e2e]


def test_concurrent_cold_requests_share_one_cache(tmp_path: Path) -> None:
    """30 concurrent .info/.mod/.zip requests over two versions, on an empty cache, all
    succeed with identical answers; two DirectSources (like two workers) share the cache."""
    world = GitWorld(tmp_path / "world")
    r = world.repo("https://github.com/t/busy")
    r.commit({"go.mod": "module github.com/t/busy\n", "a.go": "package a\n"})
    r.tag("v1.0.0")
    r.commit({"b.go": "package a\n"}, date="2021-02-01T00:00:00Z")
    r.tag("v1.1.0")

    async def main() -> list[tuple[str, str]]:
        sources = [DirectSource(tmp_path / "vcs", git_env=world.env()) for _ in range(2)]

        async def one(i: int) -> tuple[str, str]:
            src = sources[i % 2]
            v = ("v1.0.0", "v1.1.0")[i % 3 % 2]
            info = json.loads(await src.info("github.com/t/busy", v))
            assert info["Version"] == v
            assert await src.mod("github.com/t/busy", v) == b"module github.com/t/busy\n"
            dest = tmp_path / f"z{i}.zip"
            await src.zip("github.com/t/busy", v, dest)
            return info["Version"], hash_zip(dest)

        try:
            return await asyncio.gather(*(one(i) for i in range(30)))
        finally:
            for s in sources:
                await s.aclose()

    results = asyncio.run(main())
    assert len(results) == 30
    # Each version's zip is the one built from a plain checkout of its tag.
    for v in ("v1.0.0", "v1.1.0"):
        tree = tmp_path / f"checkout-{v}"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(r.path), "archive", v], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        want = create_zip_from_dir(tmp_path / f"ref-{v}.zip", "github.com/t/busy", v, str(tree))
        assert {h for got, h in results if got == v} == {want}
    assert len(list((tmp_path / "vcs").glob("*.lock"))) == 1
