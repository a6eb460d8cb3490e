"""Allow ``python -m gomodproxy``."""

from gomodproxy.cli.main import main

raise SystemExit(main())
