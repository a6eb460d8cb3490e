"""Doctor output: SARIF 2.1.0 valid against its schema, JSON shape, text grouping, exit codes,
and --probe against a loopback proxy."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from gomodproxy.cli.main import main
from gomodproxy.doctor.model import Context, Setting
from gomodproxy.doctor.probe import probe
from gomodproxy.doctor.report import to_sarif, to_text
from tests.e2e.fixtures import LoopbackHTTP
from tests.unit.test_doctor_corpus import CASES, CORPUS, doctor

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "sarif-2.1.0-subset.json").read_text()
)


@pytest.mark.parametrize("name", ["d04_no_go_sum", "gitlab_extends_include", "x01_yaml"])
def test_sarif_is_valid(name: str) -> None:
    """The SARIF log validates against the SARIF 2.1.0 schema and keeps every finding."""
    report = doctor(CORPUS / name)
    doc = json.loads(to_sarif(report.findings, CORPUS / name))
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    results = doc["runs"][0]["results"]
    assert len(results) == len(report.findings)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]


def test_sarif_of_every_corpus_case_is_valid() -> None:
    """Every corpus case gives a schema-valid SARIF log with relative URIs."""
    for case in CASES:
        doc = json.loads(to_sarif(doctor(case).findings, case))
        jsonschema.validate(doc, SCHEMA)
        for r in doc["runs"][0]["results"]:
            for loc in r.get("locations", []):
                uri = loc["physicalLocation"]["artifactLocation"]["uri"]
                assert not uri.startswith("/"), uri


def test_schema_rejects_a_broken_log() -> None:
    """The vendored schema is strict enough to catch a wrong level or a missing message."""
    bad = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal"}]}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_json_format_and_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints findings and effective settings; --fail-on sets the exit code."""
    case = CORPUS / "r10_goinsecure"  # only an info finding
    args = [
        "doctor",
        str(case),
        "--env-file",
        str(case / "env"),
        "--root",
        str(case / "x"),
        "--no-go",
        "--format",
        "json",
    ]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in doc["findings"]] == ["R10"]
    shell = doc["contexts"]["shell"]["settings"]
    assert shell["GOINSECURE"]["value"] == "git.corp.example"
    assert shell["GONOSUMDB"]["source"].startswith("GOPRIVATE")
    assert main([*args, "--fail-on", "info"]) == 1
    capsys.readouterr()


def test_text_groups_by_context() -> None:
    """Text output names each context once, with its findings under it, then a summary."""
    report = doctor(CORPUS / "c02_jobs_differ")
    text = to_text(report.findings, report.contexts)
    assert "job build" in text
    assert "C02" in text
    assert text.rstrip().endswith("notes")


class _Proxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path.endswith("/supported") else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def proxy_url() -> Iterator[str]:
    with LoopbackHTTP(_Proxy) as server:
        yield server.url


def test_probe_reports_reachability_and_r14(proxy_url: str) -> None:
    """--probe reports status and latency, R14 for a 503 on /sumdb/.../supported after `,`,
    and P02 for a proxy that refuses connections."""
    ctx = Context("shell", "shell")
    ctx.env = {
        "GOPROXY": Setting("GOPROXY", f"{proxy_url},http://127.0.0.1:1,direct", "environment"),
        "GOSUMDB": Setting("GOSUMDB", "sum.golang.org", "environment"),
    }
    codes = [f.code for f in probe([ctx])]
    assert codes.count("P01") == 2
    assert "R14" in codes
    assert "P02" in codes
