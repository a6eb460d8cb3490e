"""What the doctor's rules share: the registry, the finding helper, the setting groups. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gomodproxy.doctor.effective import Effective
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.names import SOURCE_KEYS

__all__ = ["RULES", "SOURCE_KEYS", "Rule", "at", "rule"]

Rule = Callable[[Context, Effective], Iterator[Finding]]
#: every per-context rule, in registration order.
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a per-context rule."""
    RULES.append(fn)
    return fn


def at(ctx: Context, s: Setting | None, code: str, sev: Severity, msg: str, fix: str) -> Finding:
    """A finding at the line that wrote ``s`` (or at the context when it has no line)."""
    if s is not None and s.file:
        return Finding(code, sev, msg, fix, s.file, s.line, (ctx.name,))
    return Finding(code, sev, msg, fix, ctx.file, ctx.line, (ctx.name,))
