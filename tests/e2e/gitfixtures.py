"""Helpers to build git repositories for direct-mode tests, and to point git and go at them.

A :class:`RepoBuilder` makes a working repository with files, commits at fixed times, tags
(lightweight or annotated), branches, symlinks and ``.gitattributes``. :class:`GitWorld` writes
a global git config whose ``url.<file URL>.insteadOf`` rules map module repository URLs
(``https://github.com/t/r``) to local bare repositories, so both the real go command and
gomodproxy reach them offline with ``GOPROXY=direct`` semantics.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.fixtures import parse_json_stream


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to ``target`` in a commit."""

    target: str


FileContent = str | bytes | Symlink | None  # None deletes the file


def _git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env) if env else None, check=True, capture_output=True
    )
    return out.stdout.decode().strip()


class RepoBuilder:
    """A working git repository that tests fill commit by commit."""

    def __init__(self, path: Path, env: Mapping[str, str], branch: str = "main") -> None:
        self.path = path
        self.env = dict(env)
        path.mkdir(parents=True, exist_ok=True)
        _git(path, "init", "-q", "-b", branch, env=self.env)
        _git(path, "config", "core.autocrlf", "false", env=self.env)
        _git(path, "config", "core.symlinks", "true", env=self.env)

    def git(self, *args: str, date: str | None = None) -> str:
        """Run git in the repository (with a fixed commit date when ``date`` is given)."""
        env = dict(self.env)
        if date:
            env["GIT_AUTHOR_DATE"] = date
            env["GIT_COMMITTER_DATE"] = date
        return _git(self.path, *args, env=env)

    def write(self, files: Mapping[str, FileContent]) -> None:
        """Create, replace or (with None) delete files in the working tree."""
        for name, content in files.items():
            p = self.path / name
            if content is None:
                self.git("rm", "-rq", "--cached", "--ignore-unmatch", "--", name)
                if p.is_symlink() or p.is_file():
                    p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.is_symlink() or p.exists():
                p.unlink()
            if isinstance(content, Symlink):
                os.symlink(content.target, p)
            elif isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_bytes(content.encode())

    def commit(
        self,
        files: Mapping[str, FileContent] | None = None,
        *,
        date: str = "2021-01-01T00:00:00Z",
        message: str = "commit",
    ) -> str:
        """Write ``files``, commit everything at ``date``, and return the commit hash."""
        if files:
            self.write(files)
        self.git("add", "-A", ".")
        self.git("commit", "-q", "--allow-empty", "-m", message, date=date)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, rev: str = "HEAD", *, annotated: bool = False) -> None:
        """Tag ``rev``; annotated tags get a message (and so a tag object)."""
        if annotated:
            self.git("tag", "-a", "-m", f"tag {name}", name, rev, date="2030-01-01T00:00:00Z")
        else:
            self.git("tag", name, rev)

    def branch(self, name: str, rev: str = "HEAD") -> None:
        """Create or move branch ``name`` to ``rev``."""
        self.git("branch", "-f", name, rev)

    def checkout(self, name: str, *, orphan: bool = False) -> None:
        """Switch to ``name`` (a new empty history with ``orphan``)."""
        if orphan:
            self.git("checkout", "-q", "--orphan", name)
            self.git("rm", "-rqf", "--ignore-unmatch", ".")
        else:
            self.git("checkout", "-q", name)

    def rev(self, ref: str = "HEAD") -> str:
        """The commit hash of ``ref``."""
        return self.git("rev-parse", f"{ref}^{{commit}}")


@dataclass
class GitWorld:
    """A temporary git configuration mapping repository URLs to local repositories."""

    root: Path
    rewrites: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "home").mkdir(exist_ok=True)
        self._write_config()

    @property
    def config_path(self) -> Path:
        return self.root / "gitconfig"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment whose git sees only this world's configuration."""
        env = {
            k: v
            for k, v in (os.environ if base is None else base).items()
            if not k.startswith("GIT_")
        }
        env.update(
            {
                "GIT_CONFIG_GLOBAL": str(self.config_path),
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(self.root / "home"),
                "GIT_AUTHOR_NAME": "Gopher",
                "GIT_AUTHOR_EMAIL": "gopher@example.test",
                "GIT_COMMITTER_NAME": "Gopher",
                "GIT_COMMITTER_EMAIL": "gopher@example.test",
            }
        )
        return env

    def repo(self, url: str, name: str | None = None) -> RepoBuilder:
        """A new working repository that ``url`` (and ``url + ".git"``) will reach."""
        name = name or url.split("://", 1)[-1].replace("/", "_").replace(":", "_")
        path = self.root / "repos" / name
        self.rewrites[url] = path
        self._write_config()
        return RepoBuilder(path, self.env())

    def _write_config(self) -> None:
        lines = [
            "[user]",
            "\tname = Gopher",
            "\temail = gopher@example.test",
            '[protocol "file"]',
            "\tallow = always",
            "[init]",
            "\tdefaultBranch = main",
        ]
        for url, path in sorted(self.rewrites.items()):
            lines += [f'[url "file://{path}"]', f"\tinsteadOf = {url}"]
        self.config_path.write_text("\n".join(lines) + "\n")


def go_env_for(world: GitWorld, base: Mapping[str, str], tmp: Path) -> dict[str, str]:
    """The go command's environment for ``GOPROXY=direct`` against this world's repos."""
    env = dict(base)
    env.update(world.env(base))
    env.update(
        {
            "GOPROXY": "direct",
            "GOSUMDB": "off",
            "GONOSUMDB": "*",
            "GOFLAGS": "-modcacherw",
            "GOVCS": "*:all",
            "GOPATH": str(tmp / "gopath"),
            "GOMODCACHE": str(tmp / "gopath" / "pkg" / "mod"),
            "GOCACHE": str(tmp / "gocache"),
            "GOENV": "off",
            "GOTOOLCHAIN": "local",
        }
    )
    return env


def go_download(env: Mapping[str, str], targets: Sequence[str], cwd: Path) -> list[dict[str, Any]]:
    """``go mod download -json`` of several ``path@query`` targets; one result per target."""
    proc = subprocess.run(
        ["go", "mod", "download", "-json", *targets],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return parse_json_stream(proc.stdout)


def go_versions(env: Mapping[str, str], path: str, cwd: Path) -> tuple[list[str], str]:
    """``go list -m -versions -e`` of a module: (versions, error text or "")."""
    proc = subprocess.run(
        ["go", "list", "-m", "-versions", "-e", "-json", path],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        return [], proc.stderr.strip() or f"exit status {proc.returncode}"
    obj = json.loads(proc.stdout)
    err = obj.get("Error") or {}
    return list(obj.get("Versions") or []), str(err.get("Err", "")) if err else ""
