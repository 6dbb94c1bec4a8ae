"""How values travel to and from Redis (payloads, limits, close codes), and Redis failures
turned into :class:`~realtime.exceptions.BackendError`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from redis.exceptions import RedisError

from realtime.backends.redis.cancellation import raise_if_cancelled
from realtime.exceptions import BackendError
from realtime.protocol.codes import CloseCode
from realtime.protocol.events import Envelope

__all__ = ["close_of", "decode", "encode", "limit", "text", "translating_errors"]

B = TypeVar("B")
P = ParamSpec("P")
T = TypeVar("T")


def translating_errors(
    method: Callable[Concatenate[B, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[B, P], Coroutine[Any, Any, T]]:
    """Turn Redis failures into :class:`BackendError`, which transports answer with 4008."""

    async def translated(self: B, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = await method(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            raise_if_cancelled()  # the failure may be a cancellation in disguise
            raise BackendError(f"redis failed: {exc!r}") from exc
        raise_if_cancelled()  # redis-py may have retried past a cancellation
        return result

    translated.__name__, translated.__doc__ = method.__name__, method.__doc__
    return translated


def encode(data: str | bytes) -> tuple[bytes, bytes]:
    """A payload and its kind tag: ``t`` text, ``b`` binary, ``e`` an event's envelope."""
    if isinstance(data, str):
        return (b"e" if type(data) is Envelope else b"t"), data.encode("utf-8")
    return b"b", data


def decode(kind: bytes, data: bytes) -> str | bytes:
    if kind == b"t":
        return data.decode("utf-8")
    return Envelope(data.decode("utf-8")) if kind == b"e" else data


def limit(value: int | None) -> int:
    return -1 if value is None else value


def text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def close_of(code: bytes | str | None, reason: bytes | str | None) -> tuple[int, str]:
    """A close code and reason as the scripts store them (no code: a normal closure)."""
    return int(code or CloseCode.NORMAL_CLOSURE), text(reason)
