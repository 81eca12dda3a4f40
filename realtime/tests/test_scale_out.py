"""Scale-out (SPEC §7): two daphne processes on one PostgreSQL and one Redis act as one hub."""

import asyncio
import contextlib
import json
import signal
import time

import pytest

from realtime.tests.test_e2e import Api, assert_resume_delivered, collect_resumed, resume, ws_open

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

# Run in instance B's environment: a third process (a management shell) raising an alert.
RAISE_ALERT = """
from django.utils import timezone
from cameras.models import Camera
from events.services import alert_raise, event_record
event = event_record(
    camera=Camera.objects.get(pk="driveway"), started_at=timezone.now(), risk_score=85, summary="Car idling"
)
print(alert_raise(event=event, rule=None, message="Car in the driveway at night").pk)
"""


@pytest.fixture(scope="module")
def cluster(start_daphne, redis_url, postgres_url):
    """(instance A, instance B, the demo's tokens): same DATABASE_URL and REDIS_URL."""
    env = {"REDIS_URL": redis_url, "DATABASE_URL": postgres_url}
    a, b = start_daphne(env), start_daphne(env)
    yield a, b, a.seed_demo()
    b.stop()
    a.stop()


@pytest.fixture
def api_on_b(cluster):
    """Open keep-alive connections to instance B with a token; all are closed at the end."""
    opened: list[Api] = []

    def open_api(token: str) -> Api:
        opened.append(Api(cluster[1].base_url, token))
        return opened[-1]

    yield open_api
    for api in opened:
        api.close()


async def test_an_event_posted_to_b_reaches_a_client_of_a(cluster, api_on_b):
    a, _, tokens = cluster
    pipeline = api_on_b(tokens["pipeline"])
    async with ws_open(a, "/ws/events/", token=tokens["viewer"]) as socket:
        event_id = await asyncio.to_thread(pipeline.post_event, "Visitor at the door")
        frame = await socket.frame_of("event.created", id=event_id)
    assert frame["payload"]["camera_id"] == "front_door"


async def test_an_alert_acknowledged_on_b_reaches_an_alerts_client_of_a(cluster, api_on_b):
    a, b, tokens = cluster
    admin = api_on_b(tokens["admin"])
    async with ws_open(a, "/ws/alerts/", token=tokens["viewer"]) as socket:
        done = await asyncio.to_thread(b.manage, "shell", "--no-imports", "-c", RAISE_ALERT)
        alert_id = int(done.stdout.strip().splitlines()[-1])
        await socket.frame_of("alert.created", id=alert_id)
        status, alert = await asyncio.to_thread(admin.request, "POST", f"/api/alerts/{alert_id}/acknowledge/")
        assert status == 200, alert
        frame = await socket.frame_of("alert.acknowledged", id=alert_id)
    assert frame["channel"] == "alerts"
    assert frame["payload"]["status"] == "acknowledged"


async def test_resume_on_a_replays_the_events_written_through_b(cluster, api_on_b):
    a, _, tokens = cluster
    async with ws_open(a, "/ws/events/", token=tokens["admin"]) as socket:
        since = socket.established["payload"]["last_sequence"]
    pipeline = api_on_b(tokens["pipeline"])
    missed = [await asyncio.to_thread(pipeline.post_event, f"While A was away #{n}") for n in range(5)]
    async with ws_open(a, "/ws/events/", token=tokens["admin"]) as socket:
        await resume(socket, since)
        frames, completed_at = await collect_resumed(socket, set(missed))
    assert_resume_delivered(frames, completed_at, since=since, missed=missed, posted=missed)
    assert completed_at == len(frames)  # all of them came in the replay, none live


# Run in instance B's environment: a message for the viewer only, then one for everybody.
SEND_TO_VIEWER_THEN_BROADCAST = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from realtime.broadcast import broadcast, send_to_user
now = timezone.now().isoformat()
viewer = get_user_model().objects.get(username="viewer")
health = {"health": "degraded", "previous_health": "ok", "components": {}}
send_to_user(viewer, "system.health_changed", health)
broadcast("system.error", {"error": "marker", "message": "after the targeted one", "timestamp": now})
"""


async def test_send_to_user_on_b_reaches_that_users_sockets_on_both_instances_only(cluster):
    a, b, tokens = cluster
    async with (
        ws_open(a, "/ws/events", token=tokens["viewer"]) as viewer_on_a,
        ws_open(b, "/ws/alerts/", token=tokens["viewer"]) as viewer_on_b,
        ws_open(a, "/ws/system/", token=tokens["admin"]) as admin_on_a,
        ws_open(b, "/ws/system", token=tokens["admin"]) as admin_on_b,
    ):
        await asyncio.to_thread(b.manage, "shell", "--no-imports", "-c", SEND_TO_VIEWER_THEN_BROADCAST)
        for socket in (viewer_on_a, viewer_on_b):
            frame = await socket.frame_of("system.health_changed")
            assert frame["payload"]["health"] == "degraded"
            await socket.frame_of("system.error", error="marker")
        for socket in (admin_on_a, admin_on_b):
            # One hub per instance receives both sends in order: had the admin got the targeted
            # message, it would have come before the broadcast marker.
            seen = []
            while (frame := await socket.frame())["type"] != "system.error":
                seen.append(frame["type"])
            assert "system.health_changed" not in seen


# Short, so that a killed instance drops out of the sums within the test's patience.
INSTANCE_EXPIRY_SECONDS = 4


@pytest.fixture
def figures_cluster(start_daphne, redis_url, postgres_url):
    """(instance A, instance B, the demo's tokens), publishing connection figures under a prefix of
    their own (other tests' servers on the session's Redis stay out of the sums)."""
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": postgres_url,
        "CHANNEL_LAYER_PREFIX": "figures",
        "REALTIME_INSTANCE_EXPIRY_SECONDS": str(INSTANCE_EXPIRY_SECONDS),
    }
    a, b = start_daphne(env), start_daphne(env)
    yield a, b, a.seed_demo()
    b.stop()
    a.stop()


async def connections_once(api: Api, expected: dict, timeout: float) -> dict:
    """The connection figures of /api/system/status/ once they equal `expected`, else the last seen
    after `timeout` s: another instance's figures are as fresh as its last publish."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await asyncio.to_thread(api.request, "GET", "/api/system/status/")
        assert status == 200, body
        connections = body["realtime"]["connections"]
        connections.pop("opened_since_start", None)  # the answering instance's, since it started
        if connections == expected or time.monotonic() > deadline:
            return connections
        await asyncio.sleep(0.1)


async def test_the_status_sums_the_connections_of_every_instance_and_drops_a_killed_one(figures_cluster):
    a, b, tokens = figures_cluster
    on_a = [("/ws/events/", "admin"), ("/ws/alerts/", "admin"), ("/ws/", "viewer")]
    on_b = [("/ws/events/", "viewer")]
    both = {
        "total": 5,
        "by_endpoint": {"/ws/events/": 2, "/ws/alerts/": 1, "/ws/": 1, "/ws/system/": 1},
        "by_user": {"admin": 3, "viewer": 2},
        "instances": 2,
    }
    a_alone = {
        "total": 3,
        "by_endpoint": {"/ws/events/": 1, "/ws/alerts/": 1, "/ws/": 1},
        "by_user": {"admin": 2, "viewer": 1},
        "instances": 1,
    }
    one_closed_on_b = {
        "total": 4,
        "by_endpoint": {"/ws/events/": 2, "/ws/alerts/": 1, "/ws/": 1},
        "by_user": {"admin": 2, "viewer": 2},
        "instances": 2,
    }
    apis = {(server, user): Api(server.base_url, tokens[user]) for server in (a, b) for user in tokens}
    try:
        async with contextlib.AsyncExitStack() as sockets:
            for server, opened in ((a, on_a), (b, on_b)):
                for path, user in opened:
                    await sockets.enter_async_context(ws_open(server, path, token=tokens[user]))
            async with ws_open(b, "/ws/system/", token=tokens["admin"]):
                for server in (a, b):
                    figures = await connections_once(apis[server, "admin"], {**both, "yours": 3}, timeout=15)
                    assert figures == {**both, "yours": 3}, server.base_url
                    # The viewer's own connections on both instances, and nobody else's.
                    viewer = apis[server, "viewer"]
                    status, body = await asyncio.to_thread(viewer.request, "GET", "/api/system/status/")
                    assert status == 200
                    assert body["realtime"] == {"connections": {"yours": 2}}
                    assert "admin" not in json.dumps(body)

            figures = await connections_once(apis[a, "admin"], {**one_closed_on_b, "yours": 2}, timeout=15)
            assert figures == {**one_closed_on_b, "yours": 2}

            b.process.popen.send_signal(signal.SIGKILL)  # no disconnect runs: only the expiry removes B
            b.process.popen.wait(10)
            figures = await connections_once(
                apis[a, "admin"], {**a_alone, "yours": 2}, timeout=INSTANCE_EXPIRY_SECONDS + 15
            )
            assert figures == {**a_alone, "yours": 2}
    finally:
        for api in apis.values():
            api.close()
