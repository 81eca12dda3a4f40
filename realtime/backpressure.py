"""How many bytes a socket's server still holds for a client that has not read them.

daphne hands every frame straight to Twisted, which buffers without bound: an ASGI app cannot
see a client that stopped reading. The runner puts a probe into each WebSocket scope, so the
consumer can close such a client (4008) before its buffer eats the server's memory.
"""

from collections.abc import Callable

SCOPE_KEY = "lookout.pending_write_bytes"


def transport_probe(protocol) -> Callable[[], int]:
    """A function returning the bytes queued in `protocol`'s Twisted transport, unsent."""

    def pending() -> int:
        transport = getattr(protocol, "transport", None)
        # twisted.internet.abstract.FileDescriptor: dataBuffer[offset:] plus the not yet joined writes.
        buffered = getattr(transport, "dataBuffer", b"")
        # Not the frames Lookout's server holds for its next write (project/server.py): that write
        # offers them to the kernel first, and only what the kernel refuses is the client's backlog.
        return len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)

    return pending


def with_probe(scope: dict, protocol) -> dict:
    """The WebSocket scope with the probe added (other scopes unchanged)."""
    if scope.get("type") != "websocket":
        return scope
    return {**scope, SCOPE_KEY: transport_probe(protocol)}
