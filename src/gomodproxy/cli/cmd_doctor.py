"""``gomodproxy doctor``: find CI misconfigurations and say how to fix them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from gomodproxy.cli.output import write_stdout
from gomodproxy.doctor import Options, Severity, run
from gomodproxy.doctor.collect import read_env_file
from gomodproxy.doctor.report import to_json, to_sarif, to_text
from gomodproxy.errors import InvalidInput


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "doctor",
        help="find CI misconfigurations (GOPROXY, GOPRIVATE, Dockerfiles, CI YAML ...)",
        description=(
            "Compute the effective Go module settings of every context (the shell, each "
            "Dockerfile stage, each CI job, systemd units, login shells) and report what is "
            "wrong, where, and how to fix it. PATHs are project directories (default: .)."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", type=Path)
    p.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="read /etc and the user go env file under DIR instead of /",
    )
    p.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="take the environment from KEY=VALUE lines instead of this process",
    )
    p.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="K=V",
        help="a docker build --build-arg to evaluate Dockerfiles with",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument(
        "--fail-on",
        choices=("error", "warn", "info"),
        default="error",
        help="exit 1 when a finding of this severity or worse is found",
    )
    p.add_argument(
        "--probe", action="store_true", help="contact the configured proxies and checksum databases"
    )
    p.add_argument("--no-go", action="store_true", help="do not run `go env -json`")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    build_args = {}
    for item in args.build_arg:
        k, eq, v = item.partition("=")
        if not eq:
            v = os.environ.get(k, "")  # docker's `--build-arg K` takes K from the environment
        build_args[k] = v
    env = read_env_file(args.env_file) if args.env_file is not None else dict(os.environ)
    opts = Options(
        paths=args.paths or [Path(".")],
        root=args.root,
        env=env,
        env_file=args.env_file,
        build_args=build_args,
        run_go=not args.no_go,
    )
    report = run(opts, probe=args.probe)
    if args.format == "json":
        write_stdout(to_json(report.findings, report.contexts))
    elif args.format == "sarif":
        base = opts.paths[0] if opts.paths[0].is_dir() else opts.paths[0].parent
        write_stdout(to_sarif(report.findings, base))
    else:
        write_stdout(to_text(report.findings, report.contexts, color=sys.stdout.isatty()))
    worst = report.worst()
    try:
        threshold = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return 1 if worst is not None and worst >= threshold else 0
