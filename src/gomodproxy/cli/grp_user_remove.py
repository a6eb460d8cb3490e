"""``gomodproxy user remove NAME``: delete a user, or one of its tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gomodproxy.cli.grp_user_add import add_file_flags, credentials_path
from gomodproxy.security.users import remove_user


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("remove", help="remove a user, or one of its tokens")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--token", metavar="ID", default="", help="remove only this token")
    add_file_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = credentials_path(args)
    remove_user(path, args.name, token_id=args.token)
    what = f"token {args.token} of user {args.name}" if args.token else f"user {args.name}"
    print(f"removed {what} from {path}", file=sys.stderr)
    return 0
