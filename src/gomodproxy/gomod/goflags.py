"""GOFLAGS, as cmd/go/internal/base/goflags.go ``InitGOFLAGS`` reads it.

The value is split like cmd/internal/quoted ``Split``: fields separated by space, tab, CR or
LF, where a field may be wrapped in single or double quotes (no escapes inside, and quotes in
the middle of a field are ordinary characters). Every field must then look like ``-x``,
``--x``, ``-x=value`` or ``--x=value`` and name a flag that some go subcommand defines; a value
goes after ``=``, never in the next field. ``go env`` and ``go bug`` hide these errors, every
other command stops with ``go: parsing $GOFLAGS: ...``.
"""

from __future__ import annotations

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostr import quote as go_quote

__all__ = ["GO_FLAG_NAMES", "flag_name", "parse_goflags", "split_quoted"]

_PASSED_TO_TEST = [
    "artifacts",
    "bench",
    "benchmem",
    "benchtime",
    "blockprofile",
    "blockprofilerate",
    "count",
    "coverprofile",
    "cpu",
    "cpuprofile",
    "failfast",
    "fullpath",
    "fuzz",
    "fuzzminimizetime",
    "fuzztime",
    "list",
    "memprofile",
    "memprofilerate",
    "mutexprofile",
    "mutexprofilefraction",
    "outputdir",
    "parallel",
    "run",
    "short",
    "shuffle",
    "skip",
    "timeout",
    "trace",
    "v",
]

#: Every flag name some subcommand of go 1.26 defines (base.hasFlag over the command tree).
#: tests/differential/test_goenv_go.py checks the list against the local go command.
GO_FLAG_NAMES = frozenset(
    [
        "C",
        "a",
        "artifacts",
        "asan",
        "asmflags",
        "bench",
        "benchmem",
        "benchtime",
        "blockprofile",
        "blockprofilerate",
        "buildmode",
        "buildvcs",
        "c",
        "cache",
        "changed",
        "compat",
        "compiled",
        "compiler",
        "count",
        "cover",
        "covermode",
        "coverpkg",
        "coverprofile",
        "cpu",
        "cpuprofile",
        "d",
        "debug-actiongraph",
        "debug-runtime-trace",
        "debug-trace",
        "deps",
        "diff",
        "dropexclude",
        "dropgodebug",
        "dropignore",
        "dropreplace",
        "droprequire",
        "dropretract",
        "droptool",
        "dropuse",
        "e",
        "exclude",
        "exec",
        "export",
        "f",
        "failfast",
        "find",
        "fix",
        "fixtool",
        "fmt",
        "fullpath",
        "fuzz",
        "fuzzcache",
        "fuzzminimizetime",
        "fuzztime",
        "gccgoflags",
        "gcflags",
        "go",
        "godebug",
        "i",
        "ignore",
        "insecure",
        "installsuffix",
        "json",
        "ldflags",
        "linkshared",
        "list",
        "m",
        "memprofile",
        "memprofilerate",
        "mod",
        "modcache",
        "modcacherw",
        "modfile",
        "module",
        "msan",
        "mutexprofile",
        "mutexprofilefraction",
        "n",
        "o",
        "outputdir",
        "overlay",
        "p",
        "parallel",
        "pgo",
        "pkgdir",
        "print",
        "r",
        "race",
        "replace",
        "require",
        "retract",
        "retracted",
        "reuse",
        "run",
        "short",
        "shuffle",
        "skip",
        "t",
        "tags",
        "test",
        "testcache",
        "timeout",
        "tool",
        "toolchain",
        "toolexec",
        "trace",
        "trimpath",
        "u",
        "use",
        "v",
        "vendor",
        "versions",
        "vet",
        "vettool",
        "w",
        "work",
        "x",
    ]
    + ["test." + name for name in _PASSED_TO_TEST]
)

_SPACE = " \t\n\r"


def split_quoted(s: str) -> list[str]:
    """Split ``s`` into fields as cmd/internal/quoted ``Split`` does.

    Raises:
        InvalidInput: ``unterminated ' string`` or ``unterminated " string``.
    """
    fields = []
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i] in _SPACE:
            i += 1
        if i == n:
            break
        if s[i] in "\"'":
            quote = s[i]
            end = s.find(quote, i + 1)
            if end < 0:
                raise InvalidInput(f"unterminated {quote} string")
            fields.append(s[i + 1 : end])
            i = end + 1
            continue
        start = i
        while i < n and s[i] not in _SPACE:
            i += 1
        fields.append(s[start:i])
    return fields


def flag_name(field: str) -> str:
    """The flag name of one GOFLAGS field: ``--mod=mod`` -> ``mod``."""
    name = field[1:]
    if name.startswith("-"):
        name = name[1:]
    return name.partition("=")[0]


def parse_goflags(goflags: str, known: frozenset[str] = GO_FLAG_NAMES) -> list[str]:
    """Split and check GOFLAGS as the go command does before running any subcommand.

    ``known`` is the set of flag names the go command accepts (default: go 1.26's).

    Raises:
        InvalidInput: ``parsing $GOFLAGS: unterminated " string``, ``parsing $GOFLAGS:
            non-flag "x"`` or ``parsing $GOFLAGS: unknown flag -x`` (the go command prints
            them after ``go: ``).
    """
    try:
        fields = split_quoted(goflags)
    except InvalidInput as e:
        raise InvalidInput(f"parsing $GOFLAGS: {e}") from None
    for f in fields:
        if not f.startswith("-") or f in ("-", "--") or f.startswith(("---", "-=", "--=")):
            raise InvalidInput(f"parsing $GOFLAGS: non-flag {go_quote(f)}")
        name = flag_name(f)
        if name not in known:
            raise InvalidInput(f"parsing $GOFLAGS: unknown flag -{name}")
    return fields
