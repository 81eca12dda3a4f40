"""The client → server protocol: actions, filters, batching, and every kind of bad input."""

import os

import orjson
import pytest
from django.utils import timezone

from events.services import detection_ingest
from events.tests.factories import make_event
from realtime.ratelimit import TokenBucket
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def test_connection_established_tells_user_channels_and_last_sequence(ws_connect, viewer):
    client = await ws_connect("/ws/system/", user=viewer)
    payload = client.established["payload"]
    assert payload["user"]["username"] == "viewer"
    assert payload["channels"] == ["cameras", "system"]
    assert isinstance(payload["last_sequence"], int) and payload["last_sequence"] > 0  # camera rows
    assert client.established["sequence"] is None


async def test_subscribe_unsubscribe_and_ping_answer_with_the_request_id(ws_connect, owner, cameras):
    client = await ws_connect("/ws/", user=owner)
    assert client.established["payload"]["channels"] == []
    answer = await client.request(
        {"action": "subscribe", "channels": ["events"], "request_id": "a1"}, "subscribed"
    )
    assert answer["payload"] == {"channels": ["events"], "request_id": "a1"}
    pong = await client.request({"action": "ping", "request_id": 7}, "pong")
    assert pong["payload"]["request_id"] == 7
    await db(make_event, cameras["garage"], 20)
    assert (await client.receive_type("event.created"))["payload"]["camera_id"] == "garage"
    gone = await client.request(
        {"action": "unsubscribe", "channels": ["events"], "request_id": 2}, "unsubscribed"
    )
    assert gone["payload"]["channels"] == []
    await db(make_event, cameras["garage"], 20)
    assert await client.nothing()


async def test_channels_are_isolated(ws_connect, owner, cameras):
    alerts = await ws_connect("/ws/alerts/", user=owner)
    system = await ws_connect("/ws/system/", user=owner)
    events = await ws_connect("/ws/events/", user=owner)
    await db(make_event, cameras["garage"], 90)
    assert (await events.receive_type("event.created"))["channel"] == "events"
    assert await alerts.nothing()
    assert await system.nothing()


@pytest.mark.parametrize(
    ("filters", "expected_scores"),
    [
        ({"camera_ids": ["garage"]}, [30]),
        ({"min_risk_score": 60}, [90]),
        ({"object_types": ["car"]}, [30]),
        ({"types": ["event.upd*"]}, []),
        ({"types": ["event.*"]}, [90, 30, 10]),
    ],
)
async def test_filters_narrow_what_arrives(ws_connect, owner, cameras, filters, expected_scores):
    client = await ws_connect("/ws/", user=owner)
    await client.request({"action": "subscribe", "channels": ["events"], "filters": filters}, "subscribed")
    await db(make_event, cameras["front_door"], 90, object_types=("person",))
    await db(make_event, cameras["garage"], 30, object_types=("car",))
    await db(make_event, cameras["backyard"], 10, object_types=("dog",))
    await client.send({"action": "ping"})
    scores = []
    while (frame := await client.receive())["type"] != "pong":
        scores.append(frame["payload"]["risk_score"])
    assert scores == expected_scores


async def test_detections_arrive_coalesced_in_batch_frames(ws_connect, owner, cameras):
    client = await ws_connect("/ws/events/", user=owner)
    rows = [
        {"camera": cameras["garage"], "object_type": "car", "confidence": 0.8, "detected_at": timezone.now()}
        for _ in range(60)
    ]
    await db(detection_ingest, rows=rows)
    counts = []
    while sum(counts) < 60:
        frame = await client.receive_type("batch")
        assert frame["channel"] == "detections"
        assert frame["count"] == len(frame["messages"])
        assert all(m["type"] == "detection.new" for m in frame["messages"])
        counts.append(frame["count"])
    assert counts[0] == 50  # a full batch goes out at once
    assert sum(counts) == 60


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"channels": ["events"]}', "invalid_message"),
        ('{"action": 5}', "invalid_message"),
        ('{"action": "explode"}', "unknown_action"),
        ('{"action": "subscribe", "channels": ["nope"]}', "unknown_channel"),
        ('{"action": "subscribe", "channels": "events"}', "invalid_message"),
        (
            '{"action": "subscribe", "channels": ["events"], "filters": {"min_risk_score": "high"}}',
            "invalid_filter",
        ),
        (
            '{"action": "subscribe", "channels": ["events"], "filters": {"min_risk_score": 101}}',
            "invalid_filter",
        ),
        ('{"action": "subscribe", "channels": ["events"], "filters": {"camera_ids": "x"}}', "invalid_filter"),
        ('{"action": "subscribe", "channels": ["jobs"], "filters": {"job_id": "123"}}', "invalid_filter"),
        (
            '{"action": "subscribe", "channels": ["events"], "filters": {"types": ["nothing.*"]}}',
            "invalid_filter",
        ),
        ('{"action": "subscribe", "channels": ["events"], "filters": {"colour": "red"}}', "invalid_filter"),
        ('{"action": "resume", "since": "yesterday"}', "invalid_message"),
        ('{"action": "resume", "since": -1}', "invalid_message"),
    ],
)
async def test_bad_input_gets_an_error_and_the_connection_stays_open(ws_connect, viewer, frame, code):
    client = await ws_connect("/ws/", user=viewer)
    await client.ws.send_to(text_data=frame)
    error = await client.receive_type("error")
    assert error["payload"]["code"] == code
    assert error["payload"]["message"]
    assert (await client.request({"action": "ping"}, "pong"))["type"] == "pong"


async def test_random_bytes_and_binary_frames_do_not_crash_the_consumer(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    await client.ws.send_to(bytes_data=os.urandom(512))
    assert (await client.receive_type("error"))["payload"]["code"] == "invalid_message"
    await client.ws.send_to(text_data=os.urandom(256).decode("latin-1"))
    assert (await client.receive_type("error"))["payload"]["code"] == "invalid_json"
    assert (await client.request({"action": "ping"}, "pong"))["type"] == "pong"


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    await client.ws.send_to(text_data=orjson.dumps({"action": "ping", "pad": "x" * (64 * 1024)}).decode())
    assert await client.ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 1009}


async def test_without_rfc_close_codes_a_frame_over_64_kib_closes_with_4009(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer, rfc_close_codes=False)
    await client.ws.send_to(text_data="x" * (64 * 1024 + 1))
    assert await client.ws.receive_output(timeout=10) == {"type": "websocket.close", "code": 4009}


async def test_a_frame_just_under_the_limit_is_handled(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    message = {"action": "ping", "request_id": 1, "pad": "x" * (60 * 1024)}
    assert (await client.request(message, "pong"))["payload"]["request_id"] == 1


@pytest.fixture
def stopped_bucket_clock(monkeypatch):
    """Stop the rate limiter's clock, so no token refills however slowly the machine runs."""
    monkeypatch.setattr(TokenBucket, "clock", staticmethod(lambda: 1000.0))


async def test_a_flood_is_rate_limited_then_closed_with_1008(ws_connect, viewer, stopped_bucket_clock):
    client = await ws_connect("/ws/", user=viewer)
    for _ in range(40):  # the burst is allowed
        await client.send({"action": "ping"})
    for _ in range(40):
        assert (await client.receive(timeout=10))["type"] == "pong"
    await client.send({"action": "ping"})
    error = await client.receive_type("error", timeout=10)
    assert error["payload"]["code"] == "rate_limited"
    for _ in range(40):  # strikes 2..41: past the tolerance of 40
        await client.send({"action": "ping"})
    output = await client.ws.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        output = await client.ws.receive_output(timeout=10)
    assert output["code"] == 1008


async def test_without_rfc_close_codes_a_flood_closes_with_4029(ws_connect, viewer, stopped_bucket_clock):
    client = await ws_connect("/ws/", user=viewer, rfc_close_codes=False)
    for _ in range(82):  # the burst, then past the tolerance
        await client.send({"action": "ping"})
    output = await client.ws.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        output = await client.ws.receive_output(timeout=10)
    assert output["code"] == 4029


def test_the_bucket_refills_at_its_rate_up_to_its_burst(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(TokenBucket, "clock", staticmethod(lambda: now[0]))
    bucket = TokenBucket(rate=20, burst=40)
    assert sum(bucket.take() for _ in range(50)) == 40
    now[0] += 0.5  # 10 tokens
    assert sum(bucket.take() for _ in range(50)) == 10
    now[0] += 3600
    assert sum(bucket.take() for _ in range(50)) == 40


@pytest.mark.parametrize("ping", ['{"type": "ping"}', "ping", " ping\n"])
async def test_the_seed_systems_keep_alives_answer_pong(ws_connect, viewer, ping):
    client = await ws_connect("/ws/", user=viewer)
    await client.ws.send_to(text_data=ping)
    assert (await client.receive_type("pong", timeout=10))["payload"]["server_time"]


@pytest.mark.parametrize("ping", ['{"type": "ping"}', "ping"])
async def test_keep_alive_aliases_count_against_the_rate_limit(
    ws_connect, viewer, stopped_bucket_clock, ping
):
    client = await ws_connect("/ws/", user=viewer)
    for _ in range(41):
        await client.ws.send_to(text_data=ping)
    for _ in range(40):
        assert (await client.receive(timeout=10))["type"] == "pong"
    assert (await client.receive_type("error", timeout=10))["payload"]["code"] == "rate_limited"


async def test_a_flooding_client_does_not_stall_others(ws_connect, viewer, owner, cameras):
    flooder = await ws_connect("/ws/", user=viewer)
    calm = await ws_connect("/ws/events/", user=owner)
    for _ in range(100):
        await flooder.ws.send_to(text_data="garbage")
    await db(make_event, cameras["garage"], 50)
    assert (await calm.receive_type("event.created"))["payload"]["camera_id"] == "garage"
