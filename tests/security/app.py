"""Apps for the security tests: each mount has the settings one group of tests needs."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from realtime import RealtimeApp, Session

USERS = {"Bearer ada-token": {"name": "ada"}, "Bearer bob-token": {"name": "bob"}}


async def echo(session: Session) -> None:
    async for message in session:
        await session.send(message)


async def whoami(session: Session) -> None:
    user: Any = session.user
    await session.send(f"hello {user['name']}")
    async for message in session:
        await session.send(message)


async def authenticate(conn: HTTPConnection) -> object:
    """The credential is the Authorization header; "Bearer banned" is refused with 403."""
    credential = conn.headers.get("authorization", "")
    if credential == "Bearer banned":
        raise HTTPException(403, "banned")
    return USERS.get(credential)


def build_app(**options: Any) -> Starlette:
    """The mounts; ``options`` go to the ``/limited`` mount (for limit tests)."""
    return Starlette(
        routes=[
            Mount("/open", RealtimeApp(echo)),
            Mount("/public", RealtimeApp(echo, public_origins=["https://app.example"])),
            Mount(
                "/allowlist",
                RealtimeApp(echo, allowed_origins=["https://trusted.example"], cors=True),
            ),
            Mount(
                "/predicate",
                RealtimeApp(echo, allowed_origins=lambda origin: origin.endswith(".example.org")),
            ),
            Mount("/any", RealtimeApp(echo, allowed_origins=["*"], cors=True)),
            Mount("/auth", RealtimeApp(whoami, authenticate=authenticate)),
            Mount("/limited", RealtimeApp(echo, **options)),
        ]
    )
