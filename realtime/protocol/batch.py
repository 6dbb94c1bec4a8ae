"""Batches of frames: the body of a long-poll answer and of an upstream POST.

A batch is a JSON array of frame strings, e.g. ``["d1:hello","a4"]``. JSON takes care of any
character a frame may hold, and every language parses it.
"""

from __future__ import annotations

import json

from realtime.exceptions import ProtocolError
from realtime.protocol.codes import CloseCode

__all__ = ["decode_batch", "encode_batch"]


def encode_batch(frames: list[str]) -> bytes:
    """Encode frames (already in text form) as one batch."""
    return json.dumps(frames, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_batch(body: bytes, *, max_frames: int | None = None) -> list[str]:
    """Decode a batch.

    Raises:
        ProtocolError: the body is not a JSON array of strings (code 1002), is not UTF-8
            (code 1007), or holds more than ``max_frames`` frames (code 1008).
    """
    stripped = body.lstrip()
    if not stripped.startswith(b"["):
        raise ProtocolError("a batch must be a JSON array of frame strings")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("batch is not valid UTF-8", CloseCode.INVALID_DATA) from None
    try:
        frames = json.loads(text)
    except RecursionError:
        raise ProtocolError("batch is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"batch is not valid JSON: {exc}") from None
    if not isinstance(frames, list) or not all(isinstance(frame, str) for frame in frames):
        raise ProtocolError("a batch must be a JSON array of frame strings")
    if max_frames is not None and len(frames) > max_frames:
        raise ProtocolError(
            f"batch of {len(frames)} frames exceeds the limit of {max_frames}",
            CloseCode.POLICY_VIOLATION,
        )
    return frames
