"""send_to_user, emit_critical_event and broadcast: who receives them, live and on resume."""

import pytest
from django.db import transaction
from django.utils import timezone

from realtime.broadcast import PayloadError, broadcast, emit_critical_event, send_to_user
from realtime.outbox import outbox_last_sequence
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


def alert_payload(camera_id: str = "front_door") -> dict:
    return {
        "id": 7,
        "event_id": 3,
        "severity": "high",
        "status": "new",
        "created_at": timezone.now().isoformat(),
        "camera_id": camera_id,
    }


def camera_online(camera_id: str = "front_door") -> dict:
    return {"camera_id": camera_id, "camera_name": "Front door", "timestamp": timezone.now().isoformat()}


async def test_send_to_user_reaches_every_connection_of_that_user_and_nobody_else(
    ws_connect, owner, viewer, stranger
):
    # None of them is subscribed to alerts except the owner (staff), who must still not get it.
    viewer_events = await ws_connect("/ws/events/", user=viewer)
    viewer_system = await ws_connect("/ws/system", user=viewer)
    owner_alerts = await ws_connect("/ws/alerts/", user=owner)
    stranger_any = await ws_connect("/ws/", user=stranger)

    await db(send_to_user, viewer, "alert.created", alert_payload())

    for client in (viewer_events, viewer_system):
        frame = await client.receive_type("alert.created", timeout=10)
        assert frame["channel"] == "alerts"
        assert isinstance(frame["sequence"], int)
        assert frame["payload"]["id"] == 7
        assert "critical" not in frame["payload"]
    assert await owner_alerts.nothing()
    assert await stranger_any.nothing()


async def test_a_targeted_durable_message_is_resumed_by_that_user_only(ws_connect, owner, viewer):
    since = await db(outbox_last_sequence)
    await db(send_to_user, viewer.pk, "alert.created", alert_payload())

    replayed = {}
    for user in (viewer, owner):
        client = await ws_connect("/ws/alerts/", user=user)
        await client.send({"action": "resume", "since": since})
        frames = []
        while (frame := await client.receive(timeout=10))["type"] != "resume.completed":
            frames.append(frame["type"])
        replayed[user.username] = (frames, frame["payload"]["replayed"])

    assert replayed == {"viewer": (["alert.created"], 1), "owner": ([], 0)}


async def test_emit_critical_event_flags_the_payload_critical(ws_connect, viewer):
    client = await ws_connect("/ws/events/", user=viewer)
    await db(emit_critical_event, viewer, "alert.created", alert_payload())
    frame = await client.receive_type("alert.created", timeout=10)
    assert frame["payload"]["critical"] is True


async def test_broadcast_reaches_every_connection_whatever_it_subscribed_to(
    ws_connect, owner, viewer, stranger
):
    owner_system = await ws_connect("/ws/system/", user=owner)
    viewer_events = await ws_connect("/ws/events/", user=viewer)
    stranger_any = await ws_connect("/ws/", user=stranger)

    await db(broadcast, "camera.online", camera_online("front_door"))

    for client in (owner_system, viewer_events):
        frame = await client.receive_type("camera.online", timeout=10)
        assert frame["payload"]["camera_id"] == "front_door"
    assert await stranger_any.nothing()  # camera visibility still applies


async def test_targeted_sends_wait_for_commit_and_reject_bad_payloads(ws_connect, viewer):
    client = await ws_connect("/ws/events/", user=viewer)

    def rolled_back() -> None:
        with transaction.atomic():
            send_to_user(viewer, "alert.created", alert_payload())
            broadcast("camera.online", camera_online())
            transaction.set_rollback(True)

    await db(rolled_back)
    assert await client.nothing(timeout=0.5)
    with pytest.raises(PayloadError):
        await db(send_to_user, viewer, "alert.created", {"id": 1})
    with pytest.raises(PayloadError):
        await db(broadcast, "no.such_type", {})
