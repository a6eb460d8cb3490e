"""gomodproxy.gomod.modfile against golang.org/x/mod/modfile (the oracle): ParseLax and Parse
with no version fixer, and ModulePath, on the vector table and on generated go.mod texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seed_decorator
from hypothesis import strategies as st

from gomodproxy.gomod.modfile import ModFile, ModFileError, module_path, parse_gomod
from tests.differential.oracle import SCALE, ask
from tests.property.gomod_texts import gomod_texts

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "modfile.json").read_text()
)
N = 3000 * SCALE


def as_oracle(f: ModFile) -> dict[str, Any]:
    """Our result in the oracle's JSON shape."""
    return {
        "module": f.module,
        "deprecated": f.deprecated,
        "go": f.go,
        "toolchain": f.toolchain,
        "require": [[r.path, r.version, r.indirect] for r in f.require],
        "retract": [[r.low, r.high, r.rationale] for r in f.retract],
        "ignore": list(f.ignore),
        "exclude": [list(e) for e in f.exclude],
        "replace": [[r.old_path, r.old_version, r.new_path, r.new_version] for r in f.replace],
        "godebug": [list(g) for g in f.godebug],
        "tool": list(f.tool),
    }


def ours(text: str, strict: bool) -> dict[str, Any] | str:
    try:
        return as_oracle(parse_gomod(text, strict=strict))
    except ModFileError as e:
        return str(e)


def draw_texts(n: int, seed: int) -> list[str]:
    """``n`` generated go.mod texts, deterministic (one oracle call takes them all)."""
    out: list[str] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed_decorator(seed)
    @given(gomod_texts())
    def collect(text: str) -> None:
        out.append(text)

    collect()
    return out


def compare(texts: list[str]) -> None:
    args = [{"Data": t, "Strict": s} for t in texts for s in (False, True)]
    answers = ask("modfile.parse", args)
    bad = []
    for a, arg in zip(answers, args, strict=True):
        want = a.error if a.error is not None else a.result
        got = ours(arg["Data"], arg["Strict"])
        if got != want:
            bad.append((arg, got, want))
    assert not bad, bad[:3]
    paths = ask("modfile.module_path", [{"Data": t} for t in texts])
    for t, a in zip(texts, paths, strict=True):
        assert module_path(t) == a.result, t


class TestModfile:
    def test_vectors(self) -> None:
        """Every vector text parses (or fails) in Go as in the table, lax and strict."""
        compare([c["text"] for c in VECTORS["parse"]])

    def test_generated(self) -> None:
        """Generated go.mod texts parse the same in both, errors and positions included."""
        compare(sorted(set(draw_texts(N, seed=3))))

    def test_generated_module_lines(self) -> None:
        """ModulePath agrees on generated module lines."""
        lines = st.lists(
            st.sampled_from(
                [
                    "module",
                    "module ",
                    " module\tx",
                    "modulex y",
                    'module  "a\\"b"',
                    "x",
                    'module "a" "b"',
                    "module `a`b`",
                    "module `a\rb`",
                    'module "a',
                    "module '",
                    "module a // c",
                    "// module b",
                    'module "\\u00e9"',
                    "module\xa0x",
                ]
            ),
            max_size=3,
        ).map("\n".join)
        texts: list[str] = []

        @settings(max_examples=300, database=None, derandomize=True, deadline=None)
        @given(lines)
        def collect(text: str) -> None:
            texts.append(text)

        collect()
        answers = ask("modfile.module_path", [{"Data": t} for t in texts])
        for t, a in zip(texts, answers, strict=True):
            assert module_path(t) == a.result, t
