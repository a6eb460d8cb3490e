"""The contract every module source fulfils: an upstream GOPROXY, the direct VCS source, a chain.

Arguments are *unescaped* module paths and versions (``github.com/Azure/x``, ``v1.0.0-RC1``);
each source escapes them for its own wire format. Results are the bytes the go command
expects from a proxy for that artifact, so they can be stored and served verbatim.

Errors: ``NotFound`` (the source answered 404/410 or the version does not exist there: a
``,`` chain falls through), ``UpstreamError``/``UpstreamTimeout`` (anything else: only a ``|``
chain falls through), ``InvalidInput`` (the request itself is malformed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Source(Protocol):
    """Where module versions come from."""

    #: Short label for logs and metrics (``proxy:<host>``, ``direct``, ``file``).
    name: str

    def label(self, path: str) -> str:
        """The name of the source that answers for module ``path`` (logs and metrics): a
        router says which of its sources it picks, a wrapper forwards, others say ``name``
        (``SingleSource``)."""

    async def list(self, path: str) -> bytes:
        """The ``@v/list`` body: known versions, one per line (may be empty)."""

    async def info(self, path: str, query: str) -> bytes:
        """The ``.info`` JSON for a canonical version or a query (branch, tag, hash prefix)."""

    async def latest(self, path: str) -> bytes:
        """The ``@latest`` JSON."""

    async def mod(self, path: str, version: str) -> bytes:
        """The ``.mod`` bytes of a canonical version."""

    async def zip(self, path: str, version: str, dest: Path) -> None:
        """Write the module zip of a canonical version to ``dest`` (a temp file the caller
        owns and validates). Must stop and raise once the zip exceeds the module size limit."""

    async def aclose(self) -> None:
        """Release connections and processes."""


class SingleSource:
    """``label`` of a source that wraps no other: its own ``name``. Wrappers do not inherit
    this; they forward their inner source's ``label``."""

    name: str

    def label(self, path: str) -> str:
        return self.name
