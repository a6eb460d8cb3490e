"""Settings: precedence defaults < TOML file < GOMODPROXY_* env < flags, with origins."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.config.settings import (
    OPTIONS,
    ORDER,
    CacheSettings,
    Settings,
    load_settings,
    render_settings,
    set_flag_pairs,
)
from gomodproxy.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "gomodproxy.toml"
    f.write_text(text)
    return str(f)


class TestPrecedence:
    def test_defaults(self) -> None:
        """Without anything set: 127.0.0.1:3000, ./data, upstream direct."""
        s = load_settings(env={}, ask_go=False)
        assert (s.server.listen, s.storage.storage, s.upstream.goproxy) == (
            "127.0.0.1:3000",
            "./data",
            "direct",
        )
        assert s.origins["listen"] == "default"
        assert s.server.effective_workers() >= 1

    def test_file_env_flag_order(self, tmp_path: Path) -> None:
        """Each layer overrides the one below and records its origin."""
        cfg = write(
            tmp_path, 'listen = "0.0.0.0:1"\nstorage = "/srv/a"\nworkers = 3\nlist_ttl = "5m"\n'
        )
        env = {"GOMODPROXY_STORAGE": "/srv/b", "GOMODPROXY_WORKERS": "4"}
        s = load_settings(cfg, env=env, flags={"workers": 5}, ask_go=False)
        assert s.server.listen == "0.0.0.0:1"
        assert s.origins["listen"] == f"file {cfg}"
        assert s.storage.storage == "/srv/b"
        assert s.origins["storage"] == "env GOMODPROXY_STORAGE"
        assert s.server.workers == 5
        assert s.origins["workers"] == "flag --workers"
        assert s.cache.list_ttl == 300.0

    def test_go_variables(self) -> None:
        """GOPROXY from the env; GOMODPROXY_GOPROXY wins; GONOPROXY falls back to GOPRIVATE."""
        s = load_settings(env={"GOPROXY": "https://a.test", "GOPRIVATE": "*.corp"}, ask_go=False)
        assert s.upstream.goproxy == "https://a.test"
        assert s.origins["goproxy"] == "env GOPROXY"
        assert s.upstream.gonoproxy == "*.corp"
        assert s.origins["gonoproxy"] == "from goprivate"
        s = load_settings(
            env={"GOPROXY": "https://a.test", "GOMODPROXY_GOPROXY": "off"}, ask_go=False
        )
        assert s.upstream.goproxy == "off"
        assert load_settings(env={"GOPROXY": ""}, ask_go=False).upstream.goproxy == "direct"

    def test_sizes_and_bools(self) -> None:
        """Sizes take KiB/MiB/GiB suffixes, booleans the usual words."""
        s = load_settings(
            env={"GOMODPROXY_HOT_CACHE_BYTES": "64MiB", "GOMODPROXY_ACCESS_LOG": "off"},
            ask_go=False,
        )
        assert s.cache.hot_cache_bytes == 64 << 20
        assert s.server.access_log is False

    def test_settings_survive_json(self, tmp_path: Path) -> None:
        """Workers get the parent's settings (every typed part and the origins) through
        JSON, equal to the parent's, with the same types."""
        cfg = write(tmp_path, '[[origins]]\nprefix = "x.test/m"\nurl = "https://x.test/m.git"\n')
        env = {"GOMODPROXY_LISTEN": "127.0.0.1:9", "GOMODPROXY_LIST_TTL": "90"}
        s = load_settings(cfg, env=env, flags={"rate_limit": "2"}, ask_go=False)
        again = Settings.from_json(s.to_json())
        assert again == s
        assert again.upstream.origins == ("x.test/m=git+https://x.test/m.git",)
        assert again.cache.list_ttl == 90.0
        assert again.origins["rate_limit"] == "flag --rate-limit"
        assert Settings.from_json(Settings().to_json()) == Settings()


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("nope = 1\n", "unknown key 'nope'"),
            ('workers = "many"\n', "not a valid int"),
            ("listen = \n", "config file"),
            ("upstream_error_status = 500\n", "404 or 502"),
            ("upstream_timeout = 0\n", "upstream_timeout must be more than 0 seconds"),
            ("fetch_timeout = -5\n", "fetch_timeout must be more than 0 seconds"),
            ("list_ttl = -1\n", "list_ttl must not be negative"),
            ("immutable_max_age = -1\n", "immutable_max_age must not be negative"),
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
    assert s.cache.stale_ttl == 7 * 86400.0
    assert s.cache.hot_cache_bytes == 256 << 20
    assert s.upstream.gonoproxy == "git.corp.example"


#: ``config show`` of the defaults: operators diff this output, so moving a field between
#: the typed parts must not change it.
SHOW_DEFAULTS = Path(__file__).resolve().parents[1] / "vectors" / "config" / "show_defaults.toml"


class TestLayout:
    def test_order_is_pinned(self) -> None:
        """The option table follows the fixed order, and so does config show."""
        text = render_settings(load_settings(env={}, ask_go=False))
        cpus = f"= {os.cpu_count() or 1} CPUs;"
        assert text.replace(cpus, "= N CPUs;") == SHOW_DEFAULTS.read_text()
        names = [line.split(" = ")[0] for line in SHOW_DEFAULTS.read_text().splitlines()]
        assert [o.name for o in OPTIONS] == list(ORDER) == names

    def test_every_field_is_one_option(self) -> None:
        """Each field of each part is exactly one option, with its default and help, and a
        field's name says which part holds it."""
        parts = [f for f in dataclasses.fields(Settings) if f.name != "origins"]
        seen = []
        for part in parts:
            cls = typing.get_type_hints(Settings)[part.name]
            for f in dataclasses.fields(cls):
                opt = next(o for o in OPTIONS if o.name == f.name)
                assert (opt.part, opt.default, opt.help) == (
                    part.name,
                    f.default,
                    f.metadata["help"],
                )
                seen.append(f.name)
        assert sorted(seen) == sorted(ORDER)

    def test_loaded_values_have_their_fields_types(self, tmp_path: Path) -> None:
        """Whatever the layer a value came from, the part holds it as its field's type."""
        cfg = write(
            tmp_path, 'workers = 2\nlist_ttl = 5\norigins = ["a.test/m=git+https://a.test/m"]\n'
        )
        env = {"GOMODPROXY_HOT_CACHE_BYTES": "1MiB", "GOMODPROXY_OFFLINE": "yes"}
        s = load_settings(cfg, env=env, flags={"rate_limit": "3"}, ask_go=False)
        for part in [f.name for f in dataclasses.fields(Settings) if f.name != "origins"]:
            obj = getattr(s, part)
            hints = typing.get_type_hints(type(obj))
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                want = typing.get_origin(hints[f.name]) or hints[f.name]
                assert type(value) is want, (f.name, value)
        assert s.cache == dataclasses.replace(
            CacheSettings(), list_ttl=5.0, hot_cache_bytes=1 << 20
        )
        assert s.upstream.is_offline()

    def test_built_by_hand_equals_loaded(self) -> None:
        """Settings() is the defaults (what tests start from), as load_settings has them."""
        assert Settings() == load_settings(env={}, ask_go=False)
