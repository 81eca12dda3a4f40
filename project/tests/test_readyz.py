"""/readyz tells a load balancer the truth about an instance in Redis mode, clients or not."""

import asyncio
import json

import pytest

from project.testing.servers import http_get
from realtime.tests.test_e2e import ws_open

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture(scope="module")
def redis_mode_server(start_daphne, restartable_redis):
    """(a daphne on its own Redis, its demo tokens, that Redis)."""
    redis_server, redis_url = restartable_redis
    server = start_daphne({"REDIS_URL": redis_url})
    yield server, server.seed_demo(), redis_server
    server.stop()


async def readyz(server) -> tuple[int, dict]:
    status, body = await asyncio.to_thread(http_get, f"{server.base_url}/readyz")
    return status, json.loads(body)


async def test_an_instance_with_an_open_websocket_is_ready(redis_mode_server):
    server, tokens, _ = redis_mode_server
    async with ws_open(server, "/ws/events/", token=tokens["viewer"]):
        for _ in range(3):
            status, body = await readyz(server)
            assert (status, body["checks"]) == (200, {"database": "ok", "channel_layer": "ok"}), body


async def test_an_instance_whose_redis_is_down_is_unavailable_until_it_is_back(redis_mode_server):
    server, tokens, redis_server = redis_mode_server
    async with ws_open(server, "/ws/events/", token=tokens["viewer"]):
        await asyncio.to_thread(redis_server.stop)
        try:
            status, body = await readyz(server)
        finally:
            await asyncio.to_thread(redis_server.start)
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["channel_layer"].startswith("error: ")
        status, body = await readyz(server)
        assert (status, body["checks"]["channel_layer"]) == (200, "ok")
