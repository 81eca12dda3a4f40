"""A client that stops reading is closed with 4008, slows nobody, and resumes (real runner, real sockets)."""

import asyncio
import http.client
import json
import re
import socket
import sys
from datetime import UTC, datetime

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from project.testing.servers import BASE_DIR, answers_200, django_env, free_port, http_get, manage

pytestmark = pytest.mark.e2e

# 16 bulk posts of 1000 detections, ~5 MiB of frames: more than loopback's kernel buffers hold,
# so Twisted must keep the rest for the client that does not read.
POSTS, PER_POST = 16, 1000
DETECTIONS = POSTS * PER_POST
RESUMED = 50  # detections the resume after the 4008 replays


@pytest.fixture
def runner(spawn, tmp_path):
    """`run --demo --no-simulator`, 32 KiB unread-bytes bound; (port, admin token, pipeline token)."""
    port = free_port()
    env = django_env(tmp_path / "data", {"REALTIME_CLIENT_BUFFER_BYTES": str(32 * 1024)})
    process = spawn(
        "runner",
        # No simulator: the test counts exactly the detections it posts.
        [sys.executable, "manage.py", "run", "--demo", "--no-simulator", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: answers_200(f"{base_url}/healthz"), what="answering /healthz", timeout=60)
    pipeline_token = re.search(r"pipeline token: (\S+)", process.output()).group(1)
    admin_token = re.search(r"Generated token (\S+)", manage(env, "drf_create_token", "admin").stdout).group(
        1
    )
    yield port, admin_token, pipeline_token
    process.stop()


def post_detections(port: int, token: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    row = {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.9,
        "bbox": {"x": 1, "y": 2, "width": 30, "height": 40},
    }
    for _ in range(POSTS):
        body = [{**row, "detected_at": datetime.now(UTC).isoformat()} for _ in range(PER_POST)]
        connection.request("POST", "/api/detections/", orjson.dumps(body), headers)
        response = connection.getresponse()
        assert response.status == 201, response.read()
        response.read()
    connection.close()


# 16,000 detections through the REST API: minutes on a loaded machine.
@pytest.mark.timeout(400)
async def test_a_client_that_stops_reading_sees_4008_resumes_and_others_get_everything(runner):
    port, admin_token, pipeline_token = runner
    url = f"ws://127.0.0.1:{port}/ws/events/"
    headers = {"Authorization": f"Token {admin_token}"}
    tiny = socket.socket()
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tiny.connect(("127.0.0.1", port))
    # max_queue=1: the library stops reading the socket once one frame waits, as a stuck app would;
    # no keepalive pings of its own, which would close it themselves when their pongs stay unread.
    async with (
        connect(
            url, additional_headers=headers, sock=tiny, max_queue=1, max_size=None, ping_interval=None
        ) as slow,
        connect(url, additional_headers=headers, max_size=None) as fast,
    ):
        established = json.loads(await slow.recv())
        assert established["type"] == "connection.established"
        assert json.loads(await fast.recv())["type"] == "connection.established"
        writer = asyncio.create_task(asyncio.to_thread(post_detections, port, pipeline_token))

        fast_sequences: list[int] = []

        async def count_fast() -> int:
            while len(fast_sequences) < DETECTIONS:
                # Only detection.new: the worker closing batches adds detection.batch frames.
                fast_sequences.extend(detection_sequences(json.loads(await fast.recv())))
            return len(fast_sequences)

        async def drain_slow_once_closed() -> tuple[ConnectionClosed, list[int]]:
            # The slow client reads again only once the server has closed it, as a stalled client
            # that wakes up would: it must find the 4008 close after what it had not read.
            # A counter on another process: polled, there is no event to await.
            while await asyncio.to_thread(slow_clients_closed, port, admin_token) < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            sequences = [established["payload"]["last_sequence"]]
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    sequences += detection_sequences(json.loads(await slow.recv()))
            return closed.value, sequences

        drained = asyncio.create_task(asyncio.wait_for(drain_slow_once_closed(), timeout=240))
        assert await asyncio.wait_for(count_fast(), timeout=240) == DETECTIONS
        await asyncio.wait_for(writer, timeout=60)
        closed, slow_sequences = await drained
        assert closed.rcvd is not None and closed.rcvd.code == 4008

    assert slow_clients_closed(port, admin_token) == 1
    # What reached the slow client before its 4008 is whole and in order: the dropped backlog
    # was cut between frames.
    assert fast_sequences == sorted(set(fast_sequences))
    assert slow_sequences[1:] == fast_sequences[: len(slow_sequences) - 1]
    # It comes back and resumes: near the end, detection.new only, as a replay bigger than the
    # 32 KiB bound would itself count as unread.
    since = fast_sequences[-RESUMED - 1]
    async with connect(f"ws://127.0.0.1:{port}/ws/", additional_headers=headers, max_size=None) as again:
        assert json.loads(await again.recv())["type"] == "connection.established"
        only_new = {"channels": ["detections"], "filters": {"types": ["detection.new"]}}
        await again.send(json.dumps({"action": "subscribe", **only_new}))
        assert json.loads(await again.recv())["type"] == "subscribed"
        await again.send(json.dumps({"action": "resume", "since": since, "request_id": "r"}))
        replayed = []
        while (frame := json.loads(await asyncio.wait_for(again.recv(), timeout=30)))[
            "type"
        ] != "resume.completed":
            replayed += detection_sequences(frame)
    # A replay overlaps what came just before `since` (REALTIME_RESUME_OVERLAP_SECONDS): the
    # client drops those by sequence.
    assert [sequence for sequence in replayed if sequence > since] == fast_sequences[-RESUMED:]


def detection_sequences(frame: dict) -> list[int]:
    """The sequences of the detection.new messages in a frame (a batch, or one envelope)."""
    messages = frame["messages"] if frame["type"] == "batch" else [frame]
    return [message["sequence"] for message in messages if message["type"] == "detection.new"]


def slow_clients_closed(port: int, token: str) -> int:
    status, body = http_get(
        f"http://127.0.0.1:{port}/api/system/status/", {"Authorization": f"Token {token}"}
    )
    assert status == 200
    return json.loads(body)["realtime"]["slow_clients_closed"]
