"""The status page in headless Chromium: loaded from a running `gomodproxy serve`, its content
checked from the rendered DOM, and a screenshot saved under the test's temporary directory."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

import pytest

from gomodproxy import __version__
from tests.e2e.fixtures import ModuleVersion, build_tree, start_server

pytestmark = [pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (Debian package chromium)", allow_module_level=True)

MOD = "example.com/Popular"


def _chromium(tmp_path: Path, url: str, *mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--window-size=1280,1024",
            *mode,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_status_page_in_chromium(tmp_path: Path) -> None:
    upstream = build_tree(
        tmp_path / "upstream",
        [
            ModuleVersion(MOD, "v1.0.0", {"p.go": b"package popular\n"}),
            ModuleVersion("example.com/other", "v0.1.0", {"o.go": b"package other\n"}),
        ],
    )
    server = start_server(tmp_path / "data", upstream.as_uri())
    try:
        for path in (
            "/example.com/!popular/@v/v1.0.0.zip",
            "/example.com/!popular/@v/v1.0.0.zip",
            "/example.com/!popular/@v/v1.0.0.zip",
            "/example.com/other/@v/v0.1.0.zip",
            "/example.com/other/@v/v9.9.9.mod",  # a version that does not exist: SLI success
        ):
            server.get(path)
        dom = _chromium(tmp_path, server.url + "/", "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        shot = tmp_path / "status.png"
        png = _chromium(tmp_path, server.url + "/", f"--screenshot={shot}")
        assert png.returncode == 0, png.stderr[-2000:]
    finally:
        server.stop()
    page = html.unescape(dom.stdout)
    assert "<title>gomodproxy status</title>" in page
    assert f"version {__version__}" in page
    assert "<script" not in page
    for text in ("Uptime", "filesystem", "Cache hit ratio", "Upstream health", "Recent errors"):
        assert text in page
    assert "100.00%" in page  # every download answered correctly, the 404 included
    assert "<th>Downloads answered</th><td>5</td>" in page
    # most-downloaded first: Popular (3 zips) above other (1)
    top = page[page.index("Most-downloaded modules") :]
    assert top.index(MOD) < top.index("example.com/other")
    assert f'{MOD}</code></td><td class="n">3</td>' in page
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank image
    print(f"status page screenshot: {shot}")
