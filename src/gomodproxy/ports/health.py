"""The contract of a shared part that keeps serving while its backend is down.

A remote store behind a local spool and Redis with host-wide locks as fallback degrade
instead of failing; ``/readyz`` names those that are degraded (the replica stays ready) and
``gomodproxy_degraded{component}`` counts them. A part says whether it ``can_degrade``
rather than leaving the caller to guess from its attributes; one that cannot is never
``degraded``.
"""

from __future__ import annotations

from typing import Protocol


class Degradable(Protocol):
    """Whether a part can degrade, and whether it has now."""

    @property
    def can_degrade(self) -> bool:
        """Whether it can be ``degraded`` at all: only those are listed by ``/readyz``."""

    @property
    def degraded(self) -> bool:
        """True while its backend is down and it serves around it."""
