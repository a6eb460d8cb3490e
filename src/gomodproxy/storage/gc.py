"""Store lifecycle: which module versions ``gc`` removes, and removing them safely.

Theory of operation
-------------------
``scan`` lists the store once and groups the files of each module version (``.info``,
``.mod``, ``.zip``, ``.ziphash``) with their size and newest time of storing; the access
log (``storage.access``) adds the last day each was served. ``plan`` is a pure function of
that listing and the rules:

- a version named by a given go.sum (either line) is *pinned*: never removed;
- with ``keep_days``, a version stored or served within that many days is kept;
- with ``keep_newest``, the newest K versions of each module (semver order) are kept;
- any version no rule keeps is removed (with no keep rule at all, nothing is, unless the
  budget asks);
- with ``max_bytes``, while what remains is larger, the least recently used versions that are
  not pinned go too, oldest first, even if another rule kept them.

Checksum-database data, lists and internal state are never touched (old access-log days
are, past the ``keep_days`` window).

``execute`` removes a version's ``.mod`` first, so the version leaves every list the proxy
computes in one step, then ``.info``, ``.zip`` and ``.ziphash``; each delete is atomic, an
artifact already being streamed stays complete, and a version removed while a client still
wants it is simply fetched again (online) or not found (offline). Only ``BlobStore`` calls are
used, so it works on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cmp_to_key

from gomodproxy.errors import GoModProxyError
from gomodproxy.gomod import module, semver
from gomodproxy.ports.keys import parse_version_key
from gomodproxy.ports.storage import BlobStore
from gomodproxy.storage.access import PREFIX as ACCESS_PREFIX
from gomodproxy.storage.access import day_of, read_accessed

__all__ = ["GcPlan", "Rules", "StoredVersion", "execute", "plan", "scan"]

#: The order a version's files are removed in: out of the lists first.
DELETE_ORDER = ("mod", "info", "zip", "ziphash")
_DAY = 86400.0


@dataclass
class StoredVersion:
    """One module version in the store."""

    path: str
    version: str
    keys: dict[str, str] = field(default_factory=dict)
    size: int = 0
    stored_at: float = 0.0
    #: Last day (``YYYY-MM-DD``) it was served, "" if never recorded.
    served_day: str = ""

    def last_used(self) -> float:
        """The later of storing and serving (a served day counts as its end)."""
        served = 0.0
        if self.served_day:
            day = datetime.strptime(self.served_day, "%Y-%m-%d").replace(tzinfo=UTC)
            served = day.timestamp() + _DAY
        return max(self.stored_at, served)


@dataclass(frozen=True)
class Rules:
    #: (path, version) pairs named by go.sum files.
    pinned: frozenset[tuple[str, str]] = frozenset()
    keep_days: float | None = None
    keep_newest: int | None = None
    max_bytes: int | None = None

    @property
    def any_keep_rule(self) -> bool:
        return bool(self.pinned) or self.keep_days is not None or self.keep_newest is not None


@dataclass
class GcPlan:
    remove: list[StoredVersion] = field(default_factory=list)
    keep: list[StoredVersion] = field(default_factory=list)
    #: Bytes still above ``max_bytes`` when only pinned versions are left to remove.
    over_budget: int = 0
    #: Access-log keys past the window.
    stale_access_keys: list[str] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(v.size for v in self.remove)


async def scan(
    store: BlobStore, *, access_since: str = ""
) -> tuple[list[StoredVersion], list[str]]:
    """Every module version in the store, and the access-log keys (for pruning)."""
    versions: dict[tuple[str, str], StoredVersion] = {}
    access_keys: list[str] = []
    async for key in store.list(""):
        if key.startswith(ACCESS_PREFIX):
            access_keys.append(key)
            continue
        split = parse_version_key(key)
        if split is None:
            continue
        path, version = split.path, split.version
        info = await store.stat(key)
        if info is None:
            continue
        sv = versions.setdefault((path, version), StoredVersion(path, version))
        sv.keys[split.ext] = key
        sv.size += info.size
        sv.stored_at = max(sv.stored_at, info.mtime)
    served = await read_accessed(store, access_since)
    for sv in versions.values():
        entry = f"{module.escape_path(sv.path)}@{module.escape_version(sv.version)}"
        sv.served_day = served.get(entry, "")
    return sorted(versions.values(), key=lambda v: (v.path, v.version)), access_keys


def plan(
    versions: Iterable[StoredVersion],
    rules: Rules,
    now: float,
    access_keys: Iterable[str] = (),
) -> GcPlan:
    """What to remove under ``rules`` at time ``now`` (pure)."""
    all_versions = list(versions)
    kept: set[tuple[str, str]] = set(rules.pinned)
    if rules.keep_days is not None:
        horizon = now - rules.keep_days * _DAY
        kept |= {(v.path, v.version) for v in all_versions if v.last_used() >= horizon}
    if rules.keep_newest is not None:
        by_module: dict[str, list[str]] = {}
        for v in all_versions:
            by_module.setdefault(v.path, []).append(v.version)
        for path, vs in by_module.items():
            vs.sort(key=cmp_to_key(semver.compare), reverse=True)
            kept |= {(path, x) for x in vs[: rules.keep_newest]}
    out = GcPlan()
    for v in all_versions:
        if rules.any_keep_rule and (v.path, v.version) not in kept:
            out.remove.append(v)
        else:
            out.keep.append(v)
    if rules.max_bytes is not None:
        total = sum(v.size for v in out.keep)
        candidates = sorted(
            (v for v in out.keep if (v.path, v.version) not in rules.pinned),
            key=lambda v: (v.last_used(), v.path, v.version),
        )
        for v in candidates:
            if total <= rules.max_bytes:
                break
            out.keep.remove(v)
            out.remove.append(v)
            total -= v.size
        out.over_budget = max(0, total - rules.max_bytes)
    if rules.keep_days is not None:
        first_day = day_of(now - rules.keep_days * _DAY)
        out.stale_access_keys = [
            k for k in access_keys if k[len(ACCESS_PREFIX) :].split("/", 1)[0] < first_day
        ]
    return out


async def execute(store: BlobStore, gc: GcPlan) -> list[tuple[str, str]]:
    """Remove what ``gc`` says; returns (key, error) for deletes that failed."""
    failures: list[tuple[str, str]] = []

    async def delete(key: str) -> bool:
        try:
            await store.delete(key)
        except GoModProxyError as exc:
            failures.append((key, str(exc)))
            return False
        return True

    for v in gc.remove:
        for ext in DELETE_ORDER:
            key = v.keys.get(ext)
            if key is not None and not await delete(key):
                break  # stop at the first failure: what is left stays servable
    for key in gc.stale_access_keys:
        await delete(key)
    return failures
