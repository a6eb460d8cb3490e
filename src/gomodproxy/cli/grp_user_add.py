"""``gomodproxy user add NAME``: create a user or change its password, groups and tokens."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from gomodproxy.errors import ConfigError, InvalidInput
from gomodproxy.security.users import add_user


def add_file_flags(p: argparse.ArgumentParser) -> None:
    """``--file`` and ``--config``: where the credentials file is (shared by user commands)."""
    p.add_argument("--file", metavar="FILE", help="credentials file (default: auth_file setting)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file naming auth_file")


def credentials_path(args: argparse.Namespace) -> str:
    """The credentials file: ``--file``, else the ``auth_file`` setting.

    Raises:
        ConfigError: neither names one.
    """
    if args.file:
        return str(args.file)
    from gomodproxy.config.settings import load_settings

    path = load_settings(args.config, ask_go=False).security.auth_file
    if not path:
        raise ConfigError("no credentials file: pass --file or set auth_file")
    return os.path.expanduser(path)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "add",
        help="add a user, or change its password, groups or tokens",
        description=(
            "Create NAME (or update it) in the credentials file. The password is read from "
            "the terminal, or from standard input with --password-stdin; --token prints a new "
            "random token once (usable as the .netrc password or as a Bearer token). Only "
            "salted hashes are stored. A running server picks the change up by itself."
        ),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--group", action="append", default=[], metavar="GROUP", help="repeatable")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--no-password", action="store_true", help="do not set a password")
    p.add_argument("--token", action="store_true", help="add a bearer token and print it")
    add_file_flags(p)
    p.set_defaults(func=run)


def _read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        if args.token:
            return None
        raise InvalidInput("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise InvalidInput("passwords do not match")
    return first


def run(args: argparse.Namespace) -> int:
    path = credentials_path(args)
    password = _read_password(args)
    added = add_user(path, args.name, password=password, groups=args.group, make_token=args.token)
    verb = "added" if added.created else "updated"
    print(f"{verb} user {args.name} in {path}", file=sys.stderr)
    if added.token:
        print(f"token {added.token_id} (shown once, store it now):", file=sys.stderr)
        print(added.token)
    return 0
