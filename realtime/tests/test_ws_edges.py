"""Handshake edges through a real daphne: clients that leave at once, unknown paths, outages."""

import asyncio
import contextlib
import json
import socket
import threading
from urllib.parse import urlsplit

import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from project.testing.servers import free_port, manage

pytestmark = pytest.mark.e2e

ARRIVAL_TIMEOUT = 30  # generous: the 2 shared cores may be busy
# Clients that connect and leave at once, in parallel, ROUNDS times each (the race is narrow).
CLIENTS = 10
ROUNDS = 40


@pytest.fixture(scope="module")
def edge_server(start_daphne):
    """A daphne of its own, so its log holds only what these tests caused; no handshake budget."""
    server = start_daphne({"REALTIME_CONNECT_RATE": "100000"})
    server.tokens = server.seed_demo()
    return server


def new_output(server, since: int) -> str:
    return server.process.output()[since:]


async def refused_status(url: str, **options) -> InvalidStatus:
    """The HTTP response with which the server refuses a handshake (the test fails if it accepts)."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=ARRIVAL_TIMEOUT, **options):
            pass
    return refused.value.response


async def test_clients_that_close_right_after_the_handshake_leave_no_traceback(edge_server):
    before = len(edge_server.process.output())
    headers = {"Authorization": f"Token {edge_server.tokens['admin']}"}

    async def connect_and_leave(n: int) -> None:
        for round_ in range(ROUNDS):
            path = ("/ws/", "/ws/events/", "/ws/system/", "/ws/alerts/")[(n + round_) % 4]
            ws = await connect(f"{edge_server.ws_url}{path}", additional_headers=headers)
            # Close without reading anything: connection.established is still on its way.
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(ws.close(), ARRIVAL_TIMEOUT)

    await asyncio.gather(*(connect_and_leave(n) for n in range(CLIENTS)))
    # The server still serves, and said nothing about the clients that left.
    async with connect(f"{edge_server.ws_url}/ws/", additional_headers=headers) as ws:
        assert "connection.established" in await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT)
    log = new_output(edge_server, before)
    assert "Traceback" not in log
    assert "closed protocol" not in log


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/jobs/not-a-uuid/", "/ws/events/extra/", "/ws/%00/"])
async def test_an_unknown_path_is_refused_with_http_404_and_a_json_body(edge_server, path):
    before = len(edge_server.process.output())
    headers = {"Authorization": f"Token {edge_server.tokens['viewer']}"}
    response = await refused_status(f"{edge_server.ws_url}{path}", additional_headers=headers)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"detail": "Not Found"}
    assert "Traceback" not in new_output(edge_server, before)


async def test_an_endpoint_without_its_trailing_slash_is_served(edge_server):
    headers = {"Authorization": f"Token {edge_server.tokens['viewer']}"}
    async with connect(f"{edge_server.ws_url}/ws/events", additional_headers=headers) as ws:
        established = json.loads(await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT))
    assert established["payload"]["channels"] == ["detections", "events"]


class TcpRelay:
    """A TCP relay on loopback to a real server: `cut()` is an outage (new connections refused, open
    ones dropped), `restore()` ends it. The shared server itself keeps running for other tests."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.links: list[socket.socket] = []
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        for sock in [self.listener, *self.links]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.links = []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                if listener.fileno() == -1:
                    return
                continue
            self.links += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


async def assert_outage_refused_then_recovered(server, relay: TcpRelay, token: str) -> None:
    # No socket is open during the outage: what the hub logs then for its open sockets is not
    # this test's subject, only the handshake is.
    headers = {"Authorization": f"Token {token}"}
    url = f"{server.ws_url}/ws/events/"
    before = len(server.process.output())
    relay.cut()
    try:
        response = await refused_status(url, additional_headers=headers)
    finally:
        relay.restore()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert json.loads(response.body) == {"detail": "Service Unavailable"}
    async with connect(url, additional_headers=headers) as ws:
        assert "connection.established" in await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT)
    log = new_output(server, before)
    assert "unavailable" in log
    assert "Traceback" not in log


@pytest.mark.redis
async def test_a_handshake_while_redis_is_down_is_refused_with_503_and_no_traceback(start_daphne, redis_port):
    relay = TcpRelay(redis_port)
    env = {"REDIS_URL": f"redis://127.0.0.1:{relay.port}/0", "CHANNEL_LAYER_PREFIX": "edges"}
    server = start_daphne({**env, "REALTIME_CONNECT_RATE": "100000"})
    try:
        await assert_outage_refused_then_recovered(server, relay, server.seed_demo()["admin"])
    finally:
        server.stop()
        relay.cut()


def edges_database(postgres_url: str) -> str:
    """postgresql://… of a database of these tests' own, on the session's PostgreSQL."""
    target = urlsplit(postgres_url)
    with psycopg.connect(target._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'lookout_edges'").fetchone():
            conn.execute("CREATE DATABASE lookout_edges")
    return target._replace(path="/lookout_edges").geturl()


def via(relay: TcpRelay, url: str) -> str:
    target = urlsplit(url)
    return target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl()


@pytest.mark.postgres
async def test_a_handshake_while_postgresql_is_down_is_refused_with_503_and_no_traceback(
    start_daphne, postgres_url
):
    database_url = edges_database(postgres_url)
    relay = TcpRelay(urlsplit(database_url).port)
    server = start_daphne({"DATABASE_URL": via(relay, database_url), "REALTIME_CONNECT_RATE": "100000"})
    try:
        await assert_outage_refused_then_recovered(server, relay, server.seed_demo()["admin"])
    finally:
        server.stop()
        relay.cut()


@pytest.mark.postgres
async def test_the_first_handshake_after_postgresql_restarted_is_accepted(start_daphne, postgres_url):
    database_url = edges_database(postgres_url)
    relay = TcpRelay(urlsplit(database_url).port)
    server = start_daphne({"DATABASE_URL": via(relay, database_url)})
    headers = {"Authorization": f"Token {server.seed_demo()['admin']}"}
    url = f"{server.ws_url}/ws/events/"
    try:
        async with connect(url, additional_headers=headers) as ws:
            assert "connection.established" in await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT)
        # A restart as the server sees it: its open database connections die, new ones are served.
        relay.cut()
        relay.restore()
        async with connect(url, additional_headers=headers) as ws:
            assert "connection.established" in await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT)
    finally:
        server.stop()
        relay.cut()


STAFF_TOGGLE = """
from django.contrib.auth import get_user_model
user = get_user_model().objects.get(username="viewer")
user.is_staff = not user.is_staff
user.save()
"""


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_user_change_that_cannot_be_checked_during_an_outage_closes_the_socket(
    start_daphne, postgres_url, redis_url
):
    database_url = edges_database(postgres_url)
    relay = TcpRelay(urlsplit(database_url).port)
    env = {"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": "edges-recheck"}
    server = start_daphne({**env, "DATABASE_URL": via(relay, database_url)})
    headers = {"Authorization": f"Token {server.seed_demo()['viewer']}"}
    try:
        async with connect(f"{server.ws_url}/ws/events/", additional_headers=headers) as ws:
            assert "connection.established" in await asyncio.wait_for(ws.recv(), ARRIVAL_TIMEOUT)
            relay.cut()
            # The change commits on the database itself: only this server has lost it.
            direct = {**server.env, "DATABASE_URL": database_url}
            await asyncio.to_thread(manage, direct, "shell", "--no-imports", "-c", STAFF_TOGGLE)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(ARRIVAL_TIMEOUT):
                    while True:
                        await ws.recv()
        assert closed.value.rcvd.code == 4503
    finally:
        server.stop()
        relay.cut()
