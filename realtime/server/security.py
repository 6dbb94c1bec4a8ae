"""Origin checks and session tokens.

Browsers send ``Origin`` on cross-origin requests, on every POST and on every WebSocket
handshake. A request whose Origin is neither the app's own origin nor allowed is refused
with 403 before anything else happens: this stops cross-site WebSocket hijacking and
cross-site POSTs. The app's own origin is the one whose host (and port) is the request's
``Host`` header, so a reverse proxy must pass the original Host on (nginx:
``proxy_set_header Host $http_host``). Requests without an Origin (non-browser clients)
pass; they carry no ambient browser credentials to abuse.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

__all__ = [
    "CORS",
    "OriginPolicy",
    "client_key",
    "hash_token",
    "new_session_id",
    "new_token",
]

IPV6_PREFIX = 64
"""Per-address caps count an IPv6 client by its /64: one host commonly holds a whole /64."""


def client_key(host: str | None) -> str | None:
    """What per-address caps count a client by: its IPv4 address (an IPv4-mapped IPv6 one
    too), the /64 of its IPv6 address (``2001:db8:1:2::/64``), or ``host`` verbatim when it
    is no IP address (a Unix socket's, a test client's)."""
    if host is None:
        return None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # without an IPv6 zone
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def new_session_id() -> str:
    """A public session id: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def new_token() -> str:
    """A session secret: 192 random bits, URL-safe, unrelated to the id."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PAGE_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]``, lower case, without the scheme's default port; None for
    anything that is not an http or https origin (``null``, ``chrome-extension://...``)."""
    scheme, sep, rest = origin.strip().lower().rstrip("/").partition("://")
    if not sep or scheme not in _DEFAULT_PORTS or not rest or "/" in rest:
        return None
    host, port = rest, ""
    if ":" in rest and not rest.endswith("]"):  # a port (an IPv6 address ends with "]")
        host, _, port = rest.rpartition(":")
        if not port.isdigit():
            return None
        if int(port) == _DEFAULT_PORTS[scheme]:
            port = ""
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def own_origin(conn: HTTPConnection) -> str | None:
    """The origin a request is addressed to: its scheme (as the server saw it: behind a
    proxy, uvicorn's ``--proxy-headers`` sets it from trusted proxies only) and Host header."""
    scheme = _PAGE_SCHEMES.get(conn.scope.get("scheme", "http"), "http")
    host = conn.headers.get("host")
    return normalize_origin(f"{scheme}://{host}") if host else None


class OriginPolicy:
    """Same-origin by default; ``allowed`` adds origins (``"*"`` allows any) or is a callable.

    The ``null`` origin (sandboxed frames, ``file:`` pages, some redirects) is never allowed,
    ``"*"`` included: it is what a page that hides where it comes from sends.
    """

    def __init__(
        self,
        allowed: Sequence[str] | Callable[[str], bool] | None = None,
        public: Sequence[str] | None = None,
    ) -> None:
        self._public: frozenset[str] | None = None
        if public is not None:
            if isinstance(public, str):
                raise TypeError("public_origins is a list of origins, not a string")
            normalized = [normalize_origin(origin) for origin in public]
            if not normalized or None in normalized:
                raise ValueError(f"public_origins must be http(s)://host[:port]: {public!r}")
            self._public = frozenset(o for o in normalized if o is not None)
        self._predicate: Callable[[str], bool] | None = None
        self._allowed: frozenset[str] = frozenset()
        self._any = False
        if callable(allowed):
            self._predicate = allowed
        elif allowed is not None:
            if isinstance(allowed, str):
                raise TypeError("allowed_origins is a list of origins, not a string")
            self._allowed = frozenset(origin.rstrip("/").lower() for origin in allowed)
            self._any = "*" in self._allowed

    def allows(self, conn: HTTPConnection) -> bool:
        """Whether a request may go on: no Origin, its own origin, or an allowed one."""
        return self.refusal(conn) is None

    def refusal(self, conn: HTTPConnection) -> str | None:
        """None when the request may go on; else why not: which Origin was compared with what,
        and what to configure."""
        origin = conn.headers.get("origin")
        if origin is None or self.allows_origin(origin):
            return None
        normalized = normalize_origin(origin)
        own = self._public if self._public is not None else {own_origin(conn)}
        if normalized is not None and normalized in own:
            return None
        theirs = "public_origins" if self._public is not None else "the request's scheme and Host"
        return (
            f"origin {origin[:80]!r} is neither this app's ({', '.join(sorted(map(str, own)))}, "
            f"from {theirs}) nor in allowed_origins"
        )

    @property
    def allows_any(self) -> bool:
        """Whether any origin is allowed (``"*"``): then no cross-origin request carries
        credentials (cookies)."""
        return self._any

    def allows_origin(self, origin: str) -> bool:
        """Whether ``origin`` is allowed besides the app's own (configured, not same-origin)."""
        origin = origin.rstrip("/").lower()
        if origin == "null":
            return False
        if self._any or origin in self._allowed:
            return True
        return self._predicate is not None and bool(self._predicate(origin))


class CORS(CORSMiddleware):
    """Starlette's CORS middleware, allowing exactly the origins the :class:`OriginPolicy`
    allows (so a callable policy works too), with the token header, and with credentials
    (cookies) unless any origin is allowed: a page from anywhere must not read a session
    negotiated with the visitor's cookies."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        super().__init__(
            app,
            allow_origins=(),  # is_allowed_origin asks the policy instead
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-realtime-token", "authorization", "last-event-id"],
            allow_credentials=not policy.allows_any,
            max_age=600,
        )
        self.policy = policy

    def is_allowed_origin(self, origin: str) -> bool:
        return self.policy.allows_origin(origin)
