"""The audit log: fields of every line, identity from the security gate, file rotation."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gomodproxy.errors import InvalidInput, NotFound, UpstreamError, VerificationError
from gomodproxy.ops.audit import FIELDS, AuditLog, make_record
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ops.observe import OpsObserver
from gomodproxy.security.users import add_user
from gomodproxy.server.app import ProxyApp
from tests.unit.test_server import make_full_app
from tests.unit.test_service import FakeSource

SECRET = "corp.example.com/secret"
PUBLIC = "example.com/pub"


def _auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_record_has_every_field_in_order() -> None:
    rec = make_record(0.5, event="download", status=200, module="m")
    assert list(rec) == list(FIELDS)
    assert rec["time"] == "1970-01-01T00:00:00.500Z"
    assert rec["identity"] == ""
    assert rec["status"] == 200
    with pytest.raises(TypeError, match="unknown audit fields: bogus"):
        make_record(0.0, bogus=1)


def test_stdout_target_writes_json_lines() -> None:
    out = io.StringIO()
    log = AuditLog("-", stream=out)
    log.write(make_record(1.0, event="purge", module="m", version="v1.0.0"))
    log.close()
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["event"] == "purge"


def test_rotation_keeps_backups(tmp_path: Path) -> None:
    """Past max_bytes the file moves to .1, .1 to .2; the oldest is dropped."""
    path = tmp_path / "logs" / "audit.jsonl"
    log = AuditLog(str(path), max_bytes=400, backups=2)
    for i in range(40):
        log.write(make_record(float(i), event="download", module=f"example.com/m{i}"))
    log.close()
    names = sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock"))
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    seen = []
    for name in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"):
        text = (path.parent / name).read_text()
        if name != "audit.jsonl":
            assert len(text.encode()) >= 400
        seen += [json.loads(line)["module"] for line in text.splitlines()]
    # the newest lines survive, in order, none lost between the kept files
    assert seen == [f"example.com/m{i}" for i in range(40 - len(seen), 40)]
    assert seen[-1] == "example.com/m39"


def test_two_writers_follow_rotation(tmp_path: Path) -> None:
    """A worker whose file another worker rotated reopens the name instead of writing into
    the rotated file: read oldest to newest, every line is there once, in write order."""
    path = tmp_path / "audit.jsonl"
    a = AuditLog(str(path), max_bytes=300, backups=20)
    b = AuditLog(str(path), max_bytes=300, backups=20)
    b.write(make_record(0.0, event="download", module="from-b-first"))
    for i in range(8):
        a.write(make_record(float(i), event="download", module=f"a{i}"))
    b.write(make_record(9.0, event="download", module="from-b-after"))
    a.close()
    b.close()
    rotated = sorted(
        (p for p in tmp_path.glob("audit.jsonl.*") if p.suffix != ".lock"),
        key=lambda p: -int(p.suffix[1:]),
    )
    assert len(rotated) >= 4
    modules = [
        json.loads(line)["module"] for p in [*rotated, path] for line in p.read_text().splitlines()
    ]
    assert modules == ["from-b-first", *(f"a{i}" for i in range(8)), "from-b-after"]


@pytest.fixture
def audited(tmp_path: Path) -> tuple[ProxyApp, Path, FakeSource]:
    source = FakeSource()
    source.add(SECRET, "v1.0.0")
    source.add(PUBLIC, "v1.0.0")
    source.answers[("zip", PUBLIC, "v1.1.0")] = UpstreamError("upstream answered 500")
    source.answers[("info", PUBLIC, "v1.1.0")] = b'{"Version":"v1.1.0"}'
    source.answers[("mod", PUBLIC, "v1.2.0")] = VerificationError("checksum mismatch")
    creds = tmp_path / "c.json"
    add_user(creds, "alice", password="pw-a")
    audit_path = tmp_path / "audit.jsonl"
    proxy, _ = make_full_app(
        tmp_path,
        source,
        auth_file=str(creds),
        access_rules=f"{SECRET}=alice",
        audit_log=str(audit_path),
    )
    assert isinstance(proxy.observers[0], OpsObserver)
    assert proxy.observers[0].audit is not None
    return proxy, audit_path, source


async def test_served_and_refused_lines(audited: tuple[ProxyApp, Path, FakeSource]) -> None:
    proxy, audit_path, _ = audited
    transport = httpx.ASGITransport(app=proxy, client=("192.0.2.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        zip_path = f"/{SECRET}/@v/v1.0.0.zip"
        assert (await c.get(zip_path, headers=_auth("alice", "pw-a"))).status_code == 200
        assert (await c.get(zip_path, headers=_auth("alice", "pw-a"))).status_code == 200
        assert (await c.get(zip_path)).status_code == 404  # anonymous: refused by the gate
        assert (await c.get(f"/{PUBLIC}/@v/v1.1.0.zip")).status_code == 404  # upstream fault
        assert (await c.get(f"/{PUBLIC}/@v/v1.2.0.mod")).status_code == 403
        assert (await c.get(f"/{PUBLIC}/@v/list")).status_code == 404  # no artifact: no line
        for hook in proxy.on_shutdown:
            await hook()
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert all(list(rec) == list(FIELDS) for rec in lines)
    strip = [{k: v for k, v in rec.items() if k not in ("time", "error")} for rec in lines]
    base = {"client": "192.0.2.7", "version": "v1.0.0", "artifact": "zip"}
    assert strip == [
        {
            **base,
            "event": "download",
            "identity": "alice",
            "module": SECRET,
            "source": "fake",
            "cache": "miss",
            "verification": "exempt",  # no checksum database configured
            "status": 200,
            "outcome": "success",
        },
        {
            **base,
            "event": "download",
            "identity": "alice",
            "module": SECRET,
            "source": "memory",
            "cache": "hit",
            "verification": "exempt",
            "status": 200,
            "outcome": "success",
        },
        {
            **base,
            "event": "refused",
            "identity": "",
            "module": SECRET,
            "source": "",
            "cache": "",
            "verification": "",
            "status": 404,
            "outcome": "success",
        },
        {
            **base,
            "event": "failed",
            "identity": "",
            "module": PUBLIC,
            "version": "v1.1.0",
            "source": "fake",
            "cache": "miss",
            "verification": "",
            "status": 404,
            "outcome": "failure",
        },
        {
            **base,
            "event": "refused",
            "identity": "",
            "module": PUBLIC,
            "version": "v1.2.0",
            "artifact": "mod",
            "source": "fake",
            "cache": "miss",
            "verification": "refused",
            "status": 403,
            "outcome": "failure",
        },
    ]
    assert "upstream answered 500" in lines[3]["error"]
    text = proxy.metrics.render().decode()
    for artifact, result, n in (("zip", "exempt", 1), ("mod", "refused", 1), ("zip", "checked", 0)):
        series = f'gomodproxy_verifications_total{{artifact="{artifact}",result="{result}"}}'
        assert f"{series} {n}.0" in text


class _Verifier:
    """Stands in for SumdbVerifier's ``exempt`` predicate (GONOSUMDB=corp.example.com)."""

    def exempt(self, path: str) -> bool:
        return path.startswith("corp.example.com")


@pytest.mark.parametrize(
    ("route", "module", "cache", "status", "exc", "want"),
    [
        ("zip", PUBLIC, "miss", 200, None, "checked"),
        ("mod", PUBLIC, "hit", 200, None, "stored"),
        ("zip", SECRET, "miss", 200, None, "exempt"),
        ("info", PUBLIC, "miss", 200, None, ""),
        ("zip", PUBLIC, "miss", 404, None, ""),
        ("zip", PUBLIC, "miss", 403, VerificationError("x"), "refused"),
    ],
)
def test_verification_field(
    route: str, module: str, cache: str, status: int, exc: Any, want: str
) -> None:

    observer = OpsObserver(Metrics(), _Verifier())
    assert observer.verification(route, module, cache, status, exc) == want


@pytest.mark.parametrize(
    ("status", "exc", "gated", "event"),
    [
        (200, None, False, "download"),
        (304, None, False, "download"),
        (404, NotFound("no such version"), False, "not_found"),
        (400, InvalidInput("bad path"), False, "not_found"),
        (404, None, True, "refused"),
        (429, None, True, "refused"),
        (403, VerificationError("mismatch"), False, "refused"),
        (404, UpstreamError("upstream 500"), False, "failed"),
        (503, None, False, "failed"),
    ],
)
def test_audit_event(status: int, exc: Any, gated: bool, event: str) -> None:
    from gomodproxy.ops.observe import audit_event

    assert audit_event(status, exc, gated) == event
