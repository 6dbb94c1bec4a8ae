"""The server: what sits between the transports and the backend, and what applications call.

- :mod:`~realtime.server.settings`: the frozen, validated settings of an app.
- :mod:`~realtime.server.engine`: the engine every transport goes through: opening a
  connection, inbound dispatch (one error-to-close-code map), outbound framing.
- :mod:`~realtime.server.supervisor`: runs each session's handler once, here or elsewhere.
- :mod:`~realtime.server.admission`: ``POST <mount>/negotiate`` (Origin, authentication, caps).
- :mod:`~realtime.server.session`, :mod:`~realtime.server.hub`: what applications call.
- :mod:`~realtime.server.refusals`, :mod:`~realtime.server.http`,
  :mod:`~realtime.server.security`, :mod:`~realtime.server.routing`,
  :mod:`~realtime.server.static`: refusals, HTTP plumbing, tokens and Origins, the router, the
  JavaScript client's files.

Nothing is imported here: importing one module loads only what it needs.
"""
