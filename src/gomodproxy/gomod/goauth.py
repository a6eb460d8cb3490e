"""GOAUTH (Go 1.24+), as cmd/go/internal/auth ``runGoAuth`` reads it.

A ``;``-separated list of commands, run last to first so that earlier ones win: ``netrc``
($NETRC or ~/.netrc), ``git <absolute dir>`` (``git credential fill`` there), ``off`` (alone),
or any other command line, run with the URL as argument. The default is ``netrc``.
Credentials only ever go to https URLs. Only the checks that need no file system are here;
the go command also stops when the ``git`` directory does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostrings import go_fields, go_trim_space

__all__ = ["AuthCommand", "parse_goauth"]

_GIT_DIR = "GOAUTH=git dir method requires an absolute path to the git working directory"


@dataclass(frozen=True)
class AuthCommand:
    """One GOAUTH command: ``kind`` is ``netrc``, ``git`` or ``command``."""

    kind: str
    words: tuple[str, ...]


def parse_goauth(goauth: str) -> list[AuthCommand] | None:
    """Parse the effective GOAUTH into its commands, in the order written; None for ``off``.

    Raises:
        InvalidInput: in the order the go command checks (last command first): ``GOAUTH
            encountered an empty command (GOAUTH=...)``, ``GOAUTH=off cannot be combined
            with other authentication commands (GOAUTH=...)`` or the ``GOAUTH=git dir
            method requires an absolute path ...`` errors (printed after ``go: ``).
    """
    commands = goauth.split(";")
    parsed: list[AuthCommand] = []
    for command in reversed(commands):
        words = tuple(go_fields(go_trim_space(command)))
        if not words:
            raise InvalidInput(f"GOAUTH encountered an empty command (GOAUTH={goauth})")
        if words[0] == "off":
            if len(commands) != 1:
                raise InvalidInput(
                    "GOAUTH=off cannot be combined with other authentication commands "
                    f"(GOAUTH={goauth})"
                )
            return None
        if words[0] == "git":
            if len(words) != 2:
                raise InvalidInput(_GIT_DIR)
            if not words[1].startswith("/"):
                raise InvalidInput(_GIT_DIR + ", dir is not absolute")
        kind = words[0] if words[0] in ("netrc", "git") else "command"
        parsed.append(AuthCommand(kind, words))
    return parsed[::-1]
