"""``gomodproxy user list``: users, groups and token ids (never a hash or a secret)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gomodproxy.cli.grp_user_add import add_file_flags, credentials_path
from gomodproxy.security.users import list_users


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("list", help="list users, their groups and token ids")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_file_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name, groups, tokens, has_password in list_users(credentials_path(args)):
        if args.json:
            obj = {"name": name, "groups": groups, "tokens": tokens, "password": has_password}
            print(json.dumps(obj))
        else:
            pw = "password" if has_password else "no password"
            print(f"{name}\tgroups={','.join(groups) or '-'}\ttokens={len(tokens)}\t{pw}")
    return 0
