"""MessageBatcher: the seed system's batcher API on our per-connection batcher, with dicts and JSON text."""

import asyncio
import json
import logging

import pytest

from realtime.batcher import (
    BatchedMessage,
    BatchMetrics,
    MessageBatcher,
    get_message_batcher,
    reset_message_batcher_state,
    stop_message_batcher,
)

TIMEOUT = 10.0


class Recorder:
    """A send callback that keeps every frame (dict or text) and signals each arrival."""

    def __init__(self, fail_first: int = 0, gate: asyncio.Event | None = None) -> None:
        self.frames: list = []
        self.fail_first = fail_first
        self.gate = gate
        self.calls = 0
        self.arrived = asyncio.Event()
        self.failed = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, frame) -> None:
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
        self.frames.append(frame)
        self.arrived.set()

    async def next_frame(self) -> dict:
        await asyncio.wait_for(self.arrived.wait(), TIMEOUT)
        self.arrived.clear()
        return self.parsed[-1]

    @property
    def parsed(self) -> list[dict]:
        return [json.loads(frame) if isinstance(frame, str) else frame for frame in self.frames]


def detection(n: int, **extra) -> dict:
    return {"type": "detection.new", "channel": "detections", "sequence": n, "payload": extra}


@pytest.fixture(params=["dict", "text"])
def make_message(request):
    """Messages as the seed system's callers pass them (dicts) and as our broadcaster does (JSON text)."""
    if request.param == "dict":
        return detection
    return lambda n, **extra: json.dumps(detection(n, **extra))


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


@pytest.fixture(autouse=True)
def reset_state():
    reset_message_batcher_state()
    yield
    reset_message_batcher_state()


class TestBatchedMessage:
    def test_defaults_describe_an_empty_batch_stamped_now(self):
        batch = BatchedMessage()
        assert (batch.type, batch.channel, batch.count, batch.messages) == ("batch", "", 0, [])
        assert isinstance(batch.batched_at, float)

    def test_to_dict_holds_the_frame_fields(self):
        batch = BatchedMessage(channel="detections", count=1, messages=[{"id": 1}], batched_at=12.5)
        assert batch.to_dict() == {
            "type": "batch",
            "channel": "detections",
            "count": 1,
            "messages": [{"id": 1}],
            "batched_at": 12.5,
        }


class TestBatchMetrics:
    def test_defaults_are_zero_and_efficiency_is_zero_without_a_batch(self):
        assert BatchMetrics().to_dict() == {
            "total_messages_queued": 0,
            "total_batches_flushed": 0,
            "total_messages_flushed": 0,
            "total_immediate_sends": 0,
            "max_batch_size_reached": 0,
            "interval_flushes": 0,
            "batch_efficiency": 0.0,
        }

    def test_batch_efficiency_is_messages_flushed_per_batch(self):
        metrics = BatchMetrics(total_batches_flushed=4, total_messages_flushed=10)
        assert metrics.batch_efficiency == 2.5
        assert metrics.to_dict()["batch_efficiency"] == 2.5


class TestMessageBatcherInit:
    def test_defaults_are_the_seed_systems(self):
        batcher = MessageBatcher()
        assert batcher.batch_interval_ms == 100
        assert batcher.max_batch_size == 50
        assert batcher.batch_channels == {"detections", "alerts"}
        assert not batcher.is_running()
        assert batcher.metrics == BatchMetrics()

    def test_custom_values_are_kept(self):
        batcher = MessageBatcher(batch_interval_ms=250, max_batch_size=7, batch_channels=["events"])
        assert (batcher.batch_interval_ms, batcher.max_batch_size, batcher.batch_channels) == (
            250,
            7,
            {"events"},
        )

    @pytest.mark.parametrize("kwargs", [{"batch_interval_ms": -1}, {"max_batch_size": 0}])
    def test_invalid_limits_are_rejected(self, kwargs):
        with pytest.raises(ValueError):
            MessageBatcher(**kwargs)


class TestMessageBatcherLifecycle:
    async def test_start_and_stop_are_idempotent(self):
        batcher = MessageBatcher()
        assert not batcher.is_running()
        await batcher.start()
        await batcher.start()
        assert batcher.is_running()
        await batcher.stop()
        await batcher.stop()
        assert not batcher.is_running()
        await batcher.start()
        assert batcher.is_running()
        await batcher.stop()

    async def test_stop_flushes_pending_messages_and_cancels_the_timer(self, make_batcher, make_message):
        batcher = await make_batcher()
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        await batcher.queue_message("alerts", make_message(2), send)

        await batcher.stop()

        assert sorted((f["channel"], f["count"]) for f in send.parsed) == [("alerts", 1), ("detections", 1)]
        assert batcher.get_pending_count() == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}

    async def test_stop_with_a_send_that_never_yields_flushes_and_returns(self, make_batcher, make_message):
        batcher = await make_batcher()
        frames = []

        async def send(frame) -> None:  # a socket whose buffer takes the frame without suspending
            frames.append(frame)

        await batcher.queue_message("detections", make_message(1), send)
        await batcher.stop()  # the timer it cancelled has not finished yet: stop must not raise

        assert len(frames) == 1

    async def test_stop_waits_for_a_flush_in_progress_and_keeps_order(self, make_batcher, make_message):
        batcher = await make_batcher(interval_ms=1)
        gate = asyncio.Event()
        send = Recorder(gate=gate)
        await batcher.queue_message("detections", make_message(1), send)
        await asyncio.wait_for(send.entered.wait(), TIMEOUT)  # the timer's flush is blocked inside send
        # Queueing waits for the channel while its frame is being sent, so it runs in a task here.
        queueing = asyncio.create_task(batcher.queue_message("detections", make_message(2), send))
        stopping = asyncio.create_task(batcher.stop())
        await asyncio.sleep(0)
        gate.set()
        await asyncio.wait_for(asyncio.gather(queueing, stopping), TIMEOUT)

        assert [sequences(frame) for frame in send.parsed] == [[1], [2]]


class TestMessageBatcherQueueing:
    async def test_a_batched_channel_queues_and_returns_true(self, make_batcher, make_message):
        batcher = await make_batcher()
        send = Recorder()
        assert await batcher.queue_message("detections", make_message(1), send) is True
        assert send.frames == []
        assert batcher.get_pending_count("detections") == 1
        assert batcher.metrics.total_messages_queued == 1

    async def test_a_non_batched_channel_sends_at_once_unchanged_and_returns_false(
        self, make_batcher, make_message
    ):
        batcher = await make_batcher()
        send = Recorder()
        message = make_message(1)
        assert await batcher.queue_message("system", message, send) is False
        assert send.frames == [message]
        assert batcher.get_pending_count() == 0
        assert batcher.metrics.total_immediate_sends == 1

    async def test_a_never_started_batcher_queues_until_size_or_an_explicit_flush(self, make_message):
        batcher = MessageBatcher(max_batch_size=3)
        send = Recorder()
        for n in range(2):
            assert await batcher.queue_message("detections", make_message(n), send) is True
        assert send.frames == []
        assert batcher.get_pending_count() == 2

        await batcher.queue_message("detections", make_message(2), send)
        assert sequences(send.parsed[0]) == [0, 1, 2]
        await batcher.queue_message("detections", make_message(3), send)
        assert await batcher.flush_all() == 1
        assert sequences(send.parsed[1]) == [3]

    async def test_a_never_started_batcher_starts_no_timer(self, make_message):
        batcher = MessageBatcher(batch_interval_ms=0)
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        # A zero-interval timer would have flushed within these turns of the loop.
        for _ in range(20):
            await asyncio.sleep(0)
        assert send.frames == []
        assert batcher.get_pending_count() == 1

    async def test_the_frame_has_the_kind_of_the_messages(self, make_batcher, make_message):
        batcher = await make_batcher(size=2)
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        await batcher.queue_message("detections", make_message(2), send)
        (frame,) = send.frames
        assert type(frame) is type(make_message(0))
        assert send.parsed[0]["messages"] == [
            json.loads(m) if isinstance(m, str) else m for m in (make_message(1), make_message(2))
        ]

    async def test_mixing_dicts_and_text_on_one_channel_raises_at_the_call_and_loses_nothing(
        self, make_batcher
    ):
        batcher = await make_batcher()
        send = Recorder()
        await batcher.queue_message("detections", detection(1), send)
        with pytest.raises(TypeError, match="channel 'detections' batches dict, not str"):
            await batcher.queue_message("detections", json.dumps(detection(2)), send)
        await batcher.queue_message("alerts", json.dumps(detection(3)), send)  # each channel has its own kind

        assert await batcher.flush_channel("detections") == 1
        assert send.parsed[0]["messages"] == [detection(1)]

    async def test_a_message_that_is_neither_a_dict_nor_text_is_refused(self, make_batcher):
        batcher = await make_batcher()
        with pytest.raises(TypeError, match="a message is a dict or JSON text, not bytes"):
            await batcher.queue_message("detections", b"{}", Recorder())

    async def test_frames_embed_text_envelopes_verbatim_including_unicode(self, make_batcher):
        batcher = await make_batcher(size=2)
        send = Recorder()
        messages = [
            json.dumps(detection(1, label="porte d’entrée")),
            json.dumps({"emoji": "🚗", "nested": {"a": [1]}}),
        ]
        for text in messages:
            await batcher.queue_message("detections", text, send)

        (frame,) = send.frames
        assert ",".join(messages) in frame
        assert json.loads(frame)["messages"] == [json.loads(text) for text in messages]

    async def test_channels_are_batched_separately(self, make_batcher, make_message):
        batcher = await make_batcher()
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        await batcher.queue_message("alerts", make_message(2), send)
        assert batcher.get_pending_count() == 2
        assert batcher.get_pending_count("alerts") == 1
        assert batcher.get_pending_count("cameras") == 0
        assert await batcher.flush_all() == 2
        assert sorted(frame["channel"] for frame in send.parsed) == ["alerts", "detections"]

    async def test_a_new_send_callback_gets_only_its_own_messages(self, make_batcher, make_message):
        batcher = await make_batcher(interval_ms=20)
        first, second = Recorder(), Recorder()
        await batcher.queue_message("detections", make_message(1), first)
        await batcher.queue_message("detections", make_message(2), second)
        assert sequences(first.parsed[0]) == [1]
        assert first.parsed[0]["channel"] == "detections"
        frame = await second.next_frame()
        assert sequences(frame) == [2]


class TestMaxBatchSize:
    async def test_a_full_batch_goes_out_at_once_and_is_counted(self, make_batcher, make_message):
        batcher = await make_batcher(size=5)
        send = Recorder()
        for n in range(5):
            await batcher.queue_message("alerts", make_message(n), send)

        assert len(send.frames) == 1
        assert send.parsed[0]["channel"] == "alerts"
        assert send.parsed[0]["count"] == 5
        assert sequences(send.parsed[0]) == [0, 1, 2, 3, 4]
        assert batcher.get_pending_count() == 0
        assert batcher.metrics.max_batch_size_reached == 1
        assert batcher.metrics.interval_flushes == 0
        await batcher.stop()
        assert len(send.frames) == 1

    async def test_each_full_batch_is_counted(self, make_batcher, make_message):
        batcher = await make_batcher(size=2)
        send = Recorder()
        for n in range(4):
            await batcher.queue_message("alerts", make_message(n), send)
        assert batcher.metrics.max_batch_size_reached == 2


class TestIntervalFlush:
    async def test_pending_messages_flush_after_the_interval_and_are_counted(
        self, make_batcher, make_message
    ):
        batcher = await make_batcher(interval_ms=20)
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        await batcher.queue_message("detections", make_message(2), send)

        frame = await send.next_frame()

        assert frame["type"] == "batch"
        assert frame["channel"] == "detections"
        assert frame["count"] == 2
        assert sequences(frame) == [1, 2]
        assert isinstance(frame["batched_at"], float)
        assert batcher.get_pending_count() == 0
        assert batcher.metrics.interval_flushes == 1
        assert batcher.metrics.max_batch_size_reached == 0

    async def test_each_interval_flush_is_counted(self, make_batcher, make_message):
        batcher = await make_batcher(interval_ms=20)
        send = Recorder()
        await batcher.queue_message("detections", make_message(1), send)
        assert sequences(await send.next_frame()) == [1]
        await batcher.queue_message("detections", make_message(2), send)
        assert sequences(await send.next_frame()) == [2]
        assert batcher.metrics.interval_flushes == 2

    async def test_a_single_batched_message_still_arrives_as_a_batch_frame(self, make_batcher, make_message):
        batcher = await make_batcher(interval_ms=20)
        send = Recorder()
        await batcher.queue_message("detections", make_message(7), send)
        frame = await send.next_frame()
        assert (frame["type"], frame["count"], sequences(frame)) == ("batch", 1, [7])


class TestFlush:
    async def test_flush_channel_and_flush_all_return_how_many_went_out(self, make_batcher, make_message):
        batcher = await make_batcher()
        send = Recorder()
        for n in range(3):
            await batcher.queue_message("detections", make_message(n), send)
        await batcher.queue_message("alerts", make_message(9), send)

        assert await batcher.flush_channel("detections") == 3
        assert await batcher.flush_channel("detections") == 0
        assert await batcher.flush_channel("never-used") == 0
        assert await batcher.flush_all() == 1
        assert await batcher.flush_all() == 0
        assert [frame["count"] for frame in send.parsed] == [3, 1]


class TestCallbackErrors:
    async def test_a_failing_send_is_logged_not_requeued_and_later_messages_flow(
        self, make_batcher, make_message, caplog
    ):
        batcher = await make_batcher(size=2)
        send = Recorder(fail_first=2)
        with caplog.at_level(logging.ERROR, logger="realtime.batcher"):
            await batcher.queue_message("detections", make_message(1), send)
            await batcher.queue_message("detections", make_message(2), send)
            assert await batcher.queue_message("system", "{}", send) is False
        assert batcher.get_pending_count() == 0
        # The batch frame has its messages' kind; the immediate "{}" is text.
        assert f"batcher send failed; a {type(make_message(0)).__name__} frame dropped" in caplog.text
        assert "batcher send failed; a str frame dropped" in caplog.text
        assert batcher.is_running()

        await batcher.queue_message("detections", make_message(3), send)
        await batcher.queue_message("detections", make_message(4), send)
        await batcher.queue_message("system", "{}", send)

        assert sequences(send.parsed[0]) == [3, 4]
        assert send.frames[1:] == ["{}"]
        metrics = batcher.get_metrics()
        assert (metrics["send_errors"], metrics["messages_dropped"]) == (2, 3)
        assert (metrics["total_batches_flushed"], metrics["total_messages_flushed"]) == (1, 2)
        assert metrics["total_immediate_sends"] == 1

    async def test_a_failing_timer_flush_does_not_kill_later_timer_flushes(self, make_batcher, make_message):
        batcher = await make_batcher(interval_ms=20)
        send = Recorder(fail_first=1)
        await batcher.queue_message("detections", make_message(1), send)
        await asyncio.wait_for(send.failed.wait(), TIMEOUT)
        await batcher.queue_message("detections", make_message(2), send)
        frame = await send.next_frame()
        assert sequences(frame) == [2]


class TestMetrics:
    async def test_metrics_are_exact_for_a_known_sequence(self, make_batcher, make_message):
        batcher = await make_batcher(size=3)
        send = Recorder()
        assert batcher.get_metrics()["batch_efficiency"] == 0.0
        for n in range(4):
            await batcher.queue_message("detections", make_message(n), send)
        await batcher.queue_message("system", "{}", send)
        await batcher.queue_message("jobs", "{}", send)
        assert batcher.get_metrics()["pending"] == 1
        assert await batcher.flush_channel("detections") == 1

        assert batcher.metrics == BatchMetrics(
            total_messages_queued=4,
            total_batches_flushed=2,
            total_messages_flushed=4,
            total_immediate_sends=2,
            max_batch_size_reached=1,
            interval_flushes=0,
        )
        assert batcher.get_metrics() == {
            **batcher.metrics.to_dict(),
            "batch_efficiency": 2.0,
            "messages_dropped": 0,
            "send_errors": 0,
            "pending": 0,
        }


class TestConcurrency:
    async def test_concurrent_queueing_delivers_every_message_once_in_per_task_order(
        self, make_batcher, make_message
    ):
        batcher = await make_batcher(interval_ms=20, size=50)
        send = Recorder()

        async def producer(task: int) -> None:
            for n in range(50):
                await batcher.queue_message("detections", make_message(task * 100 + n), send)
                if n % 7 == 0:
                    await asyncio.sleep(0)

        await asyncio.gather(*(producer(task) for task in range(20)))
        await batcher.stop()

        delivered = [seq for frame in send.parsed for seq in sequences(frame)]
        assert all(frame["count"] == len(frame["messages"]) <= 50 for frame in send.parsed)
        assert len(delivered) == 1000
        for task in range(20):
            assert [seq for seq in delivered if seq // 100 == task] == [task * 100 + n for n in range(50)]
        assert batcher.metrics.total_messages_flushed == 1000


class TestModuleSingleton:
    async def test_get_message_batcher_returns_one_instance_built_from_the_first_call(self):
        first = await get_message_batcher(batch_interval_ms=25, max_batch_size=5, batch_channels=["events"])
        again = await get_message_batcher(batch_interval_ms=999, max_batch_size=1)
        assert again is first
        assert (first.batch_interval_ms, first.max_batch_size, first.batch_channels) == (25, 5, {"events"})

    async def test_the_shared_batchers_defaults_are_the_seed_systems(self):
        batcher = await get_message_batcher()
        assert (batcher.batch_interval_ms, batcher.max_batch_size) == (100, 50)

    async def test_concurrent_first_calls_share_one_instance(self):
        batchers = await asyncio.gather(*(get_message_batcher() for _ in range(10)))
        assert len({id(batcher) for batcher in batchers}) == 1
        assert batchers[0].batch_channels == {"detections", "alerts"}

    async def test_stop_message_batcher_flushes_stops_and_forgets_it(self):
        batcher = await get_message_batcher()
        await batcher.start()
        send = Recorder()
        await batcher.queue_message("detections", detection(1), send)

        await stop_message_batcher()

        assert not batcher.is_running()
        assert sequences(send.parsed[0]) == [1]
        assert await get_message_batcher() is not batcher
        await stop_message_batcher()  # nothing to stop: no error

    async def test_reset_forgets_the_instance(self):
        batcher = await get_message_batcher()
        reset_message_batcher_state()
        assert await get_message_batcher() is not batcher
