"""Properties of gomod.modfile over generated go.mod texts and values: only ModFileError
escapes, lax mode accepts whatever strict mode accepts and agrees with it, errors name a line
of the file, and formatting the directives a proxy reads parses back to the same values."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.gomod.modfile import ModFile, ModFileError, Require, Retract, parse_gomod
from tests.differential.oracle import SCALE
from tests.property.gomod_texts import gomod_texts
from tests.property.test_goenv_props import BATCH, MANY

_LINE_REF = re.compile(r"go\.mod:(\d+)(?::\d+)?: ")


class TestParse:
    @MANY
    @given(st.lists(gomod_texts(), min_size=BATCH, max_size=BATCH))
    def test_lax_accepts_what_strict_accepts(self, texts: list[str]) -> None:
        """Strict success implies lax success with the same shared fields; errors cite lines
        of the text; nothing but ModFileError is raised."""
        for text in texts:
            self.check(text)

    @staticmethod
    def check(text: str) -> None:
        lines = text.count("\n") + 1
        results: list[ModFile | None] = []
        for strict in (False, True):
            try:
                results.append(parse_gomod(text, strict=strict))
            except ModFileError as e:
                results.append(None)
                for err in e.errors:
                    m = _LINE_REF.match(err)
                    assert m is not None, err
                    assert 1 <= int(m.group(1)) <= lines, err
        lax, strict_ = results
        if strict_ is not None:
            assert lax is not None
            assert lax.toolchain is None
            assert (lax.module, lax.deprecated, lax.go, lax.require, lax.ignore) == (
                strict_.module,
                strict_.deprecated,
                strict_.go,
                strict_.require,
                strict_.ignore,
            )
            assert lax.retract == strict_.retract


# Path and version pairs that agree on the major version.
_requires = st.sampled_from(
    [
        ("example.com/m", "v1.0.0"),
        ("example.com/m", "v2.3.4+incompatible"),
        ("a.example/b/v2", "v2.0.1"),
        ("gopkg.in/yaml.v3", "v3.0.0"),
        ("x.example/é", "v0.1.2-pre"),
    ]
)
_paths = st.sampled_from(["example.com/m", "a.example/b/v2", "gopkg.in/yaml.v3", "x.example/é"])
_versions = st.sampled_from(["v1.0.0", "v0.1.2-pre", "v2.3.4+incompatible", "v1.2.3-0.2024"])
_words = st.text(alphabet="abc !.:", min_size=1, max_size=10).map(str.strip).filter(bool)


def format_gomod(f: ModFile) -> str:
    """A go.mod for the fields a proxy reads, written the way people write them."""
    out = []
    if f.deprecated:
        out.append(f"// Deprecated: {f.deprecated}")
    out.append(f'module "{f.module}"')
    if f.go:
        out.append(f"go {f.go}")
    for r in f.require:
        out.append(f"require {r.path} {r.version}" + (" // indirect" if r.indirect else ""))
    if f.retract:
        out.append("retract (")
        for t in f.retract:
            if t.rationale:
                out.append(f"\t// {t.rationale}")
            out.append(f"\t[{t.low}, {t.high}]" if t.low != t.high else f"\t{t.low}")
        out.append(")")
    return "\n".join(out) + "\n"


@st.composite
def modfiles(draw: st.DrawFn) -> ModFile:
    return ModFile(
        module=draw(_paths),
        deprecated=draw(st.one_of(st.just(""), _words)),
        go=draw(st.sampled_from([None, "1.21", "1.22.3", "1.23rc1"])),
        require=tuple(
            Require(p, v, i)
            for (p, v), i in draw(st.lists(st.tuples(_requires, st.booleans()), max_size=3))
        ),
        retract=tuple(
            Retract(lo, hi, why)
            for lo, hi, why in draw(
                st.lists(
                    st.tuples(_versions, _versions, st.one_of(st.just(""), _words)), max_size=3
                )
            )
        ),
    )


class TestRoundTrip:
    @settings(max_examples=300 * SCALE, deadline=None, database=None, derandomize=True)
    @given(modfiles())
    def test_format_then_parse(self, f: ModFile) -> None:
        """Formatting module, go, require and retract and parsing it back gives them back."""
        assert parse_gomod(format_gomod(f), strict=True) == f
