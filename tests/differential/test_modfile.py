"""gomodproxy.gomod.modfile against golang.org/x/mod/modfile (the oracle): ParseLax and Parse
with no version fixer, and ModulePath, on the vector table and on generated go.mod texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.gomod.modfile import ModFileError, module_path, parse_gomod
from tests.differential.oracle import SCALE, ask
from tests.property.filetrees import draw_many
from tests.property.gomod_texts import gomod_texts
from tests.unit.test_modfile import shape

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "modfile.json").read_text()
)
N = 3000 * SCALE


def ours(text: str, strict: bool) -> dict[str, Any] | str:
    try:
        return shape(parse_gomod(text, strict=strict))
    except ModFileError as e:
        return str(e)


def compare(texts: list[str]) -> None:
    cases = [(t, strict) for t in texts for strict in (False, True)]
    answers = ask("modfile.parse", [{"Data": t, "Strict": strict} for t, strict in cases])
    bad = []
    for a, (text, strict) in zip(answers, cases, strict=True):
        want = a.error if a.error is not None else a.result
        got = ours(text, strict)
        if got != want:
            bad.append((text, strict, got, want))
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
        compare(sorted(set(draw_many(gomod_texts(), N, seed=3))))

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
