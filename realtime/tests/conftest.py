"""Connect real WebSocket clients to the real ASGI application (middleware, origin, routing)."""

import asyncio

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from project.asgi import application
from realtime.consumers import RFC_CLOSE_CODES_KEY

ORIGIN = (b"origin", b"http://localhost")


class Client:
    """A WebsocketCommunicator that speaks JSON frames."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator

    async def send(self, message: dict) -> None:
        await self.ws.send_to(text_data=orjson.dumps(message).decode())

    async def receive(self, timeout: float = 2) -> dict:
        return orjson.loads(await self.ws.receive_from(timeout=timeout))

    async def receive_type(self, event_type: str, timeout: float = 2) -> dict:
        """The next frame of `event_type`, skipping heartbeats."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] == event_type:
                return frame
            assert frame["type"] == "heartbeat", f"expected {event_type}, got {frame}"

    async def request(self, message: dict, answer: str) -> dict:
        await self.send(message)
        return await self.receive_type(answer)

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.ws.disconnect()


@pytest.fixture
async def ws_connect(token_for):
    """Open authenticated clients (token header by default); all are disconnected at the end."""
    opened: list[Client] = []

    async def connect(
        path: str = "/ws/",
        user=None,
        headers=None,
        expect_accept: bool = True,
        established: bool = True,
        rfc_close_codes: bool = True,
    ):
        if headers is None:
            key = await database_sync_to_async(token_for)(user)
            headers = [(b"authorization", f"Token {key}".encode())]
        communicator = WebsocketCommunicator(application, path, headers=headers)
        if rfc_close_codes:  # as under the server Lookout ships (project/server.py)
            communicator.scope[RFC_CLOSE_CODES_KEY] = True
        connected, code = await communicator.connect(timeout=3)
        client = Client(communicator)
        opened.append(client)
        if not expect_accept:
            return connected, code
        assert connected, f"handshake refused ({code})"
        if established:
            client.established = await client.receive_type("connection.established")
        return client

    yield connect
    await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


async def db(fn, *args, **kwargs):
    """Run ORM code from an async test."""
    return await database_sync_to_async(fn)(*args, **kwargs)
