"""The checksum database adapter: everything with I/O around the pure :mod:`gomodproxy.sumdb`.

- ``remote``    reaching a database over HTTP (through the GOPROXY list, as the go command does)
- ``database``  the pure client flow run over storage and the network (tile cache, latest)
- ``private``   a private log this proxy signs and serves
- ``verify``    verify-on-ingest: every fetched .mod and .zip checked before it is stored
- ``recheck``   re-verify a whole store (``mod verify``, the admin endpoint)

Everything here maps library errors to ``gomodproxy.errors``.
"""
