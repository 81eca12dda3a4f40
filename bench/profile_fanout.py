"""Profile the send path: server CPU per delivered frame, handshake cost, idle cost (a script, not a test).

    .venv/bin/python bench/profile_fanout.py                       # 500 clients, 2,000 messages
    .venv/bin/python bench/profile_fanout.py --clients 1000 --messages 3000 --py-spy burst.txt

Starts `manage.py run --demo --no-simulator --no-worker` against a throw-away Redis (channels-redis,
so a separate publisher process can reach the hub) and SQLite, pinned to CPU 0 where there are two.
Client processes (pinned to the other CPU) open `/ws/` as the demo admin and subscribe to `system`;
the publisher sends `system.error` messages (ephemeral: no outbox row), 50 a second. It prints,
from the server's /proc/<pid>/stat and status:

- handshakes: the wall time and server CPU to open every socket (CPU µs per handshake);
- idle: server CPU over `--idle` seconds with every socket open and silent, and RSS per socket;
- burst: delivered/expected, msg/s, and server CPU µs per delivered frame.

With `--py-spy FILE`, py-spy samples the server during the burst and writes the collapsed stacks
to FILE, then prints the functions with the most own time (py-spy must be installed).
"""

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
MARK = "system.error"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


async def _clients(url: str, token: str, count: int, expected: int, pipe) -> None:
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Token {token}"}

    async def opened():
        return await connect(url, additional_headers=headers, open_timeout=60, max_size=None)

    sockets = []
    started = time.monotonic()
    pending = set()
    for _ in range(count):
        pending.add(asyncio.create_task(opened()))
        if len(pending) >= 10:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            sockets += [task.result() for task in done]
    sockets += await asyncio.gather(*pending)
    for ws in sockets:
        await ws.send(json.dumps({"action": "subscribe", "channels": ["system"], "request_id": 1}))
    for ws in sockets:
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
    pipe.send(("connected", time.monotonic() - started))
    pipe.recv()  # the burst is about to start

    async def count_frames(ws) -> int:
        # Stops early when nothing arrives for 10 s: a lost message must not hang the run.
        seen = 0
        while seen < expected:
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=10)
            except TimeoutError:
                break
            if json.loads(frame)["type"] == MARK:
                seen += 1
        return seen

    results = await asyncio.gather(*(count_frames(ws) for ws in sockets), return_exceptions=True)
    pipe.send(("received", sum(r for r in results if isinstance(r, int))))
    pipe.recv()
    for ws in sockets:
        await ws.close()


def client_process(url: str, token: str, count: int, expected: int, pipe) -> None:
    asyncio.run(_clients(url, token, count, expected, pipe))


PUBLISH = """
import time
from realtime.broadcast import Message, publish_many
messages = [Message("system.error", {"error": "bench", "message": "x" * 180, "timestamp": str(time.time()),
            "n": n}) for n in range(COUNT)]
# Chunks of 10 every 0.2 s: an unpaced backlog that outlives the layer's 30 s expiry loses messages.
for start in range(0, COUNT, 10):
    publish_many(messages[start:start + 10])
    time.sleep(0.2)
"""


def py_spy(pid: int, output: Path) -> subprocess.Popen:
    """py-spy sampling `pid` into `output` (collapsed stacks) until it gets SIGINT."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [binary, "record", "-p", str(pid), "-o", str(output), "-f", "raw", "-r", "200", "--nonblocking"]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return spy


def stop_spy(spy: subprocess.Popen, output: Path) -> None:
    """Stop py-spy and print the functions with the most own time."""
    spy.send_signal(signal.SIGINT)
    spy.wait(30)
    print(f"  own time (py-spy, all threads, {output}):")
    for name, share in own_time(output):
        print(f"    {share:5.1f} %  {name}")


def own_time(collapsed: Path, top: int = 25) -> list[tuple[str, float]]:
    """Leaf functions by share of samples in py-spy's collapsed output."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        leaf = stack.split(";")[-1]
        counts[re.sub(r" \((.*/)?site-packages/", " (", leaf)] += int(n)
        total += int(n)
    return [(name, 100 * n / total) for name, n in counts.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--idle", type=float, default=10)
    parser.add_argument("--py-spy", type=Path, default=None, dest="py_spy", help="profile the burst")
    parser.add_argument("--py-spy-handshakes", type=Path, default=None, help="profile the handshakes")
    parser.add_argument("--py-spy-idle", type=Path, default=None, help="profile the idle period")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lookout-profile-"))
    redis_port, port = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        cwd=tmp,
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "LOOKOUT_DATA_DIR": str(tmp / "data"),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REALTIME_CONNECT_RATE": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp / "server.log").open("wb")
    run = ["run", "--demo", "--no-simulator", "--no-worker", "--port", str(port)]
    server = subprocess.Popen(
        [*pinned(0), sys.executable, "manage.py", *run],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    spy = None
    try:
        deadline = time.monotonic() + 60
        while b"Lookout is running" not in (tmp / "server.log").read_bytes():
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit((tmp / "server.log").read_text())
            time.sleep(0.2)
        token = re.search(
            r"Generated token (\S+)",
            subprocess.run(
                [sys.executable, "manage.py", "drf_create_token", "admin"],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout,
        ).group(1)

        url = f"ws://127.0.0.1:{port}/ws/"
        handshake_spy = py_spy(server.pid, args.py_spy_handshakes) if args.py_spy_handshakes else None
        base_rss, cpu0, wall0 = rss_kib(server.pid), cpu_seconds(server.pid), time.monotonic()
        ctx = multiprocessing.get_context("fork")
        pipes, workers = [], []
        share = [len(range(i, args.clients, args.processes)) for i in range(args.processes)]
        for count in share:
            ours, theirs = ctx.Pipe()
            worker = ctx.Process(target=client_process, args=(url, token, count, args.messages, theirs))
            worker.start()
            if pinned(1):
                os.sched_setaffinity(worker.pid, {1})
            pipes.append(ours)
            workers.append(worker)
        for pipe in pipes:
            assert pipe.recv()[0] == "connected"
        wall1, cpu1 = time.monotonic(), cpu_seconds(server.pid)
        print(
            f"handshakes: {args.clients} in {wall1 - wall0:.2f} s ({args.clients / (wall1 - wall0):.0f}/s, "
            f"incl. subscribe), server CPU {1e6 * (cpu1 - cpu0) / args.clients:.0f} µs per connection"
        )
        if handshake_spy is not None:
            stop_spy(handshake_spy, args.py_spy_handshakes)
        time.sleep(2)  # let the last handshakes' work settle before measuring idle
        idle_spy = py_spy(server.pid, args.py_spy_idle) if args.py_spy_idle else None
        cpu_idle0 = cpu_seconds(server.pid)
        time.sleep(args.idle)
        cpu_idle1, rss = cpu_seconds(server.pid), rss_kib(server.pid)
        if idle_spy is not None:
            stop_spy(idle_spy, args.py_spy_idle)
        print(
            f"idle: {100 * (cpu_idle1 - cpu_idle0) / args.idle:.1f} % CPU over {args.idle:.0f} s; RSS "
            f"{rss / 1024:.0f} MiB, {(rss - base_rss) / args.clients:.1f} KiB per connection"
        )

        if args.py_spy:
            spy = py_spy(server.pid, args.py_spy)
        for pipe in pipes:
            pipe.send("go")
        cpu2, wall2 = cpu_seconds(server.pid), time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "--no-imports",
                "-c",
                PUBLISH.replace("COUNT", f"{args.messages}"),
            ],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
        received = sum(pipe.recv()[1] for pipe in pipes)
        wall3, cpu3 = time.monotonic(), cpu_seconds(server.pid)
        if spy is not None:
            stop_spy(spy, args.py_spy)
            spy = None
        expected = args.clients * args.messages
        print(
            f"burst: {received}/{expected} delivered, {received / (wall3 - wall2):.0f} msg/s "
            f"(incl. publisher start-up), server CPU {1e6 * (cpu3 - cpu2) / max(received, 1):.1f} µs/frame"
        )
        for pipe in pipes:
            pipe.send("close")
        for worker in workers:
            worker.join(30)
    finally:
        if spy is not None:
            spy.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        redis.terminate()
        redis.wait(10)
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(tmp)


if __name__ == "__main__":
    main()
