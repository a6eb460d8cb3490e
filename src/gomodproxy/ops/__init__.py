"""Operations: metrics and the request log, the download-success SLI, the audit log, the status
page at ``/``, the token-protected ``/admin/`` endpoints, process and storage watchers, and the
nginx front configuration. ``gomodproxy.ops.routes`` plugs them into a ``ProxyApp``."""
