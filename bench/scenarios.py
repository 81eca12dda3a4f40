"""The scenarios: each starts its own servers (a fresh one per target), measures, and stops them.

A scenario returns one row per target: a dict of figures (see bench/report.py for the columns).
Fan-out, burst, handshake and idle runs measure three targets side by side: Lookout (scale-out
setup: channels-redis, one daphne process), the naive Channels consumer and the `websockets` floor.
Ingest and latency runs measure Lookout alone.
"""

import asyncio
import contextlib
import http.client
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from websockets.asyncio.client import connect

from bench.clients import ClientPool
from bench.servers import BASE_DIR, Floor, Lookout, Naive, Run, django_env

TARGETS = {"lookout": lambda run: Lookout(run, redis=True, heartbeats=False), "naive": Naive, "floor": Floor}
ARRIVAL_TIMEOUT = 15
# Handshakes in flight per client process in the handshake run (other runs open sockets more gently,
# and retry: daphne drops a handshake its application has not accepted within 5 s).
HANDSHAKES_IN_FLIGHT = 25


@dataclass(frozen=True)
class Scale:
    """Counts and durations of a run: full, or quick (a few minutes in all)."""

    processes: int
    seconds: float
    burst: int
    handshakes: int
    idle_seconds: float
    ingest_posts: int
    latency_posts: int
    pipeline_batches: int
    clients_factor: float  # fan-out and idle client counts are multiplied by this
    # After the last publish, clients wait this long at most for what is missing, and give up
    # sooner when nothing arrived for quiet_seconds: what is missing then counts as lost.
    drain_seconds: float = 180
    quiet_seconds: float = 15


FULL = Scale(
    processes=4,
    seconds=10,
    burst=200,
    handshakes=1000,
    idle_seconds=31,
    ingest_posts=3,
    latency_posts=100,
    pipeline_batches=20,
    clients_factor=1.0,
)
QUICK = Scale(
    processes=2,
    seconds=2,
    burst=50,
    handshakes=200,
    idle_seconds=5,
    ingest_posts=2,
    latency_posts=20,
    pipeline_batches=5,
    clients_factor=0.1,
    drain_seconds=60,
    quiet_seconds=10,
)


def percentiles(samples) -> dict:
    """p50/p95/p99/max of seconds, in milliseconds (None without samples)."""
    values = sorted(samples)
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}

    def at(fraction: float) -> float:
        return round(values[round(fraction * (len(values) - 1))] * 1000, 2)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1)}


def client_pool(run: Run, scale: Scale, server, count: int, **options) -> ClientPool:
    """`count` client sockets for `server`, in the scale's processes on the clients' core."""
    return ClientPool(
        url=server.ws_url,
        headers=server.headers,
        count=count,
        processes=scale.processes,
        core=run.client_core,
        greeting=server.greeting,
        **options,
    )


# Fan-out: paced and unpaced


def fanout(run: Run, scale: Scale, target: str, *, clients: int, rate: float | None, count: int) -> dict:
    """`clients` sockets; the publisher sends `count` messages at `rate` a second (None: unpaced)."""
    with TARGETS[target](run) as server:
        pool = client_pool(run, scale, server, clients)
        try:
            opened = pool.open()
            cpu_before = server.cpu_seconds()
            published = server.publish(count=count, rate=rate, timeout=(count / rate if rate else 0) + 300)
            got = pool.drain(count, seconds=scale.drain_seconds, quiet=scale.quiet_seconds)
            cpu = server.cpu_seconds() - cpu_before
            counters = server.counters() if isinstance(server, Lookout) else {}
        finally:
            pool.stop()
    latencies = got.pop("latencies")
    # Delivery window: from the first publish to the last arrival at any client.
    window = got.pop("last_arrival") - published["first"]
    return {
        "clients": opened["opened"],
        "refused": opened["failed"],
        "rate": rate,
        "messages": count,
        "publish_seconds": round(published["last"] - published["first"], 2),
        **got,
        "msg_per_s": round(got["delivered"] / window, 1) if got["delivered"] else None,
        **percentiles(latencies),
        # Over the delivery window: the server idles before the first publish and after the last arrival.
        "cpu_percent": round(100 * cpu / window, 1) if got["delivered"] else None,
        "cpu_us_per_frame": round(cpu * 1e6 / got["delivered"], 1) if got["delivered"] else None,
        "server_counters": counters,
        "errors": opened["errors"],
    }


# Handshakes and idle sockets


def handshakes(run: Run, scale: Scale, target: str, *, count: int) -> dict:
    """Open `count` sockets as fast as the server takes them, each tried once; handshakes per second."""
    with TARGETS[target](run) as server:
        cpu_before = server.cpu_seconds()
        pool = client_pool(
            run,
            scale,
            server,
            count,
            in_flight=HANDSHAKES_IN_FLIGHT,
            attempts=1,
        )
        try:
            opened = pool.open()
            cpu = server.cpu_seconds() - cpu_before
        finally:
            pool.stop()
    return {
        "clients": opened["opened"],
        "refused": opened["failed"],
        "handshakes_per_s": round(opened["opened"] / opened["seconds"], 1) if opened["seconds"] else None,
        "cpu_us_per_handshake": round(cpu * 1e6 / opened["opened"], 1) if opened["opened"] else None,
        "errors": opened["errors"],
    }


def idle(run: Run, scale: Scale, target: str, *, count: int) -> dict:
    """Memory per idle socket (RSS growth / sockets) and CPU while `count` sockets sit idle."""
    # Lookout's periodic heartbeat is part of what idle sockets cost.
    server = Lookout(run, redis=True) if target == "lookout" else TARGETS[target](run)
    with server:
        time.sleep(1)  # let start-up work settle before the base figure
        base = server.rss()
        pool = client_pool(run, scale, server, count)
        try:
            opened = pool.open()
            time.sleep(2)
            cpu_before = server.cpu_seconds()
            time.sleep(scale.idle_seconds)
            cpu = server.cpu_seconds() - cpu_before
            rss = server.rss()
        finally:
            pool.stop()
    return {
        "clients": opened["opened"],
        "refused": opened["failed"],
        "base_rss_mb": round(base / 2**20, 1),
        "kb_per_connection": round((rss - base) / 1024 / opened["opened"], 1) if opened["opened"] else None,
        "idle_cpu_percent": round(100 * cpu / scale.idle_seconds, 2),
        "idle_seconds": scale.idle_seconds,
        "errors": opened["errors"],
    }


# Lookout alone: bulk ingest and REST → WebSocket latency


class Api:
    """A keep-alive HTTP connection with a token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body=None):
        self.connection.request(method, path, body=body and orjson.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)


def _messages(frame: dict):
    return frame["messages"] if frame["type"] == "batch" else [frame]


def ingest(run: Run, scale: Scale, *, postgres: bool) -> dict:
    """Bulk POSTs of 1,000 detections while a socket on /ws/events/ counts their detection.new frames.

    SQLite runs the embedded default (in-memory layer, worker thread); PostgreSQL the scale-out
    setup (channels-redis, no worker).
    """
    rows_per_post = 1000
    with Lookout(run, redis=postgres, postgres=postgres) as server:
        pipeline = Api(server.port, server.tokens["pipeline"])

        async def measure() -> dict:
            seen: set[int] = set()
            all_seen = asyncio.Event()
            total = scale.ingest_posts * rows_per_post
            closed = None
            async with connect(
                server.ws_url,
                additional_headers=server.headers,
                compression=None,
                ping_interval=None,
                max_size=None,
                max_queue=None,
            ) as ws:
                assert orjson.loads(await ws.recv())["type"] == "connection.established"

                async def read() -> None:
                    async for text in ws:
                        seen.update(
                            m["payload"]["id"]
                            for m in _messages(orjson.loads(text))
                            if m["type"] == "detection.new"
                        )
                        if len(seen) >= total:
                            all_seen.set()

                reader = asyncio.create_task(read())
                durations, ids, cpu = [], [], 0.0
                for n in range(scale.ingest_posts):
                    now = datetime.now(UTC).isoformat()
                    body = [
                        {
                            "camera_id": "front_door",
                            "object_type": "person",
                            "confidence": 0.9,
                            "detected_at": now,
                            "bbox": {"x": i, "y": n, "width": 10, "height": 20},
                        }
                        for i in range(rows_per_post)
                    ]
                    cpu_before, start = server.cpu_seconds(), time.perf_counter()
                    posted = await asyncio.to_thread(pipeline.request, "POST", "/api/detections/", body)
                    durations.append(time.perf_counter() - start)
                    cpu += server.cpu_seconds() - cpu_before
                    ids += [row["id"] for row in posted]
                wanted = set(ids)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(60):
                        await all_seen.wait()
                reader.cancel()
                closed = ws.close_code
            return {
                "durations": durations,
                "delivered": len(wanted & seen),
                "expected": len(wanted),
                "cpu": cpu,
                "closed": closed,
            }

        got = asyncio.run(measure())
    total = sum(got["durations"])
    lost = got["expected"] - got["delivered"]
    announced = got["closed"] not in (None, 1000)
    return {
        "clients": 1,
        "posts": scale.ingest_posts,
        "rows_per_post": rows_per_post,
        "detections_per_s": round(got["expected"] / total, 1),
        "post_seconds_median": round(statistics.median(got["durations"]), 3),
        "cpu_us_per_detection": round(got["cpu"] * 1e6 / got["expected"], 1),
        "delivered": got["delivered"],
        "expected": got["expected"],
        "lost_silent": 0 if announced else lost,
        "lost_announced": lost if announced else 0,
    }


def rest_latency(run: Run, scale: Scale) -> dict:
    """REST POST → WebSocket arrival on the embedded default, against a plain GET round trip.

    In turn: GET /api/cameras/ (the baseline round trip), then POST /api/events/ timed until
    its event.created arrives on /ws/events/ (read as it arrives, even before the HTTP response).
    """
    with Lookout(run, redis=False) as server:
        pipeline = Api(server.port, server.tokens["pipeline"])
        reader = Api(server.port, server.tokens["admin"])

        async def measure() -> dict[str, list[float]]:
            samples: dict[str, list[float]] = {"get": [], "arrival": [], "post": []}
            async with connect(server.ws_url, additional_headers=server.headers, compression=None) as ws:
                assert orjson.loads(await ws.recv())["type"] == "connection.established"
                for n in range(scale.latency_posts):
                    start = time.perf_counter()
                    await asyncio.to_thread(reader.request, "GET", "/api/cameras/")
                    samples["get"].append(time.perf_counter() - start)
                    summary = f"latency probe {n}"
                    body = {
                        "camera_id": "front_door",
                        "started_at": datetime.now(UTC).isoformat(),
                        "risk_score": 30,
                        "summary": summary,
                    }
                    start = time.perf_counter()
                    posting = asyncio.create_task(
                        asyncio.to_thread(pipeline.request, "POST", "/api/events/", body)
                    )
                    async with asyncio.timeout(ARRIVAL_TIMEOUT):
                        while True:
                            frame = orjson.loads(await ws.recv())
                            if frame["type"] == "event.created" and frame["payload"]["summary"] == summary:
                                break
                    samples["arrival"].append(time.perf_counter() - start)
                    await posting
                    samples["post"].append(time.perf_counter() - start)
            return samples

        samples = asyncio.run(measure())
    get_median = statistics.median(samples["get"])
    return {
        "clients": 1,
        "posts": scale.latency_posts,
        **percentiles(samples["arrival"]),
        "get_p50_ms": round(get_median * 1000, 2),
        "post_p50_ms": round(statistics.median(samples["post"]) * 1000, 2),
        "arrival_over_get": round(statistics.median(samples["arrival"]) / get_median, 2),
        "delivered": len(samples["arrival"]),
        "expected": scale.latency_posts,
        "lost_silent": 0,
        "lost_announced": 0,
    }


def pipeline_latency(run: Run, scale: Scale) -> dict:
    """bench/pipeline_latency.py (one process: the server and its client): batch close → alert."""
    argv = [sys.executable, "-m", "bench.pipeline_latency", "--count", str(scale.pipeline_batches), "--json"]
    done = subprocess.run(
        argv, cwd=BASE_DIR, capture_output=True, text=True, timeout=600, env=django_env(run.dir / "pipeline")
    )
    if done.returncode:
        raise RuntimeError(
            f"pipeline_latency failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    samples = json.loads(done.stdout.strip().splitlines()[-1])["samples"]
    return {
        "clients": 1,
        "batches": len(samples),
        **percentiles(samples),
        "delivered": len(samples),
        "expected": scale.pipeline_batches,
        "lost_silent": 0,
        "lost_announced": 0,
    }


def scenarios(scale: Scale) -> dict:
    """Name → (description, [(target, function(run))])."""
    table: dict = {}
    per_target = ("lookout", "naive", "floor")
    for clients, rate in ((1000, 10), (1000, 20), (2000, 10), (2000, 20)):
        n = max(10, int(clients * scale.clients_factor))
        count = int(rate * scale.seconds)
        table[f"fanout-{clients}x{rate}"] = (
            f"paced fan-out: {n} clients × {rate} msg/s for {scale.seconds:g} s ({count} messages each)",
            [
                (
                    t,
                    lambda run, t=t, n=n, rate=rate, count=count: fanout(
                        run, scale, t, clients=n, rate=rate, count=count
                    ),
                )
                for t in per_target
            ],
        )
    n = max(10, int(1000 * scale.clients_factor))
    table["burst"] = (
        f"unpaced burst: {n} clients × {scale.burst} messages published as fast as the publisher can",
        [
            (t, lambda run, t=t, n=n: fanout(run, scale, t, clients=n, rate=None, count=scale.burst))
            for t in per_target
        ],
    )
    table["handshake"] = (
        f"handshake rate: {scale.handshakes} sockets, "
        f"{scale.processes} client processes × {HANDSHAKES_IN_FLIGHT} in flight",
        [(t, lambda run, t=t: handshakes(run, scale, t, count=scale.handshakes)) for t in per_target],
    )
    for clients in (1000, 5000):
        n = max(10, int(clients * scale.clients_factor))
        table[f"idle-{clients}"] = (
            f"idle: memory per socket and CPU over {scale.idle_seconds:g} s with {n} idle sockets",
            [(t, lambda run, t=t, n=n: idle(run, scale, t, count=n)) for t in per_target],
        )
    table["ingest-sqlite"] = (
        f"bulk ingest: {scale.ingest_posts} POSTs of 1,000 detections, embedded default "
        "(SQLite, in-memory layer)",
        [("lookout", lambda run: ingest(run, scale, postgres=False))],
    )
    table["ingest-postgres"] = (
        f"bulk ingest: {scale.ingest_posts} POSTs of 1,000 detections, PostgreSQL + channels-redis",
        [("lookout", lambda run: ingest(run, scale, postgres=True))],
    )
    table["rest-latency"] = (
        f"REST POST → WebSocket arrival: {scale.latency_posts} sequential posts, embedded default",
        [("lookout", lambda run: rest_latency(run, scale))],
    )
    table["pipeline-latency"] = (
        f"batch close → alert.created at a client: {scale.pipeline_batches} batches of 30, embedded default",
        [("lookout", lambda run: pipeline_latency(run, scale))],
    )
    return table
