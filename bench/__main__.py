"""Run every benchmark module in bench/ (``python -m bench``)."""

from __future__ import annotations

import importlib
import pkgutil

import bench


def main() -> int:
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith("bench_"):
            module = importlib.import_module(f"bench.{info.name}")
            print(f"== {info.name}")
            module.run()
    return 0


raise SystemExit(main())
