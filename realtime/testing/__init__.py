"""Tools for testing apps built on realtime, in your own test suite.

- :class:`FaultProxy`: a TCP proxy on 127.0.0.1 to put between a client and your server,
  which cuts, delays, throttles or blackholes connections on demand, so a test can prove that
  the app survives what networks do (:mod:`realtime.testing.faults`).
- :data:`FAST_RETRY`: options for :func:`realtime.client.connect` that make a client behind
  the proxy reconnect within a fraction of a second.
- :func:`live_server`: your app in a real uvicorn on 127.0.0.1, in the test's event loop
  (needs uvicorn, the ``demo`` extra).
- :func:`connect`: a :func:`realtime.client.connect` to your app in the same process, with
  no server and no port, over any of the three transports (:mod:`realtime.testing.inprocess`);
  the ``realtime_client`` pytest fixture (``pytest_plugins = ["realtime.testing.plugin"]``).

Nothing here is imported by ``import realtime``. See the how-to "Test an app".
"""

from __future__ import annotations

from realtime.testing.faults import FAST_RETRY, FaultProxy
from realtime.testing.inprocess import Clients, connect
from realtime.testing.server import live_server

__all__ = ["FAST_RETRY", "Clients", "FaultProxy", "connect", "live_server"]
