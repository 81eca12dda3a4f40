"""/api/system/status/: staff see the household's figures; others see their own cameras and connections."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from cameras.models import Camera, CameraStatus
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/system/status/"


def status_for(user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(URL)
    assert response.status_code == 200
    return response.json()


def household_setup(cameras) -> None:
    Camera.objects.filter(pk="backyard").update(status=CameraStatus.OFFLINE)
    Camera.objects.filter(pk="garage").update(status=CameraStatus.ONLINE, enabled=False)
    # front_door is granted to the viewer both directly and through the family group.
    cameras["front_door"].viewer_groups.add(Group.objects.get(name="family"))


async def test_each_standing_user_sees_only_their_share_of_the_status(
    ws_connect, owner, viewer, stranger, cameras
):
    await db(household_setup, cameras)
    await ws_connect("/ws/events/", user=owner)
    await ws_connect("/ws/", user=viewer)
    await ws_connect("/ws/alerts/", user=viewer)

    staff = await db(status_for, owner)
    seen_by_viewer = await db(status_for, viewer)
    seen_by_stranger = await db(status_for, stranger)

    assert staff["health"] == "degraded"
    assert staff["cameras"] == {
        "total": 3,
        "by_status": {"offline": 1, "online": 1, "unknown": 1},
        "enabled": 2,
    }
    connections = staff["realtime"]["connections"]
    del connections["opened_since_start"]  # counts every test's connections so far
    assert connections == {
        "total": 3,
        "by_endpoint": {"/ws/events/": 1, "/ws/": 1, "/ws/alerts/": 1},
        "by_user": {"owner": 1, "viewer": 2},
        "instances": 1,
        "yours": 1,
    }
    assert "batcher" in staff["realtime"]

    assert seen_by_viewer["health"] == "healthy"
    assert seen_by_viewer["cameras"] == {"total": 2, "by_status": {"online": 1, "unknown": 1}, "enabled": 1}
    assert seen_by_viewer["realtime"] == {"connections": {"yours": 2}}

    assert seen_by_stranger["health"] == "healthy"
    assert seen_by_stranger["cameras"] == {"total": 0, "by_status": {}, "enabled": 0}
    assert seen_by_stranger["realtime"] == {"connections": {"yours": 0}}


async def test_nobody_but_staff_learns_who_is_connected_or_from_where(ws_connect, owner, viewer, stranger):
    await ws_connect("/ws/system/", user=owner)
    for user in (viewer, stranger):
        body = str(await db(status_for, user))
        assert "owner" not in body
        assert "/ws/system/" not in body


def test_anonymous_may_not_read_the_status():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
