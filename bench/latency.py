"""REST POST → WebSocket arrival latency on the embedded default, against a plain REST GET baseline.

Starts `manage.py run --demo` on a free loopback port with a throw-away data directory, then, N
times in turn: one authenticated GET /api/cameras/ (the baseline round trip) and one POST
/api/events/ timed until the event arrives on /ws/events/. Prints median, p95 and max of each, and
the ratio of the medians. The server is stopped by its PID at the end.

    .venv/bin/python bench/latency.py [--count 200]
"""

import argparse
import asyncio
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from websockets.asyncio.client import connect

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # run as a script: bench/ is not a package

from project.testing.servers import free_port  # noqa: E402

START_TIMEOUT = 60
ARRIVAL_TIMEOUT = 5


class Server:
    """`manage.py run --demo` in a subprocess, its output in a file, stopped by PID."""

    def __init__(self, data_dir: Path, *, worker: bool = True) -> None:
        self.port = free_port()
        self.env = {**os.environ, "LOOKOUT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.env.pop("DATABASE_URL", None)
        self.env.pop("REDIS_URL", None)
        self.log = data_dir / "server.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "run",
                    "--demo",
                    "--no-simulator",  # only the benchmark's own traffic
                    "--port",
                    str(self.port),
                    *([] if worker else ["--no-worker"]),
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def pipeline_token(self) -> str:
        """Wait for the banner and return the pipeline token it prints."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"pipeline token: (\w+)", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)
        raise RuntimeError(f"no banner within {START_TIMEOUT} s:\n{self.log.read_text(errors='replace')}")

    def user_token(self, username: str) -> str:
        """An API token for a demo user (the pipeline account sees no camera, so it gets no events)."""
        done = subprocess.run(
            [sys.executable, "manage.py", "drf_create_token", username],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return re.search(r"Generated token (\w+)", done.stdout).group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Api:
    """A keep-alive HTTP connection with a token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        self.connection.request(method, path, body=body and json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)


def describe(samples: list[float]) -> str:
    """Median, p95 and max of durations in seconds, in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   max {ms[-1]:7.2f} ms"


async def next_event(ws, *, summary: str) -> dict:
    """The event.created frame of the event with `summary` (unique per probe; its id comes later)."""
    async with asyncio.timeout(ARRIVAL_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "event.created" and frame["payload"]["summary"] == summary:
                return frame


async def measure(server: Server, count: int) -> dict[str, list[float]]:
    pipeline = Api(server.port, server.pipeline_token())
    admin_token = server.user_token("admin")
    reader = Api(server.port, admin_token)
    samples: dict[str, list[float]] = {"get": [], "post": [], "arrival": []}
    url = f"ws://127.0.0.1:{server.port}/ws/events/"
    async with connect(url, additional_headers={"Authorization": f"Token {admin_token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "connection.established"
        for n in range(count):
            start = time.perf_counter()
            await asyncio.to_thread(reader.request, "GET", "/api/cameras/")
            samples["get"].append(time.perf_counter() - start)

            body = {
                "camera_id": "front_door",
                "started_at": datetime.now(UTC).isoformat(),
                "risk_score": 30,
                "summary": f"latency probe {n}",
            }
            start = time.perf_counter()
            # The POST runs in a thread, so the frame is read the moment it arrives, even before
            # the HTTP response (the broadcast goes out at commit).
            posting = asyncio.create_task(asyncio.to_thread(pipeline.request, "POST", "/api/events/", body))
            frame = await next_event(ws, summary=body["summary"])
            arrived = time.perf_counter()
            event = await posting
            samples["post"].append(time.perf_counter() - start)
            samples["arrival"].append(arrived - start)
            assert frame["payload"]["id"] == event["id"]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="number of sequential posts (default 200)")
    parser.add_argument(
        "--no-worker", action="store_true", help="run without the embedded worker (its periodic work)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lookout-bench-") as data_dir:
        server = Server(Path(data_dir), worker=not args.no_worker)
        try:
            samples = asyncio.run(measure(server, args.count))
        finally:
            server.stop()
    worker = "without the worker" if args.no_worker else "worker in its thread"
    print(f"embedded default (SQLite, in-memory layer, {worker}), {args.count} sequential posts, loopback")
    print(f"  GET /api/cameras/ round trip      {describe(samples['get'])}")
    print(f"  POST /api/events/ round trip      {describe(samples['post'])}")
    print(f"  POST → arrival on /ws/events/     {describe(samples['arrival'])}")
    ratio = statistics.median(samples["arrival"]) / statistics.median(samples["get"])
    print(f"  ratio (median arrival / median GET): {ratio:.2f}")


if __name__ == "__main__":
    main()
