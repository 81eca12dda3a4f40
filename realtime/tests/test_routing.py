"""Which paths are endpoints: each with and without its trailing slash; any other is refused (4404)."""

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from events.tests.factories import make_job
from project.asgi import application
from project.testing.servers import free_port
from realtime.refusals import CLOSE_NOT_FOUND, CLOSE_UNAVAILABLE
from realtime.tests.conftest import ORIGIN, db

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_PATHS = ["/ws/nope/", "/ws/jobs/not-a-uuid/", "/ws/events/extra/", "/ws/\x00/", "/ws//", "/", "/wsx"]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
async def test_an_authenticated_handshake_to_an_unknown_path_is_refused_with_4404(ws_connect, viewer, path):
    assert await ws_connect(path, user=viewer, expect_accept=False) == (False, CLOSE_NOT_FOUND)


async def test_an_anonymous_handshake_to_an_unknown_path_is_refused_like_any_anonymous_one(ws_connect):
    # 1000 before accept: the same 403 as on a real endpoint, so paths are not probed anonymously.
    assert await ws_connect("/ws/nope/", headers=[ORIGIN], expect_accept=False) == (False, 1000)


@pytest.mark.parametrize(
    ("path", "channels"),
    [
        ("/ws", []),
        ("/ws/events", ["detections", "events"]),
        ("/ws/system", ["cameras", "system"]),
        ("/ws/alerts", ["alerts"]),
    ],
)
async def test_each_endpoint_is_served_without_its_trailing_slash(ws_connect, viewer, path, channels):
    client = await ws_connect(path, user=viewer)
    assert client.established["payload"]["channels"] == channels


async def test_a_job_socket_is_served_without_its_trailing_slash(ws_connect, viewer):
    job = await db(make_job, viewer)
    client = await ws_connect(f"/ws/jobs/{job.id}", user=viewer)
    assert client.established["payload"]["channels"] == ["jobs"]


async def test_a_handshake_while_the_channel_layer_is_down_is_refused_with_4503(
    ws_connect, viewer, token_for, settings
):
    # A Redis channel layer on a port where nothing listens; the database and cache are up.
    address = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [address]}}
    }
    channel_layers.backends.clear()
    try:
        key = await db(token_for, viewer)
        communicator = WebsocketCommunicator(
            application, "/ws/events/", headers=[(b"authorization", f"Token {key}".encode())]
        )
        assert await communicator.connect(timeout=15) == (False, CLOSE_UNAVAILABLE)
        await communicator.disconnect(timeout=15)
    finally:
        channel_layers.backends.clear()
