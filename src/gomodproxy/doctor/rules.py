"""The doctor's rules: contexts in, findings out. Pure (no files, no environment, no network).

Codes are stable (never reused, listed in :mod:`.codes`): R01–R25 settings (:mod:`.rules_env`);
D01–D08 Dockerfiles (instruction-level ones in :mod:`.dockerfile`, D06 and D02 in
:mod:`.rules_ci`); S01–S02 system files and C01–C05 CI files (:mod:`.rules_ci`,
:mod:`.github`, :mod:`.gitlab`); X01 unreadable input (collectors, parsers); X02 go disagrees.
"""

from __future__ import annotations

from gomodproxy.doctor import rules_ci
from gomodproxy.doctor import rules_env as rules_env  # importing it registers its rules
from gomodproxy.doctor.effective import compute
from gomodproxy.doctor.model import Context, Finding
from gomodproxy.doctor.rulekit import RULES

__all__ = ["check"]


def check(contexts: list[Context]) -> list[Finding]:
    """Apply every rule to every context, then the rules across contexts."""
    effs = [compute(c) for c in contexts]
    out: list[Finding] = []
    for c, e in zip(contexts, effs, strict=True):
        for r in RULES:
            out.extend(r(c, e))
    out.extend(rules_ci.cross(contexts, effs))
    return out
