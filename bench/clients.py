"""Client processes: each opens its share of WebSockets (asyncio + `websockets`) and reads them.

The parent drives them through a pipe: `open` (connect every socket, with a bounded number of
handshakes in flight), `drain` (wait until every socket has every bench message, or a deadline),
`close`. Each socket keeps the bench numbers it received, one latency sample per first arrival
(receive time minus the publish time in the payload), and what the server told it about loss.

A socket's missing messages count as announced when the server closed it (any code but 1000) or
told it to resume: a frame whose type names `resume`, or a control frame (heartbeat or other)
whose `last_sequence` is past the highest sequence the socket received, as SPEC §4 has idle
clients find out that they missed something. Anything else missing is a silent loss.
"""

import asyncio
import contextlib
import multiprocessing
import os
import resource
import time
from array import array
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

# Frames a server sends that are not bench messages but may carry a `last_sequence` as a hint.
GREETING = "connection.established"


def raise_fd_limit() -> None:
    """Thousands of sockets per process: lift the soft open-file limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Socket:
    ws: object = None
    numbers: set = field(default_factory=set)
    highest_sequence: int = 0
    hinted_sequence: int = 0
    resume_told: bool = False
    duplicates: int = 0
    close_code: int | None = None
    greeted: asyncio.Event = field(default_factory=asyncio.Event)

    def announced(self) -> bool:
        """Whether the server told this socket that it may have lost messages."""
        closed_by_server = self.close_code not in (None, 1000)
        return closed_by_server or self.resume_told or self.hinted_sequence > self.highest_sequence


class Worker:
    def __init__(
        self, url: str, headers: dict, count: int, *, greeting: bool, in_flight: int, attempts: int = 1
    ) -> None:
        self.url, self.headers, self.count = url, headers, count
        self.greeting, self.in_flight, self.attempts = greeting, in_flight, attempts
        self.sockets: list[Socket] = []
        self.latencies = array("d")
        self.readers: list[asyncio.Task] = []
        self.errors: list[str] = []
        self.last_arrival = 0.0

    async def open(self) -> dict:
        gate = asyncio.Semaphore(self.in_flight)
        started = time.time()
        ended = [started]

        async def one() -> None:
            async with gate:
                for attempt in range(1, self.attempts + 1):
                    try:
                        ws = await connect(
                            self.url,
                            additional_headers=self.headers,
                            compression=None,
                            ping_interval=None,  # client pings would cost the server CPU in idle runs
                            open_timeout=120,
                            max_size=None,
                            max_queue=None,  # never push back on the server: it must not see us as slow
                        )
                        break
                    # A refused handshake is a figure (or, where retried, a pause), not a crash.
                    except Exception as error:  # noqa: BLE001
                        if attempt == self.attempts:
                            self.errors.append(f"{type(error).__name__}: {error}"[:200])
                            return
                        await asyncio.sleep(attempt)
                ended[0] = max(ended[0], time.time())
                sock = Socket(ws=ws)
                self.sockets.append(sock)
                self.readers.append(asyncio.create_task(self.read(sock)))
                if self.greeting:
                    # The greeting comes after the server joined the socket's groups.
                    try:
                        async with asyncio.timeout(120):
                            await sock.greeted.wait()
                    except TimeoutError:
                        self.errors.append("no connection.established within 120 s")

        await asyncio.gather(*(one() for _ in range(self.count)))
        return {
            "opened": len(self.sockets),
            "failed": len(self.errors),
            "errors": self.errors[:3],
            "started": started,
            "ended": ended[0],
        }

    async def read(self, sock: Socket) -> None:
        try:
            async for text in sock.ws:
                now = time.time()
                frame = orjson.loads(text)
                kind = frame.get("type", "")
                for message in frame["messages"] if kind == "batch" else (frame,):
                    self.take(sock, message, now)
                sock.greeted.set()
        except ConnectionClosed:
            pass
        finally:
            sock.greeted.set()
            sock.close_code = sock.ws.close_code

    def take(self, sock: Socket, message: dict, now: float) -> None:
        payload = message.get("payload")
        kind = message.get("type", "")
        if isinstance(payload, dict) and "bench" in payload:
            number = payload["bench"]
            if number in sock.numbers:
                sock.duplicates += 1
            else:
                sock.numbers.add(number)
                self.latencies.append(now - payload["t"])
                self.last_arrival = now
            sock.highest_sequence = max(sock.highest_sequence, message.get("sequence") or 0)
        elif "resume" in kind and kind != "resume.completed":
            sock.resume_told = True
        elif kind != GREETING and isinstance(payload, dict) and isinstance(payload.get("last_sequence"), int):
            sock.hinted_sequence = max(sock.hinted_sequence, payload["last_sequence"])

    async def drain(self, expected: int, seconds: float, quiet: float) -> dict:
        """Wait until every socket holds bench numbers 0 … expected - 1, until nothing arrived for
        `quiet` seconds, or for `seconds` at most."""
        wanted = set(range(expected))
        start = time.time()
        while time.time() < start + seconds and time.time() - max(start, self.last_arrival) < quiet:
            # Only bench numbers below `expected` exist, so a count tells (cheap on the client core).
            if all(len(s.numbers) >= expected or s.close_code is not None for s in self.sockets):
                break
            await asyncio.sleep(0.2)
        delivered = silent = announced = duplicates = 0
        closes: dict[str, int] = {}
        for sock in self.sockets:
            got = len(wanted & sock.numbers)
            delivered += got
            duplicates += sock.duplicates
            missing = expected - got
            if missing and sock.announced():
                announced += missing
            else:
                silent += missing
            if sock.close_code is not None:
                closes[str(sock.close_code)] = closes.get(str(sock.close_code), 0) + 1
            sock.numbers.clear()
        latencies, self.latencies = self.latencies, array("d")
        return {
            "delivered": delivered,
            "expected": expected * len(self.sockets),
            "lost_silent": silent,
            "lost_announced": announced,
            "duplicates": duplicates,
            "closes": closes,
            "latencies": latencies.tobytes(),
            "last_arrival": self.last_arrival,
        }

    async def close(self) -> None:
        gate = asyncio.Semaphore(200)

        async def one(sock: Socket) -> None:
            async with gate:
                try:
                    async with asyncio.timeout(10):
                        await sock.ws.close()
                except (TimeoutError, OSError):
                    pass

        await asyncio.gather(*(one(s) for s in self.sockets))
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


def worker_main(pipe, url: str, headers: dict, count: int, core: int | None, options: dict) -> None:
    """A client process: obey the parent's commands until `close`."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    raise_fd_limit()

    async def run() -> None:
        worker = Worker(url, headers, count, **options)
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, pipe.recv)
            if command == "open":
                pipe.send(await worker.open())
            elif command == "drain":
                pipe.send(await worker.drain(*args))
            elif command == "close":
                await worker.close()
                pipe.send({"closed": len(worker.sockets)})
                return

    asyncio.run(run())


class ClientPool:
    """`processes` client processes sharing `count` sockets to `url`, pinned to `core`.

    `in_flight` handshakes at most per process; `attempts` per socket (1: a refusal is final).
    """

    def __init__(self, *, url, headers, count, processes, core, greeting, in_flight=10, attempts=3):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        options = {"greeting": greeting, "in_flight": in_flight, "attempts": attempts}
        shares = [count // processes + (i < count % processes) for i in range(processes)]
        for share in shares:
            if not share:
                continue
            parent, child = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(child, url, headers, share, core, options),
                daemon=True,
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def ask(self, *command, timeout: float = 600) -> list[dict]:
        """Send a command to every worker, then collect every answer."""
        for pipe in self.pipes:
            pipe.send(command)
        answers = []
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if not pipe.poll(timeout):
                raise RuntimeError(
                    f"client process {process.pid} did not answer {command[0]!r} in {timeout} s"
                )
            answers.append(pipe.recv())
        return answers

    def open(self) -> dict:
        """Open every socket; totals and the handshake window across processes."""
        answers = self.ask("open")
        return {
            "opened": sum(a["opened"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "errors": [e for a in answers for e in a["errors"]][:3],
            "seconds": max(a["ended"] for a in answers) - min(a["started"] for a in answers),
        }

    def drain(self, expected: int, *, seconds: float, quiet: float) -> dict:
        """Wait for every socket to hold `expected` bench messages (see Worker.drain); totals, latencies."""
        answers = self.ask("drain", expected, seconds, quiet, timeout=seconds + 120)
        latencies = array("d")
        for answer in answers:
            latencies.frombytes(answer["latencies"])
        closes: dict[str, int] = {}
        for answer in answers:
            for code, n in answer["closes"].items():
                closes[code] = closes.get(code, 0) + n
        totals = {
            k: sum(a[k] for a in answers)
            for k in ("delivered", "expected", "lost_silent", "lost_announced", "duplicates")
        }
        last_arrival = max(a["last_arrival"] for a in answers)
        return {**totals, "closes": closes, "latencies": latencies, "last_arrival": last_arrival}

    def stop(self) -> None:
        """Close every socket and end every process (by PID when it does not end by itself)."""
        with contextlib.suppress(RuntimeError, OSError, EOFError):
            self.ask("close", timeout=60)
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
