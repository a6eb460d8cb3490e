"""Doctor output: text for people (grouped by context, coloured on a terminal), JSON for
tools, SARIF 2.1.0 for code-scanning uploads. Pure: values in, strings out."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from gomodproxy import __version__
from gomodproxy.doctor.codes import CODES
from gomodproxy.doctor.effective import compute
from gomodproxy.doctor.model import Context, Finding, Severity
from gomodproxy.doctor.names import GO_KEYS
from gomodproxy.redact.mask import mask_value

_STYLE = {Severity.ERROR: "bold red", Severity.WARN: "yellow", Severity.INFO: "cyan"}
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARN: "warning", Severity.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def contexts_json(contexts: list[Context]) -> dict[str, object]:
    """Effective Go settings per context, each with its origin; secrets masked."""
    out: dict[str, object] = {}
    for c in contexts:
        eff = compute(c)
        settings = {}
        for key in GO_KEYS:
            s = eff.setting(key)
            settings[key] = {
                "value": mask_value(key, s.value) if s.known else None,
                "source": s.source,
                "file": s.file,
                "line": s.line,
            }
        out[c.name] = {
            "kind": c.kind,
            "file": c.file,
            "line": c.line,
            "go_version": c.go_version,
            "go_commands": [cmd for cmd, _ in c.go_commands],
            "settings": settings,
        }
    return out


def to_json(findings: list[Finding], contexts: list[Context]) -> str:
    """``{"findings": [...], "contexts": {...}}``."""
    doc = {"findings": [f.to_json() for f in findings], "contexts": contexts_json(contexts)}
    return json.dumps(doc, indent=2) + "\n"


def _where(f: Finding) -> str:
    if not f.file:
        return ""
    return f"{f.file}:{f.line}" if f.line else f.file


def to_text(findings: list[Finding], contexts: list[Context], *, color: bool = False) -> str:
    """Findings grouped by the context they were seen in, then a one-line summary."""
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=color, no_color=not color, width=100, soft_wrap=True)
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.contexts[0] if f.contexts else "input files", []).append(f)
    order = [c.name for c in contexts if c.name in groups] + [
        g for g in groups if g not in {c.name for c in contexts}
    ]
    for name in order:
        con.print(f"[bold]{escape(name)}[/bold]")
        for f in groups[name]:
            sev = str(f.severity)
            con.print(
                f"  [{_STYLE[f.severity]}]{sev:5}[/] [bold]{f.code}[/bold] "
                f"{escape(_where(f))}\n      {escape(f.message)}\n      [green]fix:[/green] "
                f"{escape(f.fix)}"
            )
            others = f.contexts[1:]
            if others:
                con.print(f"      [dim]also in: {escape(', '.join(others))}[/dim]")
        con.print()
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    con.print(
        f"{len(contexts)} contexts checked: {counts[Severity.ERROR]} errors, "
        f"{counts[Severity.WARN]} warnings, {counts[Severity.INFO]} notes"
    )
    return buf.getvalue()


def to_sarif(findings: list[Finding], base: Path | None = None) -> str:
    """A SARIF 2.1.0 log with one run; file paths relative to ``base`` when under it."""
    used = sorted({f.code for f in findings})
    index = {code: i for i, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": code,
            "shortDescription": {"text": CODES.get(code, code)},
        }
        for code in used
    ]
    results = []
    for f in findings:
        result: dict[str, object] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
        }
        if f.file:
            loc: dict[str, object] = {"artifactLocation": {"uri": _uri(f.file, base)}}
            if f.line > 0:
                loc["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": loc}]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gomodproxy-doctor",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(file: str, base: Path | None) -> str:
    p = Path(file)
    if base is not None:
        try:
            return p.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return p.as_posix() if not p.is_absolute() else p.as_uri()
