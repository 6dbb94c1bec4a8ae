"""The app's router: the table answers exactly what Starlette's router would."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from realtime import RealtimeApp, Session
from realtime.server.routing import route_path


async def handler(session: Session) -> None:
    async for message in session:
        await session.send(message)


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/rt/longpoll", "/rt", "/longpoll"),
        ("/rt", "/rt", ""),
        ("/rtx/longpoll", "/rt", "/rtx/longpoll"),  # a sibling prefix is not the mount
        ("/longpoll", "", "/longpoll"),
        ("/other", "/rt", "/other"),
    ],
)
def test_route_path_is_the_path_below_the_mount(path: str, root_path: str, expected: str) -> None:
    assert route_path({"path": path, "root_path": root_path}) == expected


@pytest.mark.parametrize("prefix", ["", "/realtime", "/deep/er"])
def test_mounted_anywhere_the_table_and_the_fallback_answer(prefix: str) -> None:
    realtime = RealtimeApp(handler)
    app = Starlette(routes=[Mount(prefix, realtime)]) if prefix else realtime
    with TestClient(app, base_url="http://127.0.0.1") as client:
        negotiated = client.post(f"{prefix}/negotiate", json={"v": 1})
        assert negotiated.status_code == 200
        sid, token = negotiated.json()["sid"], negotiated.json()["token"]
        poll = client.get(
            f"{prefix}/longpoll",
            params={"sid": sid, "open": "1"},
            headers={"X-Realtime-Token": token},
        )
        assert poll.status_code == 200 and poll.json()[0].startswith("h")
        assert client.get(f"{prefix}/longpoll", params={"sid": sid}).status_code == 403
        wrong_method = client.put(f"{prefix}/longpoll")
        assert wrong_method.status_code == 405
        assert "GET" in wrong_method.headers["allow"]  # as Starlette answers it
        assert client.head(f"{prefix}/client.js").status_code == 200
        assert client.get(f"{prefix}/nowhere").status_code == 404
        assert client.get(f"{prefix}/negotiate").status_code == 405
