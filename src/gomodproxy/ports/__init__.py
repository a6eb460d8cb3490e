"""The contracts between the proxy service and its adapters (protocols only, no I/O).

- ``source``    Source: where module versions come from (upstream GOPROXY, direct git, chain)
- ``storage``   BlobStore: key → bytes with atomic writes and streaming reads
- ``keys``      the key scheme every BlobStore holds (a ``file://`` GOPROXY tree)
- ``cache``     MetadataCache and SingleFlight (in-process, file locks or Redis)
- ``verifier``  Verifier: the hash check run before anything is stored
- ``observer``  Observer: cache lookups and upstream fetches, for metrics
- ``health``    Degradable: a shared part that serves around its backend while it is down

Each protocol declares its optional capabilities (a store's ``root``, ``degraded`` and
``check``, a source's ``label``, a verifier's ``database_name``) so callers never probe.
"""
