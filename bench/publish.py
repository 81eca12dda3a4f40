"""The publisher process of a fan-out run: `count` messages to one target, paced or unpaced.

Each message carries its number (`bench`) and its publish time (`t`, `time.time()` just before it
is handed over) in the payload; clients subtract `t` from their receive time. Frames are shaped
like a Lookout envelope (~300 bytes) for every target. Prints one JSON line at the end:
`{"published": n, "first": t, "last": t}`.

    python -m bench.publish lookout|naive|floor --count N [--rate R] [--url URL]

- lookout: Django set up against the server's database and Redis (the environment says which);
  every message goes through the one broadcaster, `realtime.broadcast.publish_many`, as
  `event.created` (durable: numbered in the outbox, then handed to the layer on commit).
- naive: `group_send` on channels-redis to the baseline's group.
- floor: one WebSocket to the floor server's `/publish`, one text frame per message.
"""

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime

# Unpaced runs hand messages over in chunks of this many (one transaction, one layer round).
CHUNK = 50
# When the first message was handed over (set up and imports come before and are not measured).
window: dict[str, float] = {}
PAD = "x" * 60


def payload(number: int) -> dict:
    """An `event.created` payload with the bench fields (its number and publish time)."""
    return {
        "id": number,
        "camera_id": "front_door",
        "risk_score": 50,
        "risk_level": "medium",
        "summary": f"bench message {number} {PAD}",
        "started_at": datetime.now(UTC).isoformat(),
        "bench": number,
        "t": time.time(),
    }


def envelope(number: int) -> dict:
    """What the baselines send: the shape of a Lookout envelope, so frames are the same size."""
    return {
        "type": "event.created",
        "channel": "events",
        "sequence": number + 1,
        "timestamp": datetime.now(UTC).isoformat(),
        "correlation_id": None,
        "payload": payload(number),
    }


def chunks(count: int, rate: float | None):
    """(first number, how many, seconds to wait first): one message per tick when paced, else CHUNK."""
    start = time.monotonic()
    number = 0
    while number < count:
        size = 1 if rate else min(CHUNK, count - number)
        wait = start + number / rate - time.monotonic() if rate else 0
        if not number:
            window["first"] = time.time() + max(0.0, wait)
        yield number, size, max(0.0, wait)
        number += size


def publish_lookout(count: int, rate: float | None) -> None:
    import django

    django.setup()
    from django.db import transaction

    from realtime.broadcast import Message, publish_many

    for first, size, wait in chunks(count, rate):
        time.sleep(wait)
        with transaction.atomic():
            publish_many([Message("event.created", payload(n)) for n in range(first, first + size)])


def publish_naive(count: int, rate: float | None, url: str) -> None:
    from channels_redis.core import RedisChannelLayer

    from bench.naive_settings import GROUP

    async def run() -> None:
        layer = RedisChannelLayer(hosts=[url])
        for first, size, wait in chunks(count, rate):
            await asyncio.sleep(wait)
            for n in range(first, first + size):
                await layer.group_send(GROUP, {"type": "bench.message", "payload": envelope(n)})

    asyncio.run(run())


def publish_floor(count: int, rate: float | None, url: str) -> None:
    from websockets.asyncio.client import connect

    async def run() -> None:
        async with connect(url, compression=None, ping_interval=None) as ws:
            for first, size, wait in chunks(count, rate):
                await asyncio.sleep(wait)
                for n in range(first, first + size):
                    await ws.send(json.dumps(envelope(n)))

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["lookout", "naive", "floor"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, help="messages per second (default: unpaced)")
    parser.add_argument("--url", help="naive: the Redis URL; floor: the publish WebSocket URL")
    args = parser.parse_args()
    if args.target == "lookout":
        publish_lookout(args.count, args.rate)
    elif args.target == "naive":
        publish_naive(args.count, args.rate, args.url)
    else:
        publish_floor(args.count, args.rate, args.url)
    print(json.dumps({"published": args.count, "first": window["first"], "last": time.time()}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
