"""The outbox itself: numbering, what a resume replays (window, overlap, limit, watermark), pruning.

The WebSocket resume tests (`test_resume.py`, `test_resume_edges.py`) show the same rules from a
client; these call the outbox directly, so each rule's edge is one small case.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from realtime.envelope import Envelope
from realtime.models import OutboxMessage, OutboxWatermark
from realtime.outbox import outbox_append, outbox_last_sequence, outbox_prune, outbox_replay

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ALL = {"events", "detections", "alerts", "cameras", "jobs"}


def envelope(at: datetime, *, channel="events", event_type="event.deleted", **fields) -> Envelope:
    return Envelope(event_type=event_type, channel=channel, payload={"id": 1}, timestamp=at, **fields)


def append(*ats: datetime, channel="events") -> list[int]:
    return [row.id for row in outbox_append([envelope(at, channel=channel) for at in ats])]


def sequences(replay) -> list[int]:
    return [e.sequence for e in replay.envelopes]


def test_appended_envelopes_are_numbered_in_order_and_stored_whole():
    first, second = outbox_append(
        [
            envelope(T0, camera_id="garage", correlation_id="req-1"),
            Envelope(
                event_type="job.progress",
                channel="jobs",
                payload={"job_id": "j", "progress": 10, "status": "running"},
                timestamp=T0 + timedelta(seconds=1),
                owner_id=7,
            ),
        ]
    )
    assert second.id == first.id + 1
    stored = OutboxMessage.objects.get(id=second.id)
    assert (stored.event_type, stored.channel, stored.owner_id, stored.camera_id) == (
        "job.progress",
        "jobs",
        7,
        "",
    )
    assert stored.payload == {"job_id": "j", "progress": 10, "status": "running"}
    assert stored.correlation_id == ""
    assert stored.created_at == T0 + timedelta(seconds=1)
    assert OutboxMessage.objects.get(id=first.id).correlation_id == "req-1"
    assert OutboxMessage.objects.get(id=first.id).camera_id == "garage"


def test_last_sequence_is_zero_when_empty_then_the_highest_written():
    assert outbox_last_sequence() == 0
    *_, last = append(T0, T0)
    assert outbox_last_sequence() == last


def test_a_replay_gives_back_the_envelopes_as_they_were_published():
    (sequence,) = [row.id for row in outbox_append([envelope(T0, camera_id="garage", owner_id=3)])]
    (replayed,) = outbox_replay(since=0, channels={"events"}).envelopes
    assert replayed == Envelope(
        event_type="event.deleted",
        channel="events",
        payload={"id": 1},
        timestamp=T0,
        sequence=sequence,
        correlation_id=None,
        camera_id="garage",
        owner_id=3,
    )


def test_a_replay_keeps_a_correlation_id():
    outbox_append([envelope(T0, correlation_id="req-9")])
    assert outbox_replay(since=0, channels={"events"}).envelopes[0].correlation_id == "req-9"


def test_a_replay_holds_what_followed_since_on_the_asked_channels_in_order():
    _, since = append(T0 - timedelta(minutes=20), T0 - timedelta(minutes=10))
    later_events = append(T0, T0 + timedelta(seconds=1))
    later_alerts = append(T0 + timedelta(seconds=2), channel="alerts")
    append(T0 + timedelta(seconds=3), channel="jobs")
    replay = outbox_replay(since=since, channels={"events", "alerts"})
    # The message numbered `since` comes again (the overlap window starts at its time).
    assert sequences(replay) == [since, *later_events, *later_alerts]
    assert replay.gap is False
    assert replay.last_sequence == outbox_last_sequence()


def test_a_replay_adds_the_overlap_window_before_since_and_no_more(settings):
    settings.REALTIME_RESUME_OVERLAP_SECONDS = 5
    _too_old, at_the_edge, inside, anchor, after = append(
        T0 - timedelta(seconds=6),
        T0 - timedelta(seconds=5),
        T0 - timedelta(seconds=1),
        T0,
        T0 + timedelta(seconds=1),
    )
    assert sequences(outbox_replay(since=anchor, channels=ALL)) == [at_the_edge, inside, anchor, after]


def test_a_message_numbered_after_since_is_replayed_however_early_its_time(settings):
    # A long transaction stamps its message when it publishes and numbers it when it commits.
    settings.REALTIME_RESUME_OVERLAP_SECONDS = 5
    (since,) = append(T0)
    (committed_late,) = append(T0 - timedelta(minutes=1))
    assert sequences(outbox_replay(since=since, channels=ALL)) == [since, committed_late]


def test_without_a_message_at_or_before_since_there_is_no_overlap(settings):
    settings.REALTIME_RESUME_OVERLAP_SECONDS = 3600
    ids = append(T0, T0)
    assert sequences(outbox_replay(since=0, channels=ALL)) == ids


def test_a_replay_of_exactly_the_limit_is_sent_and_one_more_is_a_gap(settings):
    settings.REALTIME_RESUME_OVERLAP_SECONDS = 0
    ids = append(T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2))
    assert sequences(outbox_replay(since=0, channels=ALL, limit=3)) == ids
    too_many = outbox_replay(since=0, channels=ALL, limit=2)
    assert (too_many.envelopes, too_many.gap, too_many.last_sequence) == ([], True, ids[-1])


def test_the_overlap_never_makes_a_gap_and_fills_what_the_limit_leaves_nearest_since_first(settings):
    # A bulk ingest puts thousands of messages in the seconds before `since`: a client that saw
    # them all must still get what followed, not a gap.
    settings.REALTIME_RESUME_OVERLAP_SECONDS = 5
    _older, nearer, since, after = append(T0, T0, T0, T0 + timedelta(seconds=1))
    replay = outbox_replay(since=since, channels=ALL, limit=3)
    assert (sequences(replay), replay.gap) == ([nearer, since, after], False)
    assert sequences(outbox_replay(since=since, channels=ALL, limit=1)) == [after]


def test_the_default_limit_is_the_setting(settings):
    settings.REALTIME_REPLAY_LIMIT = 1
    append(T0, T0 + timedelta(seconds=1))
    assert outbox_replay(since=0, channels=ALL).gap is True
    settings.REALTIME_REPLAY_LIMIT = 2
    assert outbox_replay(since=0, channels=ALL).gap is False


def test_a_resume_from_before_the_watermark_is_a_gap_and_from_it_is_not():
    ids = append(T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2))
    OutboxWatermark.objects.create(pk=1, pruned_through=ids[1])
    before = outbox_replay(since=ids[1] - 1, channels=ALL)
    assert (before.envelopes, before.gap, before.last_sequence) == ([], True, ids[-1])
    at = outbox_replay(since=ids[1], channels=ALL)
    assert at.gap is False
    assert ids[2] in sequences(at)


def test_pruning_deletes_what_is_older_than_the_history_and_remembers_the_highest(settings):
    settings.REALTIME_HISTORY_SECONDS = 60
    old_ones = append(T0 - timedelta(seconds=120), T0 - timedelta(seconds=61))
    at_the_edge, recent = append(T0 - timedelta(seconds=60), T0)
    with time_machine.travel(T0, tick=False):
        assert outbox_prune() == 2
    assert list(OutboxMessage.objects.values_list("id", flat=True)) == [at_the_edge, recent]
    assert OutboxWatermark.objects.get(pk=1).pruned_through == old_ones[-1]


def test_pruning_with_an_explicit_age_and_with_nothing_old():
    old, recent = append(T0 - timedelta(seconds=11), T0)
    with time_machine.travel(T0, tick=False):
        assert outbox_prune(older_than_seconds=3600) == 0
        assert not OutboxWatermark.objects.exists()
        assert outbox_prune(older_than_seconds=10) == 1
    assert list(OutboxMessage.objects.values_list("id", flat=True)) == [recent]
    assert OutboxWatermark.objects.get(pk=1).pruned_through == old


def test_pruning_never_lowers_the_watermark():
    (old,) = append(T0 - timedelta(days=2))
    OutboxWatermark.objects.create(pk=1, pruned_through=old + 1000)
    with time_machine.travel(T0, tick=False):
        assert outbox_prune() == 1
    assert OutboxWatermark.objects.get(pk=1).pruned_through == old + 1000
