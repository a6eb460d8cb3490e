"""``s3://`` storage URLs: what each part sets, and precise errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.config.settings import load_settings
from gomodproxy.errors import ConfigError
from gomodproxy.storage import open_store
from gomodproxy.storage.degrading import DegradingStore
from gomodproxy.storage.s3 import S3Store, _content_type


def test_url_parts() -> None:
    store = S3Store.from_url(
        "s3://Mods-Bucket/team/go?endpoint=http://127.0.0.1:9000&region=eu-west-1&profile=ci"
    )
    assert (store.bucket, store.prefix) == ("Mods-Bucket", "team/go")
    assert (store.endpoint, store.region, store.profile) == (
        "http://127.0.0.1:9000",
        "eu-west-1",
        "ci",
    )
    assert store.path_style  # custom endpoints are addressed by path
    assert store._static is None  # credentials from the standard chain


def test_bucket_without_prefix_and_options() -> None:
    store = S3Store.from_url("s3://mods", part_size=8 * 1024 * 1024)
    assert (store.bucket, store.prefix, store.endpoint, store.path_style) == (
        "mods",
        "",
        None,
        False,
    )
    assert store.part_size == 8 * 1024 * 1024


def test_user_info_gives_static_keys_and_is_never_shown() -> None:
    store = S3Store.from_url("s3://AKIAEXAMPLE:s3cr3t@mods/p?endpoint=http://127.0.0.1:9000")
    assert store._static == ("AKIAEXAMPLE", "s3cr3t", None)
    assert "s3cr3t" not in repr(store)


def test_open_store_wraps_in_a_degrading_store() -> None:
    store = open_store("s3://mods/p")
    assert isinstance(store, DegradingStore)
    assert store.kind == "s3"
    assert isinstance(open_store("s3://mods/p", degrade=False), S3Store)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("s3:///prefix", "expected s3://BUCKET/PREFIX"),
        ("s3://mods/p?color=blue", "unknown parameter 'color'"),
        ("s3://mods/p?endpoint=127.0.0.1:9000", "endpoint must be an http"),
        ("s3://mods/a/../b", "bad prefix"),
        ("s3://mods/.hidden/p", "bad prefix"),
        ("s3://k:s3cr3t@mods/p?color=blue", "unknown parameter"),
    ],
)
def test_bad_urls(url: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error) as info:
        S3Store.from_url(url)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "ctype"),
    [
        ("example.com/m/@v/v1.0.0.info", "application/json"),
        ("example.com/m/@v/v1.0.0.mod", "text/plain; charset=utf-8"),
        ("example.com/m/@v/v1.0.0.zip", "application/zip"),
        ("example.com/m/@v/list", "text/plain; charset=utf-8"),
        ("example.com/m/@latest", "application/json"),
        ("_meta/state", "application/octet-stream"),
    ],
)
def test_content_types_for_a_static_front(key: str, ctype: str) -> None:
    assert _content_type(key) == ctype


def test_config_file_storage_and_config_show_masks_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An s3:// storage URL in the config file is used as given; ``config show`` masks the
    keys of its user-info and leaves the rest readable."""
    url = "s3://AKIAEXAMPLEKEY:s3cr3t-value@mods/team?endpoint=http://127.0.0.1:9000"
    cfg = tmp_path / "gomodproxy.toml"
    cfg.write_text(f'storage = "{url}"\n')
    assert load_settings(str(cfg), env={}, ask_go=False).storage.storage == url
    assert main(["config", "show", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-value" not in out
    assert "AKIAEXAMPLEKEY" not in out
    assert "s3://***@mods/team?endpoint=http://127.0.0.1:9000" in out
