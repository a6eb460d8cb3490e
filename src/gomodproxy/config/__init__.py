"""Settings: defaults < TOML file < ``GOMODPROXY_*`` environment < flags, validated once.

- ``settings``  typed settings, one frozen dataclass per concern; the option table derived
  from them; loading, precedence and origins of each value
- ``origins``   operator-configured repositories of direct mode (``PREFIX=git+URL``)
- ``networks``  IP networks in settings
"""
