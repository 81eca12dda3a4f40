"""Frames written straight to each transport (Lookout's daphne) or sent the ASGI way (a bare daphne):
the same order, filters and visibility on both."""

import asyncio
from datetime import UTC, datetime

import pytest

from realtime.tests.test_e2e import Api, ws_open

pytestmark = pytest.mark.e2e

BURST = 300
ARRIVAL_TIMEOUT = 30  # a whole burst, on a shared machine


@pytest.fixture(scope="module", params=["lookout", "bare"])
def served(request, daphne_server, start_daphne):
    """(server, tokens) of Lookout's daphne (the fast path) and of a bare daphne (the fallback)."""
    if request.param == "lookout":
        yield daphne_server, daphne_server.seed_demo()
        return
    server = start_daphne(bare=True)
    yield server, server.seed_demo()
    server.stop()


def post_detections(api: Api, camera_id: str, count: int) -> None:
    """`count` detections, in bulk posts of 50 one after another."""
    row = {"camera_id": camera_id, "object_type": "person", "confidence": 0.9}
    for _ in range(0, count, 50):
        body = [{**row, "detected_at": datetime.now(UTC).isoformat()} for _ in range(50)]
        status, answer = api.request("POST", "/api/detections/", body)
        assert status == 201, answer


def post_events(api: Api, cameras: list[str], tag: str) -> list[int]:
    return [api.post_event(f"{tag} {camera}", camera_id=camera) for camera in cameras]


async def test_a_burst_arrives_complete_in_sequence_order_with_the_pongs_between(served):
    server, tokens = served
    api = Api(server.base_url, tokens["pipeline"])
    async with (
        ws_open(server, "/ws/events/", token=tokens["admin"]) as admin,
        ws_open(server, "/ws/events/", token=tokens["viewer"]) as viewer,
    ):
        posting = asyncio.create_task(asyncio.to_thread(post_detections, api, "front_door", BURST))

        async def read(socket) -> tuple[list[int], list[str]]:
            sequences, pongs = [], []
            for n in range(5):  # pings during the burst: their pongs take turns with the batches
                await socket.send({"action": "ping", "request_id": f"p{n}"})
            while len(sequences) < BURST or len(pongs) < 5:
                frame = await socket.frame(ARRIVAL_TIMEOUT)
                if frame["type"] == "pong":
                    pongs.append(frame["payload"]["request_id"])
                elif frame["type"] == "batch":
                    sequences += [m["sequence"] for m in frame["messages"] if m["type"] == "detection.new"]
            return sequences, pongs

        for sequences, pongs in await asyncio.gather(read(admin), read(viewer)):
            assert sequences == sorted(set(sequences))  # in order, none twice
            assert len(sequences) == BURST
            assert pongs == [f"p{n}" for n in range(5)]
        await posting
    api.close()


async def test_filters_and_visibility_hold_for_every_socket(served):
    server, tokens = served
    api = Api(server.base_url, tokens["pipeline"])
    every_camera = ["front_door", "driveway", "backyard", "garage", "living_room"]
    async with (
        ws_open(server, "/ws/events/", token=tokens["viewer"]) as viewer,
        ws_open(server, "/ws/events/", token=tokens["admin"]) as admin,
        ws_open(server, "/ws/", token=tokens["admin"]) as filtered,
    ):
        await filtered.send(
            {"action": "subscribe", "channels": ["events"], "filters": {"camera_ids": ["garage"]}}
        )
        await filtered.frame_of("subscribed")
        posted = await asyncio.to_thread(post_events, api, every_camera * 3, "visibility")
        # The last event each socket may get: in sequence order, anything it may not get came before.
        last_garage = (await asyncio.to_thread(post_events, api, ["garage"], "last"))[0]
        last_front = (await asyncio.to_thread(post_events, api, ["front_door"], "last"))[0]

        async def cameras_until(socket, last_id: int) -> list[str]:
            seen = []
            while True:
                frame = await socket.frame_of("event.created", ARRIVAL_TIMEOUT)
                seen.append(frame["payload"]["camera_id"])
                if frame["payload"]["id"] == last_id:
                    return seen

        viewer_saw = await cameras_until(viewer, last_front)
        admin_saw = await cameras_until(admin, last_front)
        filtered_saw = await cameras_until(filtered, last_garage)
    api.close()
    assert len(posted) == 15
    assert viewer_saw == ["front_door", "driveway"] * 3 + ["front_door"]
    assert admin_saw == every_camera * 3 + ["garage", "front_door"]
    assert filtered_saw == ["garage"] * 4


async def test_a_replay_written_in_one_go_keeps_sequence_order_and_ends_with_its_answer(served):
    server, tokens = served
    api = Api(server.base_url, tokens["pipeline"])
    async with ws_open(server, "/ws/events/", token=tokens["admin"]) as socket:
        since = socket.established["payload"]["last_sequence"]
        posted = await asyncio.to_thread(post_events, api, ["garage"] * 30, "replay")
        await socket.frame_of("event.created", ARRIVAL_TIMEOUT, id=posted[-1])
        # The whole replay and its answer are sent in one loop iteration: one write on Lookout's daphne.
        await socket.send({"action": "resume", "since": since, "request_id": "r"})
        frames = []
        while (frame := await socket.frame(ARRIVAL_TIMEOUT))["type"] != "resume.completed":
            frames.append(frame)
    api.close()
    # Others may be in the replay too (a shared server's worker turns batches into events).
    assert [
        f["payload"]["id"] for f in frames if f["payload"].get("summary", "").startswith("replay")
    ] == posted
    sequences = [f["sequence"] for f in frames]
    assert sequences == sorted(sequences)
