"""Holes in the sequences a hub receives: a loss only when a message meant for it never came."""

import asyncio

import pytest

from events.tests.factories import make_alert, make_event
from realtime.broadcast import send_to_user
from realtime.counters import stats
from realtime.gaps import Hole, SequenceGaps
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
