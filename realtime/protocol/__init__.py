"""The sans-I/O protocol core: no sockets, no clock, no event loop.

- :mod:`~realtime.protocol.frames`: the frame envelope, its codec, the close codes.
- :mod:`~realtime.protocol.buffer`: sequence numbers, acks and the replay buffer.
- :mod:`~realtime.protocol.session`: the session state machine.
- :mod:`~realtime.protocol.connection`: per-connection checks, heartbeats, coalesced acks.
- :mod:`~realtime.protocol.sse`, :mod:`~realtime.protocol.batch`: transport encodings.
- :mod:`~realtime.protocol.negotiate`: the negotiation answer.
"""
