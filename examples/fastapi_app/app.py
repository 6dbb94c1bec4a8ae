"""FastAPI with realtime: authentication, the user in the handler, publishing from an endpoint.

Run it with ``python -m examples.fastapi_app`` and open http://127.0.0.1:8000 (the page signs
in as alice; add ``?user=bob`` for bob, ``?user=mallory`` for a wrong token).

One function, ``current_user``, checks the bearer token against a tiny user table. It is a
FastAPI dependency of the HTTP endpoints and, unchanged, the realtime app's ``authenticate``
hook: both hand it the request (for realtime, the negotiation request), and both turn its
``HTTPException`` into the same 401. What it returns is ``session.user`` in the handler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from realtime import RealtimeApp, Session

ROOM = "lobby"
USERS = {"alice-token": "alice", "bob-token": "bob"}  # bearer token -> user: a database, really


async def current_user(request: HTTPConnection) -> str:
    """The user named by the request's ``Authorization: Bearer <token>`` header, else 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    user = USERS.get(token) if scheme.lower() == "bearer" else None
    if user is None:
        raise HTTPException(401, "unknown or missing token", {"WWW-Authenticate": "Bearer"})
    return user


async def chat(session: Session) -> None:
    user = session.user  # what current_user returned when the session was negotiated
    await session.join(ROOM)
    await session.send(json.dumps({"type": "welcome", "user": user}))
    async for text in session:
        if isinstance(text, str) and text.strip():
            body = {"type": "message", "user": user, "text": text[:2000]}
            await session.hub.publish(ROOM, json.dumps(body))


realtime = RealtimeApp(chat, authenticate=current_user)
app = FastAPI(lifespan=realtime.lifespan)  # FastAPI does not run a mounted app's lifespan
app.mount("/realtime", realtime)

User = Annotated[str, Depends(current_user)]


class Announcement(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


@app.post("/api/announce")
async def announce(announcement: Announcement, user: User) -> dict[str, int]:
    """Publish to everyone in the lobby from a plain HTTP endpoint (a webhook, a cron job...)."""
    body = {"type": "announcement", "user": user, "text": announcement.text}
    return {"delivered": await realtime.hub.publish(ROOM, json.dumps(body))}


@app.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(Path(__file__).parent / "static" / "index.html")
