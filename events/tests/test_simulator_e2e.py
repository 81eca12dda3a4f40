"""The living demo end to end: `manage.py simulate` over HTTP into a real daphne, and `manage.py run
--demo` in one process streaming the simulator's traffic to a real WebSocket client."""

import asyncio
import json
import re
import signal
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from project.testing.servers import BASE_DIR, answers_200, django_env, free_port, http_get

pytestmark = pytest.mark.e2e

ARRIVAL_TIMEOUT = 30


def test_simulate_posts_detections_and_heartbeats_that_become_rows(start_daphne):
    server = start_daphne()
    tokens = server.seed_demo()
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--url",
            server.base_url,
            "--token",
            tokens["pipeline"],
            "--seconds",
            "3",
            "--interval",
            "0.5",
        ],
        cwd=BASE_DIR,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sent = int(re.search(r"sent (\d+) detections", done.stdout).group(1))
    # The first tick always has a visitor at the front door, so something was sent.
    assert sent > 0
    counted = server.manage(
        "shell", "-c", "from events.models import Detection; print(Detection.objects.count())"
    )
    assert int(counted.stdout.split()[-1]) == sent
    _, body = http_get(f"{server.base_url}/api/cameras/", {"Authorization": f"Token {tokens['admin']}"})
    assert {camera["status"] for camera in json.loads(body)} == {"online"}


async def frames_until_seen(url: str, token: str, wanted: set[str]) -> set[str]:
    """Subscribe to events, detections and system; return the types seen once all of `wanted` arrived."""
    seen: set[str] = set()
    async with connect(url, additional_headers={"Authorization": f"Token {token}"}) as ws:
        await ws.send(json.dumps({"action": "subscribe", "channels": ["events", "detections", "system"]}))
        async with asyncio.timeout(ARRIVAL_TIMEOUT):
            while not wanted <= seen:
                frame = json.loads(await ws.recv())
                # Live detections arrive inside batch frames (docs/protocol.md).
                for message in frame["messages"] if frame["type"] == "batch" else [frame]:
                    seen.add(message["type"])
    return seen


def test_run_demo_streams_the_simulators_detections_events_and_system_status_then_stops_on_sigterm(
    spawn, tmp_path
):
    port = free_port()
    env = django_env(
        tmp_path / "data",
        # Fast enough for a test: a tick every half second, batches closed after a second of quiet.
        {"SIMULATOR_TICK_SECONDS": "0.5", "BATCH_IDLE_SECONDS": "1", "SYSTEM_STATUS_INTERVAL": "1"},
    )
    argv = [sys.executable, "manage.py", "run", "--demo", "--port", str(port)]
    process = spawn("runner", argv, cwd=BASE_DIR, env=env, stop_signal=signal.SIGTERM)
    base_url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: answers_200(f"{base_url}/healthz"), what="answering /healthz", timeout=60)
    process.wait_until(lambda: "viewer token:" in process.output(), what="printing the banner")
    token = re.search(r"viewer token:\s+(\w+)", process.output()).group(1)

    wanted = {"detection.new", "event.created", "system.status"}
    assert wanted <= asyncio.run(frames_until_seen(f"ws://127.0.0.1:{port}/ws/", token, wanted))
    assert process.stop() == 0
    assert "simulator started" in process.output()
    assert "simulator stopped" in process.output()


def test_run_demo_without_the_simulator_sends_nothing(spawn, tmp_path):
    port = free_port()
    env = django_env(tmp_path / "data", {"SIMULATOR_TICK_SECONDS": "0.5"})
    argv = [sys.executable, "manage.py", "run", "--demo", "--no-simulator", "--port", str(port)]
    process = spawn("runner", argv, cwd=BASE_DIR, env=env, stop_signal=signal.SIGTERM)
    base_url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: answers_200(f"{base_url}/healthz"), what="answering /healthz", timeout=60)
    assert process.stop() == 0
    assert "simulator started" not in process.output()
