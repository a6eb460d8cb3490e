"""``doctor --probe``: contact the configured proxies and checksum databases (I/O).

For each URL proxy of a context's effective GOPROXY: ``<proxy>/sumdb/<name>/supported`` (what
the go command asks before it proxies checksum database lookups) and a ``list`` request of
``golang.org/toolchain`` (what a toolchain switch asks first). Reports reachability, status and
latency; R14 when the supported probe answers anything but 200/404/410 on a `,` entry, which
makes the go command call the database unavailable for every lookup.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from gomodproxy.doctor.effective import compute
from gomodproxy.doctor.model import Context, Finding, Severity
from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.goenv import parse_goproxy, parse_gosumdb
from gomodproxy.redact.mask import mask

TIMEOUT = 10.0


def _get(client: httpx.Client, url: str) -> tuple[int | None, float, str]:
    """Status (None when unreachable), seconds, and an error text."""
    t0 = time.monotonic()
    if url.startswith("file://"):
        ok = Path(unquote(urlsplit(url).path)).exists()
        return (200 if ok else 404), time.monotonic() - t0, ""
    try:
        r = client.get(url)
    except httpx.HTTPError as exc:
        return None, time.monotonic() - t0, f"{type(exc).__name__}: {exc}"
    return r.status_code, time.monotonic() - t0, ""


def probe(contexts: list[Context], client: httpx.Client | None = None) -> list[Finding]:
    """Probe every distinct proxy of the shell-like contexts whose GOPROXY is known."""
    own = client is None
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=10)
    out: list[Finding] = []
    seen: set[str] = set()
    try:
        for ctx in contexts:
            eff = compute(ctx)
            gp = eff.setting("GOPROXY")
            if not gp.known:
                continue
            try:
                specs = parse_goproxy(gp.value)
                db = parse_gosumdb(eff["GOSUMDB"]) if eff.setting("GOSUMDB").known else None
            except InvalidInput:
                continue  # R01/R02/R12 already say why
            for spec in specs:
                if "://" not in spec.url or spec.url in seen:
                    continue
                seen.add(spec.url)
                out.extend(_probe_one(client, ctx, spec.url, spec.fallback_on_error, db))
    finally:
        if own:
            client.close()
    return out


def _probe_one(
    client: httpx.Client, ctx: Context, base: str, pipe: bool, db: object
) -> list[Finding]:
    base = base.rstrip("/")
    out = []
    checks = [("list of golang.org/toolchain", f"{base}/golang.org/toolchain/@v/list")]
    name = getattr(db, "name", None)
    if name and getattr(db, "url", None) is None:
        checks.insert(0, (f"/sumdb/{name}/supported", f"{base}/sumdb/{name}/supported"))
    for what, url in checks:
        status, secs, err = _get(client, url)
        shown = mask(url)
        if status is None:
            out.append(
                Finding(
                    "P02",
                    Severity.ERROR,
                    f"{shown} is unreachable ({err}) after {secs * 1000:.0f} ms",
                    "check the URL, DNS, HTTPS_PROXY/NO_PROXY and the firewall",
                    ctx.file,
                    ctx.line,
                    (ctx.name,),
                )
            )
            break
        out.append(
            Finding(
                "P01",
                Severity.INFO,
                f"{what}: {shown} answered {status} in {secs * 1000:.0f} ms",
                "nothing to do",
                ctx.file,
                ctx.line,
                (ctx.name,),
            )
        )
        if what.startswith("/sumdb/") and status not in (200, 404, 410) and not pipe:
            out.append(
                Finding(
                    "R14",
                    Severity.ERROR,
                    f"{shown} answered {status}: after a `,` the go "
                    "command treats the checksum database as unavailable for every lookup",
                    "make the proxy answer 200 (it proxies the database) or 404/410 (it does not)",
                    ctx.file,
                    ctx.line,
                    (ctx.name,),
                )
            )
    return out
