"""The bench apps, one per system; each is served by its own uvicorn process (bench.serve).

Every app offers the same two HTTP endpoints besides its transports:

- ``POST /bench/broadcast``: the body (text) goes to every connected client; answers the
  number of clients it was queued for.
- ``POST /bench/burst``: the body is ``"<start> <count>"``; broadcasts ``start`` to
  ``start + count - 1`` back to back, each ``"<i> <time.perf_counter()> <filler>"``;
  answers the sum of the clients each was queued for.
- ``GET /bench/count``: the number of clients that would receive a broadcast now.
"""
