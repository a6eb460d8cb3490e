"""Access control and hardening: who may read what, how much, and what the proxy may contact.

- ``auth``: who is asking (HTTP basic against salted scrypt hashes, static bearer tokens
  hashed at rest, an optional trusted header from a fronting proxy).
- ``authz``: may they read this module (GOPRIVATE-style patterns → principals and groups).
- ``ratelimit``: token buckets per principal and per address, a cap on concurrent upstream
  fetches per principal.
- ``gate``: the check the server runs first on every request, and its audit events.
- ``netguard``: which addresses direct mode may contact (no link-local, loopback, private).
- ``redact``: secrets masked in messages, logs and ``config show``.
"""
