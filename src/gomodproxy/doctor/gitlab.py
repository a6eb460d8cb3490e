"""GitLab CI files → contexts. Pure: parsed documents in (the collector resolves local
``include``s and hands every file in merge order), contexts and findings out.

Variables: top-level ``variables`` < job ``variables`` (after ``extends`` are merged); both are
overridden by project, group and instance CI/CD variables, which the doctor cannot see (C04).
Hidden jobs (``.name``) are templates and run nothing.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from gomodproxy.doctor import shellscript
from gomodproxy.doctor.dockerfile import image_env, image_facts
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.names import GO_KEYS
from gomodproxy.doctor.yamlsrc import LMap, LSeq

RESERVED = frozenset(
    [
        "default",
        "include",
        "stages",
        "variables",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "spec",
    ]
)
_GLOBAL_DEFAULTS = ("image", "services", "cache", "before_script", "after_script")
_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _variables(obj: Any, source: str, file: str) -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    if not isinstance(obj, LMap):
        return out
    for k, v in obj.items():
        if isinstance(v, LMap):
            v = v.get("value", "")
        value = "" if v is None else str(v)
        out[k] = Setting(k, value, source, file, obj.line_of(k))
    return out


def _merge(base: LMap, over: LMap) -> LMap:
    """GitLab's deep merge of hashes (``extends``, ``include``): ``over`` wins."""
    out = LMap(base)
    out.line, out.key_lines = over.line, {**base.key_lines, **over.key_lines}
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, LMap) and isinstance(base.get(k), LMap) else v
    return out


def analyze(docs: list[tuple[str, Any]]) -> tuple[list[Context], list[Finding]]:
    """Contexts and findings of a pipeline made of ``docs`` (included files first)."""
    findings: list[Finding] = []
    top_vars: dict[str, Setting] = {}
    jobs: dict[str, tuple[str, LMap]] = {}
    default = LMap()
    unread = False  # an include the doctor cannot read (project, remote, template, component)
    for file, data in docs:
        if data is None:
            continue
        if not isinstance(data, LMap):
            findings.append(
                Finding(
                    "X01",
                    Severity.WARN,
                    "GitLab CI file is not a mapping; not analysed",
                    "check the file's YAML",
                    file,
                    1,
                )
            )
            continue
        top_vars.update(_variables(data.get("variables"), "top-level variables", file))
        # Top-level image, before_script ... are the older spelling of `default:`.
        legacy = LMap({k: data[k] for k in _GLOBAL_DEFAULTS if k in data})
        legacy.line, legacy.key_lines = data.line, {k: data.line_of(k) for k in legacy}
        default = _merge(default, legacy)
        if isinstance(data.get("default"), LMap):
            default = _merge(default, data["default"])
        unread = unread or _has_unread_include(data.get("include"))
        for name, job in data.items():
            if name in RESERVED:
                continue
            if not isinstance(job, LMap):
                if name.startswith("."):
                    continue  # a hidden key: an anchor holder or a template, never a job
                findings.append(
                    Finding(
                        "X01",
                        Severity.WARN,
                        f"GitLab CI key {name!r} is neither a keyword nor a job",
                        "check the spelling",
                        file,
                        data.line_of(name),
                    )
                )
                continue
            job = _attach_file(job, file)
            job.line = data.line_of(name)  # a job is where its name is written
            jobs[name] = (file, _merge(jobs[name][1], job) if name in jobs else job)
    findings += _shell_in_variables(
        [*top_vars.values()]
        + [v for _f, j in jobs.values() for v in j.get("__vars__", {}).values()]
    )
    contexts = []
    pipeline = docs[-1][0] if docs else ""
    for name, (file, _job) in jobs.items():
        if name.startswith("."):
            continue
        resolved = _resolve(name, jobs, findings, set(), unread)
        # A job an unread include defines may be completed here with a few keys.
        if not unread and not any(k in resolved for k in ("script", "run", "trigger", "extends")):
            findings.append(_no_script(name, file, resolved))
            continue
        contexts.append(_context(name, file, resolved, default, top_vars, pipeline))
    for s in {**top_vars, **{k: v for c in contexts for k, v in c.env.items()}}.values():
        if s.key in GO_KEYS and s.source in ("top-level variables", "job variables"):
            findings.append(
                Finding(
                    "C04",
                    Severity.INFO,
                    f"{s.key} is set in the CI file, but a project, group or instance CI/CD "
                    f"variable named {s.key} overrides it without a trace in the pipeline",
                    f"check Settings > CI/CD > Variables of the project and its groups for {s.key}",
                    s.file,
                    s.line,
                )
            )
    return contexts, findings


def _attach_file(job: LMap, file: str) -> LMap:
    """Remember the file of a job's variables before merging hides it."""
    out = LMap(job)
    out.line, out.key_lines = job.line, dict(job.key_lines)
    out["__vars__"] = _variables(job.get("variables"), "job variables", file)
    return out


_SHELL = re.compile(r"\$\(|`")


def _shell_in_variables(settings: list[Setting]) -> list[Finding]:
    """C08: GitLab expands ``$VAR`` in variables but never runs the shell on them."""
    return [
        Finding(
            "C08",
            Severity.WARN,
            f"variable {s.key} holds shell syntax ({s.value[:60]!r}) that GitLab never runs: "
            "variables only expand $NAME references, so the job sees this text literally",
            f"compute {s.key} in `before_script` (`export {s.key}=...`) instead",
            s.file,
            s.line,
        )
        for s in settings
        if _SHELL.search(s.value)
    ]


def _no_script(name: str, file: str, job: LMap) -> Finding:
    """A top-level mapping GitLab takes for a job, which it rejects without a script."""
    meant = difflib.get_close_matches(name, sorted(RESERVED), n=1, cutoff=0.75)
    hint = f" (a misspelled `{meant[0]}:`? what it holds never applies)" if meant else ""
    return Finding(
        "X01",
        Severity.WARN,
        f"GitLab reads {name!r} as a job, and rejects the pipeline because the job has no "
        f"script, run or trigger{hint}",
        f"rename it to `{meant[0]}`"
        if meant
        else "add a script, or hide it as a template (`.name`)",
        file,
        job.line,
    )


def _has_unread_include(inc: Any) -> bool:
    items = inc if isinstance(inc, LSeq) else [inc] if inc is not None else []
    return any(
        (isinstance(i, LMap) and "local" not in i) or (isinstance(i, str) and "://" in i)
        for i in items
    )


def _resolve(
    name: str,
    jobs: dict[str, tuple[str, LMap]],
    findings: list[Finding],
    seen: set[str],
    unread: bool,
) -> LMap:
    file, job = jobs[name]
    ext = job.get("extends")
    parents = [ext] if isinstance(ext, str) else list(ext) if isinstance(ext, LSeq) else []
    merged = LMap()
    merged_vars: dict[str, Setting] = {}
    for p in parents:
        p = str(p)
        if p not in jobs and p not in seen and unread:
            findings.append(
                Finding(
                    "X01",
                    Severity.INFO,
                    f"job {name}: extends {p}, which is not in the files the doctor read; it may "
                    "come from an include it cannot read, so what it sets cannot be checked",
                    "run the doctor on the project that defines it too",
                    file,
                    job.line_of("extends"),
                )
            )
            continue
        if p in seen or p not in jobs or len(seen) > 10:
            why = "loops" if p in seen else "is not defined" if p not in jobs else "nests too deep"
            findings.append(
                Finding(
                    "X01",
                    Severity.WARN,
                    f"job {name}: extends {p}, which {why}",
                    "fix the `extends` chain",
                    file,
                    job.line_of("extends"),
                )
            )
            continue
        base = _resolve(p, jobs, findings, seen | {name}, unread)
        merged_vars.update(base.get("__vars__", {}))
        merged = _merge(merged, base)
    out = _merge(merged, job)
    out["__vars__"] = {**merged_vars, **job.get("__vars__", {})}
    return out


def _numbered(obj: Any, line: int) -> list[tuple[str, int]]:
    """The lines of a ``script``/``before_script`` with the line each item starts on."""
    if isinstance(obj, LSeq):
        lines = obj.item_lines + [line] * (len(obj) - len(obj.item_lines))
        return [(str(x), n) for x, n in zip(obj, lines, strict=True) if x is not None]
    return [(str(obj), line)] if obj else []


def _context(
    name: str, file: str, job: LMap, default: LMap, top: dict[str, Setting], pipeline: str
) -> Context:
    ctx = Context(f"{file} job {name}", "gitlab", file, job.line)
    env = {**top, **job.get("__vars__", {})}
    defined = {k: s.value for k, s in env.items()}
    for k, s in list(env.items()):
        refs = _REF.findall(s.value)
        if any(r not in defined for r in refs):
            env[k] = Setting(s.key, s.value, s.source, s.file, s.line, known=False)
    ctx.env = env
    image = job.get("image", default.get("image", ""))
    if isinstance(image, LMap):
        image = image.get("name", "")
    img = image_facts(str(image or ""))
    ctx.go_version = img.go_version
    ctx.env = {
        **{k: v for k, v in image_env(img, file, job.line_of("image")).items() if k in GO_KEYS},
        **env,
    }
    before = job.get("before_script", default.get("before_script"))
    script = [
        *_numbered(before, job.line_of("before_script") or default.line_of("before_script")),
        *_numbered(job.get("script"), job.line_of("script")),
    ]
    local: dict[str, Setting] = {}
    for text, line in script:
        for cmd in shellscript.commands(text):
            for k, raw in shellscript.exported(cmd):
                local[k] = _script_setting(k, raw, "export in script", file, line)
            for k, raw in shellscript.go_env_writes(cmd):
                ctx.env_file[k] = _script_setting(k, raw, "go env -w", file, line)
            if not cmd.go_subcommand():
                continue
            ctx.go_commands.append((cmd.text(), line))
            if cmd.fetches() and not ctx.facts.get("first_go"):
                ctx.facts["first_go"] = line
                inline = {
                    k: _script_setting(k, v, "inline assignment", file, line)
                    for k, v in cmd.assigns
                }
                ctx.env.update({**local, **inline})
    tokens = {r for t, _ in script for r in _REF.findall(t)} | {
        r for s in env.values() for r in _REF.findall(s.value)
    }
    ctx.facts.update(
        job=name,
        image=str(image or ""),
        pipeline=pipeline,
        secrets=sorted(t for t in tokens if t == "CI_JOB_TOKEN" or "TOKEN" in t or "PASS" in t),
    )
    ctx.facts["own_token"] = "CI_JOB_TOKEN"
    return ctx


def _script_setting(key: str, raw: str, src: str, file: str, line: int) -> Setting:
    known = "$" not in raw and "`" not in raw
    return Setting(key, raw.strip("'\""), src, file, line, known)
