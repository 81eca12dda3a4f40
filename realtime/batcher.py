"""Per-connection coalescing of high-frequency channels into `batch` frames (SPEC §4, §5).

Batched channels always go out as a batch frame, even with one message, so clients have one
code path per channel. The API is the seed system's (`MessageBatcher`, `BatchedMessage`,
`BatchMetrics`, the module-level singleton functions), so its callers work unchanged.

A message is either a dict (the send callback then receives the batch frame as a dict, as the
seed system's callers expect) or ready JSON text (the callback receives text): the broadcaster
serializes each envelope once, and its text is spliced into the frame unparsed however many
sockets receive it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

logger = logging.getLogger(__name__)

Message = dict[str, Any] | str
Send = Callable[[Any], Awaitable[Any]]

DEFAULT_BATCH_CHANNELS: frozenset[str] = frozenset({"detections", "alerts"})


@dataclass
class BatchedMessage:
    """One batch frame: the messages of one channel, in the order they were queued."""

    type: str = "batch"
    channel: str = ""
    count: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    batched_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The frame as a JSON-ready dict."""
        return asdict(self)


@dataclass
class BatchMetrics:
    """The seed system's batching counters; batch_efficiency is messages flushed per batch."""

    total_messages_queued: int = 0
    total_batches_flushed: int = 0
    total_messages_flushed: int = 0
    total_immediate_sends: int = 0
    max_batch_size_reached: int = 0
    interval_flushes: int = 0

    @property
    def batch_efficiency(self) -> float:
        """Average messages per flushed batch (0.0 before the first batch)."""
        if not self.total_batches_flushed:
            return 0.0
        return self.total_messages_flushed / self.total_batches_flushed

    def to_dict(self) -> dict[str, Any]:
        """The counters and batch_efficiency as a dict."""
        return {**asdict(self), "batch_efficiency": self.batch_efficiency}


@dataclass
class _ChannelQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    messages: list[Message] = field(default_factory=list)
    # dict or str, fixed by the channel's first message: one frame cannot hold both.
    kind: type | None = None
    send: Send | None = None
    timer: asyncio.Task[None] | None = None


def build_batch_frame(channel: str, messages: list[str], batched_at: float) -> str:
    """Return the JSON text of a batch frame around already-serialized envelopes."""
    header = f'{{"type":"batch","channel":{orjson.dumps(channel).decode()},"count":{len(messages)}'
    return f'{header},"messages":[{",".join(messages)}],"batched_at":{orjson.dumps(batched_at).decode()}}}'


class MessageBatcher:
    """Coalesce one connection's messages on chosen channels into timed or size-capped batch frames.

    While running, a channel's pending messages go out `batch_interval_ms` after the first of
    them; at `max_batch_size` they go out at once. A batcher that is not running queues and
    flushes only by size or by an explicit flush, as the seed system's does.
    """

    def __init__(
        self,
        batch_interval_ms: float = 100,
        max_batch_size: int = 50,
        batch_channels: Iterable[str] | None = None,
    ) -> None:
        if batch_interval_ms < 0:
            raise ValueError("batch_interval_ms must be >= 0")
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.batch_interval_ms = batch_interval_ms
        self.max_batch_size = max_batch_size
        self.batch_channels: set[str] = set(
            DEFAULT_BATCH_CHANNELS if batch_channels is None else batch_channels
        )
        self._queues: dict[str, _ChannelQueue] = {}
        self._timers: set[asyncio.Task[None]] = set()
        self._running = False
        self._metrics = BatchMetrics()
        # Ours, beside the seed's: what a failing socket cost.
        self.messages_dropped = 0
        self.send_errors = 0

    @property
    def metrics(self) -> BatchMetrics:
        """The live BatchMetrics of this batcher."""
        return self._metrics

    def is_running(self) -> bool:
        """True between start() and stop()."""
        return self._running

    async def start(self) -> None:
        """Start flushing batched channels on their interval; calling it again does nothing."""
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

    async def queue_message(self, channel: str, message: Message, send_callback: Send) -> bool:
        """Hold a message for its channel's next batch frame (True), or send it at once (False).

        Raises TypeError for a message that is neither a dict nor text, or whose kind differs
        from the messages this channel took before: such a message would otherwise be lost.
        """
        if not isinstance(message, dict | str):
            raise TypeError(f"a message is a dict or JSON text, not {type(message).__name__}")
        if channel not in self.batch_channels:
            if await self._send(send_callback, message):
                self._metrics.total_immediate_sends += 1
            else:
                self.messages_dropped += 1
            return False
        queue = self._queues.setdefault(channel, _ChannelQueue())
        async with queue.lock:
            if queue.kind is None:
                queue.kind = type(message)
            elif not isinstance(message, queue.kind):
                raise TypeError(
                    f"channel {channel!r} batches {queue.kind.__name__}, not {type(message).__name__}"
                )
            if queue.messages and queue.send is not None and queue.send != send_callback:
                # A new destination must not receive, or lose, what was queued for the old one.
                await self._flush_locked(channel, queue)
            queue.messages.append(message)
            queue.send = send_callback
            self._metrics.total_messages_queued += 1
            if len(queue.messages) >= self.max_batch_size:
                self._metrics.max_batch_size_reached += 1
                await self._flush_locked(channel, queue)
            elif self._running and queue.timer is None:
                queue.timer = asyncio.create_task(self._flush_later(channel, queue))
                self._timers.add(queue.timer)
                queue.timer.add_done_callback(self._timers.discard)
        return True

    def send_unbatched(self, message: Message, send: Callable[[Message], object]) -> None:
        """queue_message for a channel that is not batched, through a synchronous `send`.

        The same counting as queue_message's immediate send, without a coroutine per message: the
        hub hands one message to every socket in turn, and this is most of what each costs.
        """
        try:
            send(message)
        except Exception:
            self.send_errors += 1
            self.messages_dropped += 1
            logger.exception("batcher send failed; a %s frame dropped", type(message).__name__)
        else:
            self._metrics.total_immediate_sends += 1

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
        """The BatchMetrics dict, with our drop and send-error counters and the pending count."""
        return {
            **self._metrics.to_dict(),
            "messages_dropped": self.messages_dropped,
            "send_errors": self.send_errors,
            "pending": self.get_pending_count(),
        }

    async def _flush_later(self, channel: str, queue: _ChannelQueue) -> None:
        await asyncio.sleep(self.batch_interval_ms / 1000)
        async with queue.lock:
            # Detach before sending: from here on nothing may cancel this task mid-send.
            queue.timer = None
            if queue.messages:
                self._metrics.interval_flushes += 1
            await self._flush_locked(channel, queue)

    async def _flush_locked(self, channel: str, queue: _ChannelQueue) -> int:
        # Sending under the channel lock keeps frames of one channel in order.
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        messages, queue.messages = queue.messages, []
        if not messages or queue.send is None:
            return 0
        batched_at = time.time()
        if queue.kind is str:
            frame: Message = build_batch_frame(channel, messages, batched_at)
        else:
            frame = BatchedMessage(
                channel=channel, count=len(messages), messages=messages, batched_at=batched_at
            ).to_dict()
        if await self._send(queue.send, frame):
            self._metrics.total_batches_flushed += 1
            self._metrics.total_messages_flushed += len(messages)
        else:
            # Not re-queued: a failing socket would otherwise grow the queue without bound.
            self.messages_dropped += len(messages)
        return len(messages)

    async def _send(self, send: Send, frame: Message) -> bool:
        try:
            await send(frame)
        except Exception:
            self.send_errors += 1
            logger.exception("batcher send failed; a %s frame dropped", type(frame).__name__)
            return False
        return True


_shared_batcher: MessageBatcher | None = None


async def get_message_batcher(
    batch_interval_ms: float | None = None,
    max_batch_size: int | None = None,
    batch_channels: Iterable[str] | None = None,
) -> MessageBatcher:
    """The process's shared MessageBatcher, built from the first call's arguments (later ones are ignored)."""
    global _shared_batcher
    # No await between the check and the assignment, so concurrent first calls build one instance.
    if _shared_batcher is None:
        _shared_batcher = MessageBatcher(
            batch_interval_ms=100 if batch_interval_ms is None else batch_interval_ms,
            max_batch_size=50 if max_batch_size is None else max_batch_size,
            batch_channels=batch_channels,
        )
    return _shared_batcher


async def stop_message_batcher() -> None:
    """Stop the shared MessageBatcher (flushing what is pending) and forget it."""
    global _shared_batcher
    batcher, _shared_batcher = _shared_batcher, None
    if batcher is not None:
        await batcher.stop()


def reset_message_batcher_state() -> None:
    """Forget the shared MessageBatcher without stopping it (for tests)."""
    global _shared_batcher
    _shared_batcher = None
