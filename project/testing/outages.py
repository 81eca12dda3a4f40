"""Pytest plugin: a Redis and a PostgreSQL of a test module's own, to stop and start again.

The session's servers (project.testing.servers) are shared by every test; an outage test stops
its own server instead. A restart keeps the port, so the clients of the old server (daphne, the
channel layer, Django) reconnect to the new one as they would in production. Neither keeps data
across a restart of Redis (no persistence, like a cache node that restarts); PostgreSQL keeps its
data directory.
"""

import shutil
from collections.abc import Iterator

import pytest

from project.testing.servers import (
    PostgresServer,
    _redis_answers,
    free_port,
    postgres_cluster,
    require_binary,
)


class RestartableServer:
    """A server process that a test stops and starts again on the same port."""

    def __init__(self, spawn, name: str, argv: list[str], ready, *, what: str, **options) -> None:
        self.spawn, self.name, self.argv, self.ready, self.what = spawn, name, argv, ready, what
        self.options = options
        self.process = None
        self.start()

    def start(self) -> None:
        """Start the server and return once it answers."""
        self.process = self.spawn(self.name, self.argv, **self.options)
        self.process.wait_until(self.ready, what=self.what)

    def stop(self) -> None:
        """Stop the server (its clients see their connections closed)."""
        self.process.stop()


@pytest.fixture(scope="module")
def restartable_redis(spawn, tmp_path_factory) -> Iterator[tuple[RestartableServer, str]]:
    """(the server, its redis://… URL): a Redis for this module only, without persistence."""
    binary = require_binary(shutil.which("redis-server"), "redis-server")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(tmp_path_factory.mktemp("redis-restartable"))]
    server = RestartableServer(spawn, "redis", argv, lambda: _redis_answers(port), what="answering PING")
    yield server, f"redis://127.0.0.1:{port}/0"
    server.stop()


@pytest.fixture(scope="module")
def restartable_postgres(spawn) -> Iterator[tuple[PostgresServer, str]]:
    """(the server, a postgresql://… URL of an empty database): a cluster for this module only."""
    with postgres_cluster(spawn) as server:
        yield server, server.url
