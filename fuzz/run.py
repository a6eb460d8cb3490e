"""Coverage-guided fuzzing with atheris: ``python fuzz/run.py TARGET [libFuzzer flags]``.

``make fuzz`` runs every target for ``FUZZ_SECONDS`` (default 300) with a corpus directory
per target under ``fuzz/corpus/`` (kept between runs, not committed). Crashes are written by
libFuzzer as ``fuzz/crashes/crash-*``; replay one with ``python fuzz/run.py TARGET FILE``
and add it to ``REGRESSIONS`` in ``tests/property/test_fuzz_smoke.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import atheris

from fuzz.targets import TARGETS


def _load_and_instrument() -> None:
    """Import every module a target reaches, then instrument all loaded Python code."""
    import gomodproxy.gomod.modfile
    import gomodproxy.localfs.zipfiles
    import gomodproxy.ports.keys
    import gomodproxy.redact.secrets
    import gomodproxy.service.requests
    import gomodproxy.sources.direct.discovery
    import gomodproxy.sumdb.note
    import gomodproxy.sumdb.tile  # noqa: F401

    atheris.instrument_all()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        print(f"usage: run.py {{{'|'.join(TARGETS)}}} [libFuzzer flags]", file=sys.stderr)
        raise SystemExit(2)
    target = TARGETS[sys.argv[1]]
    _load_and_instrument()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
