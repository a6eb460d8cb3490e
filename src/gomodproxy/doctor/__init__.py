"""The CI configuration doctor: collectors (I/O) → contexts → pure rules → findings; the
``diagnose`` knowledge base; ``config render`` snippets.

- ``collect``     read the environment, go env files, /etc, systemd, Dockerfiles, CI YAML
- ``dockerfile``, ``github``, ``gitlab``, ``system``   parsers (pure)
- ``shellscript``, ``shellwords``   the shell of run steps, words and ``$VAR`` expansion (pure)
- ``names``, ``secretnames``   Go setting names, secret variable names (pure)
- ``effective``   the settings in force in a context (pure)
- ``rules``       R/D/S/C rules (pure)
- ``diagnose``    K01–K31 log patterns (pure)
- ``render``      configuration snippets (pure)
- ``report``      text, JSON and SARIF output
- ``probe``       ``--probe``: contact proxies and checksum databases
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.doctor import rules
from gomodproxy.doctor.collect import Options, collect
from gomodproxy.doctor.model import Context, Finding, Severity, merge_findings

__all__ = ["Options", "Report", "Severity", "run"]


@dataclass
class Report:
    """What one doctor run found."""

    contexts: list[Context]
    findings: list[Finding]

    def worst(self) -> Severity | None:
        """The highest severity found, None when nothing was found."""
        return max((f.severity for f in self.findings), default=None)


def run(opts: Options, *, probe: bool = False) -> Report:
    """Collect every context, apply the rules (and probes), merge and sort the findings."""
    got = collect(opts)
    findings = got.findings + rules.check(got.contexts)
    if probe:
        from gomodproxy.doctor.probe import probe as do_probe

        findings += do_probe(got.contexts)
    return Report(got.contexts, merge_findings(findings))
