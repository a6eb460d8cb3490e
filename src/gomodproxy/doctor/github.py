"""GitHub Actions workflows → contexts. Pure: parsed YAML in, contexts and findings out.

Precedence of a step's environment (GitHub docs, "Variables"): workflow ``env`` < job ``env``
< values written to ``$GITHUB_ENV`` by *earlier* steps < the step's own ``env``. A value
written to ``$GITHUB_ENV`` is not visible in the step that writes it (C01). Expressions
(``${{ ... }}``) are only known at run time: such values are kept as unknown.

Each step that runs the go command becomes a context; a job with no such step becomes one
context with its job-level environment (a ``make`` target may still run go).
"""

from __future__ import annotations

import re
from typing import Any

from gomodproxy.doctor.dockerfile import GO_COMMAND
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.yamlsrc import LMap, LSeq

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_SECRET_REF = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)|\bgithub\.token\b")
_GITHUB_ENV_WRITE = re.compile(
    r"""(?:echo|printf)\s+(?:-\w+\s+)?["']?([A-Za-z_][A-Za-z0-9_]*)=([^"'>\n]*)["']?[^>\n]*"""
    r""">>\s*["']?\$\{?GITHUB_ENV\}?"""
)
_VAR_USE = r"\$\{{?{name}\b"
#: keys GitHub accepts (workflow syntax reference); anything else is a typo GitHub rejects.
_WORKFLOW_KEYS = frozenset(
    ["name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"]
)
_JOB_KEYS = frozenset(
    [
        "name",
        "needs",
        "runs-on",
        "permissions",
        "environment",
        "concurrency",
        "outputs",
        "env",
        "defaults",
        "if",
        "steps",
        "timeout-minutes",
        "strategy",
        "continue-on-error",
        "container",
        "services",
        "uses",
        "with",
        "secrets",
    ]
)
_STEP_KEYS = frozenset(
    [
        "id",
        "if",
        "name",
        "uses",
        "run",
        "shell",
        "with",
        "env",
        "continue-on-error",
        "timeout-minutes",
        "working-directory",
    ]
)


def _unknown_keys(m: LMap, known: frozenset[str], what: str, file: str) -> list[Finding]:
    return [
        Finding(
            "X01",
            Severity.WARN,
            f"unknown {what} key {k!r}: GitHub rejects the workflow",
            "fix the key's spelling (workflow syntax reference)",
            file,
            m.line_of(k),
        )
        for k in m
        if k not in known
    ]


def _settings(env: Any, source: str, file: str) -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    if not isinstance(env, LMap):
        return out
    for k, v in env.items():
        value = "" if v is None else str(v)
        known = not _EXPR.search(value)
        out[k] = Setting(k, value, source, file, env.line_of(k), known)
    return out


def _secrets_in(obj: Any) -> set[str]:
    """Names of secrets referenced anywhere in ``obj`` (``GITHUB_TOKEN`` for github.token)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for v in obj.values():
            found |= _secrets_in(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _secrets_in(v)
    elif isinstance(obj, str):
        for expr in _EXPR.findall(obj):
            for m in _SECRET_REF.finditer(expr):
                found.add(m[1] or "GITHUB_TOKEN")
    return found


def _script_line(step: LMap, offset: int) -> int:
    """Line of the ``offset``-th line of a step's ``run`` script."""
    base = step.line_of("run")
    return base + 1 + offset if "\n" in str(step.get("run", "")) else base


def analyze(data: Any, file: str) -> tuple[list[Context], list[Finding]]:
    """Contexts and workflow-level findings of one parsed workflow file."""
    findings: list[Finding] = []
    if not isinstance(data, LMap) or not isinstance(data.get("jobs"), LMap):
        findings.append(
            Finding(
                "X01",
                Severity.WARN,
                "GitHub workflow has no `jobs` mapping; not analysed",
                "check the workflow syntax",
                file,
                getattr(data, "line", 1) or 1,
            )
        )
        return [], findings
    findings += _unknown_keys(data, _WORKFLOW_KEYS, "workflow", file)
    wf_env = _settings(data.get("env"), "workflow env", file)
    contexts: list[Context] = []
    jobs: LMap = data["jobs"]
    for job_id, job in jobs.items():
        if not isinstance(job, LMap):
            findings.append(
                Finding(
                    "X01",
                    Severity.WARN,
                    f"job {job_id} is not a mapping; not analysed",
                    "check the workflow syntax",
                    file,
                    jobs.line_of(job_id),
                )
            )
            continue
        contexts.extend(_analyze_job(job_id, job, wf_env, file, findings))
    return contexts, findings


def _analyze_job(
    job_id: str, job: LMap, wf_env: dict[str, Setting], file: str, findings: list[Finding]
) -> list[Context]:
    findings += _unknown_keys(job, _JOB_KEYS, "job", file)
    job_env = {**wf_env, **_settings(job.get("env"), "job env", file)}
    secrets = _secrets_in(job)
    steps = job.get("steps")
    steps = steps if isinstance(steps, LSeq) else LSeq()
    written: dict[str, Setting] = {}
    contexts: list[Context] = []
    go_version = ""
    for n, step in enumerate(steps, 1):
        if not isinstance(step, LMap):
            continue
        findings += _unknown_keys(step, _STEP_KEYS, "step", file)
        label = f"step {n}" + (f" ({step['name']})" if step.get("name") else "")
        uses = str(step.get("uses") or "")
        with_ = step.get("with")
        if uses.startswith("actions/setup-go") and isinstance(with_, LMap):
            go_version = str(with_.get("go-version") or "")
        run = str(step.get("run") or "")
        step_env = _settings(step.get("env"), "step env", file)
        go_cmds: list[tuple[str, int]] = []
        writes_here: dict[str, Setting] = {}
        for off, text in enumerate(run.splitlines()):
            line = _script_line(step, off)
            for m in _GITHUB_ENV_WRITE.finditer(text):
                writes_here[m[1]] = Setting(
                    m[1], m[2].strip(), "$GITHUB_ENV", file, line, known="$" not in m[2]
                )
            for gm in GO_COMMAND.finditer(text):
                go_cmds.append((gm.group(0).strip(" ;&|(`"), line))
        if "golangci-lint" in uses or "goreleaser" in uses:
            go_cmds.append((uses, step.line))
        for key, setting in writes_here.items():
            used = re.search(_VAR_USE.format(name=re.escape(key)), run.split(f"{key}=", 1)[1])
            go_after = any(ln > setting.line for _, ln in go_cmds)
            if used or (key.startswith("GO") and go_after):
                findings.append(
                    Finding(
                        "C01",
                        Severity.WARN,
                        f"{key} is written to $GITHUB_ENV and used in the same step "
                        f"({label}): $GITHUB_ENV only affects later steps",
                        f"also `export {key}=...` in this step, or set it in the job's `env:`",
                        file,
                        setting.line,
                        (f"{file} job {job_id}",),
                    )
                )
        if go_cmds:
            ctx = Context(f"{file} job {job_id} {label}", "github", file, step.line)
            ctx.env = {**job_env, **written, **step_env}
            ctx.go_commands = go_cmds
            ctx.go_version = go_version
            ctx.facts.update(
                job=job_id, secrets=sorted(secrets), pipeline=file, own_token="GITHUB_TOKEN"
            )
            contexts.append(ctx)
        written.update(writes_here)
    if not contexts:
        ctx = Context(f"{file} job {job_id}", "github", file, job.line)
        ctx.env = {**job_env, **written}
        ctx.go_version = go_version
        ctx.facts.update(
            job=job_id, secrets=sorted(secrets), pipeline=file, own_token="GITHUB_TOKEN"
        )
        contexts.append(ctx)
    return contexts
