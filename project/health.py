"""Liveness and readiness probes: no auth, JSON answers."""

import asyncio

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import connection
from django.http import JsonResponse
from redis import asyncio as aioredis

# A probe answers within this, dependency down or not: a load balancer waits for no one.
CHECK_TIMEOUT_SECONDS = 2


def liveness(request):
    """The process answers."""
    return JsonResponse({"status": "ok"})


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _channel_layer_ping() -> None:
    """PING every Redis of the layer on a connection of its own.

    Not a send/receive round trip on the layer: in this process the hub's channel is blocked in
    the layer's receive, which a second receiver would have to share (issue 6, item 4). The
    in-memory layer lives in this process, so it is up whenever the process answers.
    """
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        return
    for index in range(layer.ring_size):
        client = aioredis.Redis(connection_pool=layer.create_pool(index))
        try:
            await client.ping()
        finally:
            await client.aclose(close_connection_pool=True)


async def _check(probe) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT_SECONDS} s"
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def dependency_checks() -> dict[str, str]:
    """ "ok" or the error, for the database and the channel layer (readiness, the system monitor)."""
    database, channel_layer = await asyncio.gather(
        _check(database_sync_to_async(_database_ping)), _check(_channel_layer_ping)
    )
    return {"database": database, "channel_layer": channel_layer}


async def readiness(request):
    """The database and the channel layer both answer (503 with the failing check otherwise)."""
    checks = await dependency_checks()
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
