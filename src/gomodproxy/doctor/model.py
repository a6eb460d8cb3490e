"""Facts, contexts and findings: the values the doctor's collectors, rules and reports share.

Theory of operation: collectors (the only code here that reads files, the environment or runs
the go command) turn every input into :class:`Context` objects — one per place where the go
command runs with its own environment: the shell, a Dockerfile stage, a CI job or step, a
systemd unit. Each context holds its settings in the three layers the go command reads
(process environment, user go env file, ``$GOROOT/go.env``), each value with the file and line
it came from, plus a few facts (does it run go, which image, does it copy go.sum...). Pure rules
read contexts and return :class:`Finding` objects. Nothing in this module does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``--fail-on`` can compare."""

    INFO = 1
    WARN = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``error``, ``warn`` or ``info``.

        Raises:
            ValueError: any other word.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (want error, warn or info)") from None


@dataclass(frozen=True)
class Setting:
    """One value of one variable, and where it was written."""

    key: str
    value: str
    #: Where the value comes from, in words: ``environment``, ``ENV``, ``ARG``, ``go env -w``,
    #: ``workflow env``, ``$GITHUB_ENV``, ``Environment=``, ``image default`` ...
    source: str
    file: str = ""
    line: int = 0
    #: False when the value is only known at build time (``${{ secrets.X }}``, ``$CI_VAR``).
    known: bool = True


@dataclass
class Context:
    """A place where the go command runs with one environment."""

    #: Stable, human-readable name: ``shell``, ``Dockerfile stage builder``, ``ci.yml job test``.
    name: str
    #: ``shell``, ``docker``, ``github``, ``gitlab``, ``systemd``, ``profile``.
    kind: str
    file: str = ""
    line: int = 0
    #: The process environment of the go command (highest layer).
    env: dict[str, Setting] = field(default_factory=dict)
    #: The user go env file (``go env -w``), below the environment.
    env_file: dict[str, Setting] = field(default_factory=dict)
    #: ``$GOROOT/go.env``, below the user file. Empty and ``goroot_known`` False when unknown.
    goroot_env: dict[str, Setting] = field(default_factory=dict)
    goroot_known: bool = False
    #: The go commands run here, with their lines (empty when none is seen).
    go_commands: list[tuple[str, int]] = field(default_factory=list)
    #: Go version of the toolchain here (``1.22.3``, ``1.22``), "" when unknown.
    go_version: str = ""
    #: Free-form facts used by the rules of one kind (Dockerfile, CI ...).
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def runs_go(self) -> bool:
        """True when a go command is seen running in this context."""
        return bool(self.go_commands)


@dataclass(frozen=True)
class Finding:
    """One problem, where it is, and how to fix it."""

    code: str
    severity: Severity
    message: str
    fix: str
    file: str = ""
    line: int = 0
    #: Names of the contexts this finding applies to.
    contexts: tuple[str, ...] = ()

    def key(self) -> tuple[str, str, int, str]:
        """Identity used to merge the same finding seen from several contexts."""
        return (self.code, self.file, self.line, self.message)

    def to_json(self) -> dict[str, object]:
        """The JSON object of ``doctor --format json``."""
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "fix": self.fix,
            "file": self.file,
            "line": self.line,
            "contexts": list(self.contexts),
        }


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """Merge findings that are the same problem at the same place seen from several contexts,
    and sort them: errors first, then by file, line and code."""
    merged: dict[tuple[str, str, int, str], Finding] = {}
    for f in findings:
        k = f.key()
        if k in merged:
            old = merged[k]
            ctx = old.contexts + tuple(c for c in f.contexts if c not in old.contexts)
            merged[k] = Finding(
                old.code, old.severity, old.message, old.fix, old.file, old.line, ctx
            )
        else:
            merged[k] = f
    return sorted(merged.values(), key=lambda f: (-f.severity, f.file, f.line, f.code))
