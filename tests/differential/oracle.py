"""Client of the Go oracle (tools/xmodoracle): golang.org/x/mod answering JSON-lines questions.

Calls are batched: one oracle process per batch of inputs of one family, so thousands of
generated cases cost one process start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

#: make conformance multiplies the number of generated cases by this factor.
SCALE = int(os.environ.get("GOMODPROXY_CONFORMANCE_SCALE", "1"))


@dataclass(frozen=True)
class Answer:
    result: Any
    error: str | None


@cache
def oracle_path() -> str:
    if os.environ.get("GOMODPROXY_CORE_WITHOUT_GO"):
        # make test's coverage gate sets this: the core suite must run without Go.
        pytest.fail("a core (Go-free) test asked the Go oracle")
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed; the oracle cannot be built")
    out = subprocess.run(
        ["bash", str(REPO / "tools" / "build-oracle.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def ask(op: str, args_list: list[dict[str, Any]]) -> list[Answer]:
    """Ask the oracle ``op`` once per element of ``args_list``; answers in the same order."""
    lines = "".join(json.dumps({"op": op, "args": a}) + "\n" for a in args_list)
    proc = subprocess.run(
        [oracle_path()], input=lines, capture_output=True, text=True, check=True, timeout=600
    )
    answers = []
    # Split on "\n" only: Go writes U+0085 and U+2028 raw, which str.splitlines() would split.
    for line in proc.stdout.split("\n"):
        if not line:
            continue
        obj = json.loads(line)
        answers.append(Answer(obj.get("result"), obj["error"] if obj.get("has_error") else None))
    assert len(answers) == len(args_list), proc.stderr
    return answers
