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

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gomodproxy.doctor import shellscript, shellwords
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.names import GO_KEYS
from gomodproxy.doctor.secretnames import is_plain_value, is_secret_name
from gomodproxy.redact.mask import has_userinfo

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
#: instructions read per file (far more than any real Dockerfile has).
MAX_INSTRUCTIONS = 4096
_HEREDOC = re.compile(r"^<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2$")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_GIT_INSTALL = re.compile(r"\b(apk|apt-get|apt|yum|dnf|microdnf|zypper)\b[^;&|]*\s(git)(\s|$)")
#: names of variables images commonly set with ENV themselves (NODE_VERSION, JAVA_HOME ...).
_IMAGE_SETS = re.compile(
    r"(?:_VERSION|_HOME|_DIR|_PATH|_ROOT)$|^(?:PATH|LANG|LC_ALL|HOME|USER|TZ|SHELL|TERM)$"
)
#: directories of a Go module's own sources: copied under their own name they bring no go.sum.
_SOURCE_DIRS = frozenset(
    [
        "cmd",
        "internal",
        "pkg",
        "api",
        "apis",
        "app",
        "web",
        "ui",
        "static",
        "assets",
        "docs",
        "config",
        "configs",
        "scripts",
        "test",
        "tests",
        "proto",
        "migrations",
        "templates",
        "hack",
        "tools",
        "vendor",
    ]
)
#: tools that run the go command themselves.
_GO_TOOLS = frozenset(["golangci-lint", "goreleaser", "ko", "mage", "gopls", "govulncheck"])
#: ARG names whose value changes with every build.
_PER_BUILD = re.compile(
    r"(^|_)(VERSION|COMMIT|SHA|REVISION|REV|BUILD_DATE|DATE|TIMESTAMP|BUILD_ID|BUILD_NUMBER|"
    r"RUN_ID|PIPELINE_ID|TAG)($|_)"
)


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


def _heredocs(args: str, escape: str) -> list[tuple[bool, str]]:
    """The here-documents an instruction opens: (strip leading tabs, delimiter) of each
    unquoted ``<<WORD``, ``<<-WORD`` or ``<< WORD`` (BuildKit reads them in RUN, COPY, ADD)."""
    words = shellwords.split_words(args, escape)
    out = []
    for i, w in enumerate(words):
        if not w.startswith("<<") or w.startswith("<<<"):
            continue
        if w in ("<<", "<<-") and i + 1 < len(words):
            w = w + words[i + 1]
        m = _HEREDOC.match(w)
        if m:
            out.append((m[1] == "-", m[3]))
    return out


def parse(text: str) -> Parsed:
    """Parse Dockerfile ``text`` into instructions; never raises on bad input."""
    lines = text.removeprefix("\ufeff").splitlines()
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
        if len(out) >= MAX_INSTRUCTIONS:
            problems.append(
                (i + 1, f"more than {MAX_INSTRUCTIONS} instructions; the rest is not read")
            )
            break
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
        m = re.match(r"(\S*)\s*(.*)", joined, re.S)
        word, rest = (m[1], m[2]) if m else ("", "")
        cmd = word.upper()
        if cmd not in INSTRUCTIONS:
            problems.append((start + 1, f"unknown instruction {word[:40]!r}"))
            continue
        flags, args = _split_flags(rest) if cmd in ("RUN", "COPY", "ADD", "FROM") else ([], rest)
        heredocs: list[str] = []
        if cmd in ("RUN", "COPY", "ADD"):
            for strip_tabs, delim in _heredocs(args, escape):
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

#: the longest value an ARG or ENV keeps: longer ones are cut (X01), so that a chain of stages
#: each appending to a value stays linear in the size of the file.
MAX_VALUE = 4096
#: stages evaluated per file; real Dockerfiles have a few dozen, the rest is cut (X01).
MAX_STAGES = 256
#: go subcommands that load the main module's packages and so need go.sum entries.
_NEEDS_SUM = frozenset(["build", "test", "vet", "run", "install", "list", "generate"])
#: go subcommands that write complete go.sum entries.
_WRITES_SUM = frozenset(["mod tidy", "get"])


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
    #: the project's go.sum is among the stage's files.
    has_sum: bool = False
    #: contexts of later go commands that set Go settings of their own (``GOFLAGS=... go``).
    extra: list[Context] = field(default_factory=list)
    #: per-build ARGs declared before the first go command: (name, line).
    per_build_args: list[tuple[str, int]] = field(default_factory=list)
    go_seen: bool = False
    #: line of a `go mod tidy` not yet followed by a build, 0 when none.
    tidy_line: int = 0
    #: the stage changes the module's requirements itself (`go get`).
    edits_requirements: bool = False
    #: the ENV of the stage's base image is known (an official image the doctor recognises).
    image_env_known: bool = False

    @property
    def contexts(self) -> list[Context]:
        """The stage's context and those of go commands with settings of their own."""
        return [self.context, *self.extra]

    def vars(self) -> dict[str, str]:
        """ARG and ENV values as a RUN sees them (ENV wins)."""
        return {**{k: s.value for k, s in self.args.items()}, **self.env_values()}

    def env_values(self) -> dict[str, str]:
        return {k: s.value for k, s in self.env.items()}


def image_env(image: Image, file: str, line: int) -> dict[str, Setting]:
    """The ENV an official image sets (docker-library Dockerfiles), as far as the doctor needs."""
    src = f"image default ({image.ref})"
    out = {"PATH": Setting("PATH", "", src, file, line, known=False)}
    if image.golang:
        out["GOTOOLCHAIN"] = Setting("GOTOOLCHAIN", "local", src, file, line)
        out["GOPATH"] = Setting("GOPATH", "/go", src, file, line)
        out["GOLANG_VERSION"] = Setting(
            "GOLANG_VERSION", image.go_version, src, file, line, known=bool(image.go_version)
        )
    return out


class _Evaluator:
    """Walks the instructions of one Dockerfile, one handler per instruction."""

    def __init__(
        self,
        parsed: Parsed,
        file: str,
        build_args: Mapping[str, str],
        check_sum: bool,
    ) -> None:
        self.parsed, self.file, self.esc = parsed, file, parsed.escape
        self.build_args = dict(build_args)
        self.check_sum = check_sum
        # Docker only warns about an empty continuation line and builds on: a note here.
        self.findings = [
            Finding(
                "X01",
                Severity.INFO if msg.startswith("empty continuation line") else Severity.WARN,
                f"Dockerfile: {msg}",
                "fix the Dockerfile syntax",
                file,
                ln,
            )
            for ln, msg in parsed.problems
        ]
        self.global_args: dict[str, Setting] = {}
        self.global_refs: set[str] = set()
        self.stages: list[Stage] = []
        self.by_name: dict[str, Stage] = {}
        self.cur: Stage | None = None
        self.cut_reported = False
        self.done = False
        self.handlers = {
            "FROM": self.on_from,
            "ARG": self.on_arg,
            "ENV": self.on_env,
            "COPY": self.on_copy,
            "ADD": self.on_copy,
            "RUN": self.on_run,
        }

    def run(self) -> tuple[list[Stage], list[Finding]]:
        for ins in self.parsed.instructions:
            if self.done:
                break
            handler = self.handlers.get(ins.cmd)
            if handler is not None and (self.cur is not None or ins.cmd in ("FROM", "ARG")):
                handler(ins)
            elif self.cur is None:
                self.finding(
                    "X01",
                    Severity.WARN,
                    f"Dockerfile: {ins.cmd} before the first FROM",
                    "only ARG may come before FROM",
                    ins.line,
                    None,
                )
            elif ins.cmd in ("WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME"):
                self.check_refs(self.cur, ins.args, ins.line)
        self.end_stage()
        self.global_args_unused()
        return self.stages, self.findings

    # -- helpers ------------------------------------------------------------------------------

    def finding(
        self, code: str, sev: Severity, msg: str, fix: str, line: int, st: Stage | None
    ) -> None:
        ctx = (st.context.name,) if st is not None else ()
        self.findings.append(Finding(code, sev, msg, fix, self.file, line, ctx))

    def expand(self, raw: str, vars_: Mapping[str, str], name: str, line: int) -> str:
        value = shellwords.expand(raw, vars_, self.esc).text
        if len(value) <= MAX_VALUE:
            return value
        if not self.cut_reported:
            self.cut_reported = True
            self.finding(
                "X01",
                Severity.WARN,
                f"Dockerfile: the value of {name} grows past {MAX_VALUE} bytes; it is cut there",
                "build the value once instead of appending to it stage after stage",
                line,
                self.cur,
            )
        return value[:MAX_VALUE]

    def check_refs(self, st: Stage, text: str, line: int) -> None:
        refs = dict.fromkeys(_VAR_REF.findall(text))
        st.per_build_args = [(n, ln) for n, ln in st.per_build_args if n not in refs]
        declared = set(st.args) | set(st.env) | PREDEFINED_ARGS
        for name in refs:
            if name not in self.global_args or name in declared:
                continue
            if not st.image_env_known and _IMAGE_SETS.search(name):
                continue  # an image the doctor does not know may set it with ENV
            self.global_refs.add(name)
            default = re.search(r"\$\{" + re.escape(name) + r":?-", text)
            what = (
                "it takes the `:-` default written there, whatever --build-arg gives"
                if default
                else "it expands to an empty string, whatever --build-arg gives"
            )
            self.finding(
                "D01",
                Severity.WARN,
                f"global ARG {name} (declared before the first FROM) is read in stage "
                f"{st.name} without being redeclared there: {what}",
                f"add `ARG {name}` (no value) inside the stage, before its first use",
                line,
                st,
            )

    def snapshot(self, st: Stage, extra: Mapping[str, Setting]) -> None:
        st.context.env = {**st.args, **st.env, **extra}
        st.context.env_file = dict(st.env_file)

    def end_stage(self) -> None:
        if self.cur is not None and not self.cur.go_seen:
            self.snapshot(self.cur, {})

    def secret_decl(self, kind: str, name: str, raw: str | None, line: int) -> None:
        named = is_secret_name(name) and (raw is None or not is_plain_value(raw) or raw == "")
        if named or (raw and has_userinfo(raw)):
            self.finding(
                "D03",
                Severity.ERROR,
                f"{kind} {name} carries a secret: {kind} values stay in the image history and "
                "build provenance, readable by anyone who can pull the image",
                "pass it as a build secret: `RUN --mount=type=secret,id=netrc,target=/root/.netrc "
                "go mod download` with `docker build --secret id=netrc,src=$HOME/.netrc`",
                line,
                self.cur,
            )

    # -- instructions -------------------------------------------------------------------------

    def on_from(self, ins: Instruction) -> None:
        self.end_stage()
        if len(self.stages) >= MAX_STAGES:
            self.finding(
                "X01",
                Severity.WARN,
                f"Dockerfile: more than {MAX_STAGES} stages; the stages from line {ins.line} on "
                "are not evaluated",
                "split the build into several Dockerfiles",
                ins.line,
                None,
            )
            self.handlers = {}
            self.cur = None
            self.done = True
            return
        words = shellwords.split_words(ins.args, self.esc)
        gvars = {k: s.value for k, s in self.global_args.items()}
        ref = shellwords.expand(words[0], gvars, self.esc).text if words else ""
        self.global_refs.update(_VAR_REF.findall(words[0]) if words else [])
        name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(self.stages))
        parent = self.by_name.get(ref.lower()) if ref else None
        ctx = Context(f"{self.file} stage {name}", "docker", self.file, ins.line)
        if parent is not None:
            image, env_known = parent.image, parent.image_env_known
            env, args = dict(parent.env), dict(parent.args)
            env_file, git, has_sum = dict(parent.env_file), parent.git_installed, parent.has_sum
        else:
            image = image_facts(ref)
            env_known = image.golang or image.has_go is False
            env, args, env_file = image_env(image, self.file, ins.line), {}, {}
            git, has_sum = False, False
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
        st = Stage(
            len(self.stages),
            name,
            ins.line,
            image,
            parent.index if parent else None,
            env,
            args,
            env_file,
            ctx,
            git,
            has_sum,
        )
        st.image_env_known = env_known
        self.stages.append(st)
        self.by_name[name.lower()] = st
        self.cur = st

    def on_arg(self, ins: Instruction) -> None:
        for name, default in shellwords.parse_assignments(ins.args, self.esc):
            st = self.cur
            if st is None:
                value = self.build_args.get(name)
                if value is None and default is not None:
                    value = self.expand(default, {}, name, ins.line)
                if value is not None or name not in self.global_args:
                    self.global_args[name] = Setting(
                        name, value or "", "global ARG", self.file, ins.line
                    )
                self.secret_decl("ARG", name, default, ins.line)
                continue
            if name in self.build_args:
                value, src = self.build_args[name], "--build-arg"
            elif default is not None:
                value, src = self.expand(default, st.vars(), name, ins.line), "ARG"
            elif name in self.global_args:
                value, src = self.global_args[name].value, "global ARG"
            else:
                value, src = "", "ARG (no value)"
            st.args[name] = Setting(name, value, src, self.file, ins.line)
            self.secret_decl("ARG", name, default, ins.line)
            if not st.go_seen and _PER_BUILD.search(name.upper()):
                st.per_build_args.append((name, ins.line))

    def on_env(self, ins: Instruction) -> None:
        st = self.cur
        assert st is not None
        self.check_refs(st, ins.args, ins.line)
        pairs = shellwords.parse_assignments(ins.args, self.esc)
        if pairs and pairs[0][1] is None and len(pairs) > 1:  # legacy `ENV K V rest`
            key, _, rest = ins.args.partition(" ")
            pairs = [(key, rest.strip())]
        vars_ = st.vars()
        for name, raw in pairs:
            value = self.expand(raw or "", vars_, name, ins.line)
            st.env[name] = Setting(name, value, "ENV", self.file, ins.line)
            self.secret_decl("ENV", name, raw, ins.line)

    def on_copy(self, ins: Instruction) -> None:
        st = self.cur
        assert st is not None
        self.check_refs(st, ins.args, ins.line)
        if any(f.startswith("--from=") for f in ins.flags):
            st.has_sum = True  # files of another stage or image: assume they are complete
            return
        if ins.cmd == "ADD" and re.search(r"://|^git@", ins.args.strip()):
            st.has_sum = True  # a git repository or archive brings its own go.sum
            return
        words = copy_sources(ins.args, self.esc)
        srcs, dest = words[:-1], (words[-1] if words else "").rstrip("/")
        if any(_may_hold_go_sum(w, dest) for w in srcs):
            st.has_sum = True
        if any(w.rstrip("/").endswith("go.mod") for w in srcs):
            st.context.facts.setdefault("copies_go_mod_line", ins.line)

    def on_run(self, ins: Instruction) -> None:
        st = self.cur
        assert st is not None
        self.check_refs(st, " ".join([ins.args, *ins.heredocs]), ins.line)
        st.context.facts["runs"] = True
        mounts = [f for f in ins.flags if f.startswith("--mount=")]
        if any("type=secret" in m for m in mounts):
            st.context.facts["secret_mount"] = True
        if any("type=ssh" in m for m in mounts):
            st.context.facts["ssh_mount"] = True
        mount_env = {n for m in mounts for n in re.findall(r"(?:^|,)env=([A-Za-z_]\w*)", m[8:])}
        scripts = [(ins.args, ins.line)]
        scripts += [(body, ins.line + 1) for body in ins.heredocs]
        for script, base in scripts:
            if _GIT_INSTALL.search(script):
                st.git_installed = True
                st.context.facts["has_git"] = True
            self.run_script(st, script, base, mounts, mount_env)

    def run_script(
        self, st: Stage, script: str, base: int, mounts: list[str], mount_env: set[str]
    ) -> None:
        sum_mounted = any(_mount_holds_go_sum(m) for m in mounts)
        local: dict[str, Setting] = {}  # exported inside this RUN
        shell_vars: set[str] = set(mount_env)
        for cmd in shellscript.commands(script):
            line = base + cmd.line if base != 0 else 0
            vars_ = {**st.vars(), **{k: s.value for k, s in local.items()}}
            self.undeclared_credentials(st, cmd, vars_, shell_vars, line)
            shell_vars |= shellscript.assigned(cmd)
            for k, raw in shellscript.exported(cmd):
                local[k] = self.script_setting(k, raw, vars_, "export in RUN", line)
            writes = shellscript.go_env_writes(cmd)
            if writes:
                self.go_env_w(st, writes, vars_, line)
                continue
            if cmd.name == "git" and cmd.word(1) in ("clone", "fetch", "pull"):
                st.has_sum = True  # sources (with their go.sum) come from the repository
            if cmd.name in _GO_TOOLS:
                st.context.go_commands.append((cmd.text(), line))
            sub = cmd.go_subcommand()
            if not sub:
                continue
            st.context.go_commands.append((cmd.text(), line))
            if not cmd.fetches():
                continue
            in_module = not any("@" in w and not w.startswith("-") for w in cmd.words[2:])
            if in_module:
                st.context.facts["module_go"] = True
            if sub == "get":
                st.edits_requirements = True  # a tidy after `go get` is needed, not a shortcut
            elif sub == "mod tidy" and not st.edits_requirements:
                st.tidy_line = st.tidy_line or line
            elif sub in ("build", "install") and in_module and st.tidy_line:
                self.tidy_in_build(st, st.tidy_line)
                st.tidy_line = 0
            inline = {
                k: self.script_setting(k, raw, vars_, "inline assignment", line)
                for k, raw in cmd.assigns
            }
            own = {**local, **inline}
            if not st.go_seen:
                st.go_seen = True
                self.snapshot(st, own)
                st.context.facts["git_at_go"] = st.git_installed or bool(st.image.has_git)
                if sub == "mod download" and not any(_caches_modules(m) for m in mounts):
                    self.per_build_args(st, line)
            elif any(k in GO_KEYS for k in own):
                ctx = Context(f"{st.context.name} line {line}", "docker", self.file, line)
                ctx.env = {**st.args, **st.env, **own}
                ctx.env_file = dict(st.env_file)
                ctx.go_commands = [(cmd.text(), line)]
                ctx.go_version = st.context.go_version
                ctx.facts = dict(st.context.facts)
                st.extra.append(ctx)
            self.go_sum_check(st, cmd, sub, own, line, sum_mounted)

    def script_setting(
        self, key: str, raw: str, vars_: Mapping[str, str], src: str, line: int
    ) -> Setting:
        exp = shellwords.expand(raw, vars_, self.esc)
        known = "$(" not in raw and "`" not in raw
        return Setting(key, exp.text[:MAX_VALUE], src, self.file, line, known)

    def go_env_w(
        self, st: Stage, writes: list[tuple[str, str]], vars_: Mapping[str, str], line: int
    ) -> None:
        hidden = [
            (k, st.env.get(k) or st.args[k]) for k, _ in writes if k in st.env or k in st.args
        ]
        if hidden:
            k, s = hidden[0]
            self.finding(
                "D08",
                Severity.WARN,
                f"`RUN go env -w {k}=...` never takes effect: {k} is also set by {s.source} "
                f"(line {s.line}), and the environment wins over the go env file",
                f"set {k} with `ENV {k}=...` instead",
                line,
                st,
            )
        else:
            self.finding(
                "D08",
                Severity.INFO,
                "`RUN go env -w` writes the go env file of the build user's home: invisible in "
                "the Dockerfile's ENV, lost when HOME or the user changes, and overridden by any "
                "ENV or build environment of the same name",
                "set the variable with `ENV NAME=value` (or `ARG`) in the stage instead",
                line,
                st,
            )
        for k, raw in writes:
            st.env_file[k] = self.script_setting(k, raw, vars_, "go env -w", line)

    def tidy_in_build(self, st: Stage, line: int) -> None:
        self.finding(
            "D10",
            Severity.WARN,
            "`go mod tidy` runs inside the image build before the build: the image is built "
            "from requirements "
            "resolved at build time instead of the committed go.mod and go.sum, and an untidy "
            "go.mod is hidden instead of failing the build",
            "run `go mod download` and a -mod=readonly build in the image; check tidiness in CI "
            "with `go mod tidy -diff`",
            line,
            st,
        )

    def per_build_args(self, st: Stage, line: int) -> None:
        for name, arg_line in st.per_build_args:
            self.finding(
                "D05",
                Severity.WARN,
                f"ARG {name} changes with every build and is declared before `go mod "
                "download`: every RUN after an ARG sees it, so each new value re-downloads "
                "all modules",
                f"move `ARG {name}` below the `RUN go mod download` line",
                arg_line,
                st,
            )

    def go_sum_check(
        self,
        st: Stage,
        cmd: shellscript.Command,
        sub: str,
        own: Mapping[str, Setting],
        line: int,
        sum_mounted: bool,
    ) -> None:
        """D04: a go command that needs go.sum runs while the project's go.sum is not there."""
        words = [cmd.word(i) for i in range(2, len(cmd.words))]
        flags = own.get("GOFLAGS") or st.env.get("GOFLAGS") or st.args.get("GOFLAGS")
        mod_mod = "-mod=mod" in words or (flags is not None and "-mod=mod" in flags.value)
        if sub in _WRITES_SUM or mod_mod:
            st.has_sum = True
            return
        if not self.check_sum or st.has_sum or sum_mounted:
            return
        outside_module = any("@" in w and not w.startswith("-") for w in words)
        copy_line = st.context.facts.get("copies_go_mod_line")
        at_line = int(copy_line) if isinstance(copy_line, int) else line
        if sub == "mod download" and not st.context.facts.get("sum_download_reported"):
            st.context.facts["sum_download_reported"] = True
            self.finding(
                "D04",
                Severity.INFO,
                "`go mod download` runs before go.sum is copied: it succeeds, but checks the "
                "modules against the checksum database instead of the committed go.sum and "
                "writes a go.sum of its own holding only go.mod hashes; the committed go.sum "
                "is compared only when a later build loads the modules",
                "copy both files first: `COPY go.mod go.sum ./` then `RUN go mod download`",
                at_line,
                st,
            )
        elif sub in _NEEDS_SUM and not outside_module:
            self.finding(
                "D04",
                Severity.ERROR,
                f"`go {sub}` runs while the project's go.sum is not in the image"
                + (" (only go.mod was copied)" if isinstance(copy_line, int) else "")
                + ": with the default -mod=readonly it fails with `missing go.sum entry`, even "
                "after a `go mod download`",
                "copy go.sum too (`COPY go.mod go.sum ./`), or the whole source before building",
                line,
                st,
            )
            st.has_sum = True  # one report per stage

    def undeclared_credentials(
        self,
        st: Stage,
        cmd: shellscript.Command,
        vars_: Mapping[str, str],
        shell_vars: set[str],
        line: int,
    ) -> None:
        """C07: ``https://${TOKEN}@host`` with TOKEN declared nowhere expands to nothing."""
        for name in shellscript.credential_refs(cmd):
            if name in vars_ or name in shell_vars or name in PREDEFINED_ARGS:
                continue
            self.finding(
                "C07",
                Severity.WARN,
                f"${name} is used in a URL's credentials but is not declared in stage "
                f"{st.name} (no ARG, ENV or secret mount env=): it expands to an empty "
                "string and the fetch runs without credentials",
                f"mount it as a build secret: `RUN --mount=type=secret,id={name.lower()},"
                f"env={name} ...` with `docker build --secret id={name.lower()},env={name}`",
                line,
                st,
            )

    def global_args_unused(self) -> None:
        """D09: a global ARG named like a Go setting that no go-running stage redeclares."""
        for name, s in self.global_args.items():
            if name not in GO_KEYS or name in self.global_refs:
                continue
            lacking = [
                st
                for st in self.stages
                if st.context.runs_go and name not in st.args and name not in st.env
            ]
            if lacking:
                self.findings.append(
                    Finding(
                        "D09",
                        Severity.WARN,
                        f"global ARG {name} (declared before the first FROM) never reaches the "
                        f"go command: stage {lacking[0].name} runs go without it, because a "
                        "global ARG is only visible in FROM lines (also when set with "
                        "--build-arg)",
                        f"redeclare `ARG {name}` (no value) inside the stage that runs go",
                        self.file,
                        s.line,
                        tuple(st.context.name for st in lacking),
                    )
                )


def evaluate(
    parsed: Parsed,
    file: str,
    build_args: Mapping[str, str] | None = None,
    *,
    has_go_sum: bool = True,
    requires: bool = True,
) -> tuple[list[Stage], list[Finding]]:
    """Evaluate every stage of ``parsed``; return the stages and Dockerfile-level findings.
    ``has_go_sum`` and ``requires`` tell whether the project has a go.sum and go.mod requires
    any module (without both, no go.sum can be missing)."""
    return _Evaluator(parsed, file, build_args or {}, has_go_sum and requires).run()


def copy_sources(args: str, escape: str = "\\") -> list[str]:
    """The sources and destination of a COPY/ADD, quotes removed (JSON form too)."""
    text = args.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return list(words)
    return [shellwords.expand(w, None, escape).text for w in shellwords.split_words(text, escape)]


def _may_hold_go_sum(src: str, dest: str = ".") -> bool:
    """True when copying ``src`` to ``dest`` may put the module's go.sum in place: go.sum
    itself, a glob matching it, the whole context, or a directory (it may be a module) — not
    a source directory of the module copied under its own name (``COPY cmd/ ./cmd/``)."""
    s = src.rstrip("/")
    base = s.rsplit("/", 1)[-1]
    if base == "go.mod":
        return False
    if any(c in base for c in "*?["):
        return fnmatch.fnmatchcase("go.sum", base)
    if base in ("go.sum", ".", "", "go.work.sum"):
        return True
    return "." not in base and not (base in _SOURCE_DIRS and dest.endswith(base))


def _mount_options(mount: str) -> dict[str, str]:
    return dict(o.partition("=")[::2] for o in mount.removeprefix("--mount=").split(","))


def _caches_modules(mount: str) -> bool:
    """A cache mount on the module cache: a new layer finds the modules already there."""
    opts = _mount_options(mount)
    target = opts.get("target", opts.get("dst", opts.get("destination", "")))
    return opts.get("type") == "cache" and ("/pkg/mod" in target or "GOMODCACHE" in target)


def _mount_holds_go_sum(mount: str) -> bool:
    """A ``--mount=type=bind`` that puts the build context's go.sum (or all of it) in place."""
    opts = _mount_options(mount)
    if opts.get("type", "bind") != "bind" or "from" in opts:
        return False
    src = opts.get("source", opts.get("src", "."))
    return _may_hold_go_sum(src or ".")
