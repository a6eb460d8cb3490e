"""Properties of the goenv grammars over generated values: what any parse returns is
well-formed, formatting then parsing gives the same value back, and only InvalidInput escapes."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import goenv
from tests.differential.oracle import SCALE

T = TypeVar("T")

# Each example is a batch of BATCH values: Hypothesis' cost is mostly per example, so 2,000
# values per family cost a fraction of 2,000 examples.
BATCH = 50
MANY = settings(
    max_examples=40 * SCALE,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
SOME = settings(max_examples=300 * SCALE, deadline=None, database=None, derandomize=True)


def batch(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[list[T]]:
    return st.lists(strategy, min_size=BATCH, max_size=BATCH)


_entry_words = st.sampled_from(
    [
        "direct",
        "off",
        "https://p.example",
        "http://127.0.0.1:3000/x",
        "p.example",
        "p.example:8080",
        "file:///srv/p",
        "file:/srv",
        "/abs",
        "word",
        "ftp://x",
        "a:b",
        "https://[::1]",
        "https://u:pw@p.example",
        "",
        " ",
    ]
)
_noise = st.text(alphabet="ab.:/|, \t%@[]?#", max_size=12)
goproxies = st.one_of(
    st.lists(st.tuples(_entry_words, st.sampled_from([",", "|", " , "])), max_size=5).map(
        lambda pairs: "".join(w + sep for w, sep in pairs).rstrip(",| ")
    ),
    _noise,
)


class TestGoproxy:
    @MANY
    @given(batch(st.tuples(goproxies, st.sampled_from(["", "corp.example"]))))
    def test_parse_shape(self, cases: list[tuple[str, str]]) -> None:
        """A parsed GOPROXY is non-empty, ends the walk only at off/direct, checks every URL."""
        for goproxy, gonoproxy in cases:
            self.check_parse_shape(goproxy, gonoproxy)

    @staticmethod
    def check_parse_shape(goproxy: str, gonoproxy: str) -> None:
        try:
            specs = goenv.parse_goproxy(goproxy, gonoproxy)
        except InvalidInput:
            return
        assert specs
        urls = [s.url for s in specs]
        assert (urls[0] == "noproxy") == (gonoproxy != "" and goproxy != "direct")
        assert len(urls) > (1 if urls[0] == "noproxy" else 0)
        for u in urls[:-1]:
            assert u not in ("off", "direct")
        for s in specs:
            if s.url not in ("noproxy", "off", "direct"):
                goenv.check_proxy_url(s.url)
            else:
                assert not s.fallback_on_error

    @SOME
    @given(goproxies)
    def test_split_round_trip(self, goproxy: str) -> None:
        """Joining split entries with their separators and splitting again is stable."""
        entries = goenv.split_goproxy(goproxy)
        joined = "".join(e.url + ("|" if e.fallback_on_error else ",") for e in entries)
        again = goenv.split_goproxy(joined)
        assert [e.url for e in again] == [e.url for e in entries]
        assert [e.fallback_on_error for e in again[:-1]] == [
            e.fallback_on_error for e in entries[:-1]
        ]


_patterns = st.sampled_from(
    ["public", "private", "*", "github.com", "*.corp.example", "a/b", "./x", "..", ""]
)
_vcs = st.sampled_from(["git", "hg", "svn", "bzr", "fossil", "all", "off", ""])
govcs_values = st.one_of(
    st.lists(st.tuples(_patterns, st.lists(_vcs, min_size=1, max_size=3)), max_size=4).map(
        lambda rules: ",".join(p + ":" + "|".join(v) for p, v in rules)
    ),
    st.text(alphabet="ab:|,. */", max_size=12),
)


class TestGovcs:
    @MANY
    @given(batch(govcs_values))
    def test_parse_round_trip(self, values: list[str]) -> None:
        """Parsed rules have unique absolute patterns and non-empty names, and format back."""
        for govcs in values:
            self.check_round_trip(govcs)

    @staticmethod
    def check_round_trip(govcs: str) -> None:
        try:
            rules = goenv.parse_govcs(govcs)
        except InvalidInput:
            return
        patterns = [r.pattern for r in rules]
        assert len(set(patterns)) == len(patterns)
        assert all(r.allowed and all(r.allowed) for r in rules)
        text = ",".join(r.pattern + ":" + "|".join(r.allowed) for r in rules)
        assert goenv.parse_govcs(text) == rules

    @SOME
    @given(govcs_values, st.sampled_from(["git", "hg", "svn"]), st.booleans())
    def test_defaults_decide_when_no_rule_matches(
        self, govcs: str, vcs: str, private: bool
    ) -> None:
        """With the defaults appended, a root no user rule names follows public/private."""
        try:
            rules = goenv.parse_govcs(govcs)
        except InvalidInput:
            return
        user = tuple(r for r in rules if r.pattern not in ("public", "private", "*"))
        allowed = goenv.govcs_allows(user + goenv.DEFAULT_GOVCS, "zz.example/r", private, vcs)
        assert allowed == (private or vcs in ("git", "hg"))


_flag_fields = st.one_of(
    st.sampled_from(sorted(goenv.GO_FLAG_NAMES)).map(lambda n: "-" + n),
    st.sampled_from(["mod", "x"]).map(lambda n: "--" + n + "=v"),
    st.text(alphabet="-ab=x ", min_size=1, max_size=6),
)


_SEPS = [" ", "\t", "\n", "  "]


class TestGoflags:
    @MANY
    @given(batch(st.tuples(st.lists(_flag_fields, max_size=5), st.sampled_from(_SEPS))))
    def test_quoted_fields_round_trip(self, cases: list[tuple[list[str], str]]) -> None:
        """Quoting each field and joining gives the fields back; checks only raise InvalidInput."""
        for fields, sep in cases:
            self.check_round_trip(fields, sep)

    @staticmethod
    def check_round_trip(fields: list[str], sep: str) -> None:
        quoted = sep.join("'" + f + "'" if " " in f or not f else f for f in fields)
        assert goenv.split_quoted(quoted) == fields
        try:
            got = goenv.parse_goflags(quoted)
        except InvalidInput as e:
            error = str(e)
            assert error.startswith("parsing $GOFLAGS: ")
            return
        assert all(goenv.flag_name(f) in goenv.GO_FLAG_NAMES for f in got)


_keys = st.sampled_from(["GOPROXY", "GOSUMDB", "GOFLAGS", "GOPRIVATE", "GO", "GO386", "A", "Z"])
_values = st.sampled_from(["", "a", "a=b", "# x", " a ", "a\r", '"a"', "\u00e9", "\u2028", "\t"])
_lines = st.one_of(
    st.tuples(_keys, _values).map(lambda kv: kv[0] + "=" + kv[1]),
    st.sampled_from(["", "# comment", "lower=x", "=x", "NOEQ"]),
)


class TestEnvFile:
    @MANY
    @given(
        batch(
            st.tuples(
                st.lists(_lines, max_size=5).map(lambda ls: "\n".join(ls)),
                st.dictionaries(_keys, _values.filter(lambda v: "\r" not in v), max_size=3),
                st.lists(_keys, max_size=2),
            )
        )
    )
    def test_update_then_read(self, cases: list[tuple[str, dict[str, str], list[str]]]) -> None:
        """After go env -w the file reads back the set values, after go env -u it lacks the
        unset keys, and repeating an update soon changes nothing."""
        for text, set_, unset in cases:
            self.check_update(text, set_, unset)

    @staticmethod
    def check_update(text: str, set_: dict[str, str], unset: list[str]) -> None:
        for s, u in ((set_, []), ({}, unset)):
            out = goenv.update_env_file(text, s, u)
            values = goenv.parse_env_file(out)
            for k, v in s.items():
                assert values[k] == v
            for k in u:
                assert k not in values
            # Go's update is not idempotent at once (dropping a duplicate can merge two runs
            # of lines, which the next update sorts together); it is from the second on.
            again = goenv.update_env_file(out, s, u)
            assert goenv.update_env_file(again, s, u) == again
            assert out == "" or out.endswith("\n")

    @SOME
    @given(
        st.dictionaries(_keys, _values, max_size=3),
        st.dictionaries(_keys, _values, max_size=3),
        st.dictionaries(_keys, _values, max_size=3),
        _keys,
    )
    def test_lookup_order(
        self, env: dict[str, str], user: dict[str, str], goroot: dict[str, str], key: str
    ) -> None:
        """A non-empty process value wins, then the user file, then go.env, then the default."""
        got = goenv.GoEnv(env, user, goroot).get(key)
        if env.get(key):
            assert (got.value, got.origin) == (env[key], goenv.Origin.ENV)
        elif key in user:
            want = user[key] or goenv.DEFAULTS.get(key, "")
            assert got.value == want
        elif goroot.get(key):
            assert (got.value, got.origin) == (goroot[key], goenv.Origin.GOROOT_FILE)
        else:
            assert got.origin == goenv.Origin.DEFAULT
