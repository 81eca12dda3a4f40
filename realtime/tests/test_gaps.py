"""Holes in what a hub receives: a loss only when a message meant for it never came.

Durable messages by their sequence (checked against the outbox), the others by the transport
number the broadcaster gives them per sending process and group.
"""

import asyncio

import pytest

from events.tests.factories import make_alert, make_event
from realtime.broadcast import Message, publish_many, send_to_user
from realtime.counters import stats
from realtime.gaps import Hole, SequenceGaps, StreamGaps, StreamHole
from realtime.hub import get_hub
from realtime.tests.conftest import db


def test_sequences_in_order_leave_no_hole():
    gaps = SequenceGaps()
    assert not any(gaps.received(sequence, now=0) for sequence in [7, 8, 9])
    assert (gaps.horizon, gaps.holes) == (9, [])


def test_a_skipped_range_is_a_hole_and_a_late_arrival_in_it_is_not_missing():
    gaps = SequenceGaps()
    gaps.received(3, now=0)
    assert gaps.received(8, now=1)
    gaps.received(5, now=2)  # sent after #8 by another server process
    assert gaps.holes == [Hole(4, 7, 1)]
    assert gaps.missing(gaps.due(noticed_before=1), [4, 5, 7]) == [4, 7]


def test_a_hole_is_due_only_after_its_grace_and_settling_forgets_it():
    gaps = SequenceGaps()
    gaps.received(1, now=0)
    gaps.received(3, now=10)
    gaps.received(6, now=20)
    due = gaps.due(noticed_before=15)
    assert due == [Hole(2, 2, 10)]
    gaps.settle(due)
    assert gaps.holes == [Hole(4, 5, 20)]


def test_after_the_horizon_the_outboxs_newest_sequences_are_lost_if_nothing_arrives():
    gaps = SequenceGaps()
    gaps.received(10, now=0)
    assert gaps.expect_through(13, now=1)
    due = gaps.due(noticed_before=1)
    assert gaps.missing(due, [11, 13]) == [11, 13]
    gaps.settle(due)
    assert (gaps.horizon, gaps.pending) == (13, False)
    assert not gaps.expect_through(13, now=2)  # nothing new


def test_an_arrival_after_the_horizon_means_the_hub_is_behind_not_losing():
    gaps = SequenceGaps()
    gaps.received(10, now=0)
    assert gaps.expect_through(13, now=1)
    due = gaps.due(noticed_before=1)
    gaps.received(11, now=2)  # while the outbox was asked
    assert gaps.missing(due, [11, 12, 13]) == []
    assert gaps.received(13, now=3)
    assert gaps.holes == [Hole(12, 12, 3)]


def layer_message(group: str, sender: str, before: int, after: int) -> dict:
    return {"type": "realtime.deliver", "group": group, "transport": [sender, before, after]}


def test_numbers_in_order_from_each_sender_leave_no_hole():
    streams = StreamGaps()
    streams.join("lookout.system")
    arrivals = [("a", 0, 1), ("b", 7, 8), ("a", 1, 4), ("a", 4, 4), ("b", 8, 9)]
    assert not any(streams.received(layer_message("lookout.system", *t), now=0) for t in arrivals)
    assert streams.last == {"lookout.system": {"a": 4, "b": 9}}


def test_a_jump_is_a_hole_of_that_many_messages_and_a_late_arrival_fills_its_place():
    streams = StreamGaps()
    streams.join("lookout.system")
    streams.received(layer_message("lookout.system", "a", 0, 1), now=0)
    assert streams.received(layer_message("lookout.system", "a", 5, 6), now=1)
    streams.received(layer_message("lookout.system", "a", 2, 4), now=2)  # handed over after the jump's
    assert streams.holes == [StreamHole("lookout.system", "a", 2, 5, 1)]
    assert streams.lost(noticed_before=0) == {}  # still in its grace period
    assert streams.lost(noticed_before=1) == {"lookout.system": 2}
    assert not streams.pending


def test_a_new_sender_or_a_group_joined_again_starts_counting_where_it_is():
    streams = StreamGaps()
    streams.join("lookout.enrichment")
    streams.received(layer_message("lookout.enrichment", "a", 0, 1), now=0)
    assert not streams.received(layer_message("lookout.enrichment", "restarted", 0, 1), now=0)
    streams.leave("lookout.enrichment")
    assert not streams.received(layer_message("lookout.enrichment", "a", 1, 2), now=0)  # nobody listens
    streams.join("lookout.enrichment")
    assert not streams.received(layer_message("lookout.enrichment", "a", 9, 10), now=0)
    assert not streams.pending


@pytest.mark.django_db(transaction=True)
async def test_messages_for_groups_the_hub_does_not_listen_to_announce_nothing(
    ws_connect, owner, viewer, cameras, settings
):
    settings.REALTIME_GAP_GRACE_SECONDS = 0.2
    lost_before, hints_before = stats.messages_lost, stats.resume_hints_sent
    client = await ws_connect("/ws/alerts/", user=owner)
    await db(make_alert, cameras["garage"])
    await client.receive_type("alert.created", timeout=5)
    # Numbered, but for groups this hub never joined: events, and the viewer's own connections.
    for _ in range(3):
        await db(make_event, cameras["garage"], 40)
    alert_for_viewer = {"id": 0, "event_id": 0, "severity": "high", "status": "pending", "created_at": "now"}
    await db(send_to_user, viewer, "alert.created", alert_for_viewer)
    await db(make_alert, cameras["garage"])
    last = (await client.receive_type("alert.created", timeout=5))["sequence"]

    hub = get_hub()
    async with asyncio.timeout(10):  # until the hub has checked the holes against the outbox
        while hub.gaps.horizon != last or hub.gaps.holes:  # noqa: ASYNC110 - hub state, no event for it
            await asyncio.sleep(0.05)
    assert await client.nothing()
    assert (stats.messages_lost, stats.resume_hints_sent) == (lost_before, hints_before)


@pytest.mark.django_db(transaction=True)
async def test_a_message_published_before_the_hub_joined_its_group_announces_nothing(
    ws_connect, owner, cameras, settings
):
    settings.REALTIME_GAP_GRACE_SECONDS = 0.2
    lost_before, hints_before = stats.messages_lost, stats.resume_hints_sent
    watcher = await ws_connect("/ws/events/", user=owner)
    await db(make_event, cameras["garage"], 40)
    await watcher.receive_type("event.created", timeout=5)
    await db(make_alert, cameras["garage"])  # its event reaches the watcher, the alert nobody yet
    await watcher.receive_type("event.created", timeout=5)
    await ws_connect("/ws/alerts/", user=owner)  # the hub joins the alerts group now
    await db(make_event, cameras["garage"], 40)
    last = (await watcher.receive_type("event.created", timeout=5))["sequence"]

    hub = get_hub()
    async with asyncio.timeout(10):  # until the hub has checked the holes against the outbox
        while hub.gaps.horizon != last or hub.gaps.holes:  # noqa: ASYNC110 - hub state, no event for it
            await asyncio.sleep(0.05)
    assert await watcher.nothing()
    assert (stats.messages_lost, stats.resume_hints_sent) == (lost_before, hints_before)


PROGRESS = Message("enrichment.progress", {"batch_id": 1, "progress": 50, "current_step": "scoring"})


@pytest.mark.django_db(transaction=True)
async def test_a_hub_that_joins_a_group_while_its_messages_flow_announces_nothing(
    ws_connect, owner, settings
):
    settings.REALTIME_GAP_GRACE_SECONDS = 0.2
    before = (stats.ephemeral_messages_lost, stats.reload_hints_sent)
    await db(publish_many, [PROGRESS] * 3)  # no hub listens yet
    client = await ws_connect("/ws/", user=owner)
    for _ in range(2):
        await client.request({"action": "subscribe", "channels": ["enrichment"]}, "subscribed")
        await db(publish_many, [PROGRESS])
        await db(publish_many, [PROGRESS] * 2)
        for _ in range(3):
            await client.receive_type("enrichment.progress", timeout=5)
        await client.request({"action": "unsubscribe", "channels": ["enrichment"]}, "unsubscribed")
        await db(publish_many, [PROGRESS] * 3)  # while the hub is out of the group

    assert not get_hub().streams.pending
    assert await client.nothing(timeout=1)
    assert (stats.ephemeral_messages_lost, stats.reload_hints_sent) == before
