"""Authentication: the credentials file, scrypt and token checks, the trusted header."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from gomodproxy.config.networks import parse_networks
from gomodproxy.errors import ConfigError, InvalidInput, NotFound
from gomodproxy.security.auth import AuthenticationFailed, Authenticator
from gomodproxy.security.credentials import (
    hash_password,
    hash_token,
    load_credentials,
    parse_credentials,
    verify_password,
)
from gomodproxy.security.users import add_user, list_users, remove_user


def basic(user: str, password: str) -> list[tuple[bytes, bytes]]:
    value = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [(b"authorization", f"Basic {value}".encode())]


@pytest.fixture
def creds(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "credentials.json"
    add_user(path, "alice", password="correct horse", groups=["dev", "ops"])
    token = add_user(path, "bot", make_token=True).token
    return path, token


class TestCredentialsFile:
    def test_only_hashes_stored_with_mode_0600(self, creds: tuple[Path, str]) -> None:
        """The file holds salted scrypt hashes and token hashes, never a secret; mode 0600."""
        path, token = creds
        text = path.read_text()
        assert "correct horse" not in text
        assert token not in text
        assert hash_token(token) in text
        assert json.loads(text)["users"]["alice"]["password"].startswith("scrypt$16384$8$1$")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_same_password_different_salt(self) -> None:
        """Two hashes of one password differ (salted) and both verify."""
        a, b = hash_password("pw"), hash_password("pw")
        assert a != b
        assert verify_password("pw", a)
        assert verify_password("pw", b)
        assert not verify_password("pW", a)

    @pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==", "md5$1$2$3$4$5"])
    def test_malformed_stored_hash_never_verifies(self, stored: str) -> None:
        """A broken hash is a failed check, not a crash."""
        assert not verify_password("pw", stored)

    def test_user_commands(self, creds: tuple[Path, str]) -> None:
        """list shows names, groups and token ids; remove deletes a token, then a user."""
        path, _ = creds
        rows = {name: (groups, tokens, pw) for name, groups, tokens, pw in list_users(path)}
        assert rows["alice"] == (["dev", "ops"], [], True)
        assert rows["bot"][2] is False
        token_id = rows["bot"][1][0]
        remove_user(path, "bot", token_id=token_id)
        assert load_credentials(path).users["bot"].tokens == []
        remove_user(path, "bot")
        assert "bot" not in load_credentials(path).users
        with pytest.raises(NotFound):
            remove_user(path, "bot")

    @pytest.mark.parametrize("name", ["", "-x", "a b", "a:b", "x" * 65, "ä"])
    def test_bad_names_refused(self, tmp_path: Path, name: str) -> None:
        """Names that would not survive a .netrc line or a rule are refused."""
        with pytest.raises(InvalidInput):
            add_user(tmp_path / "c.json", name, password="pw")

    @pytest.mark.parametrize(
        "text", ["[]", "{", '{"users": []}', '{"users": {"a": {"groups": "dev"}}}']
    )
    def test_malformed_file(self, text: str) -> None:
        """A malformed credentials file is a ConfigError naming the file."""
        with pytest.raises(ConfigError, match="credentials file"):
            parse_credentials(text)


class TestAuthenticator:
    async def test_password_and_tokens(self, creds: tuple[Path, str]) -> None:
        """Basic with the password, Basic with a token as password, Bearer; groups attached."""
        path, token = creds
        auth = Authenticator(path)
        alice = await auth.authenticate(basic("alice", "correct horse"), "10.0.0.1")
        assert alice is not None
        assert (alice.name, alice.groups, alice.method) == ("alice", {"dev", "ops"}, "basic")
        bot = await auth.authenticate(basic("bot", token), "10.0.0.1")
        assert bot is not None
        assert (bot.name, bot.method) == ("bot", "token")
        bearer = await auth.authenticate([(b"authorization", f"Bearer {token}".encode())], "")
        assert bearer is not None
        assert bearer.name == "bot"
        assert await auth.authenticate([], "10.0.0.1") is None

    @pytest.mark.parametrize(
        "headers",
        [
            basic("alice", "wrong"),
            basic("nobody", "correct horse"),
            basic("bot", "gmp_not-the-token"),
            [(b"authorization", b"Bearer gmp_not-the-token")],
            [(b"authorization", b"Basic !!!notbase64")],
            [(b"authorization", b"Basic " + base64.b64encode(b"no-colon"))],
            [(b"authorization", b"Digest abc")],
            [(b"authorization", b"Basic " + b"A" * 5000)],
        ],
        ids=[
            "wrong-pw",
            "unknown-user",
            "wrong-token",
            "wrong-bearer",
            "bad-b64",
            "no-colon",
            "digest",
            "huge",
        ],
    )
    async def test_wrong_credentials_fail(
        self, creds: tuple[Path, str], headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Wrong or malformed credentials raise AuthenticationFailed (401), never pass."""
        auth = Authenticator(creds[0])
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(headers, "10.0.0.1")

    async def test_cache_does_not_outlive_a_password_change(self, creds: tuple[Path, str]) -> None:
        """A changed credentials file is re-read: the old password stops working."""
        path, _ = creds
        now = [0.0]
        auth = Authenticator(path, clock=lambda: now[0])
        assert await auth.authenticate(basic("alice", "correct horse"), "") is not None
        add_user(path, "alice", password="new one")
        now[0] += 2.0
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(basic("alice", "correct horse"), "")
        assert await auth.authenticate(basic("alice", "new one"), "") is not None

    async def test_trusted_header_only_from_trusted_networks(self, creds: tuple[Path, str]) -> None:
        """X-Forwarded-User is honoured from the proxy's network only, ignored elsewhere."""
        auth = Authenticator(
            creds[0],
            trusted_header="X-Forwarded-User",
            trusted_networks=parse_networks("10.1.0.0/16"),
        )
        header = [(b"x-forwarded-user", b"alice")]
        principal = await auth.authenticate(header, "10.1.2.3")
        assert principal is not None
        assert (principal.name, principal.method, principal.groups) == (
            "alice",
            "header",
            {"dev", "ops"},
        )
        assert await auth.authenticate(header, "192.0.2.9") is None

    async def test_trusted_header_off_by_default(self, creds: tuple[Path, str]) -> None:
        """Without configuration the header means nothing, wherever it comes from."""
        auth = Authenticator(creds[0])
        assert await auth.authenticate([(b"x-forwarded-user", b"alice")], "127.0.0.1") is None
