"""Shared fixtures: free ports, an isolated go command environment, the Go oracle."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def go_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for running the real go command in isolation: its own GOPATH and module
    cache, no network (GOPROXY=off until a test points it somewhere), no user go env file."""
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed")
    gopath = tmp_path / "gopath"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GO") and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy")
    }
    env.update(
        {
            "GOPATH": str(gopath),
            "GOMODCACHE": str(gopath / "pkg" / "mod"),
            "GOCACHE": str(tmp_path / "gocache"),
            "GOENV": "off",
            "GOFLAGS": "-modcacherw",
            "GOPROXY": "off",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
            "GONOSUMDB": "",
            "GOPRIVATE": "",
            "HOME": str(tmp_path / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    return env
    # Module caches are read-only by default; -modcacherw keeps them removable.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``make test`` (GOMODPROXY_NO_SKIP=1) a skip is a failure: a missing server or
    tool must not silently turn a real test into nothing (make test installs them all)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("GOMODPROXY_NO_SKIP") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under make test (GOMODPROXY_NO_SKIP=1): {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a whole module skipped at collection (``pytest.skip(allow_module_level)``)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("GOMODPROXY_NO_SKIP"):
        report.outcome = "failed"
        report.longrepr = f"skipped under make test (GOMODPROXY_NO_SKIP=1): {report.longrepr}"
