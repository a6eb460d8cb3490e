"""Managing the credentials file: what ``gomodproxy user add|remove|list`` do."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.security.credentials import (
    User,
    check_name,
    hash_password,
    hash_token,
    load_credentials,
    new_token,
    save_credentials,
)


@dataclass(frozen=True)
class Added:
    """What ``add_user`` did; ``token`` is the only time a new token is ever shown."""

    created: bool
    token: str = ""
    token_id: str = ""


def add_user(
    path: str | Path,
    name: str,
    *,
    password: str | None = None,
    groups: list[str] | tuple[str, ...] = (),
    make_token: bool = False,
) -> Added:
    """Create or update ``name``: set the password, add groups, add a token.

    Raises:
        InvalidInput: a bad name or group, an empty password, or nothing to do.
    """
    check_name(name)
    for group in groups:
        check_name(group, "group name")
    if password is not None and not password:
        raise InvalidInput("empty password")
    creds = load_credentials(path)
    user = creds.users.get(name)
    created = user is None
    if user is None:
        if password is None and not make_token:
            raise InvalidInput(f"user {name}: give a password or --token")
        user = creds.users[name] = User(name)
    if password is not None:
        user.password = hash_password(password)
    user.groups = sorted(set(user.groups) | set(groups))
    token = token_id = ""
    if make_token:
        token = new_token()
        token_id = secrets.token_hex(4)
        user.tokens.append({"id": token_id, "hash": hash_token(token)})
    save_credentials(path, creds)
    return Added(created, token, token_id)


def remove_user(path: str | Path, name: str, *, token_id: str = "") -> None:
    """Remove ``name``, or only its token ``token_id``.

    Raises:
        NotFound: no such user or token.
    """
    creds = load_credentials(path)
    user = creds.users.get(name)
    if user is None:
        raise NotFound(f"no user {name!r} in {path}")
    if token_id:
        kept = [t for t in user.tokens if t.get("id") != token_id]
        if len(kept) == len(user.tokens):
            raise NotFound(f"user {name!r} has no token {token_id!r}")
        user.tokens = kept
    else:
        del creds.users[name]
    save_credentials(path, creds)


def list_users(path: str | Path) -> list[tuple[str, list[str], list[str], bool]]:
    """``(name, groups, token ids, has password)`` per user; never a hash."""
    creds = load_credentials(path)
    return [
        (u.name, list(u.groups), [t.get("id", "?") for t in u.tokens], bool(u.password))
        for u in sorted(creds.users.values(), key=lambda u: u.name)
    ]
