"""The three transports: thin adapters between ASGI and the session's backend state."""
