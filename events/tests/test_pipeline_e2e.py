"""End to end: detections posted over HTTP to a real daphne become a batch, an analysis, an event and
an alert, all seen live by a `websockets` client on /ws/ subscribed to every channel.

The closing runs in another process (`manage.py close_batches`, as the worker will), so the two
processes share a real Redis channel layer and the SQLite database in one data directory.
"""

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from realtime.event_types import get_all_channels
from realtime.tests.test_e2e import Api, ws_open

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

ARRIVAL_TIMEOUT = 15
PIPELINE_TYPES = {
    "detection.new",
    "detection.batch",
    "enrichment.started",
    "enrichment.progress",
    "enrichment.completed",
    "enrichment.failed",
    "event.created",
    "alert.created",
}


@pytest.fixture(scope="module")
def redis_server(start_daphne, redis_url):
    return start_daphne({"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": "lookout-pipeline-e2e"})


@pytest.fixture(scope="module")
def tokens(redis_server) -> dict[str, str]:
    return redis_server.seed_demo()


async def frames_until_alert(socket, *, camera_id: str) -> tuple[list[dict], int]:
    """Pipeline frames of `camera_id` in arrival order (batch frames opened) until both alert.created
    and detection.batch are in (the latter rides the coalesced detections channel, so it may come
    later), and how many of the detection.new frames came inside batch frames."""
    frames: list[dict] = []
    batched = 0
    async with asyncio.timeout(ARRIVAL_TIMEOUT):
        while not {"alert.created", "detection.batch"} <= {f["type"] for f in frames}:
            frame = await socket.frame(ARRIVAL_TIMEOUT)
            inner = frame["messages"] if frame["type"] == "batch" else [frame]
            for message in inner:
                if message["type"] in PIPELINE_TYPES and message["payload"].get("camera_id") == camera_id:
                    frames.append(message)
                    batched += frame["type"] == "batch" and message["type"] == "detection.new"
    return frames, batched


async def test_thirty_detections_become_one_batch_event_and_alert_seen_live_in_order(redis_server, tokens):
    pipeline = Api(redis_server.base_url, tokens["pipeline"])
    now = datetime.now(UTC)
    rows = [
        {
            "camera_id": "front_door",
            "object_type": "person",
            "confidence": 0.95,
            "detected_at": (now + timedelta(milliseconds=100 * n)).isoformat(),
        }
        for n in range(30)
    ]
    async with ws_open(redis_server, "/ws/", token=tokens["admin"]) as socket:
        await socket.send({"action": "subscribe", "channels": get_all_channels(), "request_id": "all"})
        await socket.frame_of("subscribed")
        status, posted = await asyncio.to_thread(pipeline.request, "POST", "/api/detections/", rows)
        assert status == 201, posted
        # Past the idle timeout (30 s): the closing call of the worker, as of that time.
        closing_at = (now + timedelta(seconds=31 + 3)).isoformat()
        closing = asyncio.create_task(
            asyncio.to_thread(redis_server.manage, "close_batches", "--at", closing_at)
        )
        frames, batched = await frames_until_alert(socket, camera_id="front_door")
        done = await closing
    pipeline.close()
    assert "1 batch(es) closed" in done.stdout

    durable = sorted((f for f in frames if f["sequence"] is not None), key=lambda f: f["sequence"])
    assert [f["type"] for f in durable] == ["detection.new"] * 30 + [
        "detection.batch",
        "event.created",
        "alert.created",
    ]
    assert batched == 30
    detection_ids = [d["id"] for d in posted]
    batch_id = posted[0]["batch_id"]
    assert {d["batch_id"] for d in posted} == {batch_id}
    announced = durable[30]["payload"]
    assert (announced["batch_id"], announced["detection_ids"]) == (batch_id, detection_ids)

    # Ephemeral and unbatched frames in arrival order: the analysis, then the event, then its alert.
    unbatched = [f["type"] for f in frames if f["type"] not in {"detection.new", "detection.batch"}]
    assert unbatched == [
        "enrichment.started",
        "enrichment.progress",
        "enrichment.completed",
        "event.created",
        "alert.created",
    ]
    enrichment = [f for f in frames if f["channel"] == "enrichment"]
    assert {f["payload"]["batch_id"] for f in enrichment} == {batch_id}
    assert all(f["sequence"] is None for f in enrichment)
    event = next(f for f in frames if f["type"] == "event.created")["payload"]
    alert = next(f for f in frames if f["type"] == "alert.created")["payload"]
    assert (event["detection_count"], event["batch_id"], alert["event_id"]) == (
        30,
        str(batch_id),
        event["id"],
    )
    assert event["summary"].startswith("A person at Front door at ")
    assert all(a < b for a, b in itertools.pairwise(f["sequence"] for f in durable))
    assert json.dumps(frames)  # every payload is plain JSON
