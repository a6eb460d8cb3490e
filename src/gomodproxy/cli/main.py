"""Entry point of the ``gomodproxy`` command and the only error → exit-code mapping.

Each subcommand lives in a module ``gomodproxy.cli.cmd_<name>`` that defines
``register(subparsers)``; it adds its parser and sets ``func`` (``args -> int``) as default.
Subcommands of a group (``gomodproxy mod zip``, ``gomodproxy config show``) live in
``gomodproxy.cli.grp_<group>_<name>`` modules with the same ``register``; the group parser is
made here. Discovering them keeps this file free of per-command edits.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from gomodproxy import __version__
from gomodproxy.errors import (
    ConfigError,
    GoModProxyError,
    InvalidInput,
    NotFound,
    VerificationError,
)

#: Exit codes: 0 = success, 1 = the operation failed on its input (``doctor``: a finding at
#: or above ``--fail-on``; ``diagnose``: no known cause found), 2 = usage or configuration
#: error, 3 = verification failure (security relevant), 130 = interrupted (Ctrl-C).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_VERIFY = 3
EXIT_INTERRUPTED = 130

GROUP_HELP = {
    "mod": "module building blocks: zip, hash, download, verify",
    "config": "show the effective configuration, render snippets for CI",
    "storage": "storage maintenance: migrate between backends",
    "sumdb": "private checksum database: keygen",
    "user": "credentials for authenticated access",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gomodproxy",
        description="A self-hosted Go module proxy and CI configuration doctor.",
    )
    parser.add_argument("--version", action="version", version=f"gomodproxy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import gomodproxy.cli as pkg

    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"gomodproxy.cli.{info.name}").register(sub)
        elif info.name.startswith("grp_"):
            group = info.name.split("_")[1]
            if group not in groups:
                gp = sub.add_parser(group, help=GROUP_HELP.get(group, f"{group} commands"))
                groups[group] = gp.add_subparsers(dest=f"{group}_command", metavar="COMMAND")
                gp.set_defaults(func=lambda _args, gp=gp: gp.print_help() or EXIT_USAGE)
            importlib.import_module(f"gomodproxy.cli.{info.name}").register(groups[group])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except VerificationError as exc:
        print(f"gomodproxy: {exc}", file=sys.stderr)
        return EXIT_VERIFY
    except ConfigError as exc:
        print(f"gomodproxy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InvalidInput, NotFound, GoModProxyError) as exc:
        print(f"gomodproxy: {exc}", file=sys.stderr)
        return EXIT_FAILED
