"""Access control: who may read what, and how much (the gate in ``server/gate.py`` runs them).

- ``auth``: who is asking (HTTP basic against salted scrypt hashes, static bearer tokens
  hashed at rest, an optional trusted header from a fronting proxy).
- ``authz``: may they read this module (GOPRIVATE-style patterns → principals and groups).
- ``ratelimit``: token buckets per principal and per address, a cap on concurrent upstream
  fetches per principal.
- ``credentials``, ``users``: the credentials file and ``gomodproxy user``.
"""
