"""gomod.pseudo against tests/vectors/pseudo.json and direct cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.gomod import pseudo
from gomodproxy.gomod.module import InvalidVersionError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "pseudo.json").read_text()
)


def result_of(fn: Callable[[str], object], v: str) -> list[object]:
    try:
        return [fn(v), None]
    except InvalidVersionError as e:
        return [None, str(e)]


def rfc3339(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class TestBuild:
    @pytest.mark.parametrize("case", VECTORS["build"], ids=lambda c: c["want"])
    def test_table(self, case: dict[str, str]) -> None:
        """pseudo_version builds Go's string for every base form."""
        t = datetime.fromisoformat(case["time"])
        assert pseudo.pseudo_version(case["major"], case["older"], t, case["rev"]) == case["want"]

    @pytest.mark.parametrize("case", VECTORS["zero"], ids=lambda c: c["want"])
    def test_zero(self, case: dict[str, str]) -> None:
        """zero_pseudo_version is the zero time and revision."""
        assert pseudo.zero_pseudo_version(case["major"]) == case["want"]

    def test_naive_time_is_utc(self) -> None:
        """A naive datetime is taken as UTC, never as local time."""
        t = datetime(2023, 6, 6, 20, 2, 3)
        assert pseudo.pseudo_version("", "", t, "789eafa18df9") == (
            "v0.0.0-20230606200203-789eafa18df9"
        )

    def test_offset_time_is_converted(self) -> None:
        """The committer time is converted to UTC (spec: +05:00 example)."""
        t = datetime(2023, 6, 7, 1, 2, 3, tzinfo=timezone(timedelta(hours=5)))
        assert pseudo.pseudo_version("v0", "", t, "789eafa18df9") == (
            "v0.0.0-20230606200203-789eafa18df9"
        )


class TestParse:
    @pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: repr(c["v"]))
    def test_table(self, case: dict[str, Any]) -> None:
        """Recognizers and accessors agree with Go, errors included."""
        v = case["v"]
        assert pseudo.is_pseudo_version(v) == case["is_pseudo"]
        assert pseudo.is_pseudo(v) == case["is_pseudo"]
        assert pseudo.is_zero_pseudo_version(v) == case["is_zero_pseudo"]
        assert pseudo.is_zero_pseudo(v) == case["is_zero_pseudo"]
        t, terr = result_of(pseudo.pseudo_version_time, v)
        assert [rfc3339(t) if isinstance(t, datetime) else None, terr] == case["time"]
        rev, rerr = result_of(pseudo.pseudo_version_rev, v)
        assert [rev if rerr is None else "", rerr] == case["rev"]
        base, berr = result_of(pseudo.pseudo_version_base, v)
        assert [base if berr is None else "", berr] == case["base"]

    def test_parse_pseudo_version_parts(self) -> None:
        """parse_pseudo_version splits base, timestamp, revision and build."""
        assert pseudo.parse_pseudo_version(
            "v1.2.3-pre.0.20060102150405-abcdef123456+incompatible"
        ) == ("v1.2.3-pre.0", "20060102150405", "abcdef123456", "+incompatible")
        assert pseudo.parse_pseudo_version("v0.0.0-20060102150405-abcdef123456") == (
            "v0.0.0",
            "20060102150405",
            "abcdef123456",
            "",
        )

    def test_year_zero_is_malformed_here(self) -> None:
        """Year 0000 (valid for Go) cannot be a datetime: reported as a malformed time."""
        with pytest.raises(InvalidVersionError, match="malformed time"):
            pseudo.pseudo_version_time("v0.0.0-00000101000000-abcdef123456")

    def test_time_is_utc(self) -> None:
        """The parsed time is aware and in UTC."""
        t = pseudo.pseudo_version_time("v0.0.0-20060102150405-abcdef123456")
        assert t == datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)

    def test_newline_is_not_pseudo(self) -> None:
        """A trailing newline never passes the recognizer ($ is end of text, as in Go)."""
        assert not pseudo.is_pseudo_version("v0.0.0-20060102150405-abcdef123456\n")
