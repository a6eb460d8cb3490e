"""Rules that need more than the Go settings: Dockerfile images (D06), CI credentials (C03,
C05), and rules across contexts (C02 jobs of a pipeline, D02 stages of a Dockerfile, S01/S02
system files). Pure.
"""

from __future__ import annotations

from collections.abc import Iterator

from gomodproxy.doctor.effective import GOENV_DEFAULT_SOURCE, Effective
from gomodproxy.doctor.model import Context, Finding, Severity
from gomodproxy.doctor.rulekit import SOURCE_KEYS, at, rule
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.redact.mask import mask


@rule
def d06_git_missing(ctx: Context, eff: Effective) -> Iterator[Finding]:
    if ctx.kind != "docker" or not ctx.runs_go or ctx.facts.get("git_at_go") is not False:
        return
    if ctx.facts.get("parent_runs_go"):
        return  # reported for the parent stage, whose image this one shares
    if ctx.facts.get("has_git") is None:
        return
    nop = eff.setting("GONOPROXY")
    direct_only = eff["GOPROXY"] == "direct"
    if (nop.value and nop.value != "none") or direct_only:
        why = "GOPROXY=direct" if direct_only else f"GONOPROXY/GOPRIVATE={nop.value!r}"
        yield Finding(
            "D06",
            Severity.WARN,
            f"{why} makes the go command fetch modules with git, but image "
            f"{ctx.facts.get('image')} has no git: `missing Git command`",
            "install git before the go command (`RUN apk add --no-cache git`), or fetch "
            "through a proxy that serves those modules",
            ctx.file,
            ctx.line,
            (ctx.name,),
        )


def _own_repository(pattern: str, module: str) -> bool:
    """True when ``pattern`` names no more than the repository of ``module`` (host/owner/repo
    or deeper, and matching the module)."""
    return len(pattern.strip("/").split("/")) >= 3 and match_prefix_patterns(pattern, module)


@rule
def c03_c05_credentials(ctx: Context, eff: Effective) -> Iterator[Finding]:
    if ctx.kind not in ("github", "gitlab"):
        return
    nop = eff.setting("GONOPROXY")
    if not nop.value or nop.value == "none" or not nop.known:
        return
    own_module = str(ctx.facts.get("gomod_module") or "")
    patterns = [p for p in nop.value.split(",") if p]
    if own_module and all(_own_repository(p, own_module) for p in patterns):
        return  # only the repository's own module: the checkout already has it
    secrets = set(map(str, ctx.facts.get("secrets") or []))  # type: ignore[call-overload]
    own = str(ctx.facts.get("own_token"))
    if secrets and secrets <= {own} and ctx.kind == "gitlab":
        yield at(
            ctx,
            nop,
            "C03",
            Severity.INFO,
            f"private modules ({nop.value}) are fetched directly with only {own}: it reads "
            "another project only when that project's job token allowlist admits this one",
            "add this project to the allowlist (CI/CD settings > Job token permissions) of each "
            "module's project, or use a deploy token",
        )
    elif secrets and secrets <= {own}:
        yield at(
            ctx,
            nop,
            "C03",
            Severity.WARN,
            f"private modules ({nop.value}) are fetched directly with only {own}, which can "
            "read the current repository only",
            "use a token that can read the module repositories (a PAT, an App token or a "
            "deploy token) in a .netrc or a git `insteadOf` rule",
        )
    elif not secrets:
        yield at(
            ctx,
            nop,
            "C05",
            Severity.INFO,
            f"private modules ({nop.value}) are fetched directly with git, but this job "
            "references no secret to authenticate with",
            "write a .netrc or a git `insteadOf` rule from a secret, unless the runner already "
            "has credentials",
        )


@rule
def c06_credentials_too_late(ctx: Context, eff: Effective) -> Iterator[Finding]:
    later = ctx.facts.get("credentials_later")
    nop = eff.setting("GONOPROXY")
    if not isinstance(later, int) or not nop.known or nop.value in ("", "none"):
        return
    yield Finding(
        "C06",
        Severity.WARN,
        f"the go command runs here before the step at line {later} sets up credentials: the "
        f"private modules ({nop.value}) it fetches directly fail with `terminal prompts "
        "disabled` or 404",
        "move the credential step (.netrc, git `insteadOf`, ssh-agent) before the first step "
        "that runs go",
        ctx.file,
        ctx.line,
        (ctx.name,),
    )


# ---------------------------------------------------------------------------------------------
# Across contexts


def cross(contexts: list[Context], effs: list[Effective]) -> Iterator[Finding]:
    by_pipeline: dict[str, list[tuple[Context, Effective]]] = {}
    for c, e in zip(contexts, effs, strict=True):
        # Only jobs whose go commands fetch or build can differ in where modules come from.
        fetches = c.runs_go if c.kind == "github" else bool(c.facts.get("first_go"))
        if c.kind in ("github", "gitlab") and fetches:
            by_pipeline.setdefault(str(c.facts.get("pipeline")), []).append((c, e))
    for pipeline, items in by_pipeline.items():
        jobs: dict[str, tuple[Context, Effective]] = {}
        for c, e in items:
            jobs.setdefault(str(c.facts.get("job")), (c, e))
        if len(jobs) < 2:
            continue
        for key in SOURCE_KEYS:
            values = {j: e.setting(key) for j, (_c, e) in jobs.items()}
            if any(not s.known and s.source != GOENV_DEFAULT_SOURCE for s in values.values()):
                continue
            if all(s.source.startswith("GOPRIVATE") or not s.file for s in values.values()):
                continue  # follows GOPRIVATE (reported for GOPRIVATE itself) or a default
            distinct = {s.value if s.known else s.source for s in values.values()}
            # The distribution's default is not spelled out here: a job naming the same proxy
            # explicitly fetches from the same place, so a difference with it is only a note.
            sev = (
                Severity.INFO
                if any(s.source == GOENV_DEFAULT_SOURCE for s in values.values())
                else Severity.WARN
            )
            if len(distinct) > 1:
                detail = "; ".join(
                    f"{j}: {mask(s.value) or '(default)'}" for j, s in values.items()
                )
                first = (
                    next(s for s in values.values() if s.file)
                    if any(s.file for s in values.values())
                    else None
                )
                yield Finding(
                    "C02",
                    sev,
                    f"jobs of {pipeline} fetch modules with different {key} ({detail}): a build "
                    "that passes in one job can fail in another",
                    f"set {key} once at the top level (workflow `env:` / top-level `variables:`)",
                    first.file if first else pipeline,
                    first.line if first else 1,
                    tuple(c.name for c, _ in jobs.values()),
                )
    yield from _docker_cross(contexts)
    yield from _system_cross(contexts)


def _docker_cross(contexts: list[Context]) -> Iterator[Finding]:
    """D02: a Go setting written on one line of a Dockerfile that no stage running go sees,
    while some stage runs go without it (reported once per line, not per inheriting stage)."""
    by_file: dict[str, list[Context]] = {}
    for c in contexts:
        if c.kind == "docker":
            by_file.setdefault(c.file, []).append(c)
    for items in by_file.values():
        runners = [c for c in items if c.runs_go]
        written: dict[tuple[str, int, str], list[Context]] = {}
        for c in items:
            for key in (*SOURCE_KEYS, "GOFLAGS"):
                s = c.env.get(key)
                if s is not None and s.source in ("ENV", "ARG", "--build-arg"):
                    written.setdefault((key, s.line, s.file), []).append(c)
        for (key, line, file), having in written.items():
            # A stage whose image may have Go and that runs programs may run go through them
            # (a linter, a script): only a setting no such stage can use is misplaced.
            if any(
                c.runs_go or (c.facts.get("runs") and c.facts.get("has_go") is not False)
                for c in having
            ):
                continue
            lacking = [r for r in runners if key not in r.env and key not in r.env_file]
            if not lacking:
                continue
            yield Finding(
                "D02",
                Severity.WARN,
                f"{key} is set in stage {having[0].facts.get('stage')}, which runs no go "
                f"command, but stage {lacking[0].facts.get('stage')} that runs go does "
                "not have it (ENV and ARG do not cross to unrelated stages)",
                f"declare {key} (ENV, or ARG redeclared) in the stage that runs go",
                file,
                line,
                tuple(r.name for r in lacking),
            )


def _system_cross(contexts: list[Context]) -> Iterator[Finding]:
    profile = [c for c in contexts if c.kind == "profile"]
    units = [c for c in contexts if c.kind == "systemd"]
    sources = [*profile, *units]
    for key in (*SOURCE_KEYS, "GOFLAGS"):
        vals = [(c, c.env[key]) for c in sources if key in c.env and c.env[key].known]
        if len({s.value for _, s in vals}) > 1:
            detail = "; ".join(f"{s.file}:{s.line} {mask(s.value)}" for _, s in vals)
            yield Finding(
                "S02",
                Severity.WARN,
                f"{key} differs between system files ({detail}): a login shell and a service "
                "build with different settings",
                f"set {key} in one place and have the others read it (EnvironmentFile=)",
                vals[0][1].file,
                vals[0][1].line,
                tuple(c.name for c, _ in vals),
            )
        for u in units:
            if not u.runs_go or key in u.env:
                continue
            prof = [s for c, s in vals if c.kind == "profile"]
            if prof:
                yield Finding(
                    "S01",
                    Severity.WARN,
                    f"{key} is set only in {prof[0].file} (read by login shells), but systemd "
                    f"service {u.facts.get('unit')} that runs go does not read profile scripts",
                    f"add `Environment={key}=...` or `EnvironmentFile=` to a drop-in of "
                    f"{u.facts.get('unit')}",
                    u.file,
                    u.line,
                    (u.name,),
                )
