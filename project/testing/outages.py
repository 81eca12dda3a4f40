"""Pytest plugin: a Redis and a PostgreSQL of a test module's own, to stop and start again.

The session's servers (project.testing.servers) are shared by every test; an outage test stops
its own server instead. A restart keeps the port, so the clients of the old server (daphne, the
channel layer, Django) reconnect to the new one as they would in production. Neither keeps data
across a restart of Redis (no persistence, like a cache node that restarts); PostgreSQL keeps its
data directory.
"""

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from project.testing.servers import (
    POSTGRES_USER,
    _as_postgres_user,
    _postgres_answers,
    _postgres_bin_dir,
    _redis_answers,
    free_port,
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
def restartable_postgres(spawn) -> Iterator[tuple[RestartableServer, str]]:
    """(the server, a postgresql://… URL of an empty database): a cluster for this module only."""
    bin_dir = _postgres_bin_dir()
    base = Path(tempfile.mkdtemp(prefix="lookout-pg-restartable-"))
    as_postgres = _as_postgres_user(base)
    data_dir, port = base / "data", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", POSTGRES_USER, "--auth=trust"]
    done = subprocess.run(
        [*initdb, "--no-locale", "-E", "UTF8", "--no-sync"], capture_output=True, text=True, **as_postgres
    )
    if done.returncode:
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(base)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"]
    server = RestartableServer(
        spawn,
        "postgres",
        argv,
        lambda: _postgres_answers(port),
        what="accepting connections",
        stop_signal=signal.SIGINT,  # fast shutdown: it closes the clients' connections
        **as_postgres,
    )
    url = f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}"
    with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE lookout")
    yield server, f"{url}/lookout"
    server.stop()
    shutil.rmtree(base, ignore_errors=True)
