"""A change to a user reaches their open sockets: recompute what they see, or close with 4403."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client as DjangoClient
from rest_framework.authtoken.models import Token

from events.tests.factories import make_event
from realtime.tests.conftest import ORIGIN, db

pytestmark = pytest.mark.django_db(transaction=True)

# Generous bounds: the notice travels through the channel layer after commit.
ARRIVAL_TIMEOUT = 10


async def close_code(client, timeout: float = ARRIVAL_TIMEOUT) -> int:
    """The code the server closes `client` with; frames before the close (heartbeats) are skipped."""
    while True:
        output = await client.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output["code"]


async def next_event(client) -> dict:
    return (await client.receive_type("event.created", timeout=ARRIVAL_TIMEOUT))["payload"]


def admin_save(user, **fields) -> None:
    """Change fields and save the whole row, as the admin's change form does."""
    user = get_user_model().objects.get(pk=user.pk)
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


def session_headers(user) -> list:
    client = DjangoClient()
    client.force_login(user)
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def forget_silently(user, cameras) -> None:
    """Delete the user's token and camera grants with plain SQL: no signal tells any socket."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token WHERE user_id = %s", [user.pk])
        through = cameras["front_door"].viewers.through._meta.db_table
        cursor.execute(f"DELETE FROM {through} WHERE user_id = %s", [user.pk])


async def test_staff_turned_off_stops_hidden_camera_events_at_once(ws_connect, viewer, cameras):
    await db(admin_save, viewer, is_staff=True)
    client = await ws_connect("/ws/events/", user=viewer)
    await db(make_event, cameras["backyard"], 50)
    assert (await next_event(client))["camera_id"] == "backyard"
    await db(admin_save, viewer, is_staff=False)
    await db(make_event, cameras["backyard"], 51)
    await db(make_event, cameras["front_door"], 52)
    assert (await next_event(client))["camera_id"] == "front_door"


async def test_resume_from_zero_after_a_demotion_replays_no_hidden_camera(ws_connect, viewer, cameras):
    await db(admin_save, viewer, is_staff=True)
    for camera in cameras.values():
        await db(make_event, camera, 60)
    client = await ws_connect("/ws/events/", user=viewer)
    await db(admin_save, viewer, is_staff=False)
    await db(make_event, cameras["garage"], 61)
    assert (await next_event(client))["camera_id"] == "garage"  # the demotion was handled before it
    await client.send({"action": "resume", "since": 0, "request_id": "r"})
    replayed = []
    while (frame := await client.receive(timeout=ARRIVAL_TIMEOUT))["type"] != "resume.completed":
        replayed.append(frame)
    cameras_seen = {f["payload"]["camera_id"] for f in replayed if f["type"] == "event.created"}
    assert cameras_seen == {"front_door", "garage"}


async def test_an_inactive_user_is_closed_with_4403(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    await db(admin_save, viewer, is_active=False)
    assert await close_code(client) == 4403


async def test_a_deleted_user_is_closed_with_4403(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    await db(get_user_model().objects.filter(pk=viewer.pk).delete)
    assert await close_code(client) == 4403


async def test_deleting_the_token_closes_token_sockets_but_not_session_sockets(ws_connect, viewer, cameras):
    by_token = await ws_connect("/ws/events/", user=viewer)
    by_session = await ws_connect("/ws/events/", headers=await db(session_headers, viewer))
    await db(Token.objects.filter(user=viewer).delete)
    assert await close_code(by_token) == 4403
    await db(make_event, cameras["front_door"], 70)
    assert (await next_event(by_session))["camera_id"] == "front_door"


async def test_a_password_change_closes_session_sockets_but_not_token_sockets(ws_connect, viewer, cameras):
    by_session = await ws_connect("/ws/events/", headers=await db(session_headers, viewer))
    by_token = await ws_connect("/ws/events/", user=viewer)

    def change_password() -> None:
        user = get_user_model().objects.get(pk=viewer.pk)
        user.set_password("a-brand-new-pass-456")
        user.save()

    await db(change_password)
    assert await close_code(by_session) == 4403
    await db(make_event, cameras["front_door"], 71)
    assert (await next_event(by_token))["camera_id"] == "front_door"


async def test_a_change_to_another_user_is_ignored_without_rereading_anything(
    ws_connect, viewer, stranger, owner, cameras
):
    client = await ws_connect("/ws/events/", user=viewer)
    # The viewer's token and front-door grant vanish without a notice: a socket that re-read its
    # credential or cameras on the stranger's notice would close or lose the front door.
    await db(forget_silently, viewer, cameras)
    await db(admin_save, stranger, is_staff=True)
    await db(admin_save, owner, is_active=False)
    await db(make_event, cameras["front_door"], 80)
    assert (await next_event(client))["camera_id"] == "front_door"


async def test_a_login_sends_no_notice(ws_connect, viewer, cameras):
    client = await ws_connect("/ws/events/", user=viewer)
    await db(forget_silently, viewer, cameras)
    await db(DjangoClient().login, username="viewer", password="viewer-pass-123")  # saves last_login
    await db(make_event, cameras["front_door"], 81)
    assert (await next_event(client))["camera_id"] == "front_door"


async def test_a_camera_grant_removed_still_stops_that_camera(ws_connect, viewer, cameras):
    client = await ws_connect("/ws/events/", user=viewer)
    await db(cameras["front_door"].viewers.remove, viewer)
    await db(make_event, cameras["front_door"], 90)
    await db(make_event, cameras["garage"], 91)
    assert (await next_event(client))["camera_id"] == "garage"


async def test_logging_out_closes_the_sockets_of_that_session_only(ws_connect, viewer, cameras):
    def logged_in() -> DjangoClient:
        browser = DjangoClient()
        browser.force_login(viewer)
        return browser

    browser = await db(logged_in)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())
    leaving = await ws_connect("/ws/events/", headers=[ORIGIN, cookie])
    staying = await ws_connect("/ws/events/", headers=await db(session_headers, viewer))
    await db(browser.logout)
    assert await close_code(leaving) == 4403
    await db(make_event, cameras["front_door"], 95)
    assert (await next_event(staying))["camera_id"] == "front_door"
