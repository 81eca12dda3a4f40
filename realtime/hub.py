"""Group membership and delivery: one channel-layer subscription per group per process.

The naive Channels pattern gives every socket its own layer channel and group membership, so
one broadcast becomes N layer messages and N handler dispatches. Here each process (each event
loop) has one hub: it joins a group once, receives each message once, and hands the ready
frame to the local connections that listen. Connections never touch the layer themselves.

The hub's loops (receive, heartbeat, group refresh) outlive the failures of
the channel layer and the database: a failed step is logged, counted in `stats.hub_failures`
and retried after a capped exponential pause. The hub is transport only: the deployment's
periodic work (outbox pruning among it) belongs to the worker, which runs whether or not a
process holds sockets; group refresh stays here because group membership is per process.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from realtime.counters import stats
from realtime.outbox import outbox_last_sequence

logger = logging.getLogger(__name__)

Listener = Callable[[dict], Awaitable[None]]
# channels-redis drops a group member `group_expiry` seconds after its last group_add (that is
# how a killed instance's hub leaves the groups): re-join this many times within it, so that a
# refresh or two lost to a hiccup never drops a live hub.
REFRESHES_PER_GROUP_EXPIRY = 4
# A failing step is retried after 0.1 s, 0.2 s, 0.4 s … up to this: a layer or database that
# comes back is used again within seconds, and a long outage costs one attempt per pause.
RETRY_CAP_SECONDS = 2.0
RETRY_FIRST_SECONDS = 0.1


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

    async def join(self, group: str, listener: Listener) -> None:
        """Deliver the group's messages to `listener` from now on."""
        async with self._lock:
            await self._ensure_running()
            if not self.listeners[group]:
                await self.layer.group_add(group, self.channel_name)
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
                await self.layer.group_discard(group, self.channel_name)
            await self._stop_if_idle()

    async def attach(self, connection) -> None:
        """Count a live connection (it gets heartbeats)."""
        async with self._lock:
            await self._ensure_running()
            self.connections.add(connection)

    async def detach(self, connection) -> None:
        """Forget a closed connection."""
        async with self._lock:
            self.connections.discard(connection)
            await self._stop_if_idle()

    def group_sizes(self) -> dict[str, int]:
        """Local listeners per group (for tests and status)."""
        return {group: len(members) for group, members in self.listeners.items()}

    async def _ensure_running(self) -> None:
        if self.channel_name is None:
            channel = self.channel_name = await self.layer.new_channel("hub.")
            loops = {
                "receive": (None, lambda: self._receive_once(channel)),
                "heartbeat": (self._heartbeat_due, self._send_heartbeats),
                "group_refresh": (self._refresh_due, self._refresh_groups),
            }
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
        # A bundle carries consecutive messages of one publish to this group (see broadcast.py).
        for item in message.get("bundle") or (message,):
            for listener in listeners:
                try:
                    await listener(item)
                except Exception:
                    logger.exception("realtime listener failed")

    async def _heartbeat_due(self) -> None:
        await asyncio.sleep(settings.REALTIME_HEARTBEAT_SECONDS)

    async def _send_heartbeats(self) -> None:
        last_sequence = await database_sync_to_async(outbox_last_sequence)()
        for connection in tuple(self.connections):
            try:
                await connection.send_heartbeat(last_sequence)
            except Exception:
                logger.exception("heartbeat failed")

    async def _refresh_due(self) -> None:
        """Wait for the next periodic refresh, or less when a receive failed."""
        if self._layer_failures == self._layer_failures_answered:
            period = self.layer.group_expiry / REFRESHES_PER_GROUP_EXPIRY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._layer_failed.wait(), timeout=period)
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
            except Exception:
                failures += 1
                stats.hub_failures[name] += 1
                delay = min(RETRY_CAP_SECONDS, RETRY_FIRST_SECONDS * 2 ** (failures - 1))
                # Powers of two only: a long outage logs a few lines, not one per retry.
                if failures & (failures - 1) == 0:
                    logger.error(
                        "realtime hub %s failed (%d in a row); retrying in %.1f s",
                        name,
                        failures,
                        delay,
                        exc_info=failures == 1,
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
