"""Handshakes refused before accept: unknown paths and outages, and the HTTP status each maps to.

A `websocket.close` before accept is a refusal; plain daphne answers every refusal with HTTP 403.
The server Lookout ships (`project/server.py`) answers the close codes below with their HTTP status.
"""

import asyncio

from django.db import DatabaseError
from redis.exceptions import RedisError

CLOSE_NOT_FOUND = 4404
CLOSE_UNAVAILABLE = 4503
# Close code before accept → (HTTP status, reason). Any other refusal stays 403.
HTTP_REFUSALS = {CLOSE_NOT_FOUND: (404, "Not Found"), CLOSE_UNAVAILABLE: (503, "Service Unavailable")}
# What the database or the channel layer / cache raise while they are down or unreachable.
OUTAGE_ERRORS = (DatabaseError, RedisError, OSError, asyncio.TimeoutError)


async def refuse(receive, send, code: int) -> None:
    """Refuse a handshake that no consumer has taken yet, with one of the codes above."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": code})


async def endpoint_not_found(scope, receive, send) -> None:
    """The ASGI app for any path that is not an endpoint."""
    await refuse(receive, send, CLOSE_NOT_FOUND)


def outage(error: BaseException) -> str:
    """A one-line account of an outage error for the log: the cause is outside our code, so no traceback."""
    what = "the database" if isinstance(error, DatabaseError) else "Redis (channel layer or cache)"
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{what} is unavailable ({type(error).__name__}: {detail[:200]})"
