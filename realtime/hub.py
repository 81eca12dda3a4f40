"""Group membership and delivery: one channel-layer subscription per group per process.

The naive Channels pattern gives every socket its own layer channel and group membership, so
one broadcast becomes N layer messages and N handler dispatches. Here each process (each event
loop) has one hub: it joins a group once, receives each message once, and hands the ready
frame to the local connections that listen. Connections never touch the layer themselves.

The hub's loops (receive, heartbeat, group refresh) outlive the failures of
the channel layer and the database: a failed step is logged, counted in `stats.hub_failures`
and retried after a capped exponential pause. The hub is transport only: the deployment's
periodic work (outbox pruning among it) belongs to the worker, which runs whether or not a
process holds sockets; group refresh stays here because group membership is per process, and so
does publishing this process's connection counts for the deployment's sums
(realtime.deployment_connections): on each change, paced, and refreshed before they expire.

The layer can also drop messages without failing (a full or expired hub channel): the gap
check notices messages that should have come and did not (realtime/gaps.py), counts them and
tells the connections that listen to the groups that lost them: `resume.hint` for durable
messages (the outbox has them), `reload.hint` for the others (nothing has them).
"""

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from realtime.broadcast import CONTROL_GROUP, group_channel, group_name, stored_message_group
from realtime.counters import stats
from realtime.database_hop import database_hop
from realtime.deployment_connections import (
    PUBLISH_PACE_SECONDS,
    connection_figures_share,
    connection_figures_share_later,
    figures_shared,
    refresh_seconds,
)
from realtime.envelope import encode_frame
from realtime.event_types import DURABLE_CHANNELS
from realtime.event_types import WebSocketEventType as T
from realtime.gaps import Hole, SequenceGaps, StreamGaps
from realtime.outbox import outbox_last_sequence, outbox_senders
from realtime.refusals import OUTAGE_ERRORS, outage

logger = logging.getLogger(__name__)

# A listener handles a message at once and returns None, or returns what to await: most messages
# are written to a socket without a coroutine per socket (see RealtimeConsumer.deliver).
Listener = Callable[[dict], Awaitable[None] | None]
# channels-redis drops a group member `group_expiry` seconds after its last group_add (that is
# how a killed instance's hub leaves the groups): re-join this many times within it, so that a
# refresh or two lost to a hiccup never drops a live hub.
REFRESHES_PER_GROUP_EXPIRY = 4
# A failing step is retried after 0.1 s, 0.2 s, 0.4 s … up to this: a layer or database that
# comes back is used again within seconds, and a long outage costs one attempt per pause.
RETRY_CAP_SECONDS = 2.0
RETRY_FIRST_SECONDS = 0.1
# Losses found within this long of a logged one are counted, and reported with the next log line.
LOSS_LOG_SECONDS = 60


class Hub:
    """One event loop's window on the channel layer."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.listeners: dict[str, set[Listener]] = defaultdict(set)
        self.connections: set = set()
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        # Receive failures seen, and how many of them a re-join has answered (see _refresh_groups).
        self._layer_failures = 0
        self._layer_failures_answered = 0
        self._layer_failed = asyncio.Event()
        self._figures_changed = asyncio.Event()
        self.gaps = SequenceGaps()
        self.streams = StreamGaps()
        self._gap_opened = asyncio.Event()
        # Set when a message arrived later than the gap grace period: the hub is behind its channel.
        self._behind = asyncio.Event()
        # Group → when this hub joined it: messages published before were not all ours to get.
        self._joined_at: dict[str, datetime] = {}
        self._loss_logged_at: float | None = None
        self._durable_unlogged = 0
        self._ephemeral_unlogged = 0

    async def join(self, group: str, listener: Listener) -> None:
        """Deliver the group's messages to `listener` from now on."""
        async with self._lock:
            await self._ensure_running()
            if not self.listeners[group]:
                await self.layer.group_add(group, self.channel_name)
                self._joined_at[group] = timezone.now()
                self.streams.join(group)
            self.listeners[group].add(listener)

    async def leave(self, group: str, listener: Listener) -> None:
        """Stop delivering the group's messages to `listener`."""
        async with self._lock:
            members = self.listeners.get(group)
            if not members or listener not in members:
                return
            members.discard(listener)
            if not members:
                del self.listeners[group]
                self._joined_at.pop(group, None)
                self.streams.leave(group)
                await self.layer.group_discard(group, self.channel_name)
            await self._stop_if_idle()

    async def attach(self, connection) -> None:
        """Count a live connection (it gets heartbeats)."""
        async with self._lock:
            await self._ensure_running()
            self.connections.add(connection)
            self._figures_changed.set()

    async def detach(self, connection) -> None:
        """Forget a closed connection."""
        async with self._lock:
            self.connections.discard(connection)
            self._figures_changed.set()
            await self._stop_if_idle()

    def group_sizes(self) -> dict[str, int]:
        """Local listeners per group (for tests and status)."""
        return {group: len(members) for group, members in self.listeners.items()}

    async def _ensure_running(self) -> None:
        if self.channel_name is None:
            channel = self.channel_name = await self.layer.new_channel("hub.")
            # A new layer channel: sequences and transport numbers count from its first message.
            self.gaps, self.streams = SequenceGaps(), StreamGaps()
            loops = {
                "receive": (None, lambda: self._receive_once(channel)),
                "heartbeat": (self._heartbeat_due, self._send_heartbeats),
                "group_refresh": (self._refresh_due, self._refresh_groups),
                "gap_check": (self._gaps_due, self._check_gaps),
                "backlog_tail": (self._backlog_seen, self._expect_outbox_tail),
            }
            if figures_shared():
                loops["connection_figures"] = (self._figures_due, connection_figures_share)
            self._tasks = [
                asyncio.create_task(_keep_running(name, wait, step)) for name, (wait, step) in loops.items()
            ]

    async def _stop_if_idle(self) -> None:
        if self.listeners or self.connections or self.channel_name is None:
            return
        tasks, self._tasks, self.channel_name = self._tasks, [], None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if figures_shared():
            # Withdraws this process's figures now rather than when they expire; not awaited, so
            # the last disconnect waits for no Redis.
            connection_figures_share_later()

    async def _receive_once(self, channel: str) -> None:
        try:
            message = await self.layer.receive(channel)
        except Exception:
            # The layer failed under us. If Redis restarted, it forgot every group membership
            # (channels-redis keeps them there) and nothing reaches this hub until it re-joins.
            self._layer_failures += 1
            self._layer_failed.set()
            raise
        listeners = tuple(self.listeners.get(message.get("group"), ()))
        now = time.monotonic()
        if self.streams.received(message, now):
            self._gap_opened.set()
        sent_at = message.get("sent_at")
        if sent_at is not None and time.time() - sent_at > settings.REALTIME_GAP_GRACE_SECONDS:
            self._behind.set()
        # A bundle carries consecutive messages of one publish to this group (see broadcast.py).
        for index, item in enumerate(message.get("bundle") or (message,)):
            if index:
                # Let the server write between items, as between separate layer messages: a
                # client's unread-bytes bound (4008) must see a bundle drain, not pile up at once.
                await asyncio.sleep(0)
            sequence = item.get("meta", {}).get("sequence")
            if sequence is not None and self.gaps.received(sequence, now):
                self._gap_opened.set()
            for listener in listeners:
                try:
                    pending = listener(item)
                    if pending is not None:
                        await pending
                except Exception:
                    logger.exception("realtime listener failed")

    async def _heartbeat_due(self) -> None:
        await asyncio.sleep(settings.REALTIME_HEARTBEAT_SECONDS)

    async def _send_heartbeats(self) -> None:
        last_sequence = await self._expect_outbox_tail()
        # One text for every connection, so that it is encoded (and framed) once, not once per socket.
        text = encode_frame(T.HEARTBEAT, {"last_sequence": last_sequence}, timestamp=timezone.now())
        for connection in tuple(self.connections):
            try:
                await connection.send_text(text)
            except Exception:
                logger.exception("heartbeat failed")

    async def _expect_outbox_tail(self) -> int:
        """Read the outbox's newest sequence: what follows what this hub received may be lost (a tail)."""
        last_sequence = await database_hop(outbox_last_sequence)()
        if self.gaps.expect_through(last_sequence, time.monotonic()):
            self._gap_opened.set()
        return last_sequence

    async def _backlog_seen(self) -> None:
        """Wait for a message that arrived late, then a grace period.

        A hub that far behind its channel may lose the end of the backlog to the layer's expiry
        (channels-redis drops the whole channel once nothing was sent to it for `expiry` seconds),
        and no later message would show the hole: reading the outbox's tail then does, without
        waiting for the next heartbeat. While the backlog lasts this repeats once a grace period.
        """
        await self._behind.wait()
        self._behind.clear()
        await asyncio.sleep(settings.REALTIME_GAP_GRACE_SECONDS)

    async def _figures_due(self) -> None:
        """Wait until the connections change or the figures need refreshing; then a pace, so that
        a burst of handshakes costs one publish (the figures are taken after it)."""
        await _wait_at_most(self._figures_changed, refresh_seconds())
        self._figures_changed.clear()
        await asyncio.sleep(PUBLISH_PACE_SECONDS)

    async def _refresh_due(self) -> None:
        """Wait for the next periodic refresh, or less when a receive failed."""
        if self._layer_failures == self._layer_failures_answered:
            period = self.layer.group_expiry / REFRESHES_PER_GROUP_EXPIRY
            await _wait_at_most(self._layer_failed, period)
        self._layer_failed.clear()

    async def _refresh_groups(self) -> None:
        """Re-join every group; after a layer failure, also tell every client what it may have missed."""
        failures = self._layer_failures
        async with self._lock:
            for group in self.listeners:
                await self.layer.group_add(group, self.channel_name)
        if failures == self._layer_failures_answered:
            return
        # Messages sent while the hub was out of its groups, or queued in a Redis that restarted,
        # are lost live but kept in the outbox: a heartbeat now shows each client the last
        # sequence, and one that is behind catches up with `resume` (SPEC §4).
        await self._send_heartbeats()
        self._layer_failures_answered = failures
        stats.hub_rejoins += 1
        logger.warning("realtime hub re-joined %d groups after the channel layer failed", len(self.listeners))

    async def _gaps_due(self) -> None:
        """Wait for a hole in what arrived (sequences or transport numbers), then a grace period."""
        while not (self.gaps.pending or self.streams.pending):
            self._gap_opened.clear()
            await self._gap_opened.wait()
        await asyncio.sleep(settings.REALTIME_GAP_GRACE_SECONDS)

    async def _check_gaps(self) -> None:
        """Find what the layer lost on the way to this hub's groups; count, log and tell their listeners."""
        noticed_before = time.monotonic() - settings.REALTIME_GAP_GRACE_SECONDS
        durable = await self._durable_lost(self.gaps.due(noticed_before))
        ephemeral = self.streams.lost(noticed_before)
        if durable or ephemeral:
            await self._announce_loss(durable, ephemeral)

    async def _durable_lost(self, holes: list[Hole]) -> dict[str, list[tuple[int, str]]]:
        """Group → (sequence, channel) of the durable messages in `holes` meant for it that never came."""
        if not holes:
            return {}
        joined = dict(self._joined_at)
        channels = {channel for channel in DURABLE_CHANNELS if group_name(channel) in joined}
        senders = await database_hop(outbox_senders)(
            first=min(hole.first for hole in holes), last=max(hole.last for hole in holes), channels=channels
        )
        ours: dict[int, tuple[str, str]] = {}
        for sequence, channel, owner_id, created_at in senders:
            group = stored_message_group(channel, owner_id)
            if (since := joined.get(group)) and created_at > since:
                ours[sequence] = (group, channel)
        lost: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for sequence in self.gaps.missing(holes, list(ours)):
            group, channel = ours[sequence]
            lost[group].append((sequence, channel))
        self.gaps.settle(holes)
        return lost

    async def _announce_loss(
        self, durable: dict[str, list[tuple[int, str]]], ephemeral: dict[str, int]
    ) -> None:
        """Count the lost messages, log them (one line a minute at most) and tell the connections that
        listen to a group that lost some: `resume.hint` for durable ones, `reload.hint` for the others.

        A `reload.hint` names the channels of the groups that lost messages, or null when one of
        them was a user's group or the control group (they carry any channel).
        """
        stats.messages_lost += sum(map(len, durable.values()))
        stats.ephemeral_messages_lost += sum(ephemeral.values())
        groups = durable.keys() | ephemeral.keys()
        told = 0
        for connection in tuple(self.connections):
            listening = [group for group in groups if connection.deliver in self.listeners.get(group, ())]
            resume = [lost for group in listening for lost in durable.get(group, ())]
            reload = [group_channel(group) for group in listening if group in ephemeral]
            told += bool(listening)
            try:
                if resume:
                    await connection.send_control(
                        T.RESUME_HINT,
                        {
                            "since": min(sequence for sequence, _ in resume) - 1,
                            "last_sequence": self.gaps.horizon,
                            "missed": len(resume),
                            "channels": sorted({channel for _, channel in resume}),
                        },
                    )
                    stats.resume_hints_sent += 1
                if reload:
                    missed = sum(ephemeral[group] for group in listening if group in ephemeral)
                    channels = None if None in reload else sorted(reload)
                    await connection.send_control(T.RELOAD_HINT, {"channels": channels, "missed": missed})
                    stats.reload_hints_sent += 1
            except Exception:
                logger.exception("loss hint failed")
        if CONTROL_GROUP in ephemeral:
            # A lost notice may have revoked someone's access or changed their grants, and which is
            # not known: every connection re-reads its own (one query each, on a rare event).
            for connection in tuple(self.connections):
                if connection.deliver in self.listeners.get(CONTROL_GROUP, ()):
                    try:
                        await connection.recheck_access()
                    except Exception:
                        logger.exception("access recheck failed")
        self._log_loss(durable, ephemeral, told)

    def _log_loss(
        self, durable: dict[str, list[tuple[int, str]]], ephemeral: dict[str, int], told: int
    ) -> None:
        """One line a minute at most; losses in between are added up into the next line."""
        sequences = [sequence for lost in durable.values() for sequence, _ in lost]
        self._durable_unlogged += len(sequences)
        self._ephemeral_unlogged += sum(ephemeral.values())
        now = time.monotonic()
        if self._loss_logged_at is not None and now - self._loss_logged_at < LOSS_LOG_SECONDS:
            return
        lost = []
        if self._durable_unlogged:
            lost.append(f"{self._durable_unlogged} durable messages (the outbox keeps them for resume)")
        if self._ephemeral_unlogged:
            lost.append(f"{self._ephemeral_unlogged} ephemeral messages (gone)")
        this_time = [f"#{min(sequences)}-#{max(sequences)}"] if sequences else []
        logger.warning(
            "the channel layer lost %s on the way to this process (this time %s); told %d connections",
            " and ".join(lost),
            ", ".join([*this_time, *sorted(ephemeral)]),
            told,
        )
        self._loss_logged_at, self._durable_unlogged, self._ephemeral_unlogged = now, 0, 0


async def _wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Wait until `event` is set or `seconds` have passed.

    Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that lands as the event is
    set (cpython#86296), and a hub that sets an event and stops at once would wait forever for a
    loop that never ends — holding its lock, so that every later handshake of the process hangs.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


async def _keep_running(
    name: str, wait: Callable[[], Awaitable[None]] | None, step: Callable[[], Awaitable[object]]
) -> None:
    """Forever: `wait` for the next turn, then run `step` until it succeeds (log, count, back off)."""
    while True:
        if wait is not None:
            await wait()
        failures = 0
        while True:
            try:
                await step()
            except Exception as error:
                failures += 1
                stats.hub_failures[name] += 1
                delay = min(RETRY_CAP_SECONDS, RETRY_FIRST_SECONDS * 2 ** (failures - 1))
                # Powers of two only: a long outage logs a few lines, not one per retry.
                if failures & (failures - 1) == 0:
                    # An outage (Redis, the database) is outside our code: one line, no traceback.
                    is_outage = isinstance(error, OUTAGE_ERRORS)
                    logger.error(
                        "realtime hub %s failed (%d in a row%s); retrying in %.1f s",
                        name,
                        failures,
                        f": {outage(error)}" if is_outage else "",
                        delay,
                        exc_info=failures == 1 and not is_outage,
                    )
                await asyncio.sleep(delay)
            else:
                if failures:
                    logger.warning("realtime hub %s works again after %d failures", name, failures)
                break


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


def live_hubs() -> list[Hub]:
    """Every hub of this process (one per event loop that served connections)."""
    return list(_hubs.values())
