"""gomodproxy: a self-hosted Go module proxy and CI configuration doctor."""

__version__ = "0.1.0"
