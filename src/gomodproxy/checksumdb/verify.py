"""Verify-on-ingest: every ``.mod`` and ``.zip`` fetched from a source is checked against the
checksum database before it is stored or served (the ``Verifier`` port, ``ports/verifier.py``).

Which modules are checked is decided exactly as the go command decides (modfetch/fetch.go
``useSumDB``): none when GOSUMDB is ``off``; otherwise every module whose path does not match
GONOSUMDB (which defaults to GOPRIVATE), except that ``golang.org/toolchain`` is always
checked. The comparison is the go command's too: the database's line for ``<path> <version>``
(or ``<version>/go.mod``) must equal ours; a different ``h1:`` line is a mismatch; a version
the database lists without an ``h1:`` line is accepted.

Outcomes: a mismatch (or a database caught lying) is a ``VerificationError`` naming both
hashes, logged on the ``gomodproxy.security`` logger and counted in
``gomodproxy_verification_failures_total``; nothing is stored. A database that cannot be
reached is ``SumdbUnavailable`` (HTTP 502), unless ``verify = "best-effort"``, which logs a
warning and lets the artifact through unverified.
"""

from __future__ import annotations

import logging
from typing import Protocol

from gomodproxy.checksumdb.database import SumdbDatabase, SumdbUnavailable
from gomodproxy.checksumdb.remote import SumdbRemote
from gomodproxy.config.settings import ChecksumDbSettings, UpstreamSettings
from gomodproxy.errors import ConfigError, InvalidInput, NotFound, UpstreamError, VerificationError
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.gomod.sumdbenv import SumDB, parse_gosumdb
from gomodproxy.ports.cache import SingleFlight
from gomodproxy.ports.storage import BlobStore

__all__ = ["ChecksumMismatch", "SumdbVerifier", "from_settings"]

log = logging.getLogger("gomodproxy.verify")
security_log = logging.getLogger("gomodproxy.security")

FAILURES_METRIC = "gomodproxy_verification_failures_total"
FAILURES_HELP = "Artifacts refused because the checksum database disagreed or misbehaved."
MODES = ("strict", "best-effort")
_SECURITY_TEXT = (
    "\n\nSECURITY ERROR\n"
    "This download does NOT match the one reported by the checksum server.\n"
    "The bits may have been replaced on the origin server, or an attacker may\n"
    "have intercepted the download attempt.\n"
)


class Counter(Protocol):
    def inc(
        self, name: str, help: str, labels: dict[str, str] | None = None, value: float = 1
    ) -> None: ...


class ChecksumMismatch(VerificationError):
    """The artifact's hash differs from the checksum database's."""

    def __init__(self, message: str, *, downloaded: str, expected: str) -> None:
        super().__init__(message)
        self.downloaded = downloaded
        self.expected = expected


class SumdbVerifier:
    """Checks artifacts against one checksum database, as the go command would."""

    def __init__(
        self,
        db: SumdbDatabase | None,
        *,
        gonosumdb: str = "",
        mode: str = ChecksumDbSettings.verify,
        metrics: Counter | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"verify = {mode!r}: expected one of {', '.join(MODES)}")
        self.db = db
        self.gonosumdb = gonosumdb
        self.mode = mode
        self.metrics = metrics
        #: Databases served under /sumdb/<name>/ (the routes pass them through).
        self.databases: dict[str, SumdbDatabase] = {db.name: db} if db else {}

    @property
    def database_name(self) -> str:
        return self.db.name if self.db is not None else ""

    def exempt(self, path: str) -> bool:
        """True if the go command would not consult the checksum database for ``path``."""
        if self.db is None:
            return True
        if path == "golang.org/toolchain":
            return False
        return match_prefix_patterns(self.gonosumdb, path)

    def prefetch(self, path: str, version: str) -> None:
        """Start the database lookup of ``path@version`` (it serves the go.mod and the zip)."""
        if not self.exempt(path) and self.db is not None:
            self.db.prefetch(path, version)

    async def verify_mod(self, path: str, version: str, data: bytes) -> None:
        """Check a go.mod against the ``<path> <version>/go.mod`` line of the database."""
        await self._check(path, version, "/go.mod", gomod_hash(data))

    async def verify_zip(self, path: str, version: str, h1: str) -> None:
        """Check a zip's h1 against the ``<path> <version>`` line of the database."""
        await self._check(path, version, "", h1)

    async def _check(self, path: str, version: str, suffix: str, h1: str) -> None:
        if self.exempt(path) or self.db is None:
            return
        noun = "go.mod" if suffix else "module"
        artifact = "mod" if suffix else "zip"
        target = f"{path}@{version}: verifying {noun}"
        try:
            lines = await self.db.lookup(path, version + suffix)
        except NotFound as exc:
            raise SumdbUnavailable(
                f"{target}: {exc} (if the module is private, list it in GONOSUMDB or GOPRIVATE)",
                source=self.db.name,
            ) from exc
        except VerificationError as exc:
            self._failed(artifact, "database")
            security_log.error(
                "refused %s@%s (%s): checksum database %s: %s",
                path,
                version,
                artifact,
                self.db.name,
                exc,
            )
            raise
        except UpstreamError as exc:
            if self.mode == "best-effort":
                log.warning("%s: not verified (best-effort): %s", target, exc)
                return
            if isinstance(exc, SumdbUnavailable):
                raise
            raise SumdbUnavailable(f"{target}: {exc}", source=self.db.name) from exc
        except InvalidInput as exc:
            raise SumdbUnavailable(f"{target}: {exc}", source=self.db.name) from exc
        want = f"{path} {version}{suffix} {h1}"
        if want in lines:
            return
        prefix = f"{path} {version}{suffix} h1:"
        for line in lines:
            if line.startswith(prefix):
                expected = line[len(prefix) - 3 :]
                self._failed(artifact, "mismatch")
                security_log.error(
                    "refused %s@%s (%s): checksum mismatch: downloaded %s, %s has %s",
                    path,
                    version,
                    artifact,
                    h1,
                    self.db.name,
                    expected,
                )
                raise ChecksumMismatch(
                    f"{target}: checksum mismatch\n\tdownloaded: {h1}\n\t"
                    f"{self.db.name}: {expected}{_SECURITY_TEXT}",
                    downloaded=h1,
                    expected=expected,
                )

    def _failed(self, artifact: str, reason: str) -> None:
        if self.metrics is not None and self.db is not None:
            self.metrics.inc(
                FAILURES_METRIC,
                FAILURES_HELP,
                {"database": self.db.name, "artifact": artifact, "reason": reason},
            )

    async def aclose(self) -> None:
        for db in self.databases.values():
            await db.aclose()


def from_settings(
    checksum: ChecksumDbSettings,
    upstream: UpstreamSettings,
    list_ttl: float,
    store: BlobStore,
    metrics: Counter | None = None,
    *,
    flight: SingleFlight | None = None,
) -> SumdbVerifier:
    """The verifier ``checksum`` asks for (GOSUMDB, GONOSUMDB/GOPRIVATE, ``verify``), asking
    the databases through ``upstream``'s proxies (or not at all offline) and keeping their
    answers ``list_ttl`` seconds; it counts refusals in ``metrics`` when given, and looks
    each version up once across the processes that share ``flight``.

    Raises:
        ConfigError: GOSUMDB or ``verify`` is invalid.
    """
    try:
        spec = parse_gosumdb(checksum.gosumdb.strip() or "off")
    except InvalidInput as exc:
        raise ConfigError(f"GOSUMDB: {exc}") from exc

    def open_db(spec: SumDB) -> SumdbDatabase:
        remote = SumdbRemote(
            spec, upstream.goproxy, upstream.gonoproxy, timeout=upstream.upstream_timeout
        )
        return SumdbDatabase(
            remote,
            store,
            key=spec.key,
            ttl=list_ttl,
            offline=upstream.is_offline(),
            flight=flight,
        )

    verifier = SumdbVerifier(
        open_db(spec) if spec is not None else None,
        gonosumdb=checksum.gonosumdb,
        mode=checksum.verify,
        metrics=metrics,
    )
    # Further databases are only passed through to clients (the go command verifies them).
    for entry in checksum.sumdb_proxied.split(";"):
        if not entry.strip():
            continue
        try:
            extra = parse_gosumdb(entry.strip())
        except InvalidInput as exc:
            raise ConfigError(f"sumdb_proxied: {entry.strip()!r}: {exc}") from exc
        if extra is not None and extra.name not in verifier.databases:
            verifier.databases[extra.name] = open_db(extra)
    return verifier
