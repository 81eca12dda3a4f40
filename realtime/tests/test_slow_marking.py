"""Once a client is marked too slow it gets nothing more, even if its unread bytes fall back."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from events.tests.factories import make_event
from project.asgi import application
from realtime.backpressure import BACKLOG_KEY
from realtime.tests.conftest import Client, db

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_client_marked_too_slow_is_closed_4008_and_gets_no_frame_after(owner, cameras, token_for):
    # The probe stands in for daphne's transport (the edge of the world): how much the client left unread.
    unread = {"bytes": 0}
    key = await db(token_for, owner)
    communicator = WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"authorization", f"Token {key}".encode())]
    )
    communicator.scope[BACKLOG_KEY] = lambda: unread["bytes"]
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    client = Client(communicator)
    try:
        await client.receive_type("connection.established")
        await db(make_event, cameras["garage"], 20)
        assert (await client.receive_type("event.created"))["payload"]["camera_id"] == "garage"

        unread["bytes"] = settings.REALTIME_CLIENT_BUFFER_BYTES + 1
        await db(make_event, cameras["garage"], 30)
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4008}

        unread["bytes"] = 0  # the client caught up: it is still closed for good
        await client.send({"action": "ping", "request_id": "after"})
        await db(make_event, cameras["garage"], 40)
        assert await client.nothing(timeout=1)
    finally:
        await client.close()
