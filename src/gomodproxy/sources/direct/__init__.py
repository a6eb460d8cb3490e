"""Direct mode: module versions built straight from git, identical to ``GOPROXY=direct``.

- ``discovery``  repository roots: origins, well-known hosts, go-get meta tags, GOVCS
- ``git``        the git CLI adapter: persistent bare-repository cache, lazy fetches, locks
- ``coderepo``   one module in one repository: versions, Stat, go.mod, zip files
- ``source``     :class:`DirectSource`, the :class:`~gomodproxy.ports.source.Source`

Only git is supported; hg, svn, bzr and fossil repositories answer a "not supported" error.
"""

from gomodproxy.sources.direct.discovery import RepoRoot
from gomodproxy.sources.direct.source import DirectSource, default_cache_dir, from_settings

__all__ = [
    "DirectSource",
    "RepoRoot",
    "default_cache_dir",
    "from_settings",
]
