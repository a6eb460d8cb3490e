"""System files → settings: go env files, ``/etc/environment``, ``/etc/profile.d/*.sh`` and
systemd units with drop-ins. Pure: text in, settings out; the collector reads the files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gomodproxy.doctor import shellwords
from gomodproxy.doctor.model import Setting
from gomodproxy.gomod.goenv import parse_env_file

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_go_env_file(text: str, file: str, source: str) -> dict[str, Setting]:
    """Read a go env file as the go command does (:func:`parse_env_file`), keeping lines."""
    values = parse_env_file(text)
    lines: dict[str, int] = {}
    for n, line in enumerate(text.split("\n"), 1):
        key = line.partition("=")[0]
        if key in values:
            lines[key] = n  # the last line of a key wins, as its value does
    return {k: Setting(k, v, source, file, lines[k]) for k, v in values.items()}


def parse_etc_environment(text: str, file: str) -> dict[str, Setting]:
    """Read ``/etc/environment`` as pam_env does: ``KEY=VALUE``, optional ``export``,
    surrounding quotes removed, no variable expansion."""
    out: dict[str, Setting] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, eq, val = line.partition("=")
        if not eq or not _NAME.match(key):
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        out[key] = Setting(key, val, "/etc/environment", file, n)
    return out


_EXPORT = re.compile(r"^(?:export\s+|declare\s+-x\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_EXPORT_ONLY = re.compile(r"^export\s+((?:[A-Za-z_][A-Za-z0-9_]*\s*)+)$")


def parse_profile_script(
    text: str, file: str, inherited: Mapping[str, str] | None = None
) -> dict[str, Setting]:
    """Variables a simple ``/etc/profile.d`` script exports (``export K=V``, ``K=V`` then
    ``export K``). ``inherited`` values (earlier scripts) are used for ``$VAR`` expansion.
    Values built from command substitution are kept as unknown."""
    values = dict(inherited or {})
    assigned: dict[str, Setting] = {}
    out: dict[str, Setting] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().rstrip(";").strip()
        if not line or line.startswith("#"):
            continue
        m = _EXPORT.match(line)
        if m:
            name, rawval = m[1], m[2].strip()
            known = "$(" not in rawval and "`" not in rawval
            s = Setting(name, shellwords.expand(rawval, values).text, "profile.d", file, n, known)
            values[name] = s.value
            if line.startswith(("export", "declare")) or name in out:
                out[name] = s
            else:
                assigned[name] = s
            continue
        m = _EXPORT_ONLY.match(line)
        if m:
            for name in m[1].split():
                if name in assigned:
                    out[name] = assigned[name]
    return out


@dataclass
class Unit:
    """A systemd unit's environment after its drop-ins."""

    name: str
    file: str
    line: int = 0
    env: dict[str, Setting] = field(default_factory=dict)
    #: ``EnvironmentFile=`` entries: (path, optional, file, line).
    env_files: list[tuple[str, bool, str, int]] = field(default_factory=list)
    exec_lines: list[tuple[str, int]] = field(default_factory=list)
    user: str = ""
    problems: list[tuple[str, int, str]] = field(default_factory=list)


def _systemd_words(value: str) -> list[str]:
    """Split an ``Environment=`` value: whitespace-separated words, quotes removed."""
    return [shellwords.expand(w, None).text for w in shellwords.split_words(value)]


def parse_unit(name: str, texts: list[tuple[str, str]]) -> Unit:
    """Apply a unit file and its drop-ins (``texts`` in order: the unit, then ``*.conf`` by
    name) the way systemd does for ``[Service]`` ``Environment=``/``EnvironmentFile=``."""
    unit = Unit(name, texts[0][0] if texts else "")
    for file, text in texts:
        section = ""
        pending = ""
        pending_line = 0
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if pending:
                line, n = pending + " " + line, pending_line
                pending = ""
            if line.endswith("\\"):
                pending, pending_line = line[:-1].strip(), n
                continue
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                if section == "Service" and not unit.line:
                    unit.line = n
                continue
            key, eq, val = line.partition("=")
            key, val = key.strip(), val.strip()
            if not eq:
                unit.problems.append((file, n, f"not a key=value line: {line[:60]!r}"))
                continue
            if section != "Service":
                continue
            if key == "Environment":
                if not val:
                    unit.env.clear()
                for w in _systemd_words(val):
                    k, eq2, v = w.partition("=")
                    if eq2 and _NAME.match(k):
                        unit.env[k] = Setting(k, v, "Environment=", file, n)
                    else:
                        unit.problems.append((file, n, f"invalid Environment= assignment {w!r}"))
            elif key == "EnvironmentFile":
                if not val:
                    unit.env_files.clear()
                else:
                    unit.env_files.append((val.lstrip("-"), val.startswith("-"), file, n))
            elif key in ("ExecStart", "ExecStartPre", "ExecStartPost") and val:
                unit.exec_lines.append((val, n))
            elif key == "User":
                unit.user = val
    return unit


def parse_environment_file(text: str, file: str) -> dict[str, Setting]:
    """Read a systemd ``EnvironmentFile=`` (``KEY=VALUE``, quotes, ``#`` comments)."""
    out: dict[str, Setting] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, eq, val = line.removeprefix("export ").partition("=")
        if not eq or not _NAME.match(key.strip()):
            continue
        words = _systemd_words(val.strip())
        out[key.strip()] = Setting(key.strip(), " ".join(words), "EnvironmentFile=", file, n)
    return out
