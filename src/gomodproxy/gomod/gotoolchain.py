"""GOTOOLCHAIN, as cmd/go/internal/toolchain ``Select`` reads it.

``local`` runs the installed go; ``auto`` (``local+auto``) and ``path`` (``local+path``) may
switch to the newer toolchain a go.mod asks for, from $PATH only with ``path``, else also by
downloading golang.org/toolchain through GOPROXY; ``go1.N.P`` runs exactly that toolchain;
``go1.N.P+auto`` and ``go1.N.P+path`` use at least that one. An empty value (a Go install
without ``$GOROOT/go.env``) means no switching at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostr import quote
from gomodproxy.gomod.gover import from_toolchain

__all__ = ["Toolchain", "parse_gotoolchain"]


@dataclass(frozen=True)
class Toolchain:
    """A GOTOOLCHAIN setting: the minimum toolchain and how a go.mod may raise it."""

    #: ``local`` or a toolchain name such as ``go1.22.1``.
    minimum: str
    #: The Go version of ``minimum`` (``1.22.1``), "" for ``local``.
    minimum_version: str
    #: ``auto``, ``path`` or "" (never switch because of a go.mod).
    mode: str


def parse_gotoolchain(gotoolchain: str) -> Toolchain | None:
    """Parse the effective GOTOOLCHAIN; None when it is empty (the go command does not switch).

    Raises:
        InvalidInput: ``invalid GOTOOLCHAIN "x"``, ``invalid GOTOOLCHAIN "x+auto": invalid
            minimum toolchain "x"`` or ``invalid GOTOOLCHAIN "go1.22+y": only version suffixes
            are +auto and +path`` (the go command prints them after ``go: ``).
    """
    if gotoolchain == "":
        return None
    if gotoolchain in ("auto", "path"):
        return Toolchain("local", "", gotoolchain)
    minimum, plus, suffix = gotoolchain.partition("+")
    version = ""
    if minimum != "local":
        version = from_toolchain(minimum)
        if version == "":
            if plus:
                raise InvalidInput(
                    f"invalid GOTOOLCHAIN {quote(gotoolchain)}: "
                    f"invalid minimum toolchain {quote(minimum)}"
                )
            raise InvalidInput(f"invalid GOTOOLCHAIN {quote(gotoolchain)}")
    if plus and suffix not in ("auto", "path"):
        raise InvalidInput(
            f"invalid GOTOOLCHAIN {quote(gotoolchain)}: only version suffixes are +auto and +path"
        )
    if minimum != "local" and not minimum.startswith("go1") and "-go1" not in minimum:
        # Select's last sanity check before running another toolchain ("go2" and the like).
        raise InvalidInput(f"invalid GOTOOLCHAIN {quote(minimum)}")
    return Toolchain(minimum, version, suffix)
