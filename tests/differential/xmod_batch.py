"""One Go-oracle process for a whole family of mixed questions.

tests/differential/oracle.py's ``ask`` runs one process per op; a family here asks several
ops (semver.all, semver.compare, ...) over thousands of generated inputs, so it sends them all
in one process and hands each test its slice of the answers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

from tests.differential.oracle import SCALE, Answer, oracle_path

__all__ = ["SCALE", "Batch", "mismatches"]

#: Cases per string family in ``make test``; ``make conformance`` multiplies it by SCALE.
CASES = 2000 * SCALE


class Batch:
    """Collect ``(op, args)`` questions, then ask them all in one oracle process."""

    def __init__(self) -> None:
        self._requests: list[str] = []
        self._slices: dict[str, tuple[int, int]] = {}
        self._answers: list[Answer] | None = None

    def add(self, name: str, op: str, args_list: list[dict[str, Any]]) -> None:
        """Queue ``op`` once per element of ``args_list``, under ``name``."""
        start = len(self._requests)
        self._requests += [json.dumps({"op": op, "args": a}) + "\n" for a in args_list]
        self._slices[name] = (start, len(self._requests))

    def answers(self, name: str) -> list[Answer]:
        """The answers to the questions queued under ``name``, in order."""
        if self._answers is None:
            proc = subprocess.run(
                [oracle_path()],
                input="".join(self._requests),
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            self._answers = []
            # Not splitlines(): it also splits on U+0085, which Go's JSON encoder writes raw.
            for line in proc.stdout.split("\n")[:-1]:
                obj = json.loads(line)
                err = obj["error"] if obj.get("has_error") else None
                self._answers.append(Answer(obj.get("result"), err))
            assert len(self._answers) == len(self._requests), proc.stderr
        start, end = self._slices[name]
        return self._answers[start:end]


def mismatches(
    inputs: list[Any], answers: list[Answer], ours: Callable[[Any], Any], limit: int = 10
) -> list[str]:
    """Describe up to ``limit`` inputs where ``ours(input)`` differs from Go's result."""
    out: list[str] = []
    for x, a in zip(inputs, answers, strict=True):
        assert a.error is None, f"oracle failed on {x!r}: {a.error}"
        got = ours(x)
        if got != a.result:
            out.append(f"{x!r}:\n    go: {a.result!r}\n    py: {got!r}")
            if len(out) >= limit:
                break
    return out
