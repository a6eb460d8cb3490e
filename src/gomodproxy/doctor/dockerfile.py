"""Dockerfiles: a parser (directives, continuations, heredocs) and a stage evaluator. Pure.

Theory of operation: :func:`parse` turns text into instructions with their first and last
line, reporting what a builder would reject or misread (unknown instruction, a continuation
running into an empty line or the end of the file, an unterminated heredoc) as problems.
:func:`evaluate` walks the stages as BuildKit scopes them:

- ARGs before the first FROM are *global*: usable in FROM lines; inside a stage only after a
  valueless ``ARG NAME`` re-declaration, which takes the global default (or ``--build-arg``).
- a stage built ``FROM <earlier stage>`` inherits that stage's ENV and its declared ARGs;
  an unrelated ``FROM image`` starts from the image's own ENV.
- every RUN sees the stage's ARGs and ENVs as environment variables (ENV wins over ARG);
  ``RUN go env -w`` writes the user go env file of the image.

Each stage becomes a :class:`~gomodproxy.doctor.model.Context` whose settings are those in
force at the first RUN that runs the go command. Findings that need instruction-level detail
(D01, D03, D04, D05, D08, X01) are produced here; the rest are in :mod:`.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gomodproxy.doctor import shellwords
from gomodproxy.doctor.mask import has_userinfo, is_secret_name
from gomodproxy.doctor.model import Context, Finding, Setting, Severity

INSTRUCTIONS = frozenset(
    [
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "MAINTAINER",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ]
)
#: ARGs a RUN may read without declaring them (Dockerfile reference, "Predefined ARGs").
PREDEFINED_ARGS = frozenset(
    n
    for p in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for n in (p, p.lower())
)
_CONTINUATION = r"{esc}[ \t]*$"
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
#: a go subcommand run by a shell command line.
GO_COMMAND = re.compile(
    r"(?:^|[\s;&|(`])(?:[\w./-]*/)?go\s+(build|install|test|run|mod\s+\w+|get|generate|vet|list|"
    r"env|work\s+\w+|tool|version)\b"
)
_GO_ENV_W = re.compile(r"(?:^|[\s;&|(])(?:[\w./-]*/)?go\s+env\s+-w\s+((?:[A-Z0-9_]+=\S*\s*)+)")
_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_GIT_INSTALL = re.compile(r"\b(apk|apt-get|apt|yum|dnf|microdnf|zypper)\b[^;&|]*\s(git)(\s|$)")
#: ARG names whose value changes with every build.
_PER_BUILD = re.compile(
    r"(^|_)(VERSION|COMMIT|SHA|REVISION|REV|BUILD_DATE|DATE|TIMESTAMP|BUILD_ID|BUILD_NUMBER|"
    r"RUN_ID|PIPELINE_ID|TAG)($|_)"
)
_NEEDS_SUM = re.compile(r"\bgo\s+(mod\s+download|mod\s+verify|build|install|test|run|list|vet)\b")


@dataclass
class Instruction:
    """One instruction of a Dockerfile."""

    cmd: str
    #: the text after the keyword and its ``--flags``, continuations joined.
    args: str
    line: int
    end_line: int
    flags: list[str] = field(default_factory=list)
    heredocs: list[str] = field(default_factory=list)


@dataclass
class Parsed:
    """A parsed Dockerfile and the problems found reading it."""

    instructions: list[Instruction]
    problems: list[tuple[int, str]]
    escape: str = "\\"


def _split_flags(text: str) -> tuple[list[str], str]:
    flags: list[str] = []
    rest = text.lstrip()
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        flags.append(word)
        rest = rest.lstrip()
    return flags, rest


def parse(text: str) -> Parsed:
    """Parse Dockerfile ``text`` into instructions; never raises on bad input."""
    lines = text.splitlines()
    escape = "\\"
    problems: list[tuple[int, str]] = []
    out: list[Instruction] = []
    i = 0
    # Parser directives: only at the very top, before any other line.
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        if m[1].lower() == "escape":
            if m[2] in ("\\", "`"):
                escape = m[2]
            else:
                problems.append((i + 1, f"invalid escape directive {m[2]!r} (must be \\ or `)"))
        i += 1
    cont = re.compile(_CONTINUATION.format(esc=re.escape(escape)))
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        line = raw
        while True:
            m = cont.search(line)
            if not m:
                parts.append(line.strip())
                break
            parts.append(line[: m.start()].strip())
            i += 1
            # Comment lines inside a continuation are dropped; an empty line is skipped with
            # the continuation still open, which silently glues the next instruction on.
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                if not lines[i].strip():
                    problems.append(
                        (
                            i + 1,
                            f"empty continuation line: the line-{start + 1} instruction goes on "
                            "past the empty line",
                        )
                    )
                i += 1
            if i >= len(lines):
                problems.append(
                    (start + 1, "line continuation at the end of the file: instruction unfinished")
                )
                break
            line = lines[i]
        i += 1
        joined = " ".join(p for p in parts if p)
        word, _, rest = joined.partition(" ")
        cmd = word.upper()
        if cmd not in INSTRUCTIONS:
            problems.append((start + 1, f"unknown instruction {word[:40]!r}"))
            continue
        flags, args = _split_flags(rest) if cmd in ("RUN", "COPY", "ADD", "FROM") else ([], rest)
        heredocs: list[str] = []
        if cmd in ("RUN", "COPY", "ADD"):
            for hm in _HEREDOC.finditer(args):
                strip_tabs, delim = hm[1] == "-", hm[3]
                body: list[str] = []
                while i < len(lines):
                    cur = lines[i].lstrip("\t") if strip_tabs else lines[i]
                    i += 1
                    if cur == delim:
                        break
                    body.append(cur)
                else:
                    problems.append((start + 1, f"heredoc <<{delim} is never terminated"))
                heredocs.append("\n".join(body))
        out.append(Instruction(cmd, args.strip(), start + 1, i, flags, heredocs))
    return Parsed(out, problems, escape)


# ---------------------------------------------------------------------------------------------
# Images


@dataclass(frozen=True)
class Image:
    """What the doctor knows of a base image from its reference alone."""

    ref: str
    #: True for the official golang images (any registry mirror of ``library/golang``).
    golang: bool = False
    go_version: str = ""
    #: True / False when known, None when the image is not recognised.
    has_git: bool | None = None
    has_go: bool | None = None


_GO_TAG = re.compile(r"^(\d+\.\d+(?:\.\d+)?(?:rc\d+)?)")


def image_facts(ref: str) -> Image:
    """Recognise official golang, alpine, distroless and scratch images by reference."""
    name = ref.partition("@")[0]
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    last = repo.rsplit("/", 1)[-1].lower()
    if last == "golang":
        m = _GO_TAG.match(tag)
        alpine = "alpine" in tag
        return Image(
            ref, golang=True, go_version=m[1] if m else "", has_git=not alpine, has_go=True
        )
    if ref == "scratch" or "distroless" in repo:
        return Image(ref, has_git=False, has_go=False)
    if last in ("alpine", "busybox"):
        return Image(ref, has_git=False, has_go=False)
    return Image(ref)


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Stage:
    """One evaluated build stage."""

    index: int
    name: str
    line: int
    image: Image
    parent: int | None
    #: ENV values at the end of the stage (what child stages inherit).
    env: dict[str, Setting]
    #: ARG values declared in the stage (what child stages inherit).
    args: dict[str, Setting]
    env_file: dict[str, Setting]
    context: Context
    git_installed: bool = False


def _docker_finding(
    code: str, sev: Severity, msg: str, fix: str, file: str, line: int, ctx: str
) -> Finding:
    return Finding(code, sev, msg, fix, file, line, (ctx,))


def evaluate(
    parsed: Parsed,
    file: str,
    build_args: Mapping[str, str] | None = None,
    *,
    has_go_sum: bool = True,
) -> tuple[list[Stage], list[Finding]]:
    """Evaluate every stage of ``parsed``; return the stages and Dockerfile-level findings."""
    build_args = dict(build_args or {})
    esc = parsed.escape
    findings = [
        Finding("X01", Severity.WARN, f"Dockerfile: {msg}", "fix the Dockerfile syntax", file, ln)
        for ln, msg in parsed.problems
    ]
    global_args: dict[str, Setting] = {}
    stages: list[Stage] = []
    cur: Stage | None = None
    first_go_seen = False
    sum_copied = False
    arg_lines_before_download: list[tuple[str, int]] = []
    go_env_snapshot_taken = False

    def vars_of(st: Stage) -> dict[str, str]:
        v = {k: s.value for k, s in st.args.items()}
        v.update({k: s.value for k, s in st.env.items()})
        return v

    def check_refs(st: Stage, text: str, line: int) -> None:
        declared = set(st.args) | set(st.env) | PREDEFINED_ARGS
        for name in dict.fromkeys(_VAR_REF.findall(text)):
            if name in global_args and name not in declared:
                findings.append(
                    _docker_finding(
                        "D01",
                        Severity.WARN,
                        f"global ARG {name} (declared before the first FROM) is read in stage "
                        f"{st.name} without being redeclared there: it expands to an empty string",
                        f"add `ARG {name}` (no value) inside the stage, before its first use",
                        file,
                        line,
                        st.context.name,
                    )
                )

    def snapshot(st: Stage) -> None:
        st.context.env = {**st.args, **st.env}
        st.context.env_file = dict(st.env_file)

    for ins in parsed.instructions:
        if ins.cmd == "FROM":
            if cur is not None and not go_env_snapshot_taken:
                snapshot(cur)
            words = shellwords.split_words(ins.args, esc)
            gvars = {k: s.value for k, s in global_args.items()}
            ref = shellwords.expand(words[0], gvars, esc).text if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            parent = next(
                (s for s in reversed(stages) if s.name.lower() == ref.lower() and ref), None
            )
            ctx_name = f"{file} stage {name}"
            ctx = Context(ctx_name, "docker", file, ins.line)
            if parent is not None:
                image = parent.image
                env, args = dict(parent.env), dict(parent.args)
                env_file, git = dict(parent.env_file), parent.git_installed
            else:
                image = image_facts(ref)
                env, args, env_file, git = {}, {}, {}, False
                if image.golang:
                    # The official images set these with ENV (docker-library/golang).
                    for k, v in (("GOTOOLCHAIN", "local"), ("GOPATH", "/go")):
                        env[k] = Setting(k, v, f"image default ({ref})", file, ins.line)
            ctx.go_version = image.go_version
            ctx.facts.update(
                image=image.ref,
                golang_image=image.golang,
                has_git=image.has_git,
                has_go=image.has_go,
                stage=name,
                parent=parent.name if parent else None,
                parent_runs_go=parent is not None and parent.context.runs_go,
            )
            cur = Stage(
                len(stages),
                name,
                ins.line,
                image,
                parent.index if parent else None,
                env,
                args,
                env_file,
                ctx,
                git,
            )
            stages.append(cur)
            first_go_seen = go_env_snapshot_taken = False
            sum_copied = parent is not None and bool(parent.context.facts.get("go_sum"))
            arg_lines_before_download = []
            continue
        if ins.cmd == "ARG":
            for name, default in shellwords.parse_assignments(ins.args, esc):
                if cur is None:
                    value = build_args.get(name)
                    if value is None and default is not None:
                        value = shellwords.expand(default, {}, esc).text
                    if value is not None or name not in global_args:
                        global_args[name] = Setting(name, value or "", "global ARG", file, ins.line)
                    _check_secret_decl("ARG", name, default, file, ins.line, "global", findings)
                    continue
                vars_ = vars_of(cur)
                if name in build_args:
                    value, src = build_args[name], "--build-arg"
                elif default is not None:
                    value, src = shellwords.expand(default, vars_, esc).text, "ARG"
                elif name in global_args:
                    value, src = global_args[name].value, "global ARG"
                else:
                    value, src = "", "ARG (no value)"
                cur.args[name] = Setting(name, value, src, file, ins.line)
                _check_secret_decl("ARG", name, default, file, ins.line, cur.context.name, findings)
                if not first_go_seen and _PER_BUILD.search(name.upper()):
                    arg_lines_before_download.append((name, ins.line))
            continue
        if cur is None:
            findings.append(
                Finding(
                    "X01",
                    Severity.WARN,
                    f"Dockerfile: {ins.cmd} before the first FROM",
                    "only ARG may come before FROM",
                    file,
                    ins.line,
                )
            )
            continue
        if ins.cmd == "ENV":
            check_refs(cur, ins.args, ins.line)
            pairs = shellwords.parse_assignments(ins.args, esc)
            if pairs and pairs[0][1] is None and len(pairs) > 1:  # legacy `ENV K V rest`
                key, _, rest = ins.args.partition(" ")
                pairs = [(key, rest.strip())]
            vars_ = vars_of(cur)
            for name, raw in pairs:
                value = shellwords.expand(raw or "", vars_, esc).text
                cur.env[name] = Setting(name, value, "ENV", file, ins.line)
                _check_secret_decl("ENV", name, raw, file, ins.line, cur.context.name, findings)
            continue
        if ins.cmd in ("COPY", "ADD"):
            check_refs(cur, ins.args, ins.line)
            words = [w for w in shellwords.split_words(ins.args, esc) if not w.startswith("--")]
            if any(f.startswith("--from=") for f in ins.flags) or any(
                _may_hold_go_sum(w) for w in words[:-1]
            ):
                sum_copied = True
                cur.context.facts["go_sum"] = True
            if any(w.rstrip("/").endswith("go.mod") for w in words[:-1]):
                cur.context.facts.setdefault("copies_go_mod_line", ins.line)
            continue
        if ins.cmd == "RUN":
            script = " ".join([ins.args, *ins.heredocs])
            check_refs(cur, script, ins.line)
            if _GIT_INSTALL.search(script):
                cur.git_installed = True
                cur.context.facts["has_git"] = True
            mounts = [f for f in ins.flags if f.startswith("--mount=")]
            if any("type=secret" in m for m in mounts):
                cur.context.facts["secret_mount"] = True
            if any("type=ssh" in m for m in mounts):
                cur.context.facts["ssh_mount"] = True
            for m in _GO_ENV_W.finditer(script):
                findings.append(
                    _docker_finding(
                        "D08",
                        Severity.WARN,
                        "`RUN go env -w` writes the go env file of the build user's home; it is "
                        "invisible in the Dockerfile's ENV, lost when HOME or the user changes, "
                        "and overridden by any ENV or build environment of the same name",
                        "set the variable with `ENV NAME=value` (or `ARG`) in the stage instead",
                        file,
                        ins.line,
                        cur.context.name,
                    )
                )
                for pair in m[1].split():
                    k, _, v = pair.partition("=")
                    cur.env_file[k] = Setting(k, v.strip("'\""), "go env -w", file, ins.line)
            cmds = [(gm.group(0).strip(" ;&|(`"), ins.line) for gm in GO_COMMAND.finditer(script)]
            cmds = [c for c in cmds if not c[0].split()[-1].startswith("env")]
            if cmds:
                cur.context.go_commands.extend(cmds)
                if not first_go_seen:
                    first_go_seen = go_env_snapshot_taken = True
                    snapshot(cur)
                    cur.context.facts["git_at_go"] = cur.git_installed or bool(cur.image.has_git)
                    _first_go_checks(
                        cur,
                        script,
                        ins,
                        file,
                        has_go_sum,
                        sum_copied,
                        arg_lines_before_download,
                        findings,
                    )
            continue
        if ins.cmd in ("WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME"):
            check_refs(cur, ins.args, ins.line)
    if cur is not None and not go_env_snapshot_taken:
        snapshot(cur)
    return stages, findings


def _may_hold_go_sum(src: str) -> bool:
    s = src.strip("'\"").rstrip("/")
    base = s.rsplit("/", 1)[-1]
    if base == "go.mod":
        return False
    return base in ("go.sum", ".", "*", "go.*", "*.sum", "go.work.sum") or "." not in base


def _first_go_checks(
    st: Stage,
    script: str,
    ins: Instruction,
    file: str,
    has_go_sum: bool,
    sum_copied: bool,
    per_build_args: list[tuple[str, int]],
    findings: list[Finding],
) -> None:
    ctx = st.context.name
    # A child stage shares its parent's files: a missing go.sum was reported there already.
    inherited = st.parent is not None and st.context.facts.get("parent_runs_go")
    if (
        has_go_sum
        and not sum_copied
        and not inherited
        and _NEEDS_SUM.search(script)
        and "go mod tidy" not in script
    ):
        copy_line = st.context.facts.get("copies_go_mod_line")
        findings.append(
            _docker_finding(
                "D04",
                Severity.ERROR,
                "the go command runs before go.sum is copied into the image: with the default "
                "-mod=readonly it fails with `missing go.sum entry`",
                "copy both files first: `COPY go.mod go.sum ./` then `RUN go mod download`",
                file,
                int(copy_line) if isinstance(copy_line, int) else ins.line,
                ctx,
            )
        )
    if "mod download" in script:
        for name, line in per_build_args:
            findings.append(
                _docker_finding(
                    "D05",
                    Severity.WARN,
                    f"ARG {name} changes with every build and is declared before `go mod "
                    "download`: every RUN after an ARG sees it, so each new value re-downloads "
                    "all modules",
                    f"move `ARG {name}` below the `RUN go mod download` line",
                    file,
                    line,
                    ctx,
                )
            )


def _check_secret_decl(
    kind: str, name: str, raw: str | None, file: str, line: int, ctx: str, out: list[Finding]
) -> None:
    if is_secret_name(name) or (raw and has_userinfo(raw)):
        out.append(
            Finding(
                "D03",
                Severity.ERROR,
                f"{kind} {name} carries a secret: {kind} values stay in the image history and "
                "build provenance, readable by anyone who can pull the image",
                "pass it as a build secret: `RUN --mount=type=secret,id=netrc,target=/root/.netrc "
                "go mod download` with `docker build --secret id=netrc,src=$HOME/.netrc`",
                file,
                line,
                (ctx,),
            )
        )
