"""Client to server over HTTP POST, shared by the SSE and long-poll client transports."""

from __future__ import annotations

import asyncio

import httpx

from realtime.client.engine import Ended, Link
from realtime.exceptions import ProtocolError
from realtime.protocol.batch import decode_batch, encode_batch
from realtime.protocol.codes import ABNORMAL_CLOSURE, CloseCode
from realtime.protocol.frames import encode_data

__all__ = ["ended_from_response", "post_loop"]

POST_BATCH_BYTES = 512 * 1024
"""Bytes of messages per POST (one message always goes, whatever its size)."""


def ended_from_response(response: httpx.Response) -> Ended:
    """The end of a connection refused with an HTTP error: its close code from the body."""
    code, reason = ABNORMAL_CLOSURE, f"HTTP {response.status_code}"
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("code"), int):
            code, reason = body["code"], str(body.get("error", reason))
    except ValueError:
        pass
    return Ended(code, reason)


async def post_loop(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], link: Link, max_batch: int
) -> Ended:
    """POST the session's outgoing frames as they come; return when the connection ends."""
    loop = asyncio.get_running_loop()
    headers = {**headers, "content-type": "application/json"}
    await link.opened.wait()  # the hello says where to resume sending
    while True:
        link.wakeup.clear()
        now = loop.time()
        frames = link.control_frames(now) if link.acks_in_band else []
        messages = link.messages(max(1, max_batch - len(frames) - 1), POST_BATCH_BYTES)
        frames.extend(encode_data(seq, data) for seq, data in messages)
        if messages:
            link.cursor = messages[-1][0]
        close = link.close_frame()
        if close is not None:
            frames.append(close)
        if not frames:
            await link.wait_for_work()
            continue
        try:
            response = await client.post(url, content=encode_batch(frames), headers=headers)
        except httpx.HTTPError as exc:
            return Ended(ABNORMAL_CLOSURE, f"POST failed: {exc!r}")
        if response.status_code != 200:
            return ended_from_response(response)
        link.sent(len(frames), now)
        try:
            replies = decode_batch(response.content)
        except ProtocolError as exc:
            return Ended(CloseCode.PROTOCOL_ERROR, f"bad POST answer: {exc}")
        for raw in replies:
            ended = link.receive(raw, loop.time())
            if ended is not None:
                return ended
