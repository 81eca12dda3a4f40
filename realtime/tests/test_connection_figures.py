"""Publishing the connection figures for the deployment's sums is never in a handshake's way."""

import socket

import pytest
import redis

from realtime.tests.conftest import db
from realtime.tests.test_e2e import until
from realtime.tests.test_system_status import status_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unanswering_redis_url():
    """A redis:// URL whose port accepts connections and never answers, as a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


async def test_a_redis_that_never_answers_delays_no_handshake_and_the_status_says_so(
    settings, unanswering_redis_url, ws_connect, owner, viewer
):
    # Only the figures go there: the channel layer stays in memory.
    settings.REDIS_URL = unanswering_redis_url
    for user in (owner, owner, viewer):
        # Accepted within 3 s, connection.established within 2 s more: no Redis call in between.
        await ws_connect("/ws/events/", user=user)

    connections = (await db(status_for, owner))["realtime"]["connections"]

    # The other instances' figures are unknown; this one's are counted live.
    assert connections["instances"] is None
    assert (connections["total"], connections["by_user"]) == (3, {"owner": 2, "viewer": 1})


@pytest.mark.redis
async def test_a_socket_opens_again_after_the_last_one_closed_once_the_figures_were_published(
    settings, fresh_redis_url, ws_connect, owner
):
    # The figures go to a real Redis: the channel layer stays in memory.
    settings.REDIS_URL = fresh_redis_url
    redis_client = redis.Redis.from_url(fresh_redis_url)
    first = await ws_connect("/ws/events/", user=owner)
    await until(lambda: redis_client.zcard("lookout:connections:instances") == 1, timeout=10)
    # The last socket closes while the hub waits for the next change: the hub stops.
    await first.close()
    await until(lambda: redis_client.zcard("lookout:connections:instances") == 0, timeout=10)

    again = await ws_connect("/ws/events/", user=owner)

    assert again.established["payload"]["channels"] == ["detections", "events"]
