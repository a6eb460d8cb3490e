from __future__ import annotations

import subprocess
import sys

import pytest

from gomodproxy.cli import main as cli_main
from gomodproxy.cli.main import main
from gomodproxy.errors import ConfigError, InvalidInput, NotFound, UpstreamError, VerificationError


def test_help_lists_usage(capsys: object) -> None:
    assert main([]) == 0


def test_python_dash_m_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gomodproxy", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("gomodproxy ")


@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (InvalidInput("bad"), 1),
        (NotFound("absent"), 1),
        (UpstreamError("down"), 1),
        (ConfigError("no"), 2),
        (VerificationError("mismatch"), 3),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_codes_are_the_documented_ones(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int
) -> None:
    """Each documented exit code is what ``main`` returns for its kind of failure."""
    documented = {1, 2, 3, 130}
    assert code in documented
    assert {cli_main.EXIT_FAILED, cli_main.EXIT_USAGE, cli_main.EXIT_VERIFY} | {
        cli_main.EXIT_INTERRUPTED
    } == documented

    def fail(_args: object) -> int:
        raise raised

    parser = cli_main.build_parser()
    real_parse = parser.parse_args

    def parse(argv: object = None) -> object:
        args = real_parse(["mod", "hash", "x"])
        args.func = fail
        return args

    monkeypatch.setattr(parser, "parse_args", parse)
    monkeypatch.setattr(cli_main, "build_parser", lambda: parser)
    assert cli_main.main(["mod", "hash", "x"]) == code
