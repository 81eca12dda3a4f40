"""Group membership and delivery: one channel-layer subscription per group per process.

The naive Channels pattern gives every socket its own layer channel and group membership, so
one broadcast becomes N layer messages and N handler dispatches. Here each process (each event
loop) has one hub: it joins a group once, receives each message once, and hands the ready
frame to the local connections that listen. Connections never touch the layer themselves.
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from realtime.outbox import outbox_last_sequence, outbox_prune

logger = logging.getLogger(__name__)

Listener = Callable[[dict], Awaitable[None]]
# channels-redis forgets group members after a day (group_expiry): re-join well before that,
# and prune the outbox past REALTIME_HISTORY_SECONDS at the same pace.
GROUP_REFRESH_SECONDS = 3600


class Hub:
    """One event loop's window on the channel layer."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.listeners: dict[str, set[Listener]] = defaultdict(set)
        self.connections: set = set()
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()

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
            self.channel_name = await self.layer.new_channel("hub.")
            self._tasks = [
                asyncio.create_task(self._receive_loop()),
                asyncio.create_task(self._heartbeat_loop()),
                asyncio.create_task(self._refresh_loop()),
            ]

    async def _stop_if_idle(self) -> None:
        if self.listeners or self.connections or self.channel_name is None:
            return
        tasks, self._tasks, self.channel_name = self._tasks, [], None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _receive_loop(self) -> None:
        channel = self.channel_name
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception:
                logger.exception("channel layer receive failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            for listener in tuple(self.listeners.get(message.get("group"), ())):
                try:
                    await listener(message)
                except Exception:
                    logger.exception("realtime listener failed")

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.REALTIME_HEARTBEAT_SECONDS)
            last_sequence = await database_sync_to_async(outbox_last_sequence)()
            for connection in tuple(self.connections):
                try:
                    await connection.send_heartbeat(last_sequence)
                except Exception:
                    logger.exception("heartbeat failed")

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            async with self._lock:
                for group in self.listeners:
                    await self.layer.group_add(group, self.channel_name)
            # Every serving process prunes: the delete is idempotent, and no extra process is needed.
            await database_sync_to_async(outbox_prune)()


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
