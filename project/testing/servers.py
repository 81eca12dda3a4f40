"""Pytest plugin: real Redis, PostgreSQL and daphne servers on 127.0.0.1, always stopped by PID.

A missing server binary fails the test loudly (locally too): `make test` and `.ci/run` install
them through scripts/install-system-deps.sh, so a silent skip would only hide a broken setup.
"""

import contextlib
import ctypes
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTALL_HINT = "run `bash scripts/install-system-deps.sh` (or `make test`, which runs it)"
START_TIMEOUT = 30
STOP_TIMEOUT = 10


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Teardown stops every server, but a pytest killed outright (SIGKILL, a hard timeout)
    # runs no teardown: the kernel then kills the orphan instead of leaving it on its port.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ManagedProcess:
    """A child process with its output in files, stopped by PID: signal, wait, kill on timeout."""

    def __init__(self, name: str, argv: list[str], *, log_dir: Path, stop_signal=signal.SIGTERM, **popen):
        self.name = name
        self.stop_signal = stop_signal
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=_die_with_parent, **popen
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        """The process has not exited."""
        return self.popen.poll() is None

    def output(self) -> str:
        """What the process wrote so far, stdout then stderr."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Stop the process and reap it; returns its exit code."""
        if self.alive():
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def wait_until(self, ready: Callable[[], bool], *, what: str, timeout: float = START_TIMEOUT) -> None:
        """Poll `ready` until it holds; fail with the process's output if it dies or the deadline passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"{self.name} exited ({self.popen.returncode}) before {what}:\n{self.output()}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"{self.name} was not {what} within {timeout} s:\n{self.output()}")


@pytest.fixture(scope="session")
def spawn(tmp_path_factory) -> Iterator[Callable[..., ManagedProcess]]:
    """Start a ManagedProcess (argv, **Popen options); every one is stopped at the end of the session."""
    started: list[ManagedProcess] = []

    def start(name: str, argv: list[str], **options) -> ManagedProcess:
        process = ManagedProcess(name, argv, log_dir=tmp_path_factory.mktemp(f"{name}-logs"), **options)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def require_binary(path: str | None, what: str) -> str:
    """The binary's path, or a loud failure that says how to install it."""
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{what} is not installed: {INSTALL_HINT}", pytrace=False)
    return path


# Redis


def redis_command(port: int, *words: str) -> bytes:
    """Send one inline command to Redis on 127.0.0.1 and return the raw reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(" ".join(words).encode() + b"\r\n")
        return sock.makefile("rb").readline()


def _redis_answers(port: int) -> bool:
    try:
        return redis_command(port, "PING") == b"+PONG\r\n"
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_port(spawn, tmp_path_factory) -> int:
    """The port of a real redis-server started for this session, without persistence."""
    binary = require_binary(shutil.which("redis-server"), "redis-server")
    port = free_port()
    data_dir = tmp_path_factory.mktemp("redis")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = spawn("redis", [*argv, "--dir", str(data_dir)])
    process.wait_until(lambda: _redis_answers(port), what="answering PING")
    return port


@pytest.fixture(scope="session")
def redis_url(redis_port) -> str:
    """redis://… of the session's real Redis (shared: use `fresh_redis_url` for an empty one)."""
    return f"redis://127.0.0.1:{redis_port}/0"


@pytest.fixture
def fresh_redis_url(redis_port, redis_url) -> str:
    """The session's Redis, emptied before this test so no test sees another's keys."""
    assert redis_command(redis_port, "FLUSHALL") == b"+OK\r\n"
    return redis_url


# PostgreSQL

POSTGRES_USER = "lookout"


def _postgres_bin_dir() -> Path:
    initdbs = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    newest = max(initdbs, key=lambda path: int(Path(path).parts[4]), default=None)
    return Path(require_binary(newest, "PostgreSQL (initdb)")).parent


def _as_postgres_user(owned: Path) -> dict:
    """Popen options that run a PostgreSQL binary as a user it accepts: it refuses to run as root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")  # created by Debian's postgresql package
    os.chown(owned, account.pw_uid, account.pw_gid)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": owned}


def _postgres_answers(port: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}/postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, fsync off) that a test may stop and start again."""

    def __init__(self, spawn: Callable[..., ManagedProcess], argv: list[str], port: int, as_postgres: dict):
        self._spawn, self._argv, self._options = spawn, argv, as_postgres
        self.port = port
        self.url = f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}/lookout"
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        """Start the server on its data directory and port; returns once it accepts connections."""
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to disconnect.
        self.process = self._spawn("postgres", self._argv, stop_signal=signal.SIGINT, **self._options)
        self.process.wait_until(lambda: _postgres_answers(self.port), what="accepting connections")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut); its data stays."""
        self.process.stop()


@contextlib.contextmanager
def postgres_cluster(spawn: Callable[..., ManagedProcess]) -> Iterator[PostgresServer]:
    """A started throwaway PostgreSQL cluster with an empty `lookout` database; removed on exit."""
    import psycopg

    bin_dir = _postgres_bin_dir()
    # Not under pytest's tmp dir: that one is private to root, and the server may run as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="lookout-pg-"))
    as_postgres = _as_postgres_user(base)
    data_dir, port = base / "data", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", POSTGRES_USER, "--auth=trust"]
    done = subprocess.run(
        [*initdb, "--no-locale", "-E", "UTF8", "--no-sync"], capture_output=True, text=True, **as_postgres
    )
    if done.returncode:
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    settings = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(base)]
    argv += [arg for setting in settings for arg in ("-c", setting)]
    server = PostgresServer(spawn, argv, port, as_postgres)
    server.start()
    try:
        admin_url = f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE lookout")
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(spawn) -> Iterator[PostgresServer]:
    """The session's PostgreSQL cluster (a test that stops it starts it again)."""
    with postgres_cluster(spawn) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """postgresql://… of a database in the session's throwaway cluster."""
    return postgres_server.url


# Django: manage.py and daphne in subprocesses


def django_env(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a Lookout subprocess: embedded defaults in `data_dir`, then `env` on top."""
    base = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL"}}
    base |= {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "LOOKOUT_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    return base | (env or {})


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `manage.py <args>` with `env`; fail the test with its output if it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode:
        pytest.fail(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, bytes]:
    """GET `url`: (status, body), error statuses included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers_200(url: str) -> bool:
    """`url` answers 200 now (False while nothing listens yet)."""
    with contextlib.suppress(OSError):
        return http_get(url, timeout=2)[0] == 200
    return False


class DaphneServer:
    """A daphne process serving project.asgi on 127.0.0.1."""

    def __init__(self, process: ManagedProcess, *, port: int, env: dict[str, str]):
        self.process = process
        self.env = env
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int:
        """Stop the server; returns its exit code."""
        return self.process.stop()

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """Run `manage.py <args>` against this server's database and settings."""
        return manage(self.env, *args)

    def seed_demo(self) -> dict[str, str]:
        """Seed the demo household in this server's database; the API token of each demo user by name."""
        done = self.manage("shell", "--no-imports", "-c", SEED_DEMO_SCRIPT)
        return json.loads(done.stdout.strip().splitlines()[-1])


# Idempotent, like the demo itself: every server sharing a database gets the same tokens.
SEED_DEMO_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from events.demo import demo_household_seed
demo = demo_household_seed(admin_password="lookout-admin", viewer_password="lookout-viewer")
names = [demo[role]["username"] for role in ("admin", "viewer", "pipeline")]
users = get_user_model().objects.filter(username__in=names)
print(json.dumps({user.username: Token.objects.get_or_create(user=user)[0].key for user in users}))
"""


@pytest.fixture(scope="session")
def start_daphne(spawn, tmp_path_factory) -> Callable[..., DaphneServer]:
    """Start a migrated daphne with its own LOOKOUT_DATA_DIR; `env` adds e.g. REDIS_URL, DATABASE_URL."""

    def start(env: dict[str, str] | None = None, *, bare: bool = False) -> DaphneServer:
        server_env = django_env(tmp_path_factory.mktemp("lookout-data"), env)
        manage(server_env, "migrate", "--noinput")
        port = free_port()
        if bare:  # `daphne project.asgi:application`, as many deploy Channels
            argv = [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "project.asgi:application",
            ]
        else:  # the server we ship (daphne with Lookout's frame limit, close codes and slow-client probe)
            argv = [
                sys.executable,
                "manage.py",
                "run",
                "--no-migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
        process = spawn("daphne", argv, cwd=BASE_DIR, env=server_env)
        server = DaphneServer(process, port=port, env=server_env)
        process.wait_until(lambda: answers_200(f"{server.base_url}/healthz"), what="answering /healthz")
        return server

    return start


@pytest.fixture(scope="session")
def daphne_server(start_daphne) -> DaphneServer:
    """One embedded daphne (SQLite, in-memory channel layer) shared by the session."""
    return start_daphne()
