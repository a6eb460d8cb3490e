"""``diagnose``: map a failed go command log to causes and fixes (spec doctor.md §4). Pure.

Every entry of :data:`KB` is a code (K01–K31), regular expressions over the log's lines (the
messages of current cmd/go, checked by tests that drive the real go command into each
failure), the usual causes and the fix. A single failure often prints several of these (a
404 from the proxy *and* the ``server response:`` saying why), so results are ordered by the
priority of doctor.md §4 — the innermost cause first — then by where they appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gomodproxy.redact.mask import mask


@dataclass(frozen=True)
class Entry:
    """One kind of failure the go command reports."""

    code: str
    title: str
    patterns: tuple[re.Pattern[str], ...]
    cause: str
    fix: str
    #: lower runs first (doctor.md §4 "Priority for matching").
    rank: int


@dataclass
class Diagnosis:
    """A recognised cause and the log lines that show it."""

    entry: Entry
    #: (1-based line number, text) of each matching line, plus ``server response`` lines.
    lines: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The JSON object of ``diagnose --format json``."""
        e = self.entry
        return {
            "code": e.code,
            "title": e.title,
            "cause": e.cause,
            "fix": e.fix,
            "lines": [{"line": n, "text": t} for n, t in self.lines],
        }


def _e(code: str, title: str, patterns: list[str], cause: str, fix: str, rank: int) -> Entry:
    return Entry(code, title, tuple(re.compile(p) for p in patterns), cause, fix, rank)


_HTTP_URL = r"(?:https?|file)://\S+"
KB: tuple[Entry, ...] = (
    _e(
        "K18",
        "the checksum database contradicts itself (SECURITY ERROR)",
        [r"go\.sum database server misbehavior detected"],
        "a proxy rewrites /sumdb responses (man in the middle), two different logs are served "
        "under one name (a private database that was reset), or the local copy "
        "$GOPATH/pkg/sumdb/<name>/latest is corrupted",
        "treat it as a security incident; only for a deliberately reset private database delete "
        "$GOPATH/pkg/sumdb/<name> and $GOMODCACHE/cache/download/sumdb/<name>",
        0,
    ),
    _e(
        "K01",
        "downloaded module does not match the checksum database",
        [
            r"verifying (?:module|go\.mod): checksum mismatch",
            r"This download does NOT match (?:the|one) reported by the checksum server",
        ],
        "the tag was moved upstream and the bits were fetched directly (GOPROXY=direct, "
        "GONOPROXY) or from a proxy that cached different bits; a tampering proxy; a corrupted "
        "module cache",
        "do not bypass the check; compare with the checksum database's lookup for M@V; run "
        "`go clean -modcache`; if the author re-tagged, move to a new version; if the module is "
        "private, add it to GONOSUMDB (or GOPRIVATE)",
        1,
    ),
    _e(
        "K02",
        "downloaded module does not match go.sum",
        [
            r"verifying \S+@\S+: checksum mismatch",
            r"This download does NOT match an earlier download recorded in go\.sum",
        ],
        "go.sum was edited by hand or by a bad merge; a private module was re-tagged; two "
        "private proxies serve different zips for the same version",
        "decide which hash is right; remove the stale go.sum line, run `go mod download M`, "
        "then `go mod verify`",
        1,
    ),
    _e(
        "K15",
        "the checksum database does not know this module version",
        [r"reading \S+/lookup/\S+: (?:404 Not Found|410 Gone)"],
        "a private module is not excluded from the checksum database (GOPRIVATE/GONOSUMDB do "
        "not cover it — e.g. GONOSUMDB set and so replacing GOPRIVATE), or the version was "
        "never published",
        "set GOPRIVATE (or GONOSUMDB) to a pattern covering the module path",
        2,
    ),
    _e(
        "K17",
        "checksum database disabled but required (toolchain download)",
        [r"checksum database disabled by GOSUMDB=off"],
        "a toolchain switch (golang.org/toolchain) needs the checksum database, and GOSUMDB=off",
        "enable the checksum database (exclude private paths with GONOSUMDB instead of "
        "GOSUMDB=off), or install the Go version go.mod needs and set GOTOOLCHAIN=local",
        3,
    ),
    _e(
        "K16",
        "the checksum database cannot be reached or failed",
        [
            r"reading \S+/(?:lookup|tile)/\S+: (?:5\d\d |.*stream error|.*i/o timeout|"
            r".*connection refused|.*no such host)",
            r"verifying \S+: .*sumdb.*(?:i/o timeout|connection refused)",
        ],
        "a brand-new tag not yet fetchable (500), transient HTTP/2 resets, or an egress "
        "firewall blocking the checksum database",
        "retry with backoff; allow egress to the checksum database or serve it through your "
        "proxy (`/sumdb/<name>/supported` answering 200)",
        3,
    ),
    _e(
        "K19",
        "checksum database answers cannot be verified",
        [
            r"initializing sumdb\.Client",
            r"reading tree note",
            r"note has no verifiable signatures",
            r"malformed note",
            r"invalid signature for key",
            r"downloaded inconsistent tile",
            r"malformed record data",
        ],
        "a wrong key in GOSUMDB; a proxy answering HTML or error pages with status 200 "
        "(captive portal, SSO); truncated caching; a database that now serves another log "
        "under the same name (a reset private database, or a fork: treat as K18)",
        "fix the GOSUMDB key; make the proxy pass /sumdb bytes verbatim and answer 404 for what "
        "it does not support",
        3,
    ),
    _e(
        "K20",
        "GOSUMDB is malformed",
        [r"invalid GOSUMDB", r"invalid sumdb name", r"missing GOSUMDB"],
        "GOSUMDB is not `off`, a known name, or `name+hash+key [url]`",
        "write GOSUMDB as `name+hash+key` optionally followed by a space and the URL",
        3,
    ),
    _e(
        "K11",
        "git needs credentials it cannot prompt for",
        [r"terminal prompts disabled", r"could not read Username for"],
        "git needs HTTPS credentials and the go command sets GIT_TERMINAL_PROMPT=0",
        "give credentials: a .netrc for the host, a git credential helper, or "
        '`git config --global url."https://<token>@host/".insteadOf https://host/`; and set '
        "GOPRIVATE for the private paths",
        4,
    ),
    _e(
        "K12",
        "git over SSH has no key or known host",
        [r"Permission denied \(publickey", r"Host key verification failed"],
        "an SSH insteadOf rule is active but the CI job or Docker build has no key or "
        "known_hosts entry",
        "use `RUN --mount=type=ssh` with `docker build --ssh default` and `ssh-keyscan host >> "
        "~/.ssh/known_hosts`, or an HTTPS token instead",
        4,
    ),
    _e(
        "K05",
        "the proxy has no such module or version (404)",
        [
            rf"reading {_HTTP_URL}/@(?:v/\S+|latest): 404 Not Found",
            r"(?:reading|open) \S+/@v/\S+: no such file or directory",
        ],
        "the module or version is absent on that proxy; a private module was requested from a "
        "public proxy; a typo; the proxy cannot reach the origin (see `server response:`)",
        "set GOPRIVATE for private paths; add `,direct` to GOPROXY; check that the version "
        "exists; fix the proxy's upstream credentials",
        5,
    ),
    _e(
        "K06",
        "the proxy refuses to serve this module (410)",
        [rf"reading {_HTTP_URL}/@(?:v/\S+|latest): 410 Gone"],
        "the proxy cannot or will not serve it (private or deleted repository, license); shown "
        "when GOPROXY lacks `direct` or the last error is the proxy's",
        "as for a 404: GOPRIVATE for private paths, `,direct`, check the version",
        5,
    ),
    _e(
        "K07",
        "module lookup disabled by GOPROXY=off",
        [r"module lookup disabled by GOPROXY=off"],
        "an air-gapped build needs a module that is not in the module cache",
        "pre-populate GOMODCACHE (`go mod download` in a networked stage), or vendor and build "
        "with -mod=vendor, or set a proxy",
        5,
    ),
    _e(
        "K08",
        "GOPROXY has no entries",
        [r"GOPROXY list is not the empty string, but contains no entries"],
        "GOPROXY is `,` or spaces, or the Go install lacks $GOROOT/go.env (so the default is "
        "empty)",
        "set GOPROXY explicitly; restore $GOROOT/go.env",
        5,
    ),
    _e(
        "K09",
        "GOPROXY holds an invalid URL",
        [
            r"invalid proxy URL (?:missing scheme|scheme \(must be https, http, file\))",
            r"invalid file:// proxy URL with non-path elements",
        ],
        "a bare word (`fallback`, `goproxy`), an unsupported scheme (`socks5://`), or "
        "`file://host/...`",
        "write full URLs (`https://host/path`), `direct` or `off`, separated by `,` or `|`",
        5,
    ),
    _e(
        "K10",
        "the import path cannot be resolved (go-get discovery)",
        [r"unrecognized import path \"[^\"]+\"", r"no go-import meta tags?"],
        "the private host is unreachable or not resolvable from CI; a vanity server is down; "
        "an unauthenticated GitLab request for a project in a subgroup",
        "fix network/DNS; give credentials for the host (.netrc or GOAUTH); add `.git` to the "
        "module path's repository root; GOINSECURE only for http-only internal hosts",
        5,
    ),
    _e(
        "K13",
        "GOVCS forbids the version control system",
        [r"GOVCS disallows using (\w+) for (?:public|private) \S+"],
        "svn/bzr/fossil for a public path, or a restrictive GOVCS",
        "adjust GOVCS (`pattern:git|hg`), mark the path private with GOPRIVATE, or fetch "
        "through a proxy",
        6,
    ),
    _e(
        "K14",
        "git is not installed",
        [r"missing Git command", r"exec: \"git\": executable file not found"],
        "an alpine/distroless build stage needs a direct fetch",
        "install git in the builder stage (`apk add --no-cache git`) or fetch through a proxy",
        6,
    ),
    _e(
        "K21",
        "TLS certificate not trusted",
        [r"x509: certificate signed by unknown authority", r"tls: failed to verify certificate"],
        "a TLS-inspecting corporate proxy, or an image without a CA bundle",
        "install the CA into the system store (ca-certificates), or set SSL_CERT_FILE / "
        "SSL_CERT_DIR; GOINSECURE only helps direct fetches",
        6,
    ),
    _e(
        "K22",
        "an http-only proxy was contacted over https",
        [
            r"server gave HTTP response to HTTPS client",
            r"tls: first record does not look like a TLS handshake",
        ],
        "a proxy without TLS written without a scheme, so https:// was assumed",
        "write `http://host:port` explicitly in GOPROXY (allowed) or enable TLS",
        6,
    ),
    _e(
        "K23",
        "credentials refused over plain HTTP",
        [
            r"refusing to pass credentials to insecure URL",
            r"redirected from secure URL \S+ to "
            r"insecure URL",
        ],
        "user-info in an http:// URL, or an https proxy redirecting to http",
        "use https; move credentials to .netrc",
        6,
    ),
    _e(
        "K24",
        "network: proxy or host unreachable",
        [
            r"proxyconnect tcp:",
            r"dial tcp \S*: (?:i/o timeout|connect: connection refused|"
            r"connection refused|lookup \S+(?: on \S+)?: no such host)",
            r"lookup \S+ on \S+: no such host",
        ],
        "HTTP(S)_PROXY is wrong, NO_PROXY misses an internal host, or the host is down",
        "fix the proxy environment variables; add internal hosts to NO_PROXY",
        6,
    ),
    _e(
        "K25",
        "GOFLAGS cannot be parsed",
        [r"parsing \$GOFLAGS: (?:unknown flag -\S+|non-flag \"[^\"]*\"|.*)"],
        "a removed flag (`-insecure`), a typo, or a value split by spaces",
        "write one `-flag=value` per space-separated token",
        6,
    ),
    _e(
        "K26",
        "go.mod needs a newer Go than the one running",
        [r"requires go >= \S+ \(running go \S+?(?:; GOTOOLCHAIN=\S+?)?(?:;[^)]*)?\)"],
        "an old local Go, with GOTOOLCHAIN=local (the official golang images set it)",
        "use a newer image or setup-go version, or GOTOOLCHAIN=auto with access to the proxy "
        "and checksum database",
        6,
    ),
    _e(
        "K27",
        "the toolchain switch failed",
        [
            r"toolchain not available",
            r"switching to go >= \S+:",
            r"no releases found for go >=",
            r"go: downloading go1\.\S+ \(\w+/\w+\)",
        ],
        "`go 1.N` without a patch number (no such release), a proxy not serving "
        "golang.org/toolchain, or GOPROXY=off",
        "write `go 1.N.0` or add `toolchain go1.N.P`; let the proxy serve golang.org/toolchain",
        6,
    ),
    _e(
        "K28",
        "go.mod is too new for this Go",
        [r"invalid go version '[^']*': must match format", r"unknown directive: toolchain"],
        "Go 1.20 or older reading a Go 1.21+ go.mod (three-part go line, toolchain line)",
        "upgrade the builder's Go to 1.21 or newer",
        6,
    ),
    _e(
        "K29",
        "vendoring is inconsistent or forced",
        [
            r"inconsistent vendoring",
            r"(?:import|module) lookup disabled by -mod=vendor",
            r"cannot query module due to -mod=vendor",
        ],
        "vendor/ is stale, .dockerignore removed vendored files, or a tool step runs in vendor "
        "mode",
        "run `go mod vendor` and commit; fix .dockerignore; `-mod=mod` for tooling steps",
        6,
    ),
    _e(
        "K30",
        "VCS stamping failed",
        [r"error obtaining VCS status"],
        ".git is absent or not copied, or git reports dubious ownership in a container",
        "build with -buildvcs=false, or `git config --global --add safe.directory <dir>`",
        6,
    ),
    _e(
        "K31",
        "the version or module path does not exist as required",
        [r"unknown revision \S+", r"module declares its path as: \S+"],
        "the tag is not pushed or not visible; a fork or a renamed module",
        "push the tag or use a pseudo-version; fix the import path or add a `replace`",
        6,
    ),
    _e(
        "K03",
        "go.sum lacks an entry",
        [r"missing go\.sum entry"],
        "go.sum is not committed or not copied into the Docker build; tidy ran with other "
        "build tags or GOOS; the default -mod=readonly refuses to add it",
        "run `go mod tidy` (with the same tags) and commit go.sum; `COPY go.mod go.sum ./`; "
        "`go mod download M`",
        6,
    ),
    _e(
        "K04",
        "go.mod or go.sum needs updates the build may not make",
        [r"updates to go\.(?:mod|sum) needed"],
        "go.mod is out of date with the imports",
        "run `go mod tidy` locally and commit go.mod and go.sum",
        6,
    ),
)
_BY_CODE = {e.code: e for e in KB}
_SERVER_RESPONSE = re.compile(r"^\s*server response:")


def entry(code: str) -> Entry:
    """The knowledge-base entry of ``code``.

    Raises:
        KeyError: unknown code.
    """
    return _BY_CODE[code]


def diagnose(log: str) -> list[Diagnosis]:
    """Recognised causes in ``log``, innermost first. Lines are masked (no secrets).

    A cause read in a ``server response:`` block is what the server said went wrong behind
    the status line, so it comes before every other; then the priority of doctor.md §4;
    then the order of appearance.
    """
    lines = log.splitlines()
    inner: set[int] = set()
    for n in range(1, len(lines) + 1):
        if _SERVER_RESPONSE.match(lines[n - 1]):
            inner.update(ln for ln, _ in [(n, ""), *_server_response(lines, n)])
    found: dict[str, Diagnosis] = {}
    first: dict[str, int] = {}
    in_response: set[str] = set()
    for n, text in enumerate(lines, 1):
        for e in KB:
            if any(p.search(text) for p in e.patterns):
                d = found.setdefault(e.code, Diagnosis(e))
                first.setdefault(e.code, n)
                if n in inner:
                    in_response.add(e.code)
                if len(d.lines) < 20:
                    d.lines.append((n, mask(text)))
                    d.lines.extend(_server_response(lines, n))
    return sorted(
        found.values(),
        key=lambda d: (d.entry.code not in in_response, d.entry.rank, first[d.entry.code]),
    )


def _server_response(lines: list[str], n: int) -> list[tuple[int, str]]:
    """The ``server response:`` block right after line ``n`` (1-based), if any."""
    out: list[tuple[int, str]] = []
    if n < len(lines) and _SERVER_RESPONSE.match(lines[n]):
        out.append((n + 1, mask(lines[n])))
        for k in range(n + 1, min(n + 9, len(lines))):
            if not lines[k].startswith("\t\t") and not lines[k].startswith("        "):
                break
            out.append((k + 1, mask(lines[k])))
    return out
