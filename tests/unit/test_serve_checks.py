"""``serve`` checks, in the parent process, every setting a worker needs before it starts any
server: a value no worker could use is one message and exit code 2, not a traceback from
each worker after "serving on"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gomodproxy.cli import cmd_serve
from gomodproxy.cli.main import EXIT_USAGE, main


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Starting a server fails the test (instead of serving forever): what was started."""
    started: list[str] = []
    for name in ("GOMODPROXY_SETTINGS_JSON", "GOMODPROXY_METRICS_DIR"):
        monkeypatch.setenv(name, "")  # serve sets them for its workers: restored after

    def refuse(name: str) -> Any:
        def start(*args: object, **kwargs: object) -> None:
            started.append(name)
            raise AssertionError(f"serve started {name} despite an unusable setting")

        return start

    monkeypatch.setattr(cmd_serve, "_serve_granian", refuse("granian"))
    monkeypatch.setattr(cmd_serve, "_serve_uvicorn", refuse("uvicorn"))
    return started


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("metrics_token_file", "metrics_token_file {}: No such file or directory"),
        ("admin_token_file", "admin_token_file {}: No such file or directory"),
        ("sumdb_private_key", "sumdb_private_key: {}: No such file or directory"),
        ("access_decisions_log", "access_decisions_log {}: No such file or directory"),
    ],
)
def test_a_file_no_worker_could_use_stops_serve_before_it_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_server: list[str],
    setting: str,
    message: str,
) -> None:
    missing = tmp_path / "absent" / "file"
    argv = ["serve", "--storage", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    argv += ["--set", "goproxy=off", "--set", "gosumdb=off", "--set", f"{setting}={missing}"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message.format(missing) in err
    assert "serving on" not in err
    assert "Traceback" not in err
    assert no_server == []


def test_a_bad_network_list_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_server: list[str]
) -> None:
    argv = ["serve", "--storage", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    argv += ["--set", "goproxy=off", "--set", "gosumdb=off", "--set", "metrics_networks=bad/net"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("gomodproxy: metrics_networks: invalid network 'bad/net'")
    assert "serving on" not in err


def test_usable_settings_go_on_to_serve(tmp_path: Path, no_server: list[str]) -> None:
    """The parent's check passes on good settings (the server is then started)."""
    argv = ["serve", "--storage", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    argv += ["--set", "goproxy=off", "--set", "gosumdb=off", "--set", "http_server=uvicorn"]
    with pytest.raises(AssertionError, match="serve started uvicorn"):
        main(argv)
    assert no_server == ["uvicorn"]
