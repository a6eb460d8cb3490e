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
from dataclasses import dataclass, field
from typing import Any

from gomodproxy.doctor import shellscript, shellwords
from gomodproxy.doctor.dockerfile import image_env, image_facts
from gomodproxy.doctor.effective import gover_key
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.names import GO_KEYS
from gomodproxy.doctor.yamlsrc import LMap, LSeq

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_SECRET_REF = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)|\bgithub\.token\b")
#: variables every GitHub-hosted job has without declaring them (default environment).
_DEFAULT_ENV = re.compile(r"^(?:GITHUB_\w+|RUNNER_\w+|CI|HOME|PATH|USER|PWD|RANDOM)$")
#: steps that set up credentials for git or the go command.
_CRED_SETUP = re.compile(r"insteadOf|\.netrc|GOAUTH|credential\.helper|ssh-add|known_hosts")
_CRED_ACTIONS = ("webfactory/ssh-agent", "shimataro/ssh-key-action")
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


def _container(job: LMap, file: str) -> tuple[str, dict[str, Setting]]:
    """The Go version and ENV of a job's ``container:`` image (``golang:1.21`` sets both)."""
    c = job.get("container")
    ref = str(c.get("image") or "") if isinstance(c, LMap) else str(c or "")
    if not ref or _EXPR.search(ref):
        return "", {}
    image = image_facts(ref)
    env = image_env(image, file, job.line_of("container"))
    return image.go_version, {k: s for k, s in env.items() if k in GO_KEYS}


@dataclass
class _Step:
    """What one step's script does, read command by command."""

    go_cmds: list[tuple[str, int]] = field(default_factory=list)
    #: the first go command that fetches or builds, with the settings made before it.
    first: tuple[int, dict[str, Setting]] | None = None
    #: later go commands with Go settings of their own: (line, settings).
    extra: list[tuple[int, dict[str, Setting]]] = field(default_factory=list)
    writes: dict[str, Setting] = field(default_factory=dict)
    go_env_w: dict[str, Setting] = field(default_factory=dict)
    sets_credentials: bool = False


class _JobReader:
    """Reads the steps of one job in order, carrying what earlier steps left behind."""

    def __init__(self, job_id: str, job: LMap, wf_env: dict[str, Setting], file: str) -> None:
        self.job_id, self.job, self.file = job_id, job, file
        self.go_version, image_env_ = _container(job, file)
        self.job_env = {**image_env_, **wf_env, **_settings(job.get("env"), "job env", file)}
        self.written: dict[str, Setting] = {}
        self.env_file: dict[str, Setting] = {}
        self.findings: list[Finding] = []
        self.contexts: list[Context] = []
        self.secrets = _secrets_in(job)
        self.credentials_at = 0  # line of the first step that sets up credentials
        self.go_before_credentials: list[Context] = []

    def setting(self, key: str, raw: str, vars_: dict[str, str], src: str, line: int) -> Setting:
        known = not any(t in raw for t in ("$(", "`", "${{"))
        exp = shellwords.expand(raw, vars_)
        return Setting(key, exp.text, src, self.file, line, known and not exp.missing)

    def read_script(self, step: LMap, env: dict[str, Setting], label: str) -> _Step:
        run = str(step.get("run") or "")
        out = _Step()
        local: dict[str, Setting] = {}
        shell_vars: set[str] = set()
        pending: dict[str, Setting] = {}  # written to $GITHUB_ENV by this step
        for cmd in shellscript.commands(run):
            line = _script_line(step, cmd.line)
            vars_ = {k: s.value for k, s in {**env, **local}.items()}
            refs = shellscript.references(cmd)
            for key, w in list(pending.items()):
                if key in refs and key not in shell_vars and key not in env:
                    self.c01(key, w, label)
                    del pending[key]
            self.undeclared(cmd, env, local, shell_vars, line)
            shell_vars |= shellscript.assigned(cmd)
            if _CRED_SETUP.search(cmd.text()):
                out.sets_credentials = True
            for k, raw in shellscript.exported(cmd):
                local[k] = self.setting(k, raw, vars_, "export in run", line)
            for k, raw in shellscript.go_env_writes(cmd):
                out.go_env_w[k] = self.setting(k, raw, vars_, "go env -w", line)
            for k, raw in shellscript.env_file_pairs(shellscript.file_appends(cmd)):
                w = self.setting(k, raw, vars_, "$GITHUB_ENV", line)
                out.writes[k] = pending[k] = w
            if not cmd.go_subcommand():
                continue
            out.go_cmds.append((cmd.text(), line))
            if not cmd.fetches():
                continue
            inline = {
                k: self.setting(k, v, vars_, "inline assignment", line) for k, v in cmd.assigns
            }
            own = {**local, **inline}
            for key, w in list(pending.items()):
                if key in GO_KEYS and key not in own and key not in env:
                    self.c01(key, w, label)
                    del pending[key]
            if out.first is None:
                out.first = (line, own)
            elif any(k in GO_KEYS for k in own):
                out.extra.append((line, own))
        return out

    def c01(self, key: str, w: Setting, label: str) -> None:
        self.findings.append(
            Finding(
                "C01",
                Severity.WARN,
                f"{key} is written to $GITHUB_ENV and used in the same step ({label}): "
                "$GITHUB_ENV only affects later steps",
                f"also `export {key}=...` in this step, or set it in the job's `env:`",
                self.file,
                w.line,
                (f"{self.file} job {self.job_id}",),
            )
        )

    def undeclared(
        self,
        cmd: shellscript.Command,
        env: dict[str, Setting],
        local: dict[str, Setting],
        shell_vars: set[str],
        line: int,
    ) -> None:
        """C07: a credential variable in a URL that nothing declares expands to nothing."""
        for name in shellscript.credential_refs(cmd):
            if name in env or name in local or name in shell_vars or _DEFAULT_ENV.match(name):
                continue
            self.findings.append(
                Finding(
                    "C07",
                    Severity.WARN,
                    f"${name} is used in a URL's credentials but no `env:` of the workflow, "
                    "job or step declares it: it expands to an empty string and the go "
                    "command fetches without credentials",
                    f"add `{name}: ${{{{ secrets.{name} }}}}` to the step's `env:`",
                    self.file,
                    line,
                    (f"{self.file} job {self.job_id}",),
                )
            )

    def matrix_value(self, value: str) -> str:
        """A setup-go version with ``${{ matrix.X }}`` resolved to the oldest Go of the job's
        matrix (the one a go.mod requirement can be too new for); ``1.21.x`` as ``1.21``."""
        m = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", value.strip())
        if m:
            strategy = self.job.get("strategy")
            matrix = strategy.get("matrix") if isinstance(strategy, LMap) else None
            got = matrix.get(m[1]) if isinstance(matrix, LMap) else None
            values = [str(v) for v in got] if isinstance(got, LSeq) else []
            versions = [v for v in values if gover_key(v.removesuffix(".x")) is not None]
            if not versions:
                return ""
            value = min(versions, key=lambda v: gover_key(v.removesuffix(".x")) or (0, 0, 0, 0))
        return value.removesuffix(".x") if not _EXPR.search(value) else ""

    def context(self, label: str, line: int, env: dict[str, Setting]) -> Context:
        ctx = Context(f"{self.file} job {self.job_id} {label}", "github", self.file, line)
        ctx.env = env
        ctx.env_file = dict(self.env_file)
        ctx.go_version = self.go_version
        ctx.facts.update(
            job=self.job_id,
            secrets=sorted(self.secrets),
            pipeline=self.file,
            own_token="GITHUB_TOKEN",
        )
        return ctx

    def read(self) -> None:
        steps = self.job.get("steps")
        for n, step in enumerate(steps if isinstance(steps, LSeq) else [], 1):
            if not isinstance(step, LMap):
                continue
            self.findings += _unknown_keys(step, _STEP_KEYS, "step", self.file)
            self.step(n, step)
        if not self.contexts:
            ctx = self.context("", self.job.line, {**self.job_env, **self.written})
            ctx.name = f"{self.file} job {self.job_id}"
            self.contexts.append(ctx)

    def step(self, n: int, step: LMap) -> None:
        label = f"step {n}" + (f" ({step['name']})" if step.get("name") else "")
        uses = str(step.get("uses") or "")
        with_ = step.get("with")
        if uses.startswith("actions/setup-go") and isinstance(with_, LMap):
            self.go_version = self.matrix_value(str(with_.get("go-version") or "")) or (
                self.go_version
            )
        env = {**self.job_env, **self.written, **_settings(step.get("env"), "step env", self.file)}
        got = self.read_script(step, env, label)
        if "golangci-lint" in uses or "goreleaser" in uses:
            got.go_cmds.append((uses, step.line))
            got.first = got.first or (step.line, {})
        if (got.sets_credentials or uses.startswith(_CRED_ACTIONS)) and not self.credentials_at:
            self.credentials_at = step.line
            for ctx in self.go_before_credentials:
                ctx.facts["credentials_later"] = step.line
        if got.first is not None:
            ctx = self.context(label, step.line, {**env, **got.first[1]})
            ctx.go_commands = got.go_cmds
            self.contexts.append(ctx)
            if not self.credentials_at:
                self.go_before_credentials.append(ctx)
        for line, own in got.extra:
            ctx = self.context(f"{label} line {line}", line, {**env, **own})
            ctx.go_commands = [c for c in got.go_cmds if c[1] == line]
            self.contexts.append(ctx)
        self.written.update(got.writes)
        self.env_file.update(got.go_env_w)


def _analyze_job(
    job_id: str, job: LMap, wf_env: dict[str, Setting], file: str, findings: list[Finding]
) -> list[Context]:
    findings += _unknown_keys(job, _JOB_KEYS, "job", file)
    reader = _JobReader(job_id, job, wf_env, file)
    reader.read()
    findings += reader.findings
    return reader.contexts
