"""How many bytes a socket's server still holds for a client that has not read them.

daphne hands every frame straight to Twisted, which buffers without bound: an ASGI app cannot
see a client that stopped reading. Lookout's daphne (project/server.py) puts a probe into each
WebSocket scope, so the consumer can close such a client (4008) before its buffer eats the
server's memory. The probe counts what the transport holds, not the frames queued for the next
write: that write offers them to the kernel first, and only what the kernel refuses is backlog.
"""

# scope[BACKLOG_KEY]() → bytes written for the client that the kernel has not taken yet.
BACKLOG_KEY = "lookout.pending_write_bytes"
