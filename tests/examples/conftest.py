"""Fixtures of the example tests: each example app in a real uvicorn on 127.0.0.1 (once per
test session), and the browser fixtures of tests/browser (Debian's Chromium, a fresh page per
test), reused as they are."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.browser.conftest import browser, buffering_proxy, page, proxies, server
from tests.servers import uvicorn_server

__all__ = ["browser", "buffering_proxy", "page", "proxies", "server"]

ROOT = Path(__file__).parents[2]


def load_module(path: Path) -> ModuleType:
    """Import a Python file that is not in a package (the tutorial's app, under docs/)."""
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def chat() -> Iterator[str]:
    from examples.chat.app import app

    with uvicorn_server(app) as base:
        yield base


@pytest.fixture(scope="session")
def dashboard() -> Iterator[str]:
    from examples.dashboard.app import app

    with uvicorn_server(app) as base:
        yield base


@pytest.fixture(scope="session")
def legacy() -> Iterator[str]:
    from examples.legacy.app import app

    with uvicorn_server(app) as base:
        yield base


@pytest.fixture(scope="session")
def fastapi_site() -> Iterator[str]:
    from examples.fastapi_app.app import app

    with uvicorn_server(app) as base:
        yield base


@pytest.fixture(scope="session")
def tutorial() -> Iterator[str]:
    """The tutorial's Starlette chat, as the docs show it (docs/tutorial/src/app.py)."""
    module = load_module(ROOT / "docs" / "tutorial" / "src" / "app.py")
    with uvicorn_server(module.app) as base:
        yield base
