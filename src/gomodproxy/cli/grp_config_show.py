"""``gomodproxy config show``: the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import json

from gomodproxy.cli.cmd_serve import add_settings_flags, settings_from_args
from gomodproxy.config.settings import render_settings
from gomodproxy.redact.secrets import redact_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("show", help="print the effective settings and the origin of each")
    add_settings_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON: {name: {value, origin}}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # Secrets (URL user-info, tokens) are masked in what is shown (redact.secrets).
    shown = redact_settings(settings.by_name())
    if args.json:
        data = {
            name: {"value": value, "origin": settings.origins[name]}
            for name, value in shown.items()
        }
        print(json.dumps(data, indent=2))
    else:
        print(render_settings(settings, shown), end="")
    return 0
