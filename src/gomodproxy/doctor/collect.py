"""Collectors: the doctor's only I/O. Files, the environment and ``go env -json`` → contexts.

Every read goes through :func:`read_text`, which turns unreadable, oversized or binary files
into X01 findings instead of exceptions: the doctor never crashes on a user's file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gomodproxy.doctor import dockerfile, github, gitlab
from gomodproxy.doctor.model import Context, Finding, Setting, Severity
from gomodproxy.doctor.system import (
    parse_environment_file,
    parse_etc_environment,
    parse_go_env_file,
    parse_profile_script,
    parse_unit,
)
from gomodproxy.doctor.yamlsrc import LMap, LSeq, YamlProblem, load
from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.goenv import env_file_path
from gomodproxy.gomod.modfile import ModFileError, parse_gomod

MAX_BYTES = 2 << 20
#: directories never searched for Dockerfiles and CI files (tools, caches, dependencies).
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "vendor",
    "testdata",
    ".venv",
    "__pycache__",
    ".tox",
    ".cache",
    "fixtures",
}
#: files named like Dockerfiles that are not (``Dockerfile.release.dockerignore`` is BuildKit's
#: ignore file for ``Dockerfile.release``).
_NOT_DOCKERFILE = re.compile(r"\.(?:dockerignore|md|txt|sh|ya?ml|json|bak|orig|rej|swp|patch)$")
#: bounds of the directory walk: deep monorepos are read, a pathological tree is cut (X01).
_MAX_DEPTH = 16
_MAX_FILES = 50000
_DOCKERFILE = re.compile(
    r"^(?:Dockerfile|Containerfile)(?:[.\-_].+)?$|[.\-_](?:Dockerfile|dockerfile|Containerfile)$"
)
#: ExecStart words of services that run the go command (CI runners, build agents, ourselves).
_GO_SERVICES = re.compile(
    r"(?:^|[/\s])(?:go\s|gitlab-runner|Runner\.Listener|runsvc\.sh|buildkite-agent|jenkins|"
    r"woodpecker-agent|drone-runner|gomodproxy|athens)"
)
_GOMOD_GO = re.compile(r"^go\s+(\S+)", re.M)


@dataclass
class Options:
    """What ``gomodproxy doctor`` was asked to look at."""

    paths: list[Path] = field(default_factory=lambda: [Path(".")])
    #: system files (/etc, the user's go env file) are read under this directory.
    root: Path = Path("/")
    #: the process environment, or the variables of ``--env-file``.
    env: Mapping[str, str] = field(default_factory=dict)
    #: where ``env`` came from when it is a file (for file and line in findings).
    env_file: Path | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    #: run ``go env -json`` when a go command is on PATH.
    run_go: bool = True


@dataclass
class Collected:
    """Contexts and the findings met while reading."""

    contexts: list[Context] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _x01(file: Path | str, line: int, msg: str) -> Finding:
    return Finding("X01", Severity.WARN, msg, "fix or remove the file", str(file), line)


def read_text(path: Path, out: Collected) -> str | None:
    """The text of ``path``, or None with an X01 finding when it cannot be used."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        out.findings.append(_x01(path, 0, f"cannot read {path}: {exc.strerror or exc}"))
        return None
    if len(data) > MAX_BYTES:
        out.findings.append(_x01(path, 0, f"{path} is larger than {MAX_BYTES} bytes; skipped"))
        return None
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        out.findings.append(_x01(path, line, f"{path} is a binary file (NUL byte); skipped"))
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        out.findings.append(_x01(path, line, f"{path} is not UTF-8 text; skipped"))
        return None


def _under(root: Path, path: str) -> Path:
    return root / path.lstrip("/") if str(root) != "/" else Path(path)


# ---------------------------------------------------------------------------------------------
# The shell


def _env_settings(opts: Options) -> dict[str, Setting]:
    if opts.env_file is None:
        return {k: Setting(k, v, "environment") for k, v in opts.env.items()}
    out: dict[str, Setting] = {}
    lines = _line_index(opts.env_file)
    for k, v in opts.env.items():
        out[k] = Setting(k, v, "--env-file", str(opts.env_file), lines.get(k, 0))
    return out


def _line_index(path: Path) -> dict[str, int]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        key = line.removeprefix("export ").partition("=")[0].strip()
        out.setdefault(key, n)
    return out


def read_env_file(path: Path) -> dict[str, str]:
    """Variables of a ``--env-file`` (``KEY=VALUE`` lines, optional quotes and ``export``).

    Raises:
        InvalidInput: the file cannot be read.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read --env-file {path}: {exc}") from exc
    return {k: s.value for k, s in parse_etc_environment(text, str(path)).items()}


def go_env_json(env: Mapping[str, str]) -> dict[str, str] | None:
    """``go env -json`` run with ``env``, or None when no go command is found or it fails."""
    go = shutil.which("go", path=env.get("PATH") or os.environ.get("PATH"))
    if go is None:
        return None
    full = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), **env}
    try:
        res = subprocess.run(
            [go, "env", "-json"], env=full, capture_output=True, timeout=20, check=False
        )
        data = json.loads(res.stdout or b"{}")
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def collect_shell(opts: Options, out: Collected) -> Context:
    """The context of the shell the doctor runs in (or of ``--env-file``)."""
    ctx = Context("shell", "shell", str(opts.env_file or ""), 0)
    ctx.env = _env_settings(opts)
    env = dict(opts.env)
    goenv = go_env_json(env) if opts.run_go else None
    if goenv is not None:
        if str(opts.root) == "/":  # under --root, go reads other files than the doctor
            ctx.facts["go_env"] = goenv
        ctx.go_version = goenv.get("GOVERSION", "").removeprefix("go").split(" ")[0]
        ctx.go_commands.append(("go env -json", 0))
    if env.get("GOENV") != "off":
        try:
            user_file = _under(opts.root, env_file_path(env))
        except InvalidInput:
            user_file = None
        if user_file is not None and user_file.is_file():
            text = read_text(user_file, out)
            if text is not None:
                ctx.env_file = parse_go_env_file(text, str(user_file), "user go env file")
    if env.get("GOROOT"):
        path: Path | None = _under(opts.root, env["GOROOT"]) / "go.env"
    elif goenv and goenv.get("GOROOT"):
        path = Path(goenv["GOROOT"]) / "go.env"
    else:
        path = None
    if path is not None:
        ctx.goroot_known = True
        if path.is_file():
            text = read_text(path, out)
            if text is not None:
                ctx.goroot_env = parse_go_env_file(text, str(path), "$GOROOT/go.env")
        ctx.facts["goroot_env_file"] = str(path)
    return ctx


# ---------------------------------------------------------------------------------------------
# System files


def collect_system(opts: Options, out: Collected) -> None:
    """Contexts of /etc/environment, /etc/profile.d and systemd units under ``opts.root``."""
    etc = _under(opts.root, "/etc")
    values: dict[str, str] = {}
    env_file = etc / "environment"
    if env_file.is_file() and (text := read_text(env_file, out)) is not None:
        ctx = Context(str(env_file), "profile", str(env_file), 1)
        ctx.env = parse_etc_environment(text, str(env_file))
        values.update({k: s.value for k, s in ctx.env.items()})
        if _has_go_settings(ctx.env):
            out.contexts.append(ctx)
    prof = etc / "profile.d"
    scripts = sorted(prof.glob("*.sh")) if prof.is_dir() else []
    exported: dict[str, Setting] = {}
    for script in scripts:
        if (text := read_text(script, out)) is not None:
            got = parse_profile_script(text, str(script), values)
            exported.update(got)
            values.update({k: s.value for k, s in got.items()})
    if _has_go_settings(exported):
        ctx = Context(str(prof), "profile", str(prof), 0)
        ctx.env = exported
        out.contexts.append(ctx)
    for name, files in _unit_files(opts.root).items():
        texts = [(str(f), t) for f in files if (t := read_text(f, out)) is not None]
        if not texts:
            continue
        unit = parse_unit(name, texts)
        for file, line, msg in unit.problems:
            out.findings.append(_x01(file, line, f"systemd unit {name}: {msg}"))
        env: dict[str, Setting] = {}
        for path, optional, file, line in unit.env_files:
            p = _under(opts.root, path)
            if not p.is_file():
                if not optional:
                    out.findings.append(
                        _x01(file, line, f"EnvironmentFile={path} does not exist: {name} fails")
                    )
                continue
            if (t := read_text(p, out)) is not None:
                env.update(parse_environment_file(t, str(p)))
        env.update(unit.env)
        runs_go = [(line, n) for line, n in unit.exec_lines if _GO_SERVICES.search(" " + line)]
        if not runs_go and not _has_go_settings(env):
            continue
        ctx = Context(f"systemd {name}", "systemd", unit.file, unit.line or 1)
        ctx.env = env
        ctx.go_commands = runs_go
        ctx.facts["unit"] = name
        out.contexts.append(ctx)


def _has_go_settings(env: Mapping[str, Setting]) -> bool:
    return any(k.startswith("GO") for k in env)


def _unit_files(root: Path) -> dict[str, list[Path]]:
    """Unit files by name, each followed by its drop-ins sorted by file name (systemd order:
    /etc overrides /run overrides /usr/lib and /lib)."""
    dirs = [
        _under(root, d)
        for d in ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
    ]
    units: dict[str, list[Path]] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.service")):
            if f.name not in units and f.is_file():
                units[f.name] = [f]
    for name, files in units.items():
        dropins: dict[str, Path] = {}
        for d in reversed(dirs):
            dd = d / f"{name}.d"
            if dd.is_dir():
                dropins.update({c.name: c for c in dd.glob("*.conf")})
        files.extend(dropins[k] for k in sorted(dropins))
    return units


# ---------------------------------------------------------------------------------------------
# Projects


@dataclass
class Project:
    """Facts of one project directory, given to each of its contexts."""

    root: Path
    facts: dict[str, object] = field(default_factory=dict)


def _project(root: Path, out: Collected) -> Project:
    proj = Project(root)
    gomod = root / "go.mod"
    if _is_file_inside(gomod, root) and (text := read_text(gomod, out)) is not None:
        proj.facts["gomod_file"] = str(gomod)
        try:
            mf = parse_gomod(text, strict=True, filename=str(gomod))  # the main module
        except ModFileError as exc:
            m = re.match(r"[^:]*:(\d+)", exc.errors[0] if exc.errors else "")
            out.findings.append(_x01(gomod, int(m[1]) if m else 0, f"go.mod: {exc.errors[0]}"))
            mf = None
        if mf is not None and mf.go:
            proj.facts["gomod_go"] = mf.go
            m = _GOMOD_GO.search(text)
            proj.facts["gomod_go_line"] = text[: m.start()].count("\n") + 1 if m else 0
        if mf is not None and mf.module:
            proj.facts["gomod_module"] = mf.module
        if mf is not None and mf.toolchain:
            proj.facts["gomod_toolchain"] = mf.toolchain
        proj.facts["gomod_requires"] = mf is None or bool(mf.require)
        proj.facts["has_go_sum"] = (root / "go.sum").is_file()
        proj.facts["vendor_modules_txt"] = (root / "vendor" / "modules.txt").is_file()
    return proj


class _Projects:
    """The module a file belongs to: the nearest directory with a go.mod, from the file's
    own directory up to the checked root (a nested module has its own go.mod and go.sum)."""

    def __init__(self, top: Path, out: Collected) -> None:
        self.top, self.out = top, out
        self.cache: dict[Path, Project] = {}

    def of(self, f: Path) -> Project:
        d = f.parent
        while (
            d != self.top and self.top in d.parents and not _is_file_inside(d / "go.mod", self.top)
        ):
            d = d.parent
        if d != self.top and self.top not in d.parents:
            d = self.top
        if d not in self.cache:
            self.cache[d] = _project(d, self.out)
        return self.cache[d]


def _is_file_inside(path: Path, top: Path) -> bool:
    """True when ``path`` is a regular file that resolves inside ``top`` (a symlink pointing
    out of the checked tree is never read)."""
    try:
        real = path.resolve(strict=True)
        return real.is_file() and real.is_relative_to(top.resolve())
    except (OSError, RuntimeError):
        return False


def _skipped(name: str) -> bool:
    """Directories of tools and dependencies, and of test inputs (fixtures, testdata,
    BuildKit's testfiles*): their Dockerfiles are odd on purpose."""
    low = name.lower()
    return name in _SKIP_DIRS or low.startswith(("testfile", "testdata", "fixture", "__fixture"))


def _walk(root: Path, out: Collected) -> Iterator[Path]:
    """Files under ``root`` (hidden directories too), without following symlinked directories
    and without symlinked files that point out of ``root``."""
    top = root.resolve()
    stack: list[tuple[Path, int]] = [(root, 0)]
    seen = 0
    while stack:
        d, depth = stack.pop()
        try:
            entries = sorted(d.iterdir(), reverse=True)
        except OSError:
            continue
        for e in entries:
            seen += 1
            if seen > _MAX_FILES:
                out.findings.append(
                    _x01(
                        root, 0, f"more than {_MAX_FILES} files under {root}; the rest is not read"
                    )
                )
                return
            if e.is_symlink():
                if _is_file_inside(e, top):
                    yield e
            elif e.is_dir():
                if depth < _MAX_DEPTH and not _skipped(e.name):
                    stack.append((e, depth + 1))
            elif e.is_file():
                yield e


def collect_project(path: Path, opts: Options, out: Collected) -> None:
    """Contexts of the Dockerfiles and CI files of one project directory (or one file)."""
    if path.is_file():
        root, files = path.parent, [path]
    elif path.is_dir():
        root = path
        files = sorted(_walk(path, out))
    else:
        out.findings.append(_x01(path, 0, f"{path} does not exist"))
        return
    projects = _Projects(root, out)
    projects.of(root / "go.mod")  # the checked module's go.mod is read even without CI files
    for f in files:
        start = len(out.contexts)
        if _DOCKERFILE.search(f.name) and not _NOT_DOCKERFILE.search(f.name):
            _dockerfile(f, opts, projects.of(f), out)
        elif f.parent.name == "workflows" and f.parent.parent.name == ".github":
            if f.suffix in (".yml", ".yaml"):
                _workflow(f, out)
        elif f.name == ".gitlab-ci.yml" or (path.is_file() and f.name.endswith("gitlab-ci.yml")):
            _gitlab(f, root, out)
        else:
            continue
        facts = {**projects.of(f).facts, "file_refs": _references(f)}
        for ctx in out.contexts[start:]:
            for k, v in facts.items():
                ctx.facts.setdefault(k, v)


_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)|\benv\.([A-Za-z_][A-Za-z0-9_]*)")


def _references(f: Path) -> frozenset[str]:
    """Names of the variables a file reads (``$X``, ``${X}``, ``${{ env.X }}``)."""
    text = read_text(f, Collected()) or ""
    return frozenset(a or b for a, b in _REFERENCE.findall(text))


def _dockerfile(f: Path, opts: Options, proj: Project, out: Collected) -> None:
    text = read_text(f, out)
    if text is None:
        return
    parsed = dockerfile.parse(text)
    stages, findings = dockerfile.evaluate(
        parsed,
        str(f),
        opts.build_args,
        has_go_sum=bool(proj.facts.get("has_go_sum", False)),
        requires=bool(proj.facts.get("gomod_requires", False)),
    )
    out.contexts.extend(c for s in stages for c in s.contexts)
    out.findings.extend(findings)


def _load_yaml(f: Path, out: Collected) -> Any:
    text = read_text(f, out)
    if text is None:
        return None
    try:
        return load(text)
    except YamlProblem as exc:
        out.findings.append(_x01(f, exc.line, f"YAML syntax error: {exc}"))
        return None


def _workflow(f: Path, out: Collected) -> None:
    data = _load_yaml(f, out)
    if data is None:
        return
    contexts, findings = github.analyze(data, str(f))
    out.contexts.extend(contexts)
    out.findings.extend(findings)


def _gitlab(f: Path, root: Path, out: Collected) -> None:
    docs: list[tuple[str, object]] = []
    _gitlab_docs(f, root, out, docs, set())
    if docs:
        contexts, findings = gitlab.analyze(docs)
        out.contexts.extend(contexts)
        out.findings.extend(findings)


def _gitlab_docs(
    f: Path, root: Path, out: Collected, docs: list[tuple[str, object]], seen: set[Path]
) -> None:
    """Append ``f``'s local includes (recursively), then ``f`` itself."""
    if f in seen or len(seen) > 50:
        return
    seen.add(f)
    data = _load_yaml(f, out)
    if data is None:
        return
    inc = data.get("include") if isinstance(data, LMap) else None
    items = inc if isinstance(inc, LSeq) else [inc] if inc is not None else []
    for n, item in enumerate(items):
        line = inc.item_lines[n] if isinstance(inc, LSeq) else data.line_of("include")
        local = item.get("local") if isinstance(item, LMap) else item
        if isinstance(item, LMap) and "local" not in item:
            kind = next(iter(item), "include")
            out.findings.append(
                Finding(
                    "X01",
                    Severity.INFO,
                    f"include `{kind}` is not read by the doctor; "
                    "its variables and jobs are not analysed",
                    "run the doctor on the included project too",
                    str(f),
                    line,
                )
            )
            continue
        if not isinstance(local, str) or "://" in local:
            continue
        target = root / local.lstrip("/")
        targets = sorted(root.glob(local.lstrip("/"))) if "*" in local else [target]
        for t in targets:
            if _is_file_inside(t, root):
                _gitlab_docs(t, root, out, docs, seen)
            elif t.exists() or t.is_symlink():
                out.findings.append(
                    _x01(f, line, f"include {local} is outside {root}; the doctor does not read it")
                )
            else:
                out.findings.append(_x01(f, line, f"include {local} does not exist"))
    docs.append((str(f), data))


def collect(opts: Options) -> Collected:
    """Every context the doctor can see, and the problems met reading them."""
    out = Collected()
    out.contexts.append(collect_shell(opts, out))
    collect_system(opts, out)
    for p in opts.paths:
        collect_project(p, opts, out)
    return out
