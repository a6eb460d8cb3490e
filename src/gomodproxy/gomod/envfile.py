"""The go env file: where it lives, how the go command reads it, how ``go env -w`` writes it.

The user file is ``$GOENV``, or ``go/env`` under the OS config dir (Linux: ``$XDG_CONFIG_HOME``
or ``~/.config``; macOS: ``~/Library/Application Support``; Windows: ``%AppData%``);
``GOENV=off`` means none. ``$GOROOT/go.env`` has the same format and holds the defaults.

Reading (cmd/go/internal/cfg ``readEnvFile``): one ``KEY=VALUE`` per LF-terminated line, the
value taken verbatim (no quotes, no trimming, a CR stays); a line without ``=`` or not starting
with A-Z is ignored (comments); the last line for a key wins.

Writing (cmd/go/internal/envcmd ``updateEnvFile``): the existing lines are kept; all but the
last line of each key are dropped; set keys replace their line in place, new keys are
appended; unset keys are removed; then each run of KEY=VALUE lines (runs are separated by any
other line) is sorted by key. The go command writes the file in place, not atomically.
"""

from __future__ import annotations

import ntpath
import posixpath
from collections.abc import Iterable, Mapping

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostr import quote as go_quote

__all__ = [
    "KNOWN_ENV",
    "check_env_write",
    "env_file_path",
    "parse_env_file",
    "update_env_file",
]

#: internal/cfg.KnownEnv of go 1.26: the variables ``go env -w`` accepts.
KNOWN_ENV = frozenset(
    [
        "AR",
        "CC",
        "CGO_CFLAGS",
        "CGO_CFLAGS_ALLOW",
        "CGO_CFLAGS_DISALLOW",
        "CGO_CPPFLAGS",
        "CGO_CPPFLAGS_ALLOW",
        "CGO_CPPFLAGS_DISALLOW",
        "CGO_CXXFLAGS",
        "CGO_CXXFLAGS_ALLOW",
        "CGO_CXXFLAGS_DISALLOW",
        "CGO_ENABLED",
        "CGO_FFLAGS",
        "CGO_FFLAGS_ALLOW",
        "CGO_FFLAGS_DISALLOW",
        "CGO_LDFLAGS",
        "CGO_LDFLAGS_ALLOW",
        "CGO_LDFLAGS_DISALLOW",
        "CXX",
        "FC",
        "GCCGO",
        "GO111MODULE",
        "GO386",
        "GOAMD64",
        "GOARCH",
        "GOARM",
        "GOARM64",
        "GOAUTH",
        "GOBIN",
        "GOCACHE",
        "GOCACHEPROG",
        "GOENV",
        "GOEXE",
        "GOEXPERIMENT",
        "GOFIPS140",
        "GOFLAGS",
        "GOGCCFLAGS",
        "GOHOSTARCH",
        "GOHOSTOS",
        "GOINSECURE",
        "GOMIPS",
        "GOMIPS64",
        "GOMODCACHE",
        "GONOPROXY",
        "GONOSUMDB",
        "GOOS",
        "GOPATH",
        "GOPPC64",
        "GOPRIVATE",
        "GOPROXY",
        "GORISCV64",
        "GOROOT",
        "GOSUMDB",
        "GOTMPDIR",
        "GOTOOLCHAIN",
        "GOTOOLDIR",
        "GOVCS",
        "GOWASM",
        "GOWORK",
        "GO_EXTLINK_ENABLED",
        "PKG_CONFIG",
    ]
)


def _go_clean_join(dir_: str, rel: str) -> str:
    joined = posixpath.normpath(dir_ + "/" + rel)
    # Go's path.Clean turns a leading "//" into "/", posixpath.normpath keeps it.
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


def env_file_path(env: Mapping[str, str], goos: str = "linux") -> str:
    """Where the go command reads and ``go env -w`` writes the user's go env file.

    ``env`` is the process environment, ``goos`` the operating system (Go's GOOS name).

    Raises:
        InvalidInput: ``GOENV=off`` (``go env -w`` then says ``go: cannot find go env config:
            GOENV=off``) or the OS config dir is unknown, with os.UserConfigDir's message.
    """
    file = env.get("GOENV", "")
    if file:
        if file == "off":
            raise InvalidInput("GOENV=off")
        return file
    if goos == "windows":
        appdata = env.get("AppData", "")
        if not appdata:
            raise InvalidInput("%AppData% is not defined")
        return ntpath.normpath(ntpath.join(appdata, "go", "env"))
    if goos in ("darwin", "ios"):
        home = env.get("HOME", "")
        if not home:
            raise InvalidInput("$HOME is not defined")
        return _go_clean_join(home + "/Library/Application Support", "go/env")
    config = env.get("XDG_CONFIG_HOME", "")
    if not config:
        home = env.get("HOME", "")
        if not home:
            raise InvalidInput("neither $XDG_CONFIG_HOME nor $HOME are defined")
        config = home + "/.config"
    elif not config.startswith("/"):
        raise InvalidInput("path in $XDG_CONFIG_HOME is relative")
    return _go_clean_join(config, "go/env")


def parse_env_file(text: str) -> dict[str, str]:
    """Read a go env file (the user's or ``$GOROOT/go.env``) as the go command does."""
    values: dict[str, str] = {}
    for line in text.split("\n"):
        key, eq, value = line.partition("=")
        if not eq or not ("A" <= line[0] <= "Z"):
            continue
        values[key] = value
    return values


def _line_key(line: str) -> str:
    key, eq, _ = line.partition("=")
    return key if eq and "#" not in key else ""


def update_env_file(
    text: str, set_: Mapping[str, str] | None = None, unset: Iterable[str] = ()
) -> str:
    """Return the go env file ``text`` after ``go env -w`` (``set_``) or ``-u`` (``unset``).

    The values are not checked here; :func:`check_env_write` does that.
    """
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1] + "\n"] if lines[-1] else [])
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        key = _line_key(line)
        if key:
            if key in last:
                lines[last[key]] = ""
            last[key] = i
    for key, value in (set_ or {}).items():
        if key in last:
            lines[last[key]] = f"{key}={value}\n"
        else:
            lines.append(f"{key}={value}\n")
    for key in unset:
        if key in last:
            lines[last[key]] = ""
    start = 0
    for i in range(len(lines) + 1):
        if i == len(lines) or _line_key(lines[i]) == "":
            lines[start:i] = sorted(lines[start:i], key=_line_key)
            start = i + 1
    return "".join(lines)


def check_env_write(key: str, value: str, file_keys: Iterable[str] = ()) -> None:
    """Check a ``go env -w KEY=VALUE`` (``-u KEY`` with value ``""``) as envcmd does.

    ``file_keys`` are the keys already in the user's or GOROOT's env file, which the go
    command accepts even when it does not know them.

    Paths are checked as on Unix; the CC/CXX command checks and the build-configuration
    check (GOOS/GOARCH pairs) are not ported.

    Raises:
        InvalidInput: with the go command's text, e.g. ``unknown go command variable GOPROXI``
            or ``invalid newline in GOPROXY=... value``.
    """
    if key in [
        "GOEXE",
        "GOGCCFLAGS",
        "GOHOSTARCH",
        "GOHOSTOS",
        "GOMOD",
        "GOWORK",
        "GOTOOLDIR",
        "GOVERSION",
        "GOTELEMETRY",
        "GOTELEMETRYDIR",
    ]:
        raise InvalidInput(f"{key} cannot be modified")
    if key in ("GOENV", "GODEBUG"):
        raise InvalidInput(f"{key} can only be set using the OS environment")
    if key not in KNOWN_ENV and key not in set(file_keys):
        raise InvalidInput(f"unknown go command variable {key}")
    if key == "GO111MODULE" and value not in ("", "auto", "on", "off"):
        raise InvalidInput(f"invalid {key} value {go_quote(value)}")
    if key == "GOPATH" and value.startswith("~"):
        raise InvalidInput(
            f"GOPATH entry cannot start with shell metacharacter '~': {go_quote(value)}"
        )
    if key in ("GOPATH", "GOMODCACHE") and value and not value.startswith("/"):
        raise InvalidInput(f"{key} entry is relative; must be absolute path: {go_quote(value)}")
    if key == "GOTMPDIR" and value and not value.startswith("/"):
        raise InvalidInput("GOTMPDIR must be an absolute path")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"invalid UTF-8 in {key}=... value") from None
    if "\x00" in value:
        raise InvalidInput(f"invalid NUL in {key}=... value")
    if any(c in value for c in "\v\r\n"):
        raise InvalidInput(f"invalid newline in {key}=... value")
