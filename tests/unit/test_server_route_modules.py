"""Route modules (security gate, sumdb routes, ops) are installed or the server does not start:
a broken import must never leave the proxy running without its access checks."""

from __future__ import annotations

import importlib

import pytest

from gomodproxy.server import app as app_module


def test_every_route_module_imports() -> None:
    for name in app_module.ROUTE_MODULES:
        assert importlib.import_module(name) is not None
    assert "gomodproxy.server.gate" in app_module.ROUTE_MODULES


def test_a_broken_route_module_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "ROUTE_MODULES", ("gomodproxy.no_such_route_module",))
    with pytest.raises(ModuleNotFoundError):
        app_module.ProxyApp.install_route_modules(object())  # type: ignore[arg-type]
