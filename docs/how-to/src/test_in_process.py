import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from realtime import RealtimeApp, Session
from realtime.testing import Clients, connect

pytestmark = pytest.mark.anyio
pytest_plugins = ["realtime.testing.plugin"]  # the realtime_client fixture


async def shout(session: Session) -> None:
    async for message in session:
        await session.send(message.upper() if isinstance(message, str) else message)


realtime = RealtimeApp(shout)
app = Starlette(routes=[Mount("/realtime", realtime)], lifespan=realtime.lifespan)


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
async def test_shouts_back_on_every_transport(transport: str) -> None:
    async with connect(app, "/realtime", transport=transport) as conn:
        await conn.send("hello")
        assert await conn.receive() == "HELLO"


async def test_with_the_fixture(realtime_client: Clients) -> None:
    conn = await realtime_client(app, "/realtime").__aenter__()  # closed by the fixture
    await conn.send("bytes pass through")
    assert await conn.receive() == "BYTES PASS THROUGH"
