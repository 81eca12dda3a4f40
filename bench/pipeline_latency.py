"""Batch-closing call → `alert.created` at a WebSocket client, on the embedded default.

The embedded default is one process: daphne, SQLite, the in-memory channel layer and the periodic
work. So this script is that process: it migrates a throw-away data directory, seeds the demo,
serves with daphne on a free loopback port, and from a client thread, N times in turn: bulk-POSTs
30 detections for one camera, waits for their frames, then calls `batches_close_due` (as of 31 s
later, past the idle timeout) on the server's event loop, as the in-process worker does, and
times until `alert.created` for that batch arrives on `/ws/` (subscribed to every channel). The
heuristic analyzer scores; a bench rule (threshold 0, no cooldown) makes every event alert.

    .venv/bin/python -m bench.pipeline_latency [--count 20] [--json]

The suite (`python -m bench run --scenario pipeline-latency`) runs it with `--json`.
"""

import argparse
import asyncio
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

ARRIVAL_TIMEOUT = 15


def measure(port: int, tokens: dict[str, str], count: int, close_on_server) -> list[float]:
    """The client side, in its own thread and event loop."""
    from websockets.asyncio.client import connect

    from realtime.event_types import get_all_channels

    async def run() -> list[float]:
        http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Token {tokens['pipeline']}", "Content-Type": "application/json"}
        samples = []
        url = f"ws://127.0.0.1:{port}/ws/"
        async with connect(url, additional_headers={"Authorization": f"Token {tokens['admin']}"}) as ws:

            async def frames():
                while True:
                    frame = json.loads(await ws.recv())
                    for message in frame["messages"] if frame["type"] == "batch" else [frame]:
                        yield message

            stream = frames()
            await ws.send(json.dumps({"action": "subscribe", "channels": get_all_channels()}))
            async with asyncio.timeout(ARRIVAL_TIMEOUT):
                async for message in stream:
                    if message["type"] == "subscribed":
                        break
            for n in range(count):
                now = datetime.now(UTC)
                rows = [
                    {
                        "camera_id": "front_door",
                        "object_type": "person",
                        "confidence": 0.9,
                        "detected_at": (now + timedelta(milliseconds=n)).isoformat(),
                    }
                    for _ in range(30)
                ]
                http_conn.request("POST", "/api/detections/", body=json.dumps(rows), headers=headers)
                response = http_conn.getresponse()
                posted = json.loads(response.read())
                assert response.status == 201, posted
                batch_id, last_id = posted[0]["batch_id"], posted[-1]["id"]
                async with asyncio.timeout(ARRIVAL_TIMEOUT):
                    async for message in stream:
                        if message["type"] == "detection.new" and message["payload"]["id"] == last_id:
                            break
                event_id = None
                start = time.perf_counter()
                # Past the idle timeout (30 s) of detections received just now.
                closing = close_on_server(datetime.now(UTC) + timedelta(seconds=31))
                async with asyncio.timeout(ARRIVAL_TIMEOUT):
                    async for message in stream:
                        if message["type"] == "event.created" and message["payload"]["batch_id"] == str(
                            batch_id
                        ):
                            event_id = message["payload"]["id"]
                        if message["type"] == "alert.created" and message["payload"]["event_id"] == event_id:
                            break
                samples.append(time.perf_counter() - start)
                await asyncio.wrap_future(closing)
        http_conn.close()
        return samples

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=20, help="number of batches, one after another (default 20)"
    )
    parser.add_argument("--json", action="store_true", help="print the samples (seconds) as one JSON line")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="lookout-bench-pipeline-")
    for name in ("DATABASE_URL", "REDIS_URL", "EVENT_ANALYZER"):
        os.environ.pop(name, None)
    os.environ |= {"LOOKOUT_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "project.settings"}

    import django

    django.setup()
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from events.pipeline import batches_close_due
    from events.rules import alert_rule_create
    from project.runner import database_migrate, demo_seed, serve
    from project.testing.servers import free_port

    database_migrate()
    demo = demo_seed()
    alert_rule_create(name="Bench: every event", min_risk_score=0, cooldown_seconds=0)
    admin = get_user_model().objects.get(username=demo["admin"]["username"])
    tokens = {"admin": Token.objects.get_or_create(user=admin)[0].key, "pipeline": demo["pipeline"]["token"]}
    port = free_port()
    result: dict = {}

    def close_on_server(now):
        from twisted.internet import reactor

        # On the server's own loop, as the embedded worker runs: the ORM in a worker thread, the
        # broadcasts back on the loop that serves the sockets.
        call = sync_to_async(batches_close_due, thread_sensitive=False)(now=now)
        return asyncio.run_coroutine_threadsafe(call, reactor._asyncioEventloop)

    def client() -> None:
        from twisted.internet import reactor

        try:
            result["samples"] = measure(port, tokens, args.count, close_on_server)
        # Whatever went wrong is raised in the main thread, once the server has stopped.
        except BaseException as error:  # noqa: BLE001
            result["error"] = error
        finally:
            reactor.callFromThread(reactor.stop)

    serve(host="127.0.0.1", port=port, on_ready=lambda: threading.Thread(target=client, daemon=True).start())
    if "error" in result:
        raise result["error"]
    if args.json:
        print(json.dumps({"samples": result["samples"]}))
        return
    ms = sorted(s * 1000 for s in result["samples"])
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    setup = "embedded default (SQLite, in-memory layer, heuristic analyzer)"
    print(f"{setup}, {args.count} batches of 30 detections, loopback")
    print(
        f"  close call → alert.created at the client   median {statistics.median(ms):7.2f} ms"
        f"   p95 {p95:7.2f} ms   min {ms[0]:7.2f} ms   max {ms[-1]:7.2f} ms"
    )


if __name__ == "__main__":
    main()
