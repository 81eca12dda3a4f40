"""Bulk ingest rate on the embedded default: detections/s by POSTs of 1,000, broadcasts on.

Starts `manage.py run --demo --no-simulator` (SQLite file, in-memory layer) like `latency.py`,
opens `/ws/events/` as admin so that every detection is delivered to a socket, then posts
`--posts` bulk requests of `--size` detections in turn. Prints detections/s per POST (median,
best) and checks that the socket received every `detection.new` exactly once.

    .venv/bin/python bench/ingest_rate.py [--posts 10] [--size 1000] [--py-spy out.svg]
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from latency import Api, Server

CAMERAS = ["front_door", "backyard", "driveway"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_py_spy(pid: int, path: str) -> subprocess.Popen:
    """py-spy sampling the threads that hold the GIL (CPU, not waits); raw stacks for a .txt file."""
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "-o", path, "-p", str(pid)]
    command += ["-r", "200", "--gil", *(["-f", "raw"] if path.endswith(".txt") else [])]
    return subprocess.Popen(command)


def bulk(size: int, n: int) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "camera_id": CAMERAS[i % len(CAMERAS)],
            "object_type": "person",
            "confidence": 0.5 + (i % 50) / 100,
            "detected_at": now,
            "bbox": {"x": i, "y": n, "width": 10, "height": 20},
        }
        for i in range(size)
    ]


async def count_detections(ws, expected: int, seen: list[int]) -> None:
    while len(seen) < expected:
        frame = json.loads(await ws.recv())
        for message in frame["messages"] if frame["type"] == "batch" else [frame]:
            if message["type"] == "detection.new":
                seen.append(message["sequence"])


async def run(server: Server, posts: int, size: int, py_spy: str | None) -> None:
    pipeline = Api(server.port, server.pipeline_token())
    pipeline.connection.timeout = 60
    admin = server.user_token("admin")
    url = f"ws://127.0.0.1:{server.port}/ws/events/"
    rates = []
    async with connect(url, additional_headers={"Authorization": f"Token {admin}"}, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "connection.established"
        seen: list[int] = []
        reader = asyncio.create_task(count_detections(ws, (posts + 1) * size, seen))
        await asyncio.to_thread(pipeline.request, "POST", "/api/detections/", bulk(size, posts))  # warm-up
        spy = None
        if py_spy:
            spy = start_py_spy(server.process.pid, py_spy)
        cpu_start = cpu_seconds(server.process.pid)
        for n in range(posts):
            body = bulk(size, n)
            start = time.perf_counter()
            await asyncio.to_thread(pipeline.request, "POST", "/api/detections/", body)
            rates.append(size / (time.perf_counter() - start))
        try:
            async with asyncio.timeout(30):
                await asyncio.shield(reader)
        except TimeoutError:
            reader.cancel()
        # Until the socket has every detection: the CPU of the live delivery counts too.
        cpu = cpu_seconds(server.process.pid) - cpu_start
        if spy:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            spy.wait()
    received = [s for s in seen if s is not None]
    print(f"bulk POST of {size} detections, SQLite, broadcasts on, {posts} posts")
    print(f"  detections/s per POST: median {statistics.median(rates):8.0f}   best {max(rates):8.0f}")
    cpu_ms = cpu / posts * 1000 / size * 1000
    print(f"  server CPU per 1,000 detections: {cpu_ms:8.0f} ms (POSTs and their delivery)")
    print(
        f"  socket received {len(seen) - size} of {posts * size} (+{size} warm-up), "
        f"distinct sequences {len(set(received))}, duplicates {len(received) - len(set(received))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--py-spy", help="record the server with py-spy into this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lookout-ingest-") as data_dir:
        server = Server(Path(data_dir))
        try:
            asyncio.run(run(server, args.posts, args.size, args.py_spy))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
