"""A call's result or its InvalidInput text, in the shape the vector tables and the Go
oracle record (shared by the unit and differential tests of gomod.module)."""

from __future__ import annotations

from collections.abc import Callable

from gomodproxy.errors import InvalidInput


def error_of(fn: Callable[..., object], *args: str) -> str | None:
    try:
        fn(*args)
    except InvalidInput as e:
        return str(e)
    return None


def result_of(fn: Callable[[str], str], arg: str) -> list[str | None]:
    try:
        return [fn(arg), None]
    except InvalidInput as e:
        return ["", str(e)]
