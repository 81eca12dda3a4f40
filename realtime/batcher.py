"""Per-connection coalescing of high-frequency channels into `batch` frames (SPEC §4, §5).

Batched channels always go out as a batch frame, even with one message, so clients have one
code path per channel. Envelopes arrive as ready JSON text and are spliced into the frame
unparsed: the broadcaster serializes each envelope once, however many sockets receive it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

logger = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[Any]]

DEFAULT_BATCH_CHANNELS: frozenset[str] = frozenset({"detections", "alerts"})


@dataclass
class _ChannelQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    messages: list[str] = field(default_factory=list)
    send: Send | None = None
    timer: asyncio.Task[None] | None = None


def build_batch_frame(channel: str, messages: list[str], batched_at: float) -> str:
    """Return the JSON text of a batch frame around already-serialized envelopes."""
    header = f'{{"type":"batch","channel":{orjson.dumps(channel).decode()},"count":{len(messages)}'
    return f'{header},"messages":[{",".join(messages)}],"batched_at":{orjson.dumps(batched_at).decode()}}}'


class MessageBatcher:
    """Coalesce one connection's messages on chosen channels into timed or size-capped batch frames.

    `is_running` is a property. While the batcher is not running, messages on batched channels
    are not held back: each goes out at once as a batch frame of its own.
    """

    def __init__(
        self,
        batch_interval_ms: float = 100,
        max_batch_size: int = 50,
        batch_channels: Iterable[str] = DEFAULT_BATCH_CHANNELS,
    ) -> None:
        if batch_interval_ms < 0:
            raise ValueError("batch_interval_ms must be >= 0")
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.batch_interval = batch_interval_ms / 1000
        self.max_batch_size = max_batch_size
        self.batch_channels = frozenset(batch_channels)
        self._queues: dict[str, _ChannelQueue] = {}
        self._timers: set[asyncio.Task[None]] = set()
        self._running = False
        self._counters = dict.fromkeys(
            (
                "messages_queued",
                "messages_sent",
                "messages_dropped",
                "batches_sent",
                "batched_messages_sent",
                "immediate_sends",
                "send_errors",
            ),
            0,
        )

    @property
    def is_running(self) -> bool:
        """True between start() and stop()."""
        return self._running

    async def start(self) -> None:
        """Start holding back messages on batched channels; calling it again does nothing."""
        self._running = True

    async def stop(self) -> None:
        """Flush everything pending, then stop; calling it again does nothing."""
        if not self._running:
            return
        # Cleared first so no new timer starts while the flush awaits the sends.
        self._running = False
        await self.flush_all()
        timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    async def queue_message(self, channel: str, message: str, send: Send) -> None:
        """Send one envelope's JSON text now, or hold it for its channel's next batch frame."""
        if channel not in self.batch_channels:
            if await self._send(send, message):
                self._counters["immediate_sends"] += 1
                self._counters["messages_sent"] += 1
            else:
                self._counters["messages_dropped"] += 1
            return
        queue = self._queues.setdefault(channel, _ChannelQueue())
        async with queue.lock:
            if queue.messages and queue.send is not None and queue.send != send:
                # A new destination must not receive, or lose, what was queued for the old one.
                await self._flush_locked(channel, queue)
            queue.messages.append(message)
            queue.send = send
            self._counters["messages_queued"] += 1
            if not self._running or len(queue.messages) >= self.max_batch_size:
                await self._flush_locked(channel, queue)
            elif queue.timer is None:
                queue.timer = asyncio.create_task(self._flush_later(channel, queue))
                self._timers.add(queue.timer)
                queue.timer.add_done_callback(self._timers.discard)

    async def flush_channel(self, channel: str) -> int:
        """Send a channel's pending messages now; return how many were flushed."""
        queue = self._queues.get(channel)
        if queue is None:
            return 0
        async with queue.lock:
            return await self._flush_locked(channel, queue)

    async def flush_all(self) -> int:
        """Send every channel's pending messages now; return how many were flushed."""
        return sum([await self.flush_channel(channel) for channel in list(self._queues)])

    def get_pending_count(self, channel: str | None = None) -> int:
        """Return how many messages wait in one channel, or in all channels."""
        if channel is not None:
            queue = self._queues.get(channel)
            return len(queue.messages) if queue else 0
        return sum(len(queue.messages) for queue in self._queues.values())

    def get_metrics(self) -> dict[str, Any]:
        """Return the counters, pending and batch_efficiency (messages per batch frame, on average).

        messages_sent counts every delivered envelope, batched or not; batched_messages_sent only
        those inside batch frames.
        """
        counters = self._counters
        batches = counters["batches_sent"]
        return {
            **counters,
            "pending": self.get_pending_count(),
            "batch_efficiency": counters["batched_messages_sent"] / batches if batches else 0.0,
        }

    async def _flush_later(self, channel: str, queue: _ChannelQueue) -> None:
        await asyncio.sleep(self.batch_interval)
        async with queue.lock:
            # Detach before sending: from here on nothing may cancel this task mid-send.
            queue.timer = None
            await self._flush_locked(channel, queue)

    async def _flush_locked(self, channel: str, queue: _ChannelQueue) -> int:
        # Sending under the channel lock keeps frames of one channel in order.
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        messages, queue.messages = queue.messages, []
        if not messages or queue.send is None:
            return 0
        frame = build_batch_frame(channel, messages, time.time())
        if await self._send(queue.send, frame):
            self._counters["batches_sent"] += 1
            self._counters["batched_messages_sent"] += len(messages)
            self._counters["messages_sent"] += len(messages)
        else:
            # Not re-queued: a failing socket would otherwise grow the queue without bound.
            self._counters["messages_dropped"] += len(messages)
        return len(messages)

    async def _send(self, send: Send, text: str) -> bool:
        try:
            await send(text)
        except Exception:
            self._counters["send_errors"] += 1
            logger.exception("batcher send failed; %d bytes dropped", len(text))
            return False
        return True
