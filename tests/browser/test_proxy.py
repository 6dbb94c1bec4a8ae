"""The buffering proxy of the browser tests really holds event streams back: the headers of
the stream come through, its first bytes (the padding, the hello) do not, though the server
wrote them. Without this, the long-polling fallback test would prove nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.proxy import Proxy

pytestmark = pytest.mark.integration


def test_the_buffering_proxy_holds_event_streams(
    proxies: dict[str, str], buffering_proxy: Proxy
) -> None:
    base = proxies["buffering"] + "/realtime"
    with httpx.Client(timeout=5) as client:
        session = client.post(f"{base}/negotiate", json={}).json()  # plain answers pass
        held = buffering_proxy.held
        url = f"{base}/sse?sid={session['sid']}&ticket={session['ticket']}"
        with client.stream("GET", url, timeout=httpx.Timeout(5, read=1)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            # The server writes its padding and hello right after the headers.
            assert buffering_proxy.wait_held(held, timeout=5), "the server wrote nothing"
            with pytest.raises(httpx.ReadTimeout):
                next(response.iter_raw())
