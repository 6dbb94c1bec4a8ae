"""Serves the JavaScript client from the package, so client and server versions always match.

``<mount>/client.js`` is the ES module, ``<mount>/realtime.min.js`` the script-tag build
(global ``Realtime``). Both are revalidated by ETag (``Cache-Control: no-cache``): a server
upgrade reaches browsers at once, and an unchanged file costs a 304.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["StaticAsset"]


class StaticAsset:
    """One file of ``realtime/static``, read once, served with an ETag."""

    def __init__(self, name: str, media_type: str) -> None:
        self.name = name
        self.media_type = media_type
        self._body: bytes | None = None
        self._etag = ""

    def _load(self) -> bytes | None:
        if self._body is None:
            resource = resources.files("realtime").joinpath("static", self.name)
            if not resource.is_file():
                return None
            self._body = resource.read_bytes()
            self._etag = '"' + hashlib.sha256(self._body).hexdigest()[:32] + '"'
        return self._body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._load()
        response: Response
        if body is None:
            response = PlainTextResponse(
                f"{self.name} is not built: run `npm run build` in client-js/", status_code=404
            )
        else:
            headers = {"etag": self._etag, "cache-control": "no-cache"}
            if_none_match = Request(scope).headers.get("if-none-match", "")
            if self._etag in [tag.strip() for tag in if_none_match.split(",")]:
                response = Response(status_code=304, headers=headers)
            else:
                response = Response(body, media_type=self.media_type, headers=headers)
        await response(scope, receive, send)
