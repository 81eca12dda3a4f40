"""End to end: a real daphne, real HTTP and a real WebSocket client (the `websockets` library)."""

import asyncio
import contextlib
import http.client
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.e2e

FRAME_LIMIT = 64 * 1024
# How long a frame may take to arrive before the test fails (a bound, not a latency claim).
ARRIVAL_TIMEOUT = 5
RESUME_TIMEOUT = 10


class Api:
    """One keep-alive HTTP connection to a server, authenticated with an API token."""

    def __init__(self, base_url: str, token: str) -> None:
        url = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def post_event(self, summary: str, camera_id: str = "front_door") -> int:
        """POST /api/events/ and return the new event's id."""
        body = {
            "camera_id": camera_id,
            "started_at": datetime.now(UTC).isoformat(),
            "risk_score": 40,
            "summary": summary,
        }
        status, event = self.request("POST", "/api/events/", body)
        assert status == 201, event
        return event["id"]

    def post_events(self, summary: str, count: int, posted: list[int]) -> None:
        """POST `count` events, appending each id to `posted` as soon as the server has committed it."""
        for n in range(count):
            posted.append(self.post_event(f"{summary} #{n}"))

    def close(self) -> None:
        self.connection.close()


class Socket:
    """A connected WebSocket that speaks the JSON frames of SPEC §4."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def frame(self, timeout: float = ARRIVAL_TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def frame_of(self, event_type: str, timeout: float = ARRIVAL_TIMEOUT, **payload) -> dict:
        """The next frame of `event_type` whose payload has the given values; other frames are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frame(timeout)
                fields = frame.get("payload") or {}
                if frame["type"] == event_type and all(fields.get(k) == v for k, v in payload.items()):
                    return frame


@contextlib.asynccontextmanager
async def ws_open(
    server, path: str, *, token: str | None = None, origin: str | None = None
) -> AsyncIterator[Socket]:
    """An open socket past `connection.established` (kept as `socket.established`); closed at the end."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    async with connect(f"{server.ws_url}{path}", additional_headers=headers, origin=origin) as ws:
        socket = Socket(ws)
        socket.established = await socket.frame_of("connection.established")
        yield socket


async def handshake_status(url: str, **options) -> int:
    """The HTTP status with which the server refuses a handshake (the test fails if it accepts)."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **options):
            pass
    return refused.value.response.status_code


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll an observable condition (set by other threads) until it holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the condition changes in writer threads, not tasks
            await asyncio.sleep(0.005)


async def resume(socket: Socket, since: int) -> None:
    await socket.send({"action": "resume", "since": since, "request_id": "resume"})


async def collect_resumed(socket: Socket, expected_ids: set[int]) -> tuple[list[dict], int]:
    """After `resume`: the durable frames received until `resume.completed` and every expected event,
    and how many of them came before `resume.completed`."""
    frames: list[dict] = []
    completed_at = None
    async with asyncio.timeout(RESUME_TIMEOUT):
        while completed_at is None or not expected_ids <= {f["payload"].get("id") for f in frames}:
            frame = await socket.frame(RESUME_TIMEOUT)
            if frame["type"] == "resume.completed":
                assert frame["payload"]["request_id"] == "resume"
                completed_at = len(frames)
            elif frame.get("sequence") is not None:
                frames.append(frame)
    return frames, completed_at


def assert_resume_delivered(
    frames: list[dict], completed_at: int, *, since: int, missed: list[int], posted: list[int]
) -> None:
    """A client that drops what it has (sequence <= since, or seen) keeps each posted event once, and
    the replay (up to `resume.completed`) in strictly increasing order.

    The socket is live from its handshake, so frames may come before the server has read the
    `resume`: they are newer than every missed event, and the replay starts at the first frame that
    is old (<= since: the overlap window) or missed. After `resume.completed` only exactly-once is
    checked: two requests that commit back to back hand their frames to the layer from two threads,
    in either order.
    """
    seen: set[int] = set()
    kept: list[tuple[int, dict]] = []
    replay_start = None
    for index, frame in enumerate(frames):
        sequence = frame["sequence"]
        if replay_start is None and (sequence <= since or frame["payload"].get("id") in missed):
            replay_start = index
        if sequence > since and sequence not in seen:
            seen.add(sequence)
            kept.append((index, frame))
    assert replay_start is not None, "no replayed frame"
    created = Counter(f["payload"]["id"] for _, f in kept if f["type"] == "event.created")
    assert {event_id: created[event_id] for event_id in posted} == dict.fromkeys(posted, 1)
    replayed = [f["sequence"] for index, f in kept if replay_start <= index < completed_at]
    assert all(a < b for a, b in itertools.pairwise(replayed)), replayed


@pytest.fixture(scope="module")
def tokens(daphne_server) -> dict[str, str]:
    return daphne_server.seed_demo()


@pytest.fixture
def pipeline_api(daphne_server, tokens):
    api = Api(daphne_server.base_url, tokens["pipeline"])
    yield api
    api.close()


async def test_a_token_header_opens_the_events_socket(daphne_server, tokens):
    async with ws_open(daphne_server, "/ws/events/", token=tokens["viewer"]) as socket:
        payload = socket.established["payload"]
    assert payload["user"]["username"] == "viewer"
    assert payload["channels"] == ["detections", "events"]


async def test_a_ticket_opens_one_socket_and_is_refused_the_second_time(daphne_server, tokens):
    api = Api(daphne_server.base_url, tokens["viewer"])
    status, answer = await asyncio.to_thread(api.request, "POST", "/api/realtime/ticket/")
    api.close()
    assert status == 201
    path = f"/ws/events/?ticket={answer['ticket']}"
    async with ws_open(daphne_server, path) as socket:
        assert socket.established["payload"]["user"]["username"] == "viewer"
    assert await handshake_status(f"{daphne_server.ws_url}{path}") == 403


async def test_cross_origin_and_anonymous_handshakes_get_403(daphne_server, tokens):
    url = f"{daphne_server.ws_url}/ws/events/"
    token = {"Authorization": f"Token {tokens['admin']}"}
    assert await handshake_status(url, additional_headers=token, origin="https://evil.example") == 403
    assert await handshake_status(url) == 403
    assert await handshake_status(url, origin="http://localhost") == 403
    assert await handshake_status(url, additional_headers={"Authorization": "Token not-a-key"}) == 403


async def test_an_event_posted_over_rest_arrives_on_the_events_socket(daphne_server, tokens, pipeline_api):
    async with ws_open(daphne_server, "/ws/events/", token=tokens["admin"]) as socket:
        event_id = await asyncio.to_thread(pipeline_api.post_event, "Parcel delivered")
        frame = await socket.frame_of("event.created", id=event_id)
    assert frame["channel"] == "events"
    assert frame["sequence"] > socket.established["payload"]["last_sequence"]
    assert frame["payload"]["summary"] == "Parcel delivered"


async def test_a_frame_of_exactly_64_kib_is_still_answered(daphne_server, tokens):
    padding = FRAME_LIMIT - len(json.dumps({"action": "ping", "pad": ""}))
    async with ws_open(daphne_server, "/ws/", token=tokens["viewer"]) as socket:
        await socket.send({"action": "ping", "pad": "x" * padding})
        assert (await socket.frame_of("pong"))["type"] == "pong"


async def test_a_frame_over_64_kib_closes_the_socket_with_1009(daphne_server, tokens):
    async with ws_open(daphne_server, "/ws/", token=tokens["viewer"]) as socket:
        await socket.ws.send("x" * (FRAME_LIMIT + 1))
        with pytest.raises(ConnectionClosed):
            await socket.frame()
    assert socket.ws.close_code == 1009


async def test_resume_while_writers_post_delivers_every_event_once_in_order(daphne_server, tokens):
    """The hard case: A comes back while four writers still post, so its replay and live frames overlap."""
    async with ws_open(daphne_server, "/ws/events/", token=tokens["admin"]) as socket:
        since = socket.established["payload"]["last_sequence"]
    writers = [Api(daphne_server.base_url, tokens["pipeline"]) for _ in range(4)]
    posted: list[int] = []
    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        jobs = [pool.submit(api.post_events, f"writer {n}", 10, posted) for n, api in enumerate(writers)]
        await until(lambda: len(posted) >= 16, timeout=RESUME_TIMEOUT)
        missed = list(posted)  # committed while A was away: only a replay can bring these
        async with ws_open(daphne_server, "/ws/events/", token=tokens["admin"]) as socket:
            await resume(socket, since)
            # The client library buffers what arrives meanwhile; frames are read once all are posted.
            writes = asyncio.gather(*(asyncio.wrap_future(job) for job in jobs))
            await asyncio.wait_for(writes, RESUME_TIMEOUT)
            frames, completed_at = await collect_resumed(socket, set(posted))
    for api in writers:
        api.close()
    assert len(posted) == 40
    assert_resume_delivered(frames, completed_at, since=since, missed=missed, posted=posted)
