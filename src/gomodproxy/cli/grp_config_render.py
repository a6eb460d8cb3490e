"""``gomodproxy config render``: print a correct configuration snippet for one target."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gomodproxy.doctor.render import TARGETS, Settings, render
from gomodproxy.errors import ConfigError, InvalidInput


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "render",
        help="print a correct configuration snippet (Dockerfile, CI, profile.d, systemd ...)",
        description=(
            "Print configuration for TARGET that sets the Go module settings correctly. "
            "The settings are checked by the doctor's rules first."
        ),
    )
    p.add_argument("--target", required=True, choices=TARGETS)
    p.add_argument(
        "--proxy",
        default=os.environ.get("GOPROXY", ""),
        help="the GOPROXY list (default: $GOPROXY)",
    )
    p.add_argument(
        "--private",
        default="",
        metavar="PATTERNS",
        help="GOPRIVATE: comma-separated module path globs",
    )
    p.add_argument("--sumdb", default="", help="GOSUMDB (default: leave the go default)")
    p.add_argument("--go-version", default="1.26", help="Go image / setup-go version")
    p.add_argument(
        "--unit",
        default="gitlab-runner.service",
        help="systemd unit that runs go (profile, systemd targets)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the files under DIR instead of printing them",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not args.proxy:
        raise ConfigError("give --proxy URL (or set GOPROXY)")
    s = Settings(args.proxy, args.private, args.sumdb, args.go_version, args.unit)
    try:
        files = render(args.target, s)
    except InvalidInput as exc:
        raise ConfigError(f"refusing to render: {exc}") from exc
    if args.output_dir is not None:
        for name, text in files:
            path = args.output_dir / name.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(path)
        return 0
    for i, (name, text) in enumerate(files):
        if len(files) > 1:
            print(("\n" if i else "") + f"# --- {name} ---")
        print(text, end="")
    return 0
