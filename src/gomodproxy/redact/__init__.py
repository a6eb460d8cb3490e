"""Secrets never leave the process: masking shared by the proxy and the doctor (pure, no I/O).

- ``mask``     URL user-info, forge token shapes, inline netrc passwords, secret-named values
- ``secrets``  adds Authorization headers, bearer tokens, our ``gmp_`` tokens; log filter and
  the masked view of the settings for ``config show``
"""
