from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from realtime import RealtimeApp, Session


async def chat(session: Session) -> None:
    await session.join("lobby")
    async for message in session:
        await session.hub.publish("lobby", message)


async def homepage(request: Request) -> FileResponse:
    return FileResponse(Path(__file__).with_name("index.html"))


realtime = RealtimeApp(chat)
app = Starlette(
    routes=[Route("/", homepage), Mount("/realtime", realtime)],
    lifespan=realtime.lifespan,
)
