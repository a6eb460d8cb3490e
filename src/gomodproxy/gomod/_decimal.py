"""Decimal numbers as semantic versions and Go toolchain versions write them: ASCII digits,
no leading zeros (a lone ``0`` aside), of any length."""

from __future__ import annotations

__all__ = ["compare_int", "cut_int"]


def cut_int(x: str) -> tuple[str, str] | None:
    """The number at the start of ``x`` and the rest; None when there is none or it has a
    leading zero."""
    i = 0
    while i < len(x) and "0" <= x[i] <= "9":
        i += 1
    if i == 0 or (x[0] == "0" and i != 1):
        return None
    return x[:i], x[i:]


def compare_int(x: str, y: str) -> int:
    """-1, 0 or 1 as ``x`` is less than, equal to or greater than ``y``; without leading
    zeros a longer number is the greater."""
    if x == y:
        return 0
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return -1 if x < y else 1
