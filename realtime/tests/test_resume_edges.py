"""Resume at its edges: live frames during the replay, the reported last sequence, the watermark."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from events.tests.factories import make_event
from realtime import outbox
from realtime.models import OutboxWatermark
from realtime.outbox import outbox_prune
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def frames_until(client, final: str) -> tuple[list[dict], dict]:
    """(the frames before the first `final` frame, that frame)."""
    frames = []
    while (frame := await client.receive(timeout=10))["type"] != final:
        frames.append(frame)
    return frames, frame


@pytest.fixture
def replay_gate(monkeypatch):
    """Hold every resume between its replay query and its answer, so that live messages arrive then.

    `entered` is set once a replay has read the outbox; the replay answers once `release` is set.
    """
    entered, release = threading.Event(), threading.Event()
    real_replay = outbox.outbox_replay

    def held_replay(**kwargs):
        replay = real_replay(**kwargs)
        entered.set()
        release.wait(15)
        return replay

    monkeypatch.setattr("realtime.consumers.outbox_replay", held_replay)
    yield entered, release
    release.set()


async def test_live_messages_during_a_replay_are_buffered_and_merged_in_order(
    ws_connect, owner, cameras, replay_gate
):
    entered, release = replay_gate
    resuming = await ws_connect("/ws/events/", user=owner)
    watching = await ws_connect("/ws/events/", user=owner)
    before = await db(make_event, cameras["garage"], 10)
    since = resuming.established["payload"]["last_sequence"]
    await resuming.receive_type("event.created")
    await watching.receive_type("event.created")

    await resuming.send({"action": "resume", "since": since, "request_id": "r"})
    assert await asyncio.to_thread(entered.wait, 10), "the replay never ran"
    # Not the thread the held replay occupies: it is the one every database_sync_to_async shares.
    live = [
        await sync_to_async(make_event, thread_sensitive=False)(cameras[slug], 30)
        for slug in ("front_door", "backyard")
    ]
    # The hub hands each message to every local listener before it takes the next one: once the
    # other client has the second live event, the resuming client has been handed both.
    seen = [await watching.receive_type("event.created") for _ in live]
    assert [f["payload"]["id"] for f in seen] == [event.pk for event in live]
    release.set()

    frames, completed = await frames_until(resuming, "resume.completed")
    sequences = [f["sequence"] for f in frames]
    assert [f["payload"]["id"] for f in frames] == [before.pk, *(event.pk for event in live)]
    assert sequences == sorted(sequences)
    assert completed["payload"]["replayed"] == 1
    assert completed["payload"]["last_sequence"] == sequences[-1]
    await resuming.send({"action": "ping", "request_id": "after"})
    assert (await resuming.receive_type("pong"))["payload"]["request_id"] == "after"


async def test_resume_from_exactly_the_pruning_watermark_replays_what_came_after(ws_connect, owner, cameras):
    await db(make_event, cameras["garage"], 20)
    await db(outbox_prune, older_than_seconds=0)
    watermark = await db(lambda: OutboxWatermark.objects.get(pk=1).pruned_through)
    later = await db(make_event, cameras["front_door"], 30)
    client = await ws_connect("/ws/events/", user=owner)

    await client.send({"action": "resume", "since": watermark, "request_id": "at"})
    frames, completed = await frames_until(client, "resume.completed")
    assert [f["payload"]["id"] for f in frames] == [later.pk]
    assert completed["payload"]["request_id"] == "at"

    gap = await client.request(
        {"action": "resume", "since": watermark - 1, "request_id": "before"}, "resume.gap"
    )
    assert gap["payload"]["request_id"] == "before"
