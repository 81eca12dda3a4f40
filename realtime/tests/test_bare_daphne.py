"""Under a bare `daphne project.asgi:application` the consumer's closes stay clean (no 1011)."""

import pytest
from websockets.exceptions import ConnectionClosed

from realtime.tests.test_e2e import FRAME_LIMIT, ws_open

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bare_daphne(start_daphne):
    server = start_daphne(bare=True)
    yield server, server.seed_demo()
    server.stop()


async def test_a_frame_over_64_kib_closes_with_4009_under_a_bare_daphne(bare_daphne):
    server, tokens = bare_daphne
    async with ws_open(server, "/ws/events", token=tokens["viewer"]) as socket:
        await socket.ws.send("x" * (FRAME_LIMIT + 1))
        with pytest.raises(ConnectionClosed):
            while True:
                await socket.frame()
    assert socket.ws.close_code == 4009
