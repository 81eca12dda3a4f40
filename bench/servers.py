"""What a benchmark run starts on 127.0.0.1: Redis, PostgreSQL and the three servers under test.

Every process is a `ManagedProcess` of project/testing/servers.py (output in files, stopped by
PID, killed with its parent) registered with the `Run`, which stops them all in a `finally`. The
server under test is pinned to one core, everything else (clients, publisher, Redis, the bench
itself) to the other, when the machine has two.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from project.testing.servers import (
    BASE_DIR,
    SEED_DEMO_SCRIPT,
    ManagedProcess,
    answers_200,
    django_env,
    free_port,
    manage,
    postgres_cluster,
    redis_command,
)

START_TIMEOUT = 90


def cores() -> tuple[int | None, int | None]:
    """(server core, client core), or (None, None) with fewer than two cores to pin to."""
    usable = sorted(os.sched_getaffinity(0))
    return (usable[0], usable[1]) if len(usable) >= 2 else (None, None)


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Run:
    """One benchmark run: a scratch directory and every process started in it, stopped at the end."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lookout-bench-"))
        self.server_core, self.client_core = cores()
        self.processes: list[ManagedProcess] = []
        self._redis_port: int | None = None
        self._postgres = None
        self._template: Path | None = None
        self._count = 0

    def spawn(self, name: str, argv: list[str], *, core: int | None, **popen) -> ManagedProcess:
        """Start a process, pinned to `core` (its threads inherit the mask), stopped by `stop_all`."""
        self._count += 1
        log_dir = self.dir / f"{self._count:03d}-{name}"
        log_dir.mkdir()
        process = ManagedProcess(name, argv, log_dir=log_dir, **popen)
        self.processes.append(process)
        if core is not None:
            os.sched_setaffinity(process.pid, {core})
        return process

    def stop(self, process: ManagedProcess) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self._postgres is not None:
            self._postgres.__exit__(None, None, None)
            self._postgres = None
        shutil.rmtree(self.dir, ignore_errors=True)

    # Shared services: one Redis and one PostgreSQL per run, emptied for each server.

    def redis_url(self) -> str:
        """A Redis on the client core, emptied now (each server starts on an empty layer)."""
        if self._redis_port is None:
            port = free_port()
            data = self.dir / "redis"
            data.mkdir()
            argv = [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
            ]
            redis = self.spawn("redis", argv, core=self.client_core)
            redis.wait_until(lambda: _answers_ping(port), what="answering PING")
            self._redis_port = port
        redis_command(self._redis_port, "FLUSHALL")
        return f"redis://127.0.0.1:{self._redis_port}/0"

    def postgres_url(self) -> str:
        """A PostgreSQL database (fsync off, as the tests run it), fresh for each call."""
        import psycopg

        if self._postgres is None:
            self._postgres = postgres_cluster(
                lambda name, argv, **o: self.spawn(name, argv, core=self.client_core, **o)
            )
            self._server = self._postgres.__enter__()
        name = f"bench{self._count}"
        admin = self._server.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self._server.url.rsplit("/", 1)[0] + f"/{name}"

    def sqlite_template(self) -> Path:
        """A migrated, demo-seeded embedded database, copied for each server (migrating costs seconds)."""
        if self._template is None:
            template = self.dir / "template"
            self.tokens = migrate_and_seed(django_env(template))
            self._template = template
        return self._template


def migrate_and_seed(env: dict[str, str]) -> dict[str, str]:
    """Migrate the database `env` names and seed the demo, in one process; API tokens by username."""
    migrate = "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n"
    script = migrate + SEED_DEMO_SCRIPT
    return json.loads(manage(env, "shell", "--no-imports", "-c", script).stdout.strip().splitlines()[-1])


def _answers_ping(port: int) -> bool:
    try:
        return redis_command(port, "PING") == b"+PONG\r\n"
    except OSError:
        return False


class Server:
    """A server under test: its process, where clients connect, and its CPU and memory."""

    name = ""
    greeting = False  # whether a socket's first frame is a greeting to wait for

    def __init__(self, run: Run) -> None:
        self.run = run
        self.port = free_port()
        self.process: ManagedProcess | None = None
        self.headers: dict[str, str] = {}

    @property
    def ws_url(self) -> str:
        raise NotImplementedError

    def start(self) -> "Server":
        raise NotImplementedError

    def stop(self) -> None:
        if self.process is not None:
            self.run.stop(self.process)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (every thread)."""
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss

    def publisher_argv(self, *, count: int, rate: float | None) -> tuple[list[str], dict]:
        raise NotImplementedError

    def publish(self, *, count: int, rate: float | None, timeout: float) -> dict:
        """Run the publisher (on the client core) to the end; what it reports."""
        argv, env = self.publisher_argv(count=count, rate=rate)
        argv = [sys.executable, "-m", "bench.publish", *argv, "--count", str(count)]
        if rate:
            argv += ["--rate", str(rate)]
        publisher = self.run.spawn("publisher", argv, core=self.run.client_core, cwd=BASE_DIR, env=env)
        try:
            publisher.popen.wait(timeout)
        finally:
            self.run.stop(publisher)
        lines = publisher.stdout_path.read_text().strip().splitlines()
        if publisher.popen.returncode or not lines:
            raise RuntimeError(
                f"the publisher failed ({publisher.popen.returncode}):\n{publisher.output()[-3000:]}"
            )
        return json.loads(lines[-1])


class Lookout(Server):
    """`manage.py run --no-simulator` (daphne as Lookout ships it).

    With `redis`, the scale-out setup (channels-redis layer, `--no-worker`: the periodic work is
    another process's, and nothing measured needs it); without, the embedded default (in-memory
    layer, worker in its thread). `postgres` swaps SQLite for PostgreSQL. Without `heartbeats`,
    the periodic heartbeat is off (fan-out, burst and handshake runs).
    """

    name = "lookout"
    greeting = True

    def __init__(self, run: Run, *, redis: bool, postgres: bool = False, heartbeats: bool = True) -> None:
        super().__init__(run)
        self.data_dir = run.dir / f"lookout-{free_port()}"
        extra = {
            # Every client connects from 127.0.0.1: the per-address handshake budget would refuse them.
            "REALTIME_CONNECT_RATE": "1000000000",
            "LOG_LEVEL": "WARNING",
        }
        if not heartbeats:
            # No periodic heartbeat during the run: a heartbeat that still comes was sent on purpose
            # (the hub sends one when messages may have been lost), so it counts as announcing loss.
            extra["REALTIME_HEARTBEAT_SECONDS"] = "3600"
        self.redis = redis
        if redis:
            extra["REDIS_URL"] = run.redis_url()
        if postgres:
            extra["DATABASE_URL"] = run.postgres_url()
        self.env = django_env(self.data_dir, extra)
        self.postgres = postgres

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/events/"

    def start(self) -> "Lookout":
        if self.postgres:
            self.tokens = migrate_and_seed(self.env)
        else:
            shutil.copytree(self.run.sqlite_template(), self.data_dir)
            self.tokens = self.run.tokens
        self.headers = {"Authorization": f"Token {self.tokens['admin']}"}
        argv = [
            sys.executable,
            "manage.py",
            "run",
            "--no-migrate",
            "--no-simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if self.redis:
            argv.append("--no-worker")
        self.process = self.run.spawn("lookout", argv, core=self.run.server_core, cwd=BASE_DIR, env=self.env)
        self.process.wait_until(
            lambda: answers_200(f"{self.base_url}/healthz"), what="answering /healthz", timeout=START_TIMEOUT
        )
        return self

    def counters(self) -> dict:
        """The server's realtime counters (GET /api/system/status/ as the demo admin)."""
        request = urllib.request.Request(f"{self.base_url}/api/system/status/", headers=self.headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            status = json.loads(response.read())
        return status.get("realtime") or status.get("connections") or {}

    def publisher_argv(self, *, count, rate):
        return ["lookout"], self.env


class Naive(Server):
    """bench/naive.py on plain daphne and channels-redis."""

    name = "naive"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> "Naive":
        self.redis_url = self.run.redis_url()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.naive_settings",
            "BENCH_REDIS_URL": self.redis_url,
            "PYTHONUNBUFFERED": "1",
        }
        argv = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "bench.naive:application",
        ]
        self.process = self.run.spawn("naive", argv, core=self.run.server_core, cwd=BASE_DIR, env=self.env)
        self.process.wait_until(lambda: listening(self.port), what="listening", timeout=START_TIMEOUT)
        return self

    def publisher_argv(self, *, count, rate):
        return ["naive", "--url", self.redis_url], self.env


class Floor(Server):
    """bench/floor.py: the `websockets` library's broadcast."""

    name = "floor"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def start(self) -> "Floor":
        argv = [sys.executable, "-m", "bench.floor", "--port", str(self.port)]
        self.process = self.run.spawn("floor", argv, core=self.run.server_core, cwd=BASE_DIR)
        self.process.wait_until(lambda: listening(self.port), what="listening", timeout=START_TIMEOUT)
        return self

    def publisher_argv(self, *, count, rate):
        return ["floor", "--url", f"ws://127.0.0.1:{self.port}/publish"], None


def wait_for(condition, *, timeout: float, step: float = 0.1) -> bool:
    """Poll `condition` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
