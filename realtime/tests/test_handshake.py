"""Who may open a WebSocket: token, ticket, session cookie with a checked Origin; nobody else."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client as DjangoClient
from django.utils import timezone

from events.tests.factories import make_job
from realtime.tests.conftest import ORIGIN, db

pytestmark = pytest.mark.django_db(transaction=True)

# Closed before accept: the communicator reports (False, 1000); daphne answers such a handshake
# with HTTP 403, which the end-to-end tests check against a real server.
REFUSED = (False, 1000)


def ticket_for(client_for, user) -> str:
    response = client_for(user).post("/api/realtime/ticket/")
    assert response.status_code == 201
    assert response.json()["expires_in"] == 60
    return response.json()["ticket"]


def session_cookie(user) -> bytes:
    client = DjangoClient()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_a_token_header_authenticates_without_origin(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    assert client.established["payload"]["user"]["username"] == "viewer"


async def test_a_ticket_works_once(ws_connect, viewer, client_for):
    ticket = await db(ticket_for, client_for, viewer)
    client = await ws_connect(f"/ws/?ticket={ticket}", headers=[])
    assert client.established["payload"]["user"]["username"] == "viewer"
    connected, code = await ws_connect(f"/ws/?ticket={ticket}", headers=[], expect_accept=False)
    assert (connected, code) == REFUSED


async def test_an_expired_ticket_is_refused(ws_connect, viewer, client_for):
    ticket = await db(ticket_for, client_for, viewer)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        connected, code = await ws_connect(f"/ws/?ticket={ticket}", headers=[], expect_accept=False)
    assert (connected, code) == REFUSED


async def test_a_forged_ticket_and_a_bad_token_are_refused(ws_connect):
    assert await ws_connect("/ws/?ticket=abc:def", headers=[], expect_accept=False) == REFUSED
    bad = [(b"authorization", b"Token not-a-real-key")]
    assert await ws_connect("/ws/", headers=bad, expect_accept=False) == REFUSED


async def test_anonymous_handshakes_are_refused(ws_connect):
    assert await ws_connect("/ws/events/", headers=[ORIGIN], expect_accept=False) == REFUSED
    assert await ws_connect("/ws/events/", headers=[], expect_accept=False) == REFUSED


async def test_a_session_cookie_works_with_an_allowed_origin(ws_connect, viewer):
    cookie = await db(session_cookie, viewer)
    client = await ws_connect("/ws/", headers=[ORIGIN, (b"cookie", cookie)])
    assert client.established["payload"]["user"]["username"] == "viewer"


async def test_a_session_cookie_without_origin_is_refused(ws_connect, viewer):
    cookie = await db(session_cookie, viewer)
    assert await ws_connect("/ws/", headers=[(b"cookie", cookie)], expect_accept=False) == REFUSED


async def test_a_cross_origin_handshake_is_refused_even_with_a_token(ws_connect, viewer, token_for):
    key = await db(token_for, viewer)
    headers = [(b"origin", b"https://evil.example"), (b"authorization", f"Token {key}".encode())]
    assert await ws_connect("/ws/", headers=headers, expect_accept=False) == REFUSED


async def test_too_many_handshakes_from_one_address_are_refused(ws_connect, viewer, settings):
    settings.REALTIME_CONNECT_RATE = 3
    for _ in range(3):
        client = await ws_connect("/ws/", user=viewer)
        await client.close()
    connected, code = await ws_connect("/ws/", user=viewer, expect_accept=False)
    assert (connected, code) == REFUSED


async def test_the_job_endpoint_closes_4404_for_an_unknown_job(ws_connect, owner):
    client = await ws_connect(f"/ws/jobs/{uuid.uuid4()}/", user=owner, established=False)
    assert await client.ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}


@pytest.mark.parametrize(("who", "close_code"), [("stranger", 4403), ("owner", None), ("viewer", None)])
async def test_the_job_endpoint_lets_only_the_starter_and_staff_follow_a_job(
    ws_connect, owner, viewer, stranger, who, close_code
):
    job = await db(make_job, viewer)
    user = {"owner": owner, "viewer": viewer, "stranger": stranger}[who]
    if close_code is None:
        client = await ws_connect(f"/ws/jobs/{job.id}/", user=user)
        assert client.established["payload"]["channels"] == ["jobs"]
    else:
        client = await ws_connect(f"/ws/jobs/{job.id}/", user=user, established=False)
        assert await client.ws.receive_output(timeout=2) == {"type": "websocket.close", "code": close_code}
