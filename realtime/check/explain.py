"""What each way a check can fail means, in words a person can act on: refusals, failed
upgrades, first frames that are not a hello, servers out of reach."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from realtime.exceptions import ProtocolError
from realtime.protocol.frames import Close, Hello, Reconnect, decode_frame

__all__ = [
    "describe",
    "explain_first_frame",
    "explain_refusal",
    "explain_unreachable",
    "explain_upgrade_refusal",
]


def _error_of(body: bytes) -> str | None:
    """The ``error`` of a realtime refusal body (``{"error": ..., "code": ...}``), if it is one."""
    try:
        fields = json.loads(body)
    except ValueError:
        return None
    if isinstance(fields, dict) and isinstance(fields.get("error"), str):
        code = fields.get("code")
        return f"{fields['error']}, code {code}" if isinstance(code, int) else fields["error"]
    return None


def explain_refusal(status: int, body: bytes, *, negotiation: bool = False) -> str:
    """Why an HTTP request of the protocol failed, from its status and body."""
    error = _error_of(body)
    if error is not None:
        hint = ""
        if status == 403 and "origin" in error.lower():
            hint = "; does the proxy pass the Host header on (nginx: proxy_set_header Host)?"
        elif status == 401:
            hint = "; pass credentials with --header"
        return f"refused (HTTP {status}: {error}{hint})"
    if status in (404, 405) and negotiation:
        return f"refused (HTTP {status}; is the URL the mount point, e.g. https://host/realtime?)"
    if status in (404, 405):
        return f"refused (HTTP {status} from something that is not the realtime app: a proxy?)"
    if status in (502, 503, 504):
        return f"refused (HTTP {status}: the proxy could not reach the server?)"
    if status == 501:
        return (
            "refused (HTTP 501: the server does not handle POST; "
            "a static file server rather than the realtime app?)"
        )
    return f"refused (HTTP {status})"


def explain_upgrade_refusal(status: int) -> str:
    """Why a WebSocket handshake answered with ``status`` instead of 101."""
    if status in (400, 404, 405, 426):
        return f"upgrade refused (HTTP {status}, a proxy dropped the Upgrade header?)"
    if status == 403:
        return "upgrade refused (HTTP 403: Origin not allowed; does the proxy pass Host on?)"
    if status in (502, 503, 504):
        return f"upgrade refused (HTTP {status}: the proxy could not reach the server?)"
    return f"upgrade refused (HTTP {status})"


def explain_first_frame(frame: str) -> str | None:
    """None if ``frame`` is a hello, else what it says instead."""
    try:
        decoded = decode_frame(frame)
    except ProtocolError:
        decoded = None
    if isinstance(decoded, Hello):
        return None
    if isinstance(decoded, Close | Reconnect):
        what = "session refused" if isinstance(decoded, Close) else "connection refused"
        reason = f": {decoded.reason}" if decoded.reason else ""
        return f"{what} (code {decoded.code}{reason})"
    return f"protocol error (first frame {frame[:40]!r}, not a hello)"


def describe(exc: BaseException) -> str:
    """An exception in a few words: its message, or its type when it has none."""
    return str(exc) or type(exc).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it was raised from, outermost first (bounded)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def explain_unreachable(error: BaseException, url: str) -> str:
    """Why no answer came from ``url``: nothing listens, TLS spoken to a plain HTTP server or
    plain HTTP to a TLS one, an untrusted certificate; else the error itself."""
    parts = urlsplit(url)
    chain = _causes(error)
    text = " ".join(str(e) for e in chain)
    rest = url.split("://", 1)[-1]
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip()
        return (
            f"cannot connect (TLS certificate not trusted: {reason}; a private CA? "
            "point SSL_CERT_FILE at its certificate)"
        )
    if parts.scheme == "https" and ("WRONG_VERSION_NUMBER" in text or "record layer" in text):
        return f"cannot connect (no TLS on the other side: a plain HTTP server? try http://{rest})"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        return (
            f"cannot connect (connection refused: nothing listens on {where}; "
            "is the server running, on this port?)"
        )
    if parts.scheme == "http" and isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        return (
            "no answer (the server closed the connection without answering: "
            f"does it expect TLS? try https://{rest})"
        )
    return f"cannot connect ({describe(error)})"
