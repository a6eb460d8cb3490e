"""Prometheus metrics and the JSON request log, cheap enough for the hot path.

Metrics. Each worker process counts in plain dicts (a request costs two dict updates and a
bisect), and writes a snapshot to ``<metrics dir>/worker-<pid>.json`` about once a second.
``/metrics``, answered by whichever worker gets it, refreshes its own snapshot and sums every
worker's; counters of workers that exited stay in the sum (counters never go down), the
in-flight gauge counts live workers only. The exposition text is made by prometheus_client.

Names (base units, ``_total`` counters)::

    gomodproxy_http_requests_total{route,code}
    gomodproxy_http_request_duration_seconds{route}          histogram
    gomodproxy_cache_lookups_total{tier,result}
    gomodproxy_upstream_requests_total{source,artifact,outcome}
    gomodproxy_upstream_request_duration_seconds{source}     histogram
    gomodproxy_inflight_fetches                              gauge
    gomodproxy_degraded{component}                           gauge (Redis, OCI storage)

Other components add counters with ``Metrics.inc(name, help, labels)`` (for example
``gomodproxy_verification_failures_total``).

Request log. One JSON object per line on stdout, built with one ``json.dumps``; lines are
buffered and written at most every 0.2 s (and on shutdown), so a request never waits on a
write system call.
"""

from __future__ import annotations

import json
import os
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from gomodproxy.localfs.procs import pid_alive
from gomodproxy.ops.linebuffer import BufferedLines

#: Histogram bucket upper bounds in seconds (the last, +Inf, is implicit).
REQUEST_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_HELP = {
    "gomodproxy_http_requests_total": "HTTP requests answered, by route and status code.",
    "gomodproxy_http_request_duration_seconds": "Time to answer an HTTP request, by route.",
    "gomodproxy_cache_lookups_total": "Cache lookups by tier (memory, storage) and result.",
    "gomodproxy_upstream_requests_total": "Requests to sources by artifact and outcome.",
    "gomodproxy_upstream_request_duration_seconds": "Time of one request to a source.",
    "gomodproxy_inflight_fetches": (
        "Upstream fetches in progress (single-flight keys: artifacts, metadata and "
        "checksum-database lookups)."
    ),
    "gomodproxy_degraded": "1 while a shared backend (redis, storage) is unreachable and a "
    "worker runs on its in-process fallback.",
}


K = TypeVar("K")


def _record(hists: dict[K, list[float]], key: K, bounds: tuple[float, ...], seconds: float) -> None:
    """Count ``seconds`` in the histogram of ``key``: one count per bucket of ``bounds``, then
    +Inf, then the sum and the count (made on first use)."""
    hist = hists.get(key)
    if hist is None:
        hist = hists[key] = [0.0] * (len(bounds) + 3)
    hist[bisect_left(bounds, seconds)] += 1
    hist[-2] += seconds
    hist[-1] += 1


class Metrics:
    """Per-process counters and histograms, aggregated across workers at scrape time."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.requests: dict[tuple[str, int], int] = {}
        self.request_hist: dict[str, list[float]] = {}
        self.cache: dict[tuple[str, str], int] = {}
        self.upstream_count: dict[tuple[str, str, str], int] = {}
        self.upstream_hist: dict[str, list[float]] = {}
        #: name → {label tuple → value}; help texts in ``_extra_help``.
        self.extra: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._extra_help: dict[str, str] = {}
        self.inflight: Callable[[], int] = lambda: 0
        #: Shared backends that can degrade → whether they are down now.
        self.degraded: Callable[[], dict[str, bool]] = dict
        #: name → (help, read() → {label tuple → value}); read at each snapshot.
        self.gauges: dict[str, tuple[str, Callable[[], dict[tuple[tuple[str, str], ...], float]]]]
        self.gauges = {}
        self._counter_reads: list[
            Callable[[], dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]]
        ] = []
        #: name → (help, bucket bounds, {label tuple → [bucket counts..., sum, count]}).
        self.histograms: dict[
            str, tuple[str, tuple[float, ...], dict[tuple[tuple[str, str], ...], list[float]]]
        ] = {}
        self._file = directory / f"worker-{os.getpid()}.json" if directory else None

    # -- recording (hot path) -----------------------------------------------------------

    def request(self, route: str, code: int, seconds: float) -> None:
        key = (route, code)
        self.requests[key] = self.requests.get(key, 0) + 1
        _record(self.request_hist, route, REQUEST_BUCKETS, seconds)

    def memory_hit(self, route: str, seconds: float) -> None:
        """A 200 from the hot cache: ``request(route, 200, seconds)`` plus a memory cache hit."""
        self.request(route, 200, seconds)
        self.cache[("memory", "hit")] = self.cache.get(("memory", "hit"), 0) + 1

    def cache_lookup(self, tier: str, result: str) -> None:
        key = (tier, result)
        self.cache[key] = self.cache.get(key, 0) + 1

    def upstream(self, source: str, artifact: str, outcome: str, seconds: float) -> None:
        key = (source, artifact, outcome)
        self.upstream_count[key] = self.upstream_count.get(key, 0) + 1
        _record(self.upstream_hist, source, UPSTREAM_BUCKETS, seconds)

    def inc(
        self, name: str, help: str, labels: dict[str, str] | None = None, value: float = 1
    ) -> None:
        """Add to a counter defined by its caller (name must end in ``_total``)."""
        self._extra_help.setdefault(name, help)
        series = self.extra.setdefault(name, {})
        key = tuple(sorted((labels or {}).items()))
        series[key] = series.get(key, 0) + value

    def gauge(
        self,
        name: str,
        help: str,
        read: Callable[[], dict[tuple[tuple[str, str], ...], float]],
    ) -> None:
        """Register a gauge read at each snapshot; workers combine by max (live ones only)."""
        self.gauges[name] = (help, read)

    def counters(
        self, read: Callable[[], dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]]
    ) -> None:
        """Register counters kept elsewhere (``name -> (help, {labels: value})``), read at
        each snapshot and summed across workers like those of ``inc``."""
        self._counter_reads.append(read)

    def observe(
        self,
        name: str,
        help: str,
        labels: tuple[tuple[str, str], ...],
        seconds: float,
        bounds: tuple[float, ...] = REQUEST_BUCKETS,
    ) -> None:
        """Record one duration in a histogram defined by its caller (sorted label pairs)."""
        entry = self.histograms.get(name)
        if entry is None:
            entry = self.histograms[name] = (help, bounds, {})
        _record(entry[2], labels, entry[1], seconds)

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        extra = {name: dict(series) for name, series in self.extra.items()}
        helps = dict(self._extra_help)
        for read in self._counter_reads:
            for name, (help, series) in read().items():
                helps.setdefault(name, help)
                acc = extra.setdefault(name, {})
                for key, v in series.items():
                    acc[key] = acc.get(key, 0) + v
        return {
            "pid": os.getpid(),
            "requests": [[r, c, n] for (r, c), n in self.requests.items()],
            "request_hist": self.request_hist,
            "cache": [[t, r, n] for (t, r), n in self.cache.items()],
            "upstream": [[s, a, o, n] for (s, a, o), n in self.upstream_count.items()],
            "upstream_hist": self.upstream_hist,
            "extra": {
                name: [[dict(k), v] for k, v in series.items()] for name, series in extra.items()
            },
            "extra_help": helps,
            "inflight": self.inflight(),
            "degraded": self.degraded(),
            "gauges": {
                name: [help, [[dict(k), v] for k, v in read().items()]]
                for name, (help, read) in self.gauges.items()
            },
            "histograms": {
                name: [help, list(bounds), [[dict(k), v] for k, v in series.items()]]
                for name, (help, bounds, series) in self.histograms.items()
            },
        }

    def write_snapshot(self) -> None:
        if self._file is None:
            return
        tmp = self._file.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.snapshot()))
            os.replace(tmp, self._file)
        except OSError:
            pass

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live worker's snapshot (this one's written first), or this one's alone."""
        if self.directory is None:
            return [self.snapshot()]
        self.write_snapshot()
        out = []
        for path in sorted(self.directory.glob("worker-*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out or [self.snapshot()]

    def render(self) -> bytes:
        """The Prometheus text exposition of every worker's metrics, summed."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_SnapshotCollector(self.snapshots()))
        return generate_latest(registry)


def _sum_hists(snaps: Iterable[dict[str, Any]], field: str) -> dict[str, list[float]]:
    total: dict[str, list[float]] = {}
    for snap in snaps:
        for label, hist in snap.get(field, {}).items():
            acc = total.setdefault(label, [0.0] * len(hist))
            for i, v in enumerate(hist):
                acc[i] += v
    return total


def _histogram(
    name: str, label: str, hists: dict[str, list[float]], bounds: tuple[float, ...]
) -> Metric:
    fam = HistogramMetricFamily(name, _HELP[name], labels=[label])
    for value, hist in sorted(hists.items()):
        cumulative, buckets = 0.0, []
        for i, bound in enumerate(bounds):
            cumulative += hist[i]
            buckets.append((repr(bound), cumulative))
        cumulative += hist[len(bounds)]
        buckets.append(("+Inf", cumulative))
        fam.add_metric([value], buckets, hist[-2])
    return fam


def _counter(name: str, labels: list[str], series: Mapping[tuple[str, ...], float]) -> Metric:
    fam = CounterMetricFamily(name.removesuffix("_total"), _HELP[name], labels=labels)
    for values, n in sorted(series.items()):
        fam.add_metric(list(values), n)
    return fam


class _SnapshotCollector:
    def __init__(self, snaps: list[dict[str, Any]]) -> None:
        self.snaps = snaps

    def collect(self) -> Iterable[Metric]:
        snaps = self.snaps
        requests: dict[tuple[str, ...], float] = {}
        cache: dict[tuple[str, ...], float] = {}
        upstream: dict[tuple[str, ...], float] = {}
        extra: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        helps: dict[str, str] = {}
        gauges: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]] = {}
        hists: dict[
            str, tuple[str, tuple[float, ...], dict[tuple[tuple[str, str], ...], list[float]]]
        ] = {}
        inflight = 0
        degraded: dict[str, float] = {}
        for snap in snaps:
            for route, code, n in snap["requests"]:
                requests[(route, str(code))] = requests.get((route, str(code)), 0) + n
            for tier, result, n in snap["cache"]:
                cache[(tier, result)] = cache.get((tier, result), 0) + n
            for s, a, o, n in snap["upstream"]:
                upstream[(s, a, o)] = upstream.get((s, a, o), 0) + n
            for name, series in snap.get("extra", {}).items():
                acc = extra.setdefault(name, {})
                for labels, v in series:
                    key = tuple(sorted(labels.items()))
                    acc[key] = acc.get(key, 0) + v
            helps.update(snap.get("extra_help", {}))
            for name, (help, bounds, hseries) in snap.get("histograms", {}).items():
                hacc = hists.setdefault(name, (help, tuple(bounds), {}))[2]
                for labels, counts in hseries:
                    key = tuple(sorted(labels.items()))
                    acc_counts = hacc.setdefault(key, [0.0] * len(counts))
                    for i, v in enumerate(counts):
                        acc_counts[i] += v
            if snap["pid"] == os.getpid() or pid_alive(int(snap["pid"])):
                inflight += int(snap.get("inflight", 0))
                for component, down in snap.get("degraded", {}).items():
                    degraded[component] = max(degraded.get(component, 0.0), float(down))
                for name, (help, series) in snap.get("gauges", {}).items():
                    gacc = gauges.setdefault(name, (help, {}))[1]
                    for labels, v in series:
                        key = tuple(sorted(labels.items()))
                        gacc[key] = max(gacc.get(key, v), v)

        yield _counter("gomodproxy_http_requests_total", ["route", "code"], requests)
        yield _histogram(
            "gomodproxy_http_request_duration_seconds",
            "route",
            _sum_hists(snaps, "request_hist"),
            REQUEST_BUCKETS,
        )
        yield _counter("gomodproxy_cache_lookups_total", ["tier", "result"], cache)
        yield _counter(
            "gomodproxy_upstream_requests_total", ["source", "artifact", "outcome"], upstream
        )
        yield _histogram(
            "gomodproxy_upstream_request_duration_seconds",
            "source",
            _sum_hists(snaps, "upstream_hist"),
            UPSTREAM_BUCKETS,
        )
        gauge = GaugeMetricFamily(
            "gomodproxy_inflight_fetches", _HELP["gomodproxy_inflight_fetches"]
        )
        gauge.add_metric([], inflight)
        yield gauge
        if degraded:
            gauge = GaugeMetricFamily(
                "gomodproxy_degraded", _HELP["gomodproxy_degraded"], labels=["component"]
            )
            for component, value in sorted(degraded.items()):
                gauge.add_metric([component], value)
            yield gauge
        for name, (help, bounds, hseries) in sorted(hists.items()):
            names = sorted({k for key in hseries for k, _ in key})
            hfam = HistogramMetricFamily(name, help, labels=names)
            for key, counts in sorted(hseries.items()):
                cumulative, buckets = 0.0, []
                for i, bound in enumerate(bounds):
                    cumulative += counts[i]
                    buckets.append((repr(bound), cumulative))
                buckets.append(("+Inf", cumulative + counts[len(bounds)]))
                d = dict(key)
                hfam.add_metric([d.get(n, "") for n in names], buckets, counts[-2])
            yield hfam
        for name, (help, gseries) in sorted(gauges.items()):
            names = sorted({k for key in gseries for k, _ in key})
            gfam = GaugeMetricFamily(name, help, labels=names)
            for key, v in sorted(gseries.items()):
                d = dict(key)
                gfam.add_metric([d.get(n, "") for n in names], v)
            yield gfam
        for name, series in sorted(extra.items()):
            base = name[: -len("_total")] if name.endswith("_total") else name
            names = sorted({k for key in series for k, _ in key})
            fam = CounterMetricFamily(base, helps.get(name, name), labels=names)
            for key, v in sorted(series.items()):
                d = dict(key)
                fam.add_metric([d.get(n, "") for n in names], v)
            yield fam


class RequestLog(BufferedLines):
    """Buffered JSON-lines writer for the per-request log."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.2) -> None:
        super().__init__(interval)
        self.stream = stream or sys.stdout

    def write(self, record: dict[str, Any]) -> None:
        self.write_line(json.dumps(record, separators=(",", ":")))

    def _emit(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
