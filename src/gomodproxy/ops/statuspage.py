"""The HTML status page at ``/``: is this proxy healthy, at a glance, in any browser.

One self-contained HTML document: inline CSS, no scripts, no external assets (so it works
behind an air gap and with JavaScript off). ``render(status)`` is pure: it turns a
:class:`Status` (gathered by ``gomodproxy.ops.routes``) into bytes; every value is escaped.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from gomodproxy.ops.observe import PRIVATE_PATH, RecentError

#: Seconds a failure keeps a component shown as failing.
RECENT = 300.0


@dataclass
class UpstreamHealth:
    """Request outcomes of one source since start-up."""

    source: str
    success: int = 0
    not_found: int = 0
    errors: int = 0
    timeouts: int = 0
    #: (requests, failed) since an earlier look at the page, when there was one: the state
    #: then describes the last minutes rather than the whole uptime.
    window: tuple[int, int] | None = None

    @property
    def total(self) -> int:
        return self.success + self.not_found + self.errors + self.timeouts

    @property
    def state(self) -> str:
        total, failed = self.window or (self.total, self.errors + self.timeouts)
        if total == 0:
            return "idle"
        return "failing" if failed * 2 > total else "ok"


@dataclass
class Status:
    """Everything the page shows."""

    version: str
    uptime_seconds: float
    storage_backend: str
    storage_bytes: int | None
    storage_files: int | None
    cache_hits: int
    cache_lookups: int
    download_success: int
    download_failure: int
    upstreams: list[UpstreamHealth]
    sumdb_name: str
    sumdb_mode: str
    verification_failures: int
    sumdb_unavailable: int
    sumdb_last_error: RecentError | None
    degraded: list[str]
    recent_errors: list[RecentError]
    top_modules: list[tuple[str, int]]
    generated: float = field(default_factory=time.time)

    @property
    def cache_hit_ratio(self) -> float | None:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    @property
    def sumdb_state(self) -> str:
        """ok, unreachable (a lookup failed in the last ``RECENT`` seconds) or refusals."""
        if self.verification_failures:
            return "refusals"
        last = self.sumdb_last_error
        if last is not None and self.generated - last.time < RECENT:
            return "unreachable"
        return "ok"

    @property
    def download_success_ratio(self) -> float | None:
        total = self.download_success + self.download_failure
        return self.download_success / total if total else None


def duration(seconds: float) -> str:
    """``3d 4h 5m 6s`` (largest units only as needed)."""
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{s}s")
    return " ".join(parts)


def size(n: int | None) -> str:
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.2f}%"


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c8cdd8}
main{padding:18px 28px;display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));
gap:18px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{text-align:left;padding:3px 6px;
border-bottom:1px solid #eef0f4;vertical-align:top}th{font-weight:600;color:#4a5568}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d;font-weight:600}.bad{color:#c53030;font-weight:600}
.idle{color:#718096}.wide{grid-column:1/-1}code{font-size:13px;word-break:break-all}
"""


_STATE_CLASS = {"ok": "ok", "idle": "idle", "failing": "bad"}


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _state(ok: bool, good: str = "ok", bad: str = "failing") -> str:
    return f'<span class="ok">{good}</span>' if ok else f'<span class="bad">{bad}</span>'


def render(st: Status) -> bytes:
    """The page as UTF-8 bytes."""
    ratio = st.download_success_ratio
    overall_ok = not st.degraded and (ratio is None or ratio >= 0.995)
    rows = [
        ("Version", _e(st.version)),
        ("Uptime", _e(duration(st.uptime_seconds))),
        ("Overall", _state(overall_ok, "healthy", "attention")),
        ("Download success (SLI)", _e(percent(ratio))),
        ("Downloads answered", _e(st.download_success + st.download_failure)),
        ("Degraded", _e(", ".join(st.degraded) or "no")),
    ]
    summary = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    storage = (
        f"<tr><th>Backend</th><td>{_e(st.storage_backend)}</td></tr>"
        f"<tr><th>Size</th><td>{_e(size(st.storage_bytes))}</td></tr>"
        f"<tr><th>Files</th><td>"
        f"{_e('unknown' if st.storage_files is None else st.storage_files)}</td></tr>"
        f"<tr><th>Cache hit ratio</th><td>{_e(percent(st.cache_hit_ratio))}"
        f" ({_e(st.cache_hits)} of {_e(st.cache_lookups)} lookups)</td></tr>"
    )
    if st.upstreams:
        ups = "".join(
            f"<tr><td><code>{_e(u.source)}</code></td>"
            f'<td><span class="{_STATE_CLASS[u.state]}">{_e(u.state)}</span></td>'
            f"<td class=n>{u.success}</td><td class=n>{u.not_found}</td>"
            f"<td class=n>{u.errors}</td><td class=n>{u.timeouts}</td></tr>"
            for u in st.upstreams
        )
    else:
        ups = '<tr><td colspan=6 class="idle">no upstream request yet</td></tr>'
    upstream = (
        "<table><tr><th>Source</th><th>State</th><th>ok</th><th>404</th>"
        f"<th>errors</th><th>timeouts</th></tr>{ups}</table>"
    )
    if st.sumdb_name:
        sumdb = (
            f"<tr><th>Database</th><td><code>{_e(st.sumdb_name)}</code></td></tr>"
            f"<tr><th>Mode</th><td>{_e(st.sumdb_mode)}</td></tr>"
            f"<tr><th>State</th><td>{_state(st.sumdb_state == 'ok', 'ok', st.sumdb_state)}"
            f"</td></tr><tr><th>Verification failures</th><td>"
            f"{_e(st.verification_failures)}</td></tr>"
            f"<tr><th>Downloads failed: database unreachable</th><td>"
            f"{_e(st.sumdb_unavailable)} (this worker)</td></tr>"
        )
        if st.sumdb_last_error is not None:
            e = st.sumdb_last_error
            sumdb += (
                f"<tr><th>Last database error</th><td>{_e(_clock(e.time))} {_e(e.error)}</td></tr>"
            )
    else:
        sumdb = '<tr><td class="idle">checksum database verification is off (GOSUMDB)</td></tr>'
    if st.recent_errors:
        errs = "".join(
            f"<tr><td>{_e(_clock(e.time))}</td>"
            f"<td class=n>{e.status}</td><td>"
            f"{'(a private module)' if e.path == PRIVATE_PATH else f'<code>{_e(e.path)}</code>'}"
            "</td>"
            f"<td>{_e(e.error)}</td></tr>"
            for e in reversed(st.recent_errors)
        )
    else:
        errs = '<tr><td colspan=4 class="idle">no errors since start-up</td></tr>'
    if st.top_modules:
        tops = "".join(
            f"<tr><td>{'(private modules)' if m == PRIVATE_PATH else f'<code>{_e(m)}</code>'}"
            f"</td><td class=n>{n}</td></tr>"
            for m, n in st.top_modules
        )
    else:
        tops = '<tr><td colspan=2 class="idle">no module downloaded yet</td></tr>'
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(st.generated))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gomodproxy status</title><style>{_CSS}</style></head>
<body><header><h1>gomodproxy status</h1><p>Go module proxy, version {_e(st.version)}
&middot; generated {_e(generated)}</p></header>
<main>
<section id="summary"><h2>Summary</h2><table>{summary}</table></section>
<section id="storage"><h2>Storage and cache</h2><table>{storage}</table></section>
<section id="upstreams"><h2>Upstream health</h2>{upstream}</section>
<section id="sumdb"><h2>Checksum database</h2><table>{sumdb}</table></section>
<section id="top-modules"><h2>Most-downloaded modules</h2><table>
<tr><th>Module</th><th>zips served</th></tr>{tops}</table></section>
<section id="recent-errors" class="wide"><h2>Recent errors (this worker)</h2><table>
<tr><th>Time</th><th>Status</th><th>Path</th><th>Error</th></tr>{errs}</table></section>
</main></body></html>
"""
    return page.encode("utf-8")
