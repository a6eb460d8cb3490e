"""Refused artifacts stay refused: a remembered checksum-database verdict per version.

When a ``.mod`` or ``.zip`` fetched from an upstream disagrees with the checksum database,
``ProxyService`` refuses it and nothing is stored. Without a memory, the next request would
download the same refused bytes again (and a streamed zip would again reach its client as a
cut-off 200). So the refusal is written to storage, under ``_meta/refused/`` followed by the
artifact's key, as JSON holding the reason and both hashes; every later request for that
artifact gets ``Refused`` (403 with that reason, which the go command prints) without
contacting the upstream, in every worker and replica sharing the storage, until an operator
clears it (``POST /admin/purge?module=M&version=V``, or deleting the key).
"""

from __future__ import annotations

import json
import time

from gomodproxy.errors import VerificationError
from gomodproxy.ports.keys import artifact_key
from gomodproxy.ports.storage import BlobStore

PREFIX = "_meta/refused/"


class Refused(VerificationError):
    """An artifact refused earlier (checksum mismatch), answered from the memory."""


def refusal_key(kind: str, path: str, version: str) -> str:
    return PREFIX + artifact_key(kind, path, version)


async def remember(
    store: BlobStore, kind: str, path: str, version: str, exc: VerificationError
) -> None:
    """Record a refusal (the reason, both hashes when known, and when)."""
    record = {
        "module": path,
        "version": version,
        "artifact": kind,
        "reason": " ".join(str(exc).split()),
        "downloaded": exc.downloaded,
        "expected": exc.expected,
        "time": round(time.time(), 3),
    }
    await store.put(refusal_key(kind, path, version), json.dumps(record).encode())


async def check(store: BlobStore, kind: str, path: str, version: str) -> None:
    """Raise ``Refused`` when this artifact was refused before.

    Raises:
        Refused: with the remembered reason and hashes.
    """
    data = await store.get(refusal_key(kind, path, version))
    if data is None:
        return
    try:
        record = json.loads(data)
        reason = str(record["reason"])
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(record["time"])))
    except (ValueError, KeyError, TypeError):
        reason, when = "checksum mismatch", "earlier"
    raise Refused(
        f"{reason} (refused since {when}; this proxy will not fetch it again until an "
        "operator clears the refusal)"
    )
