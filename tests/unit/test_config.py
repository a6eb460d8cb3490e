"""Settings: precedence defaults < TOML file < GOMODPROXY_* env < flags, with origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.config.settings import load_settings, render_settings, set_flag_pairs
from gomodproxy.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "gomodproxy.toml"
    f.write_text(text)
    return str(f)


class TestPrecedence:
    def test_defaults(self) -> None:
        """Without anything set: 127.0.0.1:3000, ./data, upstream direct."""
        s = load_settings(env={}, ask_go=False)
        assert (s.listen, s.storage, s.goproxy) == ("127.0.0.1:3000", "./data", "direct")
        assert s.origins["listen"] == "default"
        assert s.effective_workers() >= 1

    def test_file_env_flag_order(self, tmp_path: Path) -> None:
        """Each layer overrides the one below and records its origin."""
        cfg = write(
            tmp_path, 'listen = "0.0.0.0:1"\nstorage = "/srv/a"\nworkers = 3\nlist_ttl = "5m"\n'
        )
        env = {"GOMODPROXY_STORAGE": "/srv/b", "GOMODPROXY_WORKERS": "4"}
        s = load_settings(cfg, env=env, flags={"workers": 5}, ask_go=False)
        assert s.listen == "0.0.0.0:1"
        assert s.origins["listen"] == f"file {cfg}"
        assert s.storage == "/srv/b"
        assert s.origins["storage"] == "env GOMODPROXY_STORAGE"
        assert s.workers == 5
        assert s.origins["workers"] == "flag --workers"
        assert s.list_ttl == 300.0

    def test_go_variables(self) -> None:
        """GOPROXY from the env; GOMODPROXY_GOPROXY wins; GONOPROXY falls back to GOPRIVATE."""
        s = load_settings(env={"GOPROXY": "https://a.test", "GOPRIVATE": "*.corp"}, ask_go=False)
        assert s.goproxy == "https://a.test"
        assert s.origins["goproxy"] == "env GOPROXY"
        assert s.gonoproxy == "*.corp"
        assert s.origins["gonoproxy"] == "from goprivate"
        s = load_settings(
            env={"GOPROXY": "https://a.test", "GOMODPROXY_GOPROXY": "off"}, ask_go=False
        )
        assert s.goproxy == "off"
        assert load_settings(env={"GOPROXY": ""}, ask_go=False).goproxy == "direct"

    def test_sizes_and_bools(self) -> None:
        """Sizes take KiB/MiB/GiB suffixes, booleans the usual words."""
        s = load_settings(
            env={"GOMODPROXY_HOT_CACHE_BYTES": "64MiB", "GOMODPROXY_ACCESS_LOG": "off"},
            ask_go=False,
        )
        assert s.hot_cache_bytes == 64 << 20
        assert s.access_log is False

    def test_settings_survive_json(self) -> None:
        """Workers get the parent's settings (values and origins) through JSON."""
        s = load_settings(env={"GOMODPROXY_LISTEN": "127.0.0.1:9"}, ask_go=False)
        again = type(s).from_json(s.to_json())
        assert again.values == s.values
        assert again.origins == s.origins


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("nope = 1\n", "unknown key 'nope'"),
            ('workers = "many"\n', "not a valid int"),
            ("listen = \n", "config file"),
            ("upstream_error_status = 500\n", "404 or 502"),
        ],
    )
    def test_bad_file(self, tmp_path: Path, text: str, message: str) -> None:
        """Unknown keys, wrong types and bad TOML are ConfigError naming the problem."""
        with pytest.raises(ConfigError, match=message):
            load_settings(write(tmp_path, text), env={}, ask_go=False)

    def test_missing_file_and_bad_set(self, tmp_path: Path) -> None:
        """A missing file or a --set without '=' is a ConfigError."""
        with pytest.raises(ConfigError):
            load_settings(str(tmp_path / "none.toml"), env={}, ask_go=False)
        with pytest.raises(ConfigError):
            set_flag_pairs(["list_ttl"])
        assert set_flag_pairs(["list-ttl=5"]) == {"list_ttl": "5"}


def test_render_has_every_value_and_origin() -> None:
    """config show prints TOML lines with the origin as a comment."""
    s = load_settings(env={"GOMODPROXY_LISTEN": "127.0.0.1:9"}, ask_go=False)
    text = render_settings(s)
    assert 'listen = "127.0.0.1:9"  # env GOMODPROXY_LISTEN' in text
    assert 'storage = "./data"  # default' in text


def test_config_show_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """gomodproxy config show --config F --listen X prints the effective settings."""
    monkeypatch.setenv("GOPROXY", "off")
    cfg = write(tmp_path, 'storage = "/srv/x"\n')
    assert main(["config", "show", "--config", cfg, "--listen", "127.0.0.1:7"]) == 0
    out = capsys.readouterr().out
    assert 'listen = "127.0.0.1:7"  # flag --listen' in out
    assert f'storage = "/srv/x"  # file {cfg}' in out
    assert 'goproxy = "off"  # env GOPROXY' in out
    assert main(["config", "show", "--json", "--config", cfg]) == 0
    assert '"storage"' in capsys.readouterr().out


def test_readme_example_is_valid(tmp_path: Path) -> None:
    """The TOML example in README.md loads, with the values it documents."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    s = load_settings(write(tmp_path, block), env={}, ask_go=False)
    assert s.stale_ttl == 7 * 86400.0
    assert s.hot_cache_bytes == 256 << 20
    assert s.gonoproxy == "git.corp.example"
