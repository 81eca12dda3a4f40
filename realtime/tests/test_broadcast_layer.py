"""What the broadcaster hands the (real, in-memory) channel layer: groups, frames, routing facts.

`test_broadcast.py` covers which model change publishes what; these tests listen on the layer's
groups as the hubs do and read what arrives there.
"""

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime.broadcast import (
    Message,
    broadcast,
    emit_critical_event,
    notify_visibility_changed,
    publish,
    publish_many,
    send_to_user,
)
from realtime.counters import stats
from realtime.models import OutboxMessage

pytestmark = pytest.mark.django_db

EVENT = {
    "id": 5,
    "camera_id": "garage",
    "risk_score": 70,
    "risk_level": "high",
    "summary": "s",
    "started_at": "t",
}
STATUS = {"gpu": None, "cameras": {}, "queue": {}, "health": "ok"}


@pytest.fixture
def layer_groups(django_capture_on_commit_callbacks):
    """Listen on groups; run a change and its commit; return what each listened group received."""
    layer = get_channel_layer()
    joined: list[tuple[str, str]] = []

    def run(groups: list[str], change) -> dict[str, list[dict]]:
        channels = {group: async_to_sync(layer.new_channel)() for group in groups}
        for group, channel in channels.items():
            async_to_sync(layer.group_add)(group, channel)
            joined.append((group, channel))
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return {group: _drain(layer, channel) for group, channel in channels.items()}

    yield run
    for group, channel in joined:
        async_to_sync(layer.group_discard)(group, channel)


def _drain(layer, channel: str) -> list[dict]:
    # The in-memory layer queues a message before group_send returns: what is not queued now never comes.
    received = []
    while (queue := layer.channels.get(channel)) is not None and not queue.empty():
        received.append(async_to_sync(layer.receive)(channel))
    return received


def test_a_durable_message_reaches_its_channels_group_numbered_as_its_outbox_row(layer_groups):
    published_before = stats.published
    got = layer_groups(["lookout.events", "lookout.alerts"], lambda: publish("event.created", EVENT))
    (message,) = got["lookout.events"]
    assert got["lookout.alerts"] == []
    row = OutboxMessage.objects.get()
    assert row.camera_id == "garage"  # from the payload: the admin lists the outbox by camera
    assert set(message) == {"type", "text", "meta", "group", "transport", "sent_at"}
    _sender, before, after = message["transport"]
    assert before == after  # numbered by the outbox: not counted again
    assert (message["type"], message["group"]) == ("realtime.deliver", "lookout.events")
    frame = orjson.loads(message["text"])
    assert frame["type"] == "event.created"
    assert frame["channel"] == "events"
    assert frame["sequence"] == row.id
    assert frame["payload"] == EVENT
    assert frame["correlation_id"] is None
    assert frame["timestamp"] == row.created_at.isoformat()
    assert message["meta"] == {
        "event_type": "event.created",
        "channel": "events",
        "sequence": row.id,
        "camera_id": "garage",
        "owner_id": None,
        "risk_score": 70,
        "object_types": None,
        "job_id": None,
    }
    assert stats.published == published_before + 1


def test_a_producers_camera_and_correlation_id_are_kept(layer_groups):
    got = layer_groups(
        ["lookout.events"],
        lambda: publish("event.created", EVENT, camera_id="backyard", correlation_id="req-1"),
    )
    (message,) = got["lookout.events"]
    assert message["meta"]["camera_id"] == "backyard"
    assert orjson.loads(message["text"])["correlation_id"] == "req-1"
    assert OutboxMessage.objects.get().camera_id == "backyard"


def test_every_delivered_frame_is_counted(layer_groups):
    before = stats.published
    layer_groups(["lookout.system"], lambda: publish("system.status", STATUS))
    layer_groups(["lookout.system"], lambda: publish("system.status", STATUS))
    assert stats.published == before + 2


def test_a_jobs_owner_is_kept_for_who_may_see_it_live_and_on_resume(layer_groups):
    job = {"job_id": "j-1", "progress": 10, "status": "running"}
    got = layer_groups(["lookout.jobs"], lambda: publish("job.progress", job, owner_id=7))
    assert [m["meta"]["owner_id"] for m in got["lookout.jobs"]] == [7]
    assert OutboxMessage.objects.get().owner_id == 7


def test_a_non_durable_message_is_not_numbered_nor_stored(layer_groups):
    got = layer_groups(["lookout.system"], lambda: publish("system.status", STATUS))
    (message,) = got["lookout.system"]
    assert orjson.loads(message["text"])["sequence"] is None
    assert message["meta"]["sequence"] is None
    assert message["meta"]["camera_id"] == ""  # about no camera
    assert not OutboxMessage.objects.exists()


def test_a_batch_of_messages_keeps_its_order_and_numbers_only_the_durable_ones(layer_groups):
    second = {**EVENT, "id": 6}
    got = layer_groups(
        ["lookout.events", "lookout.system"],
        lambda: publish_many(
            [
                Message("event.created", EVENT),
                Message("system.status", STATUS),
                Message("event.created", second),
            ]
        ),
    )
    rows = list(OutboxMessage.objects.values_list("id", flat=True))
    assert [m["meta"]["sequence"] for m in got["lookout.events"]] == rows
    assert [orjson.loads(m["text"])["payload"]["id"] for m in got["lookout.events"]] == [5, 6]
    assert [m["meta"]["sequence"] for m in got["lookout.system"]] == [None]


def test_send_to_user_reaches_that_users_group_marked_direct_and_stored_with_them(layer_groups, viewer):
    got = layer_groups(
        [f"lookout.user.{viewer.pk}", "lookout.events"], lambda: send_to_user(viewer, "event.created", EVENT)
    )
    assert got["lookout.events"] == []
    (message,) = got[f"lookout.user.{viewer.pk}"]
    assert message["direct"] is True
    assert message["meta"]["owner_id"] == viewer.pk
    assert message["group"] == f"lookout.user.{viewer.pk}"
    assert OutboxMessage.objects.get(event_type="event.created").owner_id == viewer.pk


def test_send_to_user_takes_an_id_as_well(layer_groups):
    got = layer_groups(["lookout.user.77"], lambda: send_to_user(77, "system.status", STATUS))
    assert [m["meta"]["owner_id"] for m in got["lookout.user.77"]] == [77]


def test_a_critical_event_is_flagged_in_its_payload(layer_groups):
    got = layer_groups(["lookout.user.77"], lambda: emit_critical_event(77, "system.status", STATUS))
    (message,) = got["lookout.user.77"]
    assert orjson.loads(message["text"])["payload"] == {**STATUS, "critical": True}


def test_broadcast_goes_to_the_control_group_every_connection_joins(layer_groups):
    got = layer_groups(["lookout.control", "lookout.system"], lambda: broadcast("system.status", STATUS))
    assert got["lookout.system"] == []
    (message,) = got["lookout.control"]
    assert message["direct"] is True
    assert message["meta"]["owner_id"] is None


@pytest.mark.parametrize("user_id", [None, 12])
def test_a_visibility_change_tells_the_control_group_after_commit(layer_groups, user_id):
    got = layer_groups(["lookout.control"], lambda: notify_visibility_changed(user_id=user_id))
    (message,) = got["lookout.control"]
    _sender, before, after = message.pop("transport")
    assert after == before + 1
    assert isinstance(message.pop("sent_at"), float)
    assert message == {
        "type": "realtime.deliver",
        "control": "visibility",
        "user_id": user_id,
        "group": "lookout.control",
    }


def test_each_group_counts_its_unsequenced_messages_under_one_sender(layer_groups):
    status = Message("system.status", STATUS)
    event = Message("event.created", EVENT)
    got = layer_groups(
        ["lookout.system", "lookout.events"],
        lambda: (publish_many([status, status, event, status]), publish_many([status])),
    )
    first, second, third = (message["transport"] for message in got["lookout.system"])
    ((sender, events_before, events_after),) = (message["transport"] for message in got["lookout.events"])
    assert first[0] == second[0] == third[0] == sender
    assert first[2] - first[1] == 2  # the first two travel as one bundle
    assert (second[1], second[2]) == (first[2], first[2] + 1)
    assert (third[1], third[2]) == (second[2], second[2] + 1)
    assert events_before == events_after


def test_nothing_valid_sends_nothing(layer_groups, settings):
    settings.REALTIME_STRICT_PAYLOADS = False
    before = stats.publish_failures
    got = layer_groups(["lookout.events"], lambda: publish_many([Message("event.created", {"id": 1})]))
    assert got["lookout.events"] == []
    assert stats.publish_failures == before + 1
