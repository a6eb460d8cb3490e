"""Precision and recall of ``gomodproxy doctor`` on the CI and Docker files of public Go projects.

The projects, their pinned commits and the hand-judged verdict of every warn/error finding are
in ``tools/doctor_realworld.json`` (facts only: no file of theirs is committed). Their files are
read from snapshots outside the repository:

    python tools/doctor_realworld.py extract   # bare git dirs -> one tree per project
    python tools/doctor_realworld.py           # run the doctor, match findings, print numbers

``extract`` takes each project's pinned commit from a bare git directory
(``MIRRORS/<owner>+<name>/repo``, as the search tool's fetch leaves it, or ``<owner>+<name>``,
or ``<name>.git``) and writes the files the doctor may read — Dockerfiles and Containerfiles
anywhere, GitHub workflow and action files, GitLab CI files, go.mod/go.sum/go.work,
vendor/modules.txt, .dockerignore — with ``git archive`` into ``SNAPSHOTS/<project>/``.

The run calls the doctor's command line on each snapshot with an empty ``--root``, an empty
``--env-file`` and ``--no-go``, so nothing of this machine enters the result. A finding matches
a manifest verdict by code, file and line (and the verdict's ``match`` text, when given, in its
message). Precision = warn+error findings judged right / warn+error findings judged; recall =
known problems with a right finding / known problems. Findings without a verdict are listed
and make the exit status 1: a new finding must be judged before the numbers mean anything.
Without any snapshot the command says so and exits 0.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).with_name("doctor_realworld.json")
DEFAULT_SNAPSHOTS = os.environ.get("DOCTOR_REALWORLD_SNAPSHOTS", "/work/snapshots")
DEFAULT_MIRRORS = os.environ.get("DOCTOR_REALWORLD_MIRRORS", "/work/.mirror")

#: Paths whose files the doctor reads or may read (discovery changes; extract generously).
_WANTED = re.compile(
    r"(?ix)(?:^|/)(?:"
    r"[^/]*(?:docker|container)file[^/]*"  # Dockerfile, Dockerfile.x, x.Dockerfile, Dockerfile-y
    r"|\.dockerignore"
    r"|go\.mod|go\.sum|go\.work|vendor/modules\.txt"
    r"|[^/]*gitlab-ci[^/]*\.ya?ml"
    r")$"
    r"|^\.github/(?:workflows|actions)/.*\.ya?ml$"
    r"|^\.gitlab/.*\.ya?ml$"
)
#: In projects with GitLab CI, local includes can be any YAML file.
_YAML = re.compile(r"(?i)\.ya?ml$")
_COUNTED = ("warn", "error")


@dataclass
class Verdict:
    """One hand-judged finding of the manifest."""

    code: str
    file: str
    line: int
    verdict: str
    reason: str
    match: str = ""
    problem: str = ""
    used: bool = False

    def fits(self, f: Finding) -> bool:
        return (
            self.code == f.code
            and self.file == f.file
            and self.line == f.line
            and (not self.match or self.match in f.message)
        )


@dataclass(frozen=True)
class Finding:
    """A doctor finding, its file relative to the snapshot."""

    code: str
    severity: str
    file: str
    line: int
    message: str

    def where(self) -> str:
        return f"{self.code} {self.severity} {self.file}:{self.line}"


@dataclass
class Project:
    """A manifest project."""

    name: str
    repository: str
    commit: str
    verdicts: list[Verdict] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class Score:
    """Counts of one project (or of all)."""

    right: int = 0
    wrong: int = 0
    unjudged: int = 0
    known: int = 0
    found: int = 0
    #: code -> [right, wrong, unjudged]
    codes: dict[str, list[int]] = field(default_factory=dict)

    def count(self, code: str, column: int) -> None:
        self.codes.setdefault(code, [0, 0, 0])[column] += 1

    def add(self, other: Score) -> None:
        self.right += other.right
        self.wrong += other.wrong
        self.unjudged += other.unjudged
        self.known += other.known
        self.found += other.found
        for code, counts in other.codes.items():
            mine = self.codes.setdefault(code, [0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n

    def line(self) -> str:
        judged = self.right + self.wrong
        prec = f"{100 * self.right / judged:5.1f}%" if judged else "    -"
        rec = f"{100 * self.found / self.known:5.1f}%" if self.known else "    -"
        extra = f"  unjudged {self.unjudged}" if self.unjudged else ""
        return (
            f"precision {prec} ({self.right}/{judged})  "
            f"recall {rec} ({self.found}/{self.known}){extra}"
        )


def load_manifest(path: Path) -> list[Project]:
    """The projects of the manifest.

    Raises:
        ValueError: an entry lacks a field or has a bad verdict.
    """
    doc: Any = json.loads(path.read_text())
    out: list[Project] = []
    for p in doc["projects"]:
        proj = Project(p["project"], p["repository"], p["commit"])
        proj.problems = {q["id"]: q["what"] for q in p.get("problems", [])}
        for v in p.get("findings", []):
            if v["verdict"] not in ("right", "wrong"):
                raise ValueError(f"{proj.name}: verdict must be right or wrong: {v}")
            if v["verdict"] == "right" and v.get("problem", "") not in proj.problems:
                raise ValueError(f"{proj.name}: a right finding names no known problem: {v}")
            proj.verdicts.append(
                Verdict(
                    v["code"],
                    v["file"],
                    int(v["line"]),
                    v["verdict"],
                    v["reason"],
                    v.get("match", ""),
                    v.get("problem", ""),
                )
            )
        out.append(proj)
    return out


# ---------------------------------------------------------------------------------------------
# extract


def _git_dir(mirrors: Path, repository: str) -> Path | None:
    owner, _, name = repository.partition("/")
    for cand in (
        mirrors / f"{owner}+{name}" / "repo",
        mirrors / f"{owner}+{name}",
        mirrors / f"{name}.git",
    ):
        if (cand / "HEAD").is_file():
            return cand
    return None


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True
    ).stdout


def wanted_paths(names: Sequence[str]) -> list[str]:
    """The paths of a tree listing that the snapshot keeps."""
    gitlab = any(n == ".gitlab-ci.yml" or n.endswith("/.gitlab-ci.yml") for n in names)
    return [n for n in names if _WANTED.search(n) or (gitlab and _YAML.search(n))]


def extract(projects: list[Project], mirrors: Path, snapshots: Path) -> int:
    """Write each project's snapshot; 1 when some project could not be extracted."""
    status = 0
    for proj in projects:
        git_dir = _git_dir(mirrors, proj.repository)
        if git_dir is None:
            print(f"{proj.name}: no bare git dir for {proj.repository} under {mirrors}")
            status = 1
            continue
        try:
            listing = _git(git_dir, "ls-tree", "-r", "-z", "--name-only", proj.commit)
        except subprocess.CalledProcessError:
            print(f"{proj.name}: commit {proj.commit} is not in {git_dir}")
            status = 1
            continue
        paths = wanted_paths([n.decode() for n in listing.split(b"\0") if n])
        dest = snapshots / proj.name
        dest.mkdir(parents=True, exist_ok=True)
        if paths:
            data = _git(git_dir, "archive", "--format=tar", proj.commit, "--", *paths)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(dest, filter="data")
        (dest / ".commit").write_text(proj.commit + "\n")
        print(f"{proj.name}: {len(paths)} files at {proj.commit[:12]} -> {dest}")
    return status


# ---------------------------------------------------------------------------------------------
# run


def run_doctor(doctor: list[str], tree: Path) -> list[Finding]:
    """The warn, error and info findings of the doctor on ``tree``, files relative to it.

    Raises:
        RuntimeError: the doctor did not print a JSON report.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "env"
        env_file.write_text("")
        root = Path(tmp) / "root"
        root.mkdir()
        args = [*doctor, "--format", "json", "--root", str(root), "--env-file", str(env_file)]
        res = subprocess.run(
            [*args, "--no-go", str(tree)], capture_output=True, text=True, timeout=600
        )
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        raise RuntimeError(f"doctor on {tree}: rc {res.returncode}: {res.stderr[-2000:]}") from None
    out: list[Finding] = []
    prefix = str(tree.resolve()) + "/"
    for f in doc["findings"]:
        file = str(Path(f.get("file") or "").resolve()) if f.get("file") else ""
        if not file.startswith(prefix):
            continue  # the empty environment or root, not the project
        out.append(
            Finding(
                f["code"],
                f["severity"],
                file.removeprefix(prefix),
                int(f.get("line") or 0),
                f["message"],
            )
        )
    return out


def score(proj: Project, findings: list[Finding], verbose: bool) -> tuple[Score, list[str]]:
    """The counts of one project and the lines to print about it."""
    s = Score(known=len(proj.problems))
    lines: list[str] = []
    found: set[str] = set()
    for f in findings:
        if f.severity not in _COUNTED:
            continue
        v = next((v for v in proj.verdicts if not v.used and v.fits(f)), None)
        if v is None:
            v = next((v for v in proj.verdicts if v.fits(f)), None)
        if v is None:
            s.unjudged += 1
            s.count(f.code, 2)
            lines.append(f"  UNJUDGED {f.where()}: {f.message}")
            continue
        v.used = True
        if v.verdict == "right":
            s.right += 1
            s.count(f.code, 0)
            found.add(v.problem)
            if verbose:
                lines.append(f"  right    {f.where()}: {v.reason}")
        else:
            s.wrong += 1
            s.count(f.code, 1)
            lines.append(f"  wrong    {f.where()}: {v.reason}")
    s.found = len(found)
    for pid, what in proj.problems.items():
        if pid not in found:
            lines.append(f"  MISSED   {pid}: {what}")
    if verbose:
        for v in proj.verdicts:
            if not v.used:
                lines.append(f"  gone     {v.code} {v.file}:{v.line} ({v.verdict}): {v.reason}")
    return s, lines


def run(
    projects: list[Project],
    snapshots: Path,
    doctor: list[str],
    *,
    only: Sequence[str] = (),
    verbose: bool = False,
    dump_to: str | None = None,
) -> int:
    """Score the doctor on each snapshot (those named in ``only``, when given); with
    ``dump_to``, write the counted findings there as JSON. Exit code: 1 while any finding is
    unjudged, 2 when a snapshot is not of the pinned commit."""
    present = [p for p in projects if (snapshots / p.name).is_dir()]
    if not present:
        print(
            f"no snapshots under {snapshots}: fetch the repositories of {MANIFEST.name} and run "
            f"`{Path(__file__).name} extract` first; nothing measured"
        )
        return 0
    total = Score()
    dump: dict[str, list[dict[str, object]]] = {}
    for proj in present:
        if only and proj.name not in only:
            continue
        tree = snapshots / proj.name
        pinned = (tree / ".commit").read_text().strip() if (tree / ".commit").is_file() else ""
        if pinned and pinned != proj.commit:
            print(f"{proj.name}: snapshot is of {pinned[:12]}, manifest pins {proj.commit[:12]}")
            return 2
        findings = run_doctor(doctor, tree)
        dump[proj.name] = [f.__dict__ for f in findings if f.severity in _COUNTED]
        s, lines = score(proj, findings, verbose)
        total.add(s)
        print(f"{proj.name:<28} {s.line()}")
        for line in lines:
            print(line)
    missing = [p.name for p in projects if p not in present]
    if missing:
        print(f"(no snapshot, not measured: {', '.join(missing)})")
    by_code = ", ".join(
        f"{code} {r}/{w}" + (f"/{u}?" if u else "")
        for code, (r, w, u) in sorted(total.codes.items())
    )
    print(f"by code (right/wrong[/unjudged?]): {by_code or '-'}")
    print(f"{'TOTAL':<28} {total.line()}")
    if dump_to:
        Path(dump_to).write_text(json.dumps(dump, indent=1) + "\n")
    return 1 if total.unjudged else 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("command", nargs="?", choices=("run", "extract"), default="run")
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--snapshots", type=Path, default=Path(DEFAULT_SNAPSHOTS))
    ap.add_argument("--mirrors", type=Path, default=Path(DEFAULT_MIRRORS))
    ap.add_argument(
        "--doctor",
        default=f"{shlex.quote(sys.executable)} -m gomodproxy doctor",
        help="the doctor command line (default: this Python's gomodproxy)",
    )
    ap.add_argument("--only", nargs="*", help="just these projects")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list right findings")
    ap.add_argument("--dump", help="write the warn/error findings as JSON to this file")
    args = ap.parse_args(argv)
    projects = load_manifest(args.manifest)
    if args.command == "extract":
        return extract(projects, args.mirrors, args.snapshots)
    return run(
        projects,
        args.snapshots,
        shlex.split(args.doctor),
        only=args.only or (),
        verbose=args.verbose,
        dump_to=args.dump,
    )


if __name__ == "__main__":
    sys.exit(main())
