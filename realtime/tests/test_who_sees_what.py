"""Who may receive which frame, and who may open a socket at all (real ASGI app, real hub)."""

import pytest

from events.models import JobStatus
from events.tests.factories import make_event, make_job
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def frames_until_pong(client) -> list[dict]:
    """Every frame before the answer to a ping: what the server had sent up to that point."""
    await client.send({"action": "ping", "request_id": "end"})
    frames = []
    while (frame := await client.receive(timeout=5))["type"] != "pong":
        frames.append(frame)
    return frames


async def test_a_jobs_subscriber_receives_only_their_own_jobs(ws_connect, viewer, owner):
    client = await ws_connect("/ws/", user=viewer)
    await client.request({"action": "subscribe", "channels": ["jobs"]}, "subscribed")
    await db(make_job, owner, status=JobStatus.RUNNING)
    mine = await db(make_job, viewer, status=JobStatus.RUNNING)
    frames = await frames_until_pong(client)
    assert [(f["type"], f["payload"]["job_id"]) for f in frames] == [("job.started", str(mine.pk))]


async def test_staff_who_are_not_superusers_receive_every_camera(ws_connect, staff_member, cameras):
    client = await ws_connect("/ws/events/", user=staff_member)
    for slug in ("backyard", "garage"):
        await db(make_event, cameras[slug], 40)
    frames = await frames_until_pong(client)
    assert [f["payload"]["camera_id"] for f in frames] == ["backyard", "garage"]


async def test_a_deactivated_users_token_no_longer_opens_a_socket(ws_connect, viewer, token_for):
    key = await db(token_for, viewer)
    headers = [(b"authorization", f"Token {key}".encode())]
    assert (await ws_connect("/ws/", headers=headers, expect_accept=False))[0] is True
    viewer.is_active = False
    await db(viewer.save, update_fields=["is_active"])
    assert (await ws_connect("/ws/", headers=headers, expect_accept=False))[0] is False


@pytest.mark.parametrize(("minimum", "arrive"), [(50, [50, 51]), (51, [51])])
async def test_min_risk_score_keeps_a_score_equal_to_the_minimum(ws_connect, owner, cameras, minimum, arrive):
    client = await ws_connect("/ws/", user=owner)
    subscribe = {"action": "subscribe", "channels": ["events"], "filters": {"min_risk_score": minimum}}
    await client.request(subscribe, "subscribed")
    for score in (49, 50, 51):
        await db(make_event, cameras["garage"], score)
    assert [f["payload"]["risk_score"] for f in await frames_until_pong(client)] == arrive
