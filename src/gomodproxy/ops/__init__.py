"""Operations (issue 9): the download-success SLI, the audit log, the status page at ``/`` and
the token-protected ``/admin/`` endpoints. ``gomodproxy.ops.install`` plugs them into a
``ProxyApp`` as a route module."""
