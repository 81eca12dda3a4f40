"""MessageBatcher coalesces batched channels into ordered batch frames and survives failing sends."""

import asyncio
import json
import logging

import pytest

from realtime.batcher import MessageBatcher

TIMEOUT = 1.0


class Recorder:
    """A send callback that keeps every frame and signals each arrival."""

    def __init__(self, fail_first: int = 0, gate: asyncio.Event | None = None) -> None:
        self.frames: list[str] = []
        self.fail_first = fail_first
        self.gate = gate
        self.calls = 0
        self.arrived = asyncio.Event()
        self.failed = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, text: str) -> None:
        self.calls += 1
        self.entered.set()
        # A real socket send yields to the loop for a varying while; other producers contend meanwhile.
        for _ in range(1 + self.calls % 3):
            await asyncio.sleep(0)
        if self.gate is not None:
            await self.gate.wait()
        if self.calls <= self.fail_first:
            self.failed.set()
            raise ConnectionError("socket gone")
        self.frames.append(text)
        self.arrived.set()

    async def next_frame(self) -> dict:
        await asyncio.wait_for(self.arrived.wait(), TIMEOUT)
        self.arrived.clear()
        return json.loads(self.frames[-1])

    @property
    def parsed(self) -> list[dict]:
        return [json.loads(frame) for frame in self.frames]


def envelope(n: int, **extra) -> str:
    return json.dumps({"type": "detection.new", "channel": "detections", "sequence": n, "payload": extra})


def sequences(frame: dict) -> list[int]:
    return [message["sequence"] for message in frame["messages"]]


@pytest.fixture
async def make_batcher():
    """Build started batchers (by default the timer never fires within a test) and stop them after."""
    made: list[MessageBatcher] = []

    async def make(interval_ms: float = 60_000, size: int = 50) -> MessageBatcher:
        batcher = MessageBatcher(batch_interval_ms=interval_ms, max_batch_size=size)
        await batcher.start()
        made.append(batcher)
        return batcher

    yield make
    for batcher in made:
        await batcher.stop()


@pytest.fixture
async def batcher(make_batcher):
    return await make_batcher(interval_ms=20, size=5)


async def test_start_and_stop_are_idempotent():
    batcher = MessageBatcher()
    assert not batcher.is_running
    await batcher.start()
    await batcher.start()
    assert batcher.is_running
    await batcher.stop()
    await batcher.stop()
    assert not batcher.is_running
    await batcher.start()
    assert batcher.is_running
    await batcher.stop()


async def test_pending_messages_flush_after_the_interval(batcher):
    send = Recorder()
    loop = asyncio.get_running_loop()
    queued_at = loop.time()
    await batcher.queue_message("detections", envelope(1), send)
    await batcher.queue_message("detections", envelope(2), send)
    assert send.frames == []
    assert batcher.get_pending_count("detections") == 2

    frame = await send.next_frame()

    assert loop.time() - queued_at >= 0.019
    assert frame["type"] == "batch"
    assert frame["channel"] == "detections"
    assert frame["count"] == 2
    assert frame["messages"] == [json.loads(envelope(1)), json.loads(envelope(2))]
    assert isinstance(frame["batched_at"], float)
    assert batcher.get_pending_count() == 0


async def test_a_full_batch_goes_out_at_once_before_the_interval(make_batcher):
    batcher = await make_batcher(size=5)
    send = Recorder()
    for n in range(5):
        await batcher.queue_message("alerts", envelope(n), send)

    assert len(send.frames) == 1
    assert send.parsed[0]["count"] == 5
    assert sequences(send.parsed[0]) == [0, 1, 2, 3, 4]
    assert batcher.get_pending_count() == 0
    await batcher.stop()
    assert len(send.frames) == 1


async def test_a_single_batched_message_still_arrives_as_a_batch_frame(batcher):
    send = Recorder()
    await batcher.queue_message("detections", envelope(7), send)
    frame = await send.next_frame()
    assert frame["type"] == "batch"
    assert frame["count"] == 1
    assert frame["messages"] == [json.loads(envelope(7))]


async def test_non_batched_channels_pass_straight_through_unchanged(batcher):
    send = Recorder()
    text = '{"type":"system.status","channel":"system","sequence":null,"payload":{}}'
    await batcher.queue_message("system", text, send)
    assert send.frames == [text]
    assert batcher.get_pending_count() == 0


async def test_frames_embed_the_envelopes_verbatim_including_unicode(make_batcher):
    batcher = await make_batcher(size=2)
    send = Recorder()
    messages = [envelope(1, label="porte d’entrée"), json.dumps({"emoji": "🚗", "nested": {"a": [1, 2]}})]
    for text in messages:
        await batcher.queue_message("detections", text, send)

    (frame,) = send.frames
    assert ",".join(messages) in frame
    assert json.loads(frame)["messages"] == [json.loads(text) for text in messages]


async def test_channels_are_batched_separately(batcher):
    send = Recorder()
    await batcher.queue_message("detections", envelope(1), send)
    await batcher.queue_message("alerts", envelope(2), send)
    assert batcher.get_pending_count() == 2
    assert batcher.get_pending_count("alerts") == 1
    assert batcher.get_pending_count("cameras") == 0
    assert await batcher.flush_all() == 2
    assert sorted(frame["channel"] for frame in send.parsed) == ["alerts", "detections"]


async def test_a_failing_send_is_logged_not_requeued_and_later_messages_flow(make_batcher, caplog):
    batcher = await make_batcher(size=2)
    send = Recorder(fail_first=2)
    with caplog.at_level(logging.ERROR, logger="realtime.batcher"):
        await batcher.queue_message("detections", envelope(1), send)
        await batcher.queue_message("detections", envelope(2), send)
        await batcher.queue_message("system", "{}", send)
    assert batcher.get_pending_count() == 0
    assert "batcher send failed" in caplog.text
    assert batcher.is_running

    await batcher.queue_message("detections", envelope(3), send)
    await batcher.queue_message("detections", envelope(4), send)
    await batcher.queue_message("system", "{}", send)

    assert sequences(send.parsed[0]) == [3, 4]
    assert send.frames[1:] == ["{}"]
    metrics = batcher.get_metrics()
    assert metrics["send_errors"] == 2
    assert metrics["messages_dropped"] == 3
    assert metrics["messages_sent"] == 3


async def test_a_failing_timer_flush_does_not_kill_later_timer_flushes(batcher):
    send = Recorder(fail_first=1)
    await batcher.queue_message("detections", envelope(1), send)
    await asyncio.wait_for(send.failed.wait(), TIMEOUT)
    await batcher.queue_message("detections", envelope(2), send)
    frame = await send.next_frame()
    assert sequences(frame) == [2]


async def test_metrics_are_exact_for_a_known_sequence(make_batcher):
    batcher = await make_batcher(size=3)
    send = Recorder()
    assert batcher.get_metrics()["batch_efficiency"] == 0.0
    for n in range(3):
        await batcher.queue_message("detections", envelope(n), send)
    await batcher.queue_message("detections", envelope(3), send)
    await batcher.queue_message("system", "{}", send)
    await batcher.queue_message("jobs", "{}", send)
    assert batcher.get_metrics()["pending"] == 1
    assert await batcher.flush_channel("detections") == 1
    assert await batcher.flush_channel("detections") == 0

    assert batcher.get_metrics() == {
        "messages_queued": 4,
        "messages_sent": 6,
        "messages_dropped": 0,
        "batches_sent": 2,
        "batched_messages_sent": 4,
        "immediate_sends": 2,
        "send_errors": 0,
        "pending": 0,
        "batch_efficiency": 2.0,
    }


async def test_concurrent_queueing_delivers_every_message_once_in_per_task_order(make_batcher):
    batcher = await make_batcher(interval_ms=20, size=50)
    send = Recorder()

    async def producer(task: int) -> None:
        for n in range(50):
            await batcher.queue_message("detections", json.dumps({"task": task, "n": n}), send)
            if n % 7 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(producer(task) for task in range(20)))
    await batcher.stop()

    delivered = [message for frame in send.parsed for message in frame["messages"]]
    assert all(frame["count"] == len(frame["messages"]) <= 50 for frame in send.parsed)
    assert len(delivered) == 1000
    for task in range(20):
        assert [m["n"] for m in delivered if m["task"] == task] == list(range(50))
    assert batcher.get_metrics()["messages_sent"] == 1000


async def test_stop_flushes_pending_messages_and_cancels_the_timer(make_batcher):
    batcher = await make_batcher()
    send = Recorder()
    await batcher.queue_message("detections", envelope(1), send)
    await batcher.queue_message("alerts", envelope(2), send)

    await batcher.stop()

    assert sorted((f["channel"], f["count"]) for f in send.parsed) == [("alerts", 1), ("detections", 1)]
    assert batcher.get_pending_count() == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_stop_waits_for_a_flush_in_progress_and_keeps_order(make_batcher):
    batcher = await make_batcher(interval_ms=1)
    gate = asyncio.Event()
    send = Recorder(gate=gate)
    await batcher.queue_message("detections", envelope(1), send)
    await asyncio.wait_for(send.entered.wait(), TIMEOUT)  # the timer's flush is blocked inside send
    # Queueing waits for the channel while its frame is being sent, so it runs in a task here.
    queueing = asyncio.create_task(batcher.queue_message("detections", envelope(2), send))
    stopping = asyncio.create_task(batcher.stop())
    await asyncio.sleep(0)
    gate.set()
    await asyncio.wait_for(asyncio.gather(queueing, stopping), TIMEOUT)

    assert [sequences(frame) for frame in send.parsed] == [[1], [2]]


async def test_a_stopped_batcher_sends_each_batched_message_at_once():
    batcher = MessageBatcher(batch_interval_ms=60_000)
    send = Recorder()
    await batcher.queue_message("detections", envelope(1), send)
    assert send.parsed[0]["count"] == 1
    assert batcher.get_pending_count() == 0


async def test_a_new_send_callback_gets_only_its_own_messages(batcher):
    first, second = Recorder(), Recorder()
    await batcher.queue_message("detections", envelope(1), first)
    await batcher.queue_message("detections", envelope(2), second)
    assert sequences(first.parsed[0]) == [1]
    frame = await second.next_frame()
    assert sequences(frame) == [2]


@pytest.mark.parametrize("kwargs", [{"batch_interval_ms": -1}, {"max_batch_size": 0}])
def test_invalid_limits_are_rejected(kwargs):
    with pytest.raises(ValueError):
        MessageBatcher(**kwargs)
