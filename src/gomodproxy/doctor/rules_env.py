"""Rules on the Go settings of one context: R01–R25 (spec doctor.md §3) and X02. Pure.

Each rule reads the effective settings of a context (:func:`effective.compute`) and the facts
the collectors recorded; a finding points at the line that set the offending value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from gomodproxy.doctor.effective import Effective, gover_key, is_language_version
from gomodproxy.doctor.model import Context, Finding, Severity
from gomodproxy.doctor.names import meant_setting
from gomodproxy.doctor.rulekit import SOURCE_KEYS, at, rule
from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.gomod.goenv import (
    GO_FLAG_NAMES,
    ProxySpec,
    flag_name,
    govcs_allows,
    parse_goproxy,
    parse_gosumdb,
    parse_govcs,
    split_goproxy,
    split_quoted,
)
from gomodproxy.redact.mask import has_userinfo, mask

_LOOPBACK = re.compile(
    r"^https?://(?:[^@/]*@)?(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:/|$)"
)
_PATTERN_KEYS = ("GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE")


@functools.lru_cache(maxsize=1024)
def _entries(goproxy: str) -> tuple[ProxySpec, ...]:
    """The entries of a GOPROXY value (cached: every context of a file shares its values)."""
    return tuple(split_goproxy(goproxy))


@functools.lru_cache(maxsize=4096)
def _proxy_error(url: str) -> str | None:
    """The go command's complaint about one GOPROXY entry, None when it is a valid URL."""
    try:
        parse_goproxy(url)
    except InvalidInput as exc:
        return str(exc)
    return None


def _known(eff: Effective, key: str) -> bool:
    return eff.setting(key).known


# ---------------------------------------------------------------------------------------------
# GOPROXY


@rule
def r01_r02_r03_goproxy(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOPROXY")
    if not s.known:
        return
    specs = _entries(s.value)
    if not specs:
        why = (
            "GOPROXY is empty and no $GOROOT/go.env gives the default"
            if s.value.strip() == ""
            else f"GOPROXY={s.value!r} holds no entry"
        )
        yield at(
            ctx,
            s,
            "R01",
            Severity.ERROR,
            f"{why}: the go command fails with `GOPROXY list is not the empty string, but "
            "contains no entries`",
            "set GOPROXY explicitly (e.g. `https://your-proxy,direct`) or restore $GOROOT/go.env",
        )
        return
    for i, spec in enumerate(specs):
        if spec.url in ("direct", "off"):
            rest = specs[i + 1 :]
            if rest:
                yield at(
                    ctx,
                    s,
                    "R03",
                    Severity.WARN,
                    f"GOPROXY entries after `{spec.url}` are ignored: "
                    + ", ".join(mask(r.url) for r in rest),
                    f"move `{spec.url}` to the end, after the proxies you want tried",
                )
            break
        err = _proxy_error(spec.url)
        if err is not None:
            yield at(
                ctx,
                s,
                "R02",
                Severity.ERROR,
                f"GOPROXY entry {mask(spec.url)!r} is not a proxy URL: the go command fails "
                f"with `{mask(err)}`",
                "write full URLs with https://, http:// or file://, or the keywords `direct` and "
                "`off` (there is no `fallback` keyword: `|` between entries falls back on any "
                "error)",
            )


@rule
def r04_off(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOPROXY")
    specs = _entries(s.value) if s.known else []
    if specs and specs[0].url == "off":
        yield at(
            ctx,
            s,
            "R04",
            Severity.WARN,
            "GOPROXY=off: every module not already in the module cache fails with `module "
            "lookup disabled by GOPROXY=off`; GONOPROXY/GOPRIVATE paths are still fetched "
            "directly and the checksum database is still contacted",
            "pre-fill the module cache in an earlier networked step, vendor with -mod=vendor, or "
            "set a proxy",
        )


@rule
def r05_r06_proxy_urls(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOPROXY")
    if not s.known:
        return
    for spec in _entries(s.value):
        url = spec.url
        if has_userinfo(url):
            yield at(
                ctx,
                s,
                "R06",
                Severity.WARN,
                f"GOPROXY entry {mask(url)} carries credentials: they show in `go env`, in logs "
                "and in error messages"
                + (" and are refused over http://" if url.startswith("http://") else ""),
                "put the credentials in a .netrc (machine <host> login <user> password <token>) "
                "or GOAUTH, and keep the URL bare",
            )
        if url.startswith("http://") and not _LOOPBACK.match(url):
            yield at(
                ctx,
                s,
                "R05",
                Severity.WARN,
                f"GOPROXY entry {mask(url)} is plain http: allowed without GOINSECURE, but "
                ".netrc/GOAUTH credentials are only sent over https, and module bytes travel "
                "unencrypted",
                "serve the proxy over https",
            )


@rule
def r24_gonoproxy_with_direct(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GONOPROXY")
    if eff["GOPROXY"] == "direct" and s.value and not s.source.startswith("GOPRIVATE"):
        yield at(
            ctx,
            s,
            "R24",
            Severity.INFO,
            "GONOPROXY has no effect while GOPROXY=direct (every module is fetched directly)",
            "drop GONOPROXY, or set GOPROXY to a proxy",
        )


# ---------------------------------------------------------------------------------------------
# Pattern lists


def _covered(pattern: str, patterns: str) -> bool:
    """True when every path ``pattern`` matches is also matched by ``patterns``."""
    p = pattern.rstrip("/")
    return (
        p == ""
        or any(x.rstrip("/") == p for x in patterns.split(","))
        or (match_prefix_patterns(patterns, p))
    )


@rule
def r07_r08_private_coverage(ctx: Context, eff: Effective) -> Iterator[Finding]:
    priv = eff.setting("GOPRIVATE")
    if not priv.value or not priv.known:
        return
    for key, code, sev in (
        ("GONOSUMDB", "R07", Severity.ERROR),
        ("GONOPROXY", "R08", Severity.WARN),
    ):
        s = eff.setting(key)
        if s.source.startswith("GOPRIVATE") or not s.known:
            continue
        uncovered = [p for p in priv.value.split(",") if p and not _covered(p, s.value)]
        if not uncovered:
            continue
        if key == "GONOPROXY" and s.value == "none" and not eff.is_public_default_proxy():
            continue  # the documented idiom for a private proxy that serves every module
        if key == "GONOSUMDB":
            msg = (
                f"{key}={s.value!r} replaces GOPRIVATE for the checksum database, and does not "
                f"cover {', '.join(uncovered)}: those private paths are looked up in the public "
                "checksum database (their names leak) and fail with 404/410"
            )
        else:
            msg = (
                f"{key}={s.value!r} replaces GOPRIVATE for proxy routing, and does not cover "
                f"{', '.join(uncovered)}: those private paths are requested from the proxies in "
                "GOPROXY (their names leak, and a public proxy answers 404/410)"
            )
        yield at(
            ctx,
            s,
            code,
            sev,
            msg,
            f"add {','.join(uncovered)} to {key} (it does not merge with GOPRIVATE), or unset "
            f"{key} so that it defaults to GOPRIVATE",
        )


_BAD_PATTERN = re.compile(r"://|\s|@|:\d+")


@rule
def r09_patterns(ctx: Context, eff: Effective) -> Iterator[Finding]:
    for key in _PATTERN_KEYS:
        s = eff.setting(key)
        if not s.known or not s.value or s.source.startswith("GOPRIVATE"):
            continue
        for item in s.value.split(","):
            if item == "*":
                what = "matches every module path" + (
                    " (the checksum database is effectively off)" if key == "GONOSUMDB" else ""
                )
            elif _BAD_PATTERN.search(item):
                what = (
                    "never matches: patterns are module path prefixes (no scheme, no user, no "
                    "port, no spaces — spaces around commas are not trimmed)"
                )
            else:
                continue
            yield at(
                ctx,
                s,
                "R09",
                Severity.WARN,
                f"{key} item {mask(item)!r} {what}",
                f"write {key} as comma-separated module path globs without spaces, e.g. "
                "`git.corp.example.com,*.internal.example`",
            )


#: code hosts that serve many unrelated public modules: a pattern naming one whole host makes
#: every module there private.
PUBLIC_HOSTS = frozenset(
    [
        "github.com",
        "gitlab.com",
        "bitbucket.org",
        "codeberg.org",
        "gitee.com",
        "git.sr.ht",
        "dev.azure.com",
        "golang.org",
        "go.googlesource.com",
        "gopkg.in",
    ]
)


@rule
def r27_whole_code_host(ctx: Context, eff: Effective) -> Iterator[Finding]:
    for key in ("GOPRIVATE", "GONOPROXY", "GONOSUMDB"):
        s = eff.setting(key)
        if not s.known or not s.value or s.source.startswith("GOPRIVATE"):
            continue
        for item in s.value.split(","):
            host = item.strip().rstrip("/").removesuffix("/*")
            if host.lower() not in PUBLIC_HOSTS:
                continue
            probe = f"{host}/any/module"
            effects = []
            nop, nosum = eff.setting("GONOPROXY"), eff.setting("GONOSUMDB")
            if nop.known and match_prefix_patterns(nop.value, probe):
                effects.append("skips the proxy (fetched directly with git)")
            if (
                nosum.known
                and match_prefix_patterns(nosum.value, probe)
                and eff["GOSUMDB"] != "off"
            ):
                effects.append("skips the checksum database (not verified)")
            if not effects:
                continue
            yield at(
                ctx,
                s,
                "R27",
                Severity.WARN,
                f"{key} item {item!r} names a whole public code host: every module on {host} "
                + " and ".join(effects),
                f"list only your own paths, e.g. `{host}/your-org`",
            )


@rule
def r26_not_a_go_variable(ctx: Context, eff: Effective) -> Iterator[Finding]:
    refs = ctx.facts.get("file_refs")
    used = refs if isinstance(refs, (set, frozenset)) else set()
    for layer in (ctx.env, ctx.env_file):
        for name, s in layer.items():
            meant = meant_setting(name)
            if meant is None or name in used or s.source.startswith("image default"):
                continue
            yield at(
                ctx,
                s,
                "R26",
                Severity.WARN,
                f"{name} is not a variable the go command reads; this setting has no effect "
                f"(the go command reads {meant})",
                f"rename it to {meant}",
            )


@rule
def r10_r23_goinsecure(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOINSECURE")
    if not s.value or not s.known:
        return
    yield at(
        ctx,
        s,
        "R10",
        Severity.INFO,
        "GOINSECURE only affects direct fetches of matching module paths (http fallback, no TLS "
        "verification); it changes nothing for GOPROXY URLs or the checksum database",
        "for an http proxy just write http:// in GOPROXY; to skip checksum verification use "
        "GONOSUMDB",
    )
    nosum = eff.setting("GONOSUMDB")
    if eff["GOSUMDB"] == "off" or not nosum.known:
        return
    uncovered = [p for p in s.value.split(",") if p and not _covered(p, nosum.value)]
    if uncovered:
        yield at(
            ctx,
            s,
            "R23",
            Severity.WARN,
            f"GOINSECURE covers {', '.join(uncovered)} but GONOSUMDB does not: those modules are "
            "fetched insecurely and then still looked up in the public checksum database",
            "add the same patterns to GOPRIVATE (or GONOSUMDB)",
        )


# ---------------------------------------------------------------------------------------------
# GOSUMDB


@rule
def r11_r12_r13_gosumdb(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOSUMDB")
    if not s.known or s.source == "default":
        return
    if s.value == "off":
        yield at(
            ctx,
            s,
            "R11",
            Severity.WARN,
            "GOSUMDB=off: modules not yet in go.sum are not verified at all, and toolchain "
            "downloads fail (`checksum database disabled by GOSUMDB=off`) unless GOPROXY is "
            "one file:// URL",
            "keep the checksum database and exclude private paths with GOPRIVATE or GONOSUMDB",
        )
        return
    try:
        db = parse_gosumdb(s.value)
    except InvalidInput as exc:
        yield at(
            ctx,
            s,
            "R12",
            Severity.ERROR,
            f"GOSUMDB={mask(s.value)!r} is rejected by the go command as soon as it checks a "
            f"module that go.sum does not list: `{exc}`",
            "use a known name (sum.golang.org), or `name+hash+key` optionally followed by a "
            "space and the URL",
        )
        return
    if db is not None and db.url:
        yield at(
            ctx,
            s,
            "R13",
            Severity.INFO,
            f"GOSUMDB names its URL ({mask(db.url)}): lookups go there directly, not through "
            "the GOPROXY proxies, so the build needs egress to it",
            "drop the URL to reach the database through your proxy's /sumdb/ endpoint",
        )


# ---------------------------------------------------------------------------------------------
# GOFLAGS


_LINKER_VALUE_FLAGS = {"ldflags", "gcflags", "asmflags", "gccgoflags"}
#: flags of the linker and compiler that people write after -ldflags= with a space.
_LINKER_WORDS = {"s", "w", "X", "extldflags", "linkmode", "buildid", "N", "l", "B", "trimpath"}


def _nonflag(f: str) -> bool:
    """A GOFLAGS field that is not ``-x``, ``--x``, ``-x=v`` or ``--x=v`` (base/goflags.go)."""
    return not f.startswith("-") or f in ("-", "--") or f.startswith(("---", "-=", "--="))


@rule
def r15_r16_r17_r18_goflags(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOFLAGS")
    if not s.known or not s.value:
        return
    try:
        flags = split_quoted(s.value)
    except InvalidInput as exc:
        yield at(
            ctx,
            s,
            "R15",
            Severity.ERROR,
            f"GOFLAGS cannot be parsed: `go: parsing $GOFLAGS: {exc}`",
            "balance the quotes, one `-flag=value` per token",
        )
        return
    for prev, f in zip(["", *flags], flags, strict=False):
        if flag_name(prev or "-") in _LINKER_VALUE_FLAGS and f.lstrip("-").split("=")[0] in (
            _LINKER_WORDS
        ):
            yield at(
                ctx,
                s,
                "R15",
                Severity.ERROR,
                f"GOFLAGS={s.value!r} splits the value of {prev.split('=')[0]} at a space: "
                f"{f} becomes a flag of its own (silently ignored by go build)",
                f"quote the whole token: GOFLAGS=\"'{prev} {f}'\"",
            )
        if _nonflag(f):
            yield at(
                ctx,
                s,
                "R15",
                Severity.ERROR,
                f'GOFLAGS={s.value!r}: `go: parsing $GOFLAGS: non-flag "{f}"` — every '
                "space-separated word must be its own flag",
                "write one `-flag=value` per token and quote values with spaces: "
                "GOFLAGS=\"'-ldflags=-s -w' -tags=a,b\"",
            )
            continue
        name = flag_name(f)
        if name == "insecure":
            yield at(
                ctx,
                s,
                "R16",
                Severity.ERROR,
                "GOFLAGS has -insecure, whose effect was removed in Go 1.17: it no longer skips TLS"
                " or checksum checks; `go get` fails with `-insecure flag is no longer supported; "
                "use GOINSECURE instead` and other commands ignore it",
                "use GOINSECURE for the module paths that need it, and GOPRIVATE/GONOSUMDB",
            )
        elif name not in GO_FLAG_NAMES:
            yield at(
                ctx,
                s,
                "R15",
                Severity.ERROR,
                f"GOFLAGS has -{name}, which no go command defines: `go: parsing $GOFLAGS: "
                f"unknown flag -{name}`",
                "remove the flag or fix its spelling",
            )
        if f in ("-mod=mod", "--mod=mod") and ctx.kind in ("docker", "github", "gitlab"):
            yield at(
                ctx,
                s,
                "R17",
                Severity.WARN,
                "GOFLAGS=-mod=mod in CI lets the build rewrite go.mod and go.sum silently and "
                "hides `missing go.sum entry` errors (the default is -mod=readonly)",
                "drop -mod=mod; run `go mod tidy` locally and commit go.mod and go.sum",
            )
        if f in ("-mod=vendor", "--mod=vendor") and ctx.facts.get("vendor_modules_txt") is False:
            yield at(
                ctx,
                s,
                "R18",
                Severity.ERROR,
                "GOFLAGS=-mod=vendor but vendor/modules.txt is missing: the build fails with "
                "`inconsistent vendoring` or `import lookup disabled by -mod=vendor`",
                "run `go mod vendor` and commit vendor/, or drop -mod=vendor",
            )


# ---------------------------------------------------------------------------------------------
# GOTOOLCHAIN and go.mod versions


def _need(ctx: Context, local: bool) -> tuple[str, str]:
    """The Go version go.mod makes the go command run, and which line asks for it. With
    GOTOOLCHAIN=local only the ``go`` line is a minimum: the ``toolchain`` line merely names
    the toolchain to switch to, and a local Go that satisfies the go line builds as it is."""
    go, tc = str(ctx.facts.get("gomod_go") or ""), str(ctx.facts.get("gomod_toolchain") or "")
    tc = tc.removeprefix("go").split("-", 1)[0]
    kg, kt = gover_key(go), gover_key(tc)
    if not local and kt is not None and (kg is None or kt > kg):
        return tc, "toolchain"
    return go, "go"


def _older(local: str, need: str) -> bool | None:
    """True when Go ``local`` is older than ``need``; None when it cannot be told (a
    ``1.22`` image tag is the newest 1.22.x release)."""
    kl, kn = gover_key(local), gover_key(need)
    if kl is None or kn is None:
        return None
    if kl[2] == 0 and kl[:2] == kn[:2] and kn[2] != 0:
        return None
    if kl[2] == 0:
        return kl[:2] < kn[:2]
    return kl < kn


@rule
def r19_r20_r21_toolchain(ctx: Context, eff: Effective) -> Iterator[Finding]:
    if ctx.kind == "docker" and not ctx.facts.get("module_go"):
        return  # the stage builds nothing of the module (only `go install pkg@version`)
    tc = eff.setting("GOTOOLCHAIN")
    local = tc.value.split("+")[0] == "local" and tc.known
    need, which = _need(ctx, local)
    if not need or not ctx.go_version:
        return
    if (gover_key(ctx.go_version) or (0, 0))[:2] < (1, 21):
        return  # before Go 1.21 the go line is advisory and there is no toolchain switch
    older = _older(ctx.go_version, need)
    gomod = str(ctx.facts.get("gomod_file") or "go.mod")
    if older and local:
        code = "D07" if ctx.kind == "docker" else "R19"
        yield at(
            ctx,
            tc,
            code,
            Severity.ERROR,
            f"{gomod} asks for go {need} ({which} line) but this context runs go "
            f"{ctx.go_version} with GOTOOLCHAIN=local ({tc.source}): `requires go >= {need} "
            f"(running go {ctx.go_version}; GOTOOLCHAIN=local)`",
            f"use a Go {need} (or newer) image / setup-go version, or set GOTOOLCHAIN=auto "
            "where the proxy and checksum database serve golang.org/toolchain",
        )
        return
    if not older:
        return
    auto = tc.value in ("auto", "") or tc.value.endswith("+auto")
    off = (eff["GOPROXY"] == "off" and _known(eff, "GOPROXY")) or eff["GOSUMDB"] == "off"
    if auto and off:
        yield at(
            ctx,
            tc,
            "R20",
            Severity.WARN,
            f"go {ctx.go_version} must switch to go {need} for {gomod}, but "
            + ("GOPROXY=off" if eff["GOPROXY"] == "off" else "GOSUMDB=off")
            + " makes the toolchain download fail",
            "install the Go version go.mod needs, or allow the toolchain download (GOPROXY and "
            "the checksum database must serve golang.org/toolchain)",
        )
    if auto and not off and ctx.kind != "docker":
        yield at(
            ctx,
            tc if tc.file else None,
            "R28",
            Severity.WARN,
            f"{gomod} asks for go {need} ({which} line) but this job sets up go "
            f"{ctx.go_version}: the go command downloads go{_release(need)} (the module "
            "golang.org/toolchain) and switches to it, so the job builds and tests with "
            "another Go than the one it installs",
            f"install go {_release(need)} or newer (setup-go `go-version-file: go.mod`), or "
            f"lower the {which} line",
        )
    if which == "go" and is_language_version(need) and (gover_key(need) or (0, 0)) >= (1, 21):
        yield Finding(
            "R21",
            Severity.INFO,
            f"{gomod} says `go {need}` (no patch number): the go command reads it as go "
            f"{need}.0 and switches to go{need}.0 when the local Go is older (go "
            f"{ctx.go_version} here)",
            f"write `go {need}.0` to say what it means",
            gomod,
            int(str(ctx.facts.get("gomod_go_line") or 0)),
            (ctx.name,),
        )


def _release(v: str) -> str:
    """The release a go line names: ``1.22`` is ``1.22.0`` (a language version)."""
    return f"{v}.0" if is_language_version(v) else v


# ---------------------------------------------------------------------------------------------
# GOVCS, GOENV


@rule
def r22_govcs(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOVCS")
    if not s.known or not s.value:
        return
    try:
        rules = parse_govcs(s.value)
    except InvalidInput as exc:
        yield at(
            ctx,
            s,
            "R22",
            Severity.ERROR,
            f"GOVCS cannot be parsed: `{exc}`",
            "write GOVCS as `pattern:vcs|vcs,...` (e.g. `private:git,public:off`)",
        )
        return
    priv = eff["GOPRIVATE"]
    blocked = [p for p in priv.split(",") if p and not govcs_allows(rules, p, True, "git")]
    direct = any(x.url == "direct" for x in _entries(eff["GOPROXY"]))
    if direct and not govcs_allows(rules, "example.com/m", False, "git"):
        blocked.append("public paths (fetched directly after a proxy 404/410)")
    if blocked:
        yield at(
            ctx,
            s,
            "R22",
            Severity.ERROR,
            f"GOVCS={s.value!r} forbids git for {', '.join(blocked)}, which the go command must "
            "fetch directly: `GOVCS disallows using git for ...`",
            "allow git for those paths (e.g. `private:git|hg`), or fetch them through a proxy",
        )


@rule
def r25_goenv_off(ctx: Context, eff: Effective) -> Iterator[Finding]:
    s = eff.setting("GOENV")
    if s.value == "off":
        yield at(
            ctx,
            s,
            "R25",
            Severity.INFO,
            "GOENV=off: the user go env file is ignored; `go env -w` still writes it (at its "
            "default place) but no go command reads what it wrote, only the environment and "
            "$GOROOT/go.env apply",
            "set every Go variable in the environment",
        )


@rule
def x02_go_disagrees(ctx: Context, eff: Effective) -> Iterator[Finding]:
    goenv = ctx.facts.get("go_env")
    if not isinstance(goenv, dict):
        return
    for key in (*SOURCE_KEYS, "GOFLAGS", "GOTOOLCHAIN"):
        s = eff.setting(key)
        if key in goenv and s.known and goenv[key] != s.value:
            yield at(
                ctx,
                s,
                "X02",
                Severity.INFO,
                f"`go env` reports {key}={mask(str(goenv[key]))!r} but the doctor computed "
                f"{mask(s.value)!r} from {s.source}",
                "check for a GOENV, GOROOT or go.env the doctor did not see",
            )
