"""The builds of the JavaScript client in the other two browser engines: Gecko (Firefox ESR)
and WebKit (WebKitGTK's MiniBrowser), as tests/browser/engines.py drives them. Each build (the
ES module, the script-tag build, the ES2015 script-tag build) carries messages both ways over
each transport: the server's stream and the echoes of ours, each once, in order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.browser.app import expected_echo
from tests.browser.engines import Engine, Firefox, WebKit
from tests.browser.test_builds import STRIPPED

pytestmark = pytest.mark.browser

ENGINES: dict[str, type[Firefox] | type[WebKit]] = {"firefox": Firefox, "webkit": WebKit}


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    start = time.monotonic()
    engine: Engine = ENGINES[request.param]()
    print(f"{engine.name}: started in {time.monotonic() - start:.1f} s")
    try:
        yield engine
    finally:
        engine.close()


@pytest.mark.parametrize("build", ["module", "script", "legacy"])
def test_every_build_delivers_over_each_transport(
    engine: Engine, echo_server: str, build: str
) -> None:
    engine.load(f"{echo_server}/builds?{build}")
    for transport in ["websocket", "sse", "longpoll"]:
        start = time.monotonic()
        result = engine.evaluate("([o, n]) => echo(o, n)", [{"transports": [transport]}, 100])
        print(f"{engine.name} {build} {transport}: {time.monotonic() - start:.2f} s")
        assert (result["outcome"], result["transport"]) == ("end", transport), result["events"]
        assert result["messages"] == expected_echo(100)
        assert [e["type"] for e in result["events"]] == ["open"]


def test_legacy_build_on_a_page_without_modern_apis(engine: Engine, echo_server: str) -> None:
    engine.load(f"{echo_server}/builds?legacy&strip={','.join(STRIPPED)}")
    assert engine.evaluate("() => unstripped") == [], "the page still has these"
    result = engine.evaluate("([o, n]) => echo(o, n)", [{}, 500])
    assert (result["outcome"], result["transport"]) == ("end", "longpoll"), result["events"]
    assert result["messages"] == expected_echo(500)
    binary = engine.evaluate("(o) => binary(o)", {})
    assert binary["received"] == [list(range(256)), list(range(250, 256)), [1, 2, 3], "text"]
