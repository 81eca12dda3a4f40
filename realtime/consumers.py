"""The WebSocket protocol of SPEC §4: one consumer class, thin subclasses for the fixed endpoints."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from events.selectors import job_visible_to
from realtime.auth import LAST_SEQUENCE_KEY, VIEWER_KEY, viewer_recheck
from realtime.backpressure import BACKLOG_KEY
from realtime.batcher import MessageBatcher
from realtime.broadcast import CONTROL_GROUP, group_name, user_group
from realtime.connection_figures import batcher_counters
from realtime.counters import stats
from realtime.database_hop import database_hop
from realtime.envelope import encode_frame
from realtime.event_types import DURABLE_CHANNELS
from realtime.event_types import WebSocketEventType as T
from realtime.frames import WRITER_KEY, shared_text_frame
from realtime.hub import get_hub
from realtime.outbox import outbox_replay
from realtime.ratelimit import TokenBucket
from realtime.refusals import CLOSE_NOT_FOUND, CLOSE_UNAVAILABLE, OUTAGE_ERRORS, outage
from realtime.subscriptions import CHANNELS, FilterError, Filters, Viewer, parse_filters
from realtime.visibility import viewer_for

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
# Messages dropped while rate-limited before we give up on a client and close it (1008).
FLOOD_TOLERANCE = 40
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
# A server that can send those RFC codes says so in the scope (Lookout's, project/server.py).
# Others (a bare daphne) only pass 1000 and 3000–4999 and turn anything else into a 1011 crash,
# so there the same closes use these application codes.
RFC_CLOSE_CODES_KEY = "lookout.rfc_close_codes"
APPLICATION_CLOSE_CODES = {CLOSE_TOO_BIG: 4009, CLOSE_POLICY: 4029}
CLOSE_FORBIDDEN = 4403
CLOSE_SLOW = 4008


class ProtocolError(Exception):
    """A client message we answer with an `error` frame; the connection stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RealtimeConsumer(AsyncWebsocketConsumer):
    """`/ws/`: authenticated by the middleware; the client subscribes to what it wants."""

    endpoint = "/ws/"
    initial_channels: tuple[str, ...] = ()

    async def __call__(self, scope, receive, send):
        self.subscriptions: dict[str, Filters] = {}
        self.viewer: Viewer | None = None
        self.replay_buffer: list[tuple[int, str]] | None = None
        self.attached = False
        self.closing = False  # set when we close the socket ourselves: nothing more is sent
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            # Channels' loop (await_many_dispatch) keeps a task per source waiting, and its
            # dispatch makes a thread hop (close_old_connections) before every message: this
            # consumer has one source, and its database calls check their connection themselves
            # (realtime/database_hop.py).
            while True:
                message = await receive()
                handler = getattr(self, get_handler_name(message), None)
                if handler is None:
                    raise ValueError(f"No handler for message type {message['type']}")
                await handler(message)
        except StopConsumer:
            pass
        finally:
            await self._release()

    # --- connection lifecycle -------------------------------------------------------------------

    async def connect(self) -> None:
        # Kept apart from scope["user"] (which the stats count by name): refreshed when the user changes.
        self.user = self.scope["user"]
        self.connection_id = uuid.uuid4().hex
        self.bucket = TokenBucket(rate=20, burst=40)
        # Read once: a Django setting costs a LazySettings lookup, and this one is checked per frame.
        self.buffer_bound = settings.REALTIME_CLIENT_BUFFER_BYTES
        self.probe = self.scope.get(BACKLOG_KEY)
        self.write_frame = self.scope.get(WRITER_KEY)
        self.flood_strikes = 0
        self.batcher = MessageBatcher(batch_interval_ms=100, max_batch_size=50, batch_channels={"detections"})
        self.hub = get_hub()
        try:
            await self._open()
        except OUTAGE_ERRORS as error:
            # An outage, not a bug: one line in the log. Before accept this refuses the handshake.
            logger.warning("closing a connection of %s: %s", self.endpoint, outage(error))
            self.closing = True
            await self._close_released(CLOSE_UNAVAILABLE)

    async def _open(self) -> None:
        user = self.user
        self.viewer = self.scope[VIEWER_KEY]  # computed in the handshake's one thread hop
        self.attached = True
        stats.connections[self.endpoint] += 1
        stats.users[user.get_username()] += 1
        stats.total_connections += 1
        # Joined before accept, so that a channel layer outage refuses the handshake. The control
        # group only carries notices, which send nothing before accept.
        await self.hub.join(CONTROL_GROUP, self.deliver)
        await self.hub.join(user_group(user.pk), self.deliver)
        await self.accept()
        if not await self.admit():
            return
        await self.hub.attach(self)
        await self.batcher.start()
        for channel in self.initial_channels:
            await self._subscribe(channel, self.initial_filters())
        await self.send_control(
            T.CONNECTION_ESTABLISHED,
            {
                "connection_id": self.connection_id,
                "user": {"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff},
                "channels": sorted(self.subscriptions),
                "server_time": timezone.now().isoformat(),
                "last_sequence": self.scope[LAST_SEQUENCE_KEY],
            },
        )

    async def admit(self) -> bool:
        """Whether this endpoint accepts the connection (a subclass may close it with a code)."""
        return True

    def initial_filters(self) -> Filters:
        return Filters()

    async def disconnect(self, code) -> None:
        await self._release()

    async def _release(self) -> None:
        """Leave every group and the hub; safe to call more than once, on any kind of disconnect."""
        if not getattr(self, "attached", False):
            return
        self.attached = False
        for group in [*map(group_name, self.subscriptions), CONTROL_GROUP, user_group(self.viewer.user_id)]:
            try:
                await self.hub.leave(group, self.deliver)
            except OUTAGE_ERRORS as error:
                # The hub has dropped our listener already; only the layer's membership is left over.
                logger.warning("leaving %s: %s", group, outage(error))
        self.subscriptions.clear()
        await self.batcher.stop()
        stats.batcher_totals.update(batcher_counters(self.batcher))
        stats.connections[self.endpoint] -= 1
        stats.users[self.scope["user"].get_username()] -= 1
        # Counter's unary plus drops the keys that fell to zero.
        stats.connections = +stats.connections
        stats.users = +stats.users
        # After the counts: a hub that stops now publishes figures without this connection.
        await self.hub.detach(self)

    # --- server → client ------------------------------------------------------------------------

    def deliver(self, message: dict) -> Awaitable[None] | None:
        """A message from the hub: filter it for this user and forward the ready text.

        Not a coroutine: under Lookout's daphne a message on an unbatched channel is written here and
        now, and only the rest (batching, a visibility change, the ASGI send) returns an awaitable.
        """
        if message.get("control") == "visibility":
            return self._visibility_changed(message.get("user_id"))
        meta = message["meta"]
        if not self.viewer.may_see(meta):
            return None
        if not message.get("direct"):  # sent to this user or to everyone: whatever the subscriptions
            filters = self.subscriptions.get(meta["channel"])
            if filters is None or not filters.allows(meta):
                return None
        if self.replay_buffer is not None and meta["sequence"] is not None:
            self.replay_buffer.append((meta["sequence"], message["text"]))
            return None
        channel = meta["channel"]
        if self.write_frame is not None and channel not in self.batcher.batch_channels:
            self.batcher.send_unbatched(message["text"], self._write_text)
            return None
        return self.batcher.queue_message(channel, message["text"], self.send_text)

    async def recheck_access(self) -> None:
        """Re-read this connection's user, credential and grants (a notice about them may have been lost)."""
        await self._visibility_changed(self.viewer.user_id)

    async def _visibility_changed(self, user_id: int | None) -> None:
        """Grants changed (user_id None) or this user did: recompute, or close if they may not connect now."""
        if user_id is not None and user_id != self.viewer.user_id:
            return  # a notice about another user costs this connection nothing
        try:
            if user_id is None:
                self.viewer = await database_hop(viewer_for)(self.user)
                return
            rechecked = await database_hop(viewer_recheck)(self.scope)
        except OUTAGE_ERRORS as error:
            # Fail closed: the change may take a grant away, and it cannot be read now.
            logger.warning("closing a connection of %s on a grant change: %s", self.endpoint, outage(error))
            self._close_soon(CLOSE_UNAVAILABLE)
            return
        if rechecked is None:
            logger.info("closing a connection of %s: user or credential revoked", self.endpoint)
            self._close_soon(CLOSE_FORBIDDEN)
        else:
            self.user, self.viewer = rechecked

    async def send_text(self, text: str) -> None:
        if self.write_frame is not None:
            self._write_text(text)
        elif not (self.closing or self._stopped_reading()):
            await self.send(text_data=text)
            stats.frames_sent += 1

    def _write_text(self, text: str) -> None:
        """Lookout's daphne: queue the text's frame, built once for every socket that gets the same text."""
        if self.closing or self._stopped_reading():
            return
        self.write_frame(shared_text_frame(text))
        stats.frames_sent += 1

    def _stopped_reading(self) -> bool:
        """Past REALTIME_CLIENT_BUFFER_BYTES unread, close the client (4008); it comes back with resume."""
        probe = self.probe
        if probe is None or probe() <= self.buffer_bound:
            return False
        stats.slow_clients_closed += 1
        logger.warning("closing a slow client of %s (%s unread bytes)", self.endpoint, probe())
        self._close_soon(CLOSE_SLOW)
        return True

    def _close_soon(self, code: int) -> None:
        """Send nothing more and close with `code`."""
        self.closing = True
        # Closing awaits the hub, which may be delivering to us right now: do it in a task of its own.
        self.closer = asyncio.get_running_loop().create_task(self._close_released(code))

    async def _close_released(self, code: int) -> None:
        await self._release()
        await self.close(code=code)

    async def send_control(self, event_type: str, payload: dict, request_id=None) -> None:
        if request_id is not None:
            payload = {**payload, "request_id": request_id}
        await self.send_text(encode_frame(event_type, payload, timestamp=timezone.now()))

    # --- client → server ------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is not None and len(raw) > MAX_FRAME_BYTES // 4 and len(_as_bytes(raw)) > MAX_FRAME_BYTES:
            await self.close(code=self._rfc_close_code(CLOSE_TOO_BIG))
            return
        if not self.bucket.take():
            await self._rate_limited()
            return
        self.flood_strikes = 0
        request_id = None
        try:
            if text_data is None:
                raise ProtocolError("invalid_message", "send JSON text frames, not binary")
            if text_data.strip() == "ping":
                # The seed system's clients keep alive with a bare text ping.
                await self.action_ping({}, None)
                return
            try:
                message = orjson.loads(text_data)
            except orjson.JSONDecodeError:
                raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
            if not isinstance(message, dict):
                raise ProtocolError("invalid_message", "a message is a JSON object")
            request_id = message.get("request_id")
            if not isinstance(request_id, str | int | None) or isinstance(request_id, bool):
                request_id = None
            action = message.get("action")
            if action is None and message.get("type") == "ping":
                action = "ping"  # the seed system's keep-alive, {"type": "ping"}
            if not isinstance(action, str):
                raise ProtocolError("invalid_message", 'a message needs an "action" string')
            handler = self.ACTIONS.get(action)
            if handler is None:
                raise ProtocolError("unknown_action", f"unknown action {action[:40]!r}")
            await handler(self, message, request_id)
        except ProtocolError as error:
            await self.send_error(error.code, error.message, request_id)
        except Exception:
            # Nothing a client sends may crash the consumer: answer, log, stay open.
            logger.exception("realtime consumer failed on a client message")
            await self.send_error("internal_error", "the server could not handle that message", request_id)

    async def send_error(self, code: str, message: str, request_id=None) -> None:
        await self.send_control(T.ERROR, {"code": code, "message": message}, request_id)

    async def _rate_limited(self) -> None:
        self.flood_strikes += 1
        if self.flood_strikes == 1:
            await self.send_error("rate_limited", "more than 20 messages per second; slow down")
        elif self.flood_strikes > FLOOD_TOLERANCE:
            await self.close(code=self._rfc_close_code(CLOSE_POLICY))

    def _rfc_close_code(self, code: int) -> int:
        """`code` where the server can send it, else its application stand-in."""
        return code if self.scope.get(RFC_CLOSE_CODES_KEY) else APPLICATION_CLOSE_CODES[code]

    def _channels_of(self, message: dict) -> list[str]:
        channels = message.get("channels")
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            raise ProtocolError("invalid_message", '"channels" must be a non-empty list of channel names')
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise ProtocolError(
                "unknown_channel", f"unknown channels: {', '.join(c[:40] for c in unknown[:5])}"
            )
        return channels

    async def _subscribe(self, channel: str, filters: Filters) -> None:
        if channel not in self.subscriptions:
            await self.hub.join(group_name(channel), self.deliver)
        self.subscriptions[channel] = filters

    async def action_subscribe(self, message: dict, request_id) -> None:
        channels = self._channels_of(message)
        try:
            filters = parse_filters(message.get("filters"))
        except FilterError as error:
            raise ProtocolError("invalid_filter", str(error)) from None
        for channel in channels:
            await self._subscribe(channel, filters)
        await self.send_control(T.SUBSCRIBED, {"channels": sorted(self.subscriptions)}, request_id)

    async def action_unsubscribe(self, message: dict, request_id) -> None:
        for channel in self._channels_of(message):
            if self.subscriptions.pop(channel, None) is not None:
                await self.hub.leave(group_name(channel), self.deliver)
        await self.send_control(T.UNSUBSCRIBED, {"channels": sorted(self.subscriptions)}, request_id)

    async def action_ping(self, message: dict, request_id) -> None:
        await self.send_control(T.PONG, {"server_time": timezone.now().isoformat()}, request_id)

    async def action_resume(self, message: dict, request_id) -> None:
        since = message.get("since")
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ProtocolError("invalid_message", '"since" must be a sequence number (integer >= 0)')
        # Live durable messages wait in a buffer during the replay, so the client gets
        # everything in sequence order.
        self.replay_buffer = []
        try:
            await self.batcher.flush_all()
            channels = set(self.subscriptions) & DURABLE_CHANNELS
            replay = await database_hop(outbox_replay)(since=since, channels=channels)
            frames = {
                envelope.sequence: envelope.text()
                for envelope in replay.envelopes
                if self.viewer.may_see(meta := envelope.meta())
                and self.subscriptions[envelope.channel].allows(meta)
            }
        finally:
            buffered, self.replay_buffer = self.replay_buffer, None
        if replay.gap:
            # The client reloads over REST; what arrived live meanwhile is still news to it.
            await self.send_control(
                T.RESUME_GAP, {"since": since, "last_sequence": replay.last_sequence}, request_id
            )
        replayed = len(frames)
        for sequence, text in buffered:
            frames.setdefault(sequence, text)
        for sequence in sorted(frames):
            await self.send_text(frames[sequence])
        if not replay.gap:
            last = max([replay.last_sequence, *frames])
            await self.send_control(
                T.RESUME_COMPLETED, {"replayed": replayed, "last_sequence": last}, request_id
            )

    ACTIONS = {
        "subscribe": action_subscribe,
        "unsubscribe": action_unsubscribe,
        "ping": action_ping,
        "resume": action_resume,
    }


def _as_bytes(raw: str | bytes) -> bytes:
    return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw


class EventsConsumer(RealtimeConsumer):
    """`/ws/events/`: events and detections."""

    endpoint = "/ws/events/"
    initial_channels = ("events", "detections")


class SystemConsumer(RealtimeConsumer):
    """`/ws/system/`: system status and cameras."""

    endpoint = "/ws/system/"
    initial_channels = ("system", "cameras")


class AlertsConsumer(RealtimeConsumer):
    """`/ws/alerts/`: alerts."""

    endpoint = "/ws/alerts/"
    initial_channels = ("alerts",)


class JobConsumer(RealtimeConsumer):
    """`/ws/jobs/<uuid>/`: one job's messages; unknown job → 4404, someone else's → 4403."""

    endpoint = "/ws/jobs/"
    initial_channels = ("jobs",)

    async def admit(self) -> bool:
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        visible = await database_hop(job_visible_to)(self.job_id, self.scope["user"])
        if visible is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return False
        if not visible:
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return True

    def initial_filters(self) -> Filters:
        return Filters(job_id=self.job_id)
