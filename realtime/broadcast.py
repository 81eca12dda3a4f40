"""The one broadcaster: validate, number (durable channels), serialize once, send after commit.

Every producer (signal receivers, the pipeline, the system monitor) calls `publish` or
`publish_many`; `send_to_user`, `emit_critical_event` and `broadcast` (the seed system's
names) reach one user's connections or every connection whatever they subscribed to.
Nothing else builds group names or calls `group_send`.
"""

import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from realtime.counters import stats
from realtime.envelope import Envelope
from realtime.event_types import (
    get_all_channels,
    get_event_channel,
    is_durable,
    missing_payload_fields,
    validate_event_type,
)
from realtime.outbox import outbox_append

logger = logging.getLogger(__name__)

GROUP_PREFIX = "lookout."
# Internal notices to every connection (not a protocol channel; clients never see these).
CONTROL_GROUP = f"{GROUP_PREFIX}control"
# The type of the layer message that carries a ready frame to the per-process hubs.
DELIVERY_TYPE = "realtime.deliver"


class PayloadError(ValueError):
    """A payload lacks the fields the registry requires for its type."""


@dataclass(frozen=True)
class Message:
    """What a producer hands the broadcaster."""

    event_type: str
    payload: dict
    camera_id: str = ""
    owner_id: int | None = None
    correlation_id: str | None = None
    # Deliver to this group (a user's, or the control group that every connection joins)
    # instead of the channel's subscribers.
    direct_group: str | None = None


def group_name(channel: str) -> str:
    """The channel-layer group of a protocol channel."""
    return f"{GROUP_PREFIX}{channel}"


_CHANNEL_OF_GROUP = {group_name(channel): channel for channel in get_all_channels()}


def group_channel(group: str) -> str | None:
    """The protocol channel whose group `group` is; None for a user's group and the control group."""
    return _CHANNEL_OF_GROUP.get(group)


def user_group(user_id: int) -> str:
    """The channel-layer group that every connection of one user joins, on every instance."""
    return f"{GROUP_PREFIX}user.{user_id}"


def stored_message_group(channel: str, owner_id: int | None) -> str:
    """The group a durable message was sent to, from its outbox row's channel and owner.

    Only `send_to_user` stores an owner outside `jobs` (a job's messages carry the job's
    owner but go to the jobs group); `broadcast`'s durable messages count as their channel's.
    """
    if owner_id is not None and channel != "jobs":
        return user_group(owner_id)
    return group_name(channel)


def publish(
    event_type: str,
    payload: dict,
    *,
    camera_id: str = "",
    owner_id: int | None = None,
    correlation_id: str | None = None,
) -> None:
    """Publish one message (see `publish_many`)."""
    publish_many([Message(event_type, payload, camera_id, owner_id, correlation_id)])


def send_to_user(user: Any, event_type: str, payload: dict) -> None:
    """Send to every connection of `user` (a user or its id), on every instance, and to nobody else.

    It arrives whatever the connections subscribed to. A durable type is numbered like any
    message, and `resume` replays it to that user only (it is stored with them as owner).
    """
    user_id = getattr(user, "pk", user)
    publish_many([Message(event_type, payload, owner_id=user_id, direct_group=user_group(user_id))])


def emit_critical_event(user: Any, event_type: str, payload: dict) -> None:
    """`send_to_user` with `"critical": true` in the payload, which the dashboard shows prominently."""
    send_to_user(user, event_type, {**payload, "critical": True})


def broadcast(event_type: str, payload: dict) -> None:
    """Send to every connection, whatever it subscribed to; camera visibility still applies."""
    publish_many([Message(event_type, payload, direct_group=CONTROL_GROUP)])


def publish_many(messages: Sequence[Message]) -> None:
    """Publish messages in order: durable ones join the outbox in the caller's transaction, and
    all of them go to the channel layer only once that transaction commits."""
    now = timezone.now()
    valid = [(message, envelope) for message in messages if (envelope := _envelope(message, now)) is not None]
    if not valid:
        return
    durable = [e for _, e in valid if is_durable(e.event_type)]
    if durable:
        numbered = iter(outbox_append(durable))
        valid = [
            (m, replace(e, sequence=next(numbered).id) if is_durable(e.event_type) else e) for m, e in valid
        ]
    frames = [
        (m.direct_group, {**_delivery(e), "direct": True})
        if m.direct_group
        else (group_name(e.channel), _delivery(e))
        for m, e in valid
    ]
    transaction.on_commit(lambda: send_frames(frames))


def _envelope(message: Message, now) -> Envelope | None:
    event_type = validate_event_type(str(message.event_type))
    missing = missing_payload_fields(event_type, message.payload) if event_type else ()
    if event_type is None or missing:
        problem = f"cannot publish {message.event_type!r}: " + (
            f"missing payload fields {missing}" if event_type else "unknown event type"
        )
        if settings.REALTIME_STRICT_PAYLOADS:
            raise PayloadError(problem)
        logger.error(problem)
        stats.publish_failures += 1
        return None
    return Envelope(
        event_type=str(event_type),
        channel=get_event_channel(event_type),
        payload=message.payload,
        timestamp=now,
        correlation_id=message.correlation_id,
        camera_id=message.camera_id or message.payload.get("camera_id") or "",
        owner_id=message.owner_id,
    )


def _delivery(envelope: Envelope) -> dict:
    return {"type": DELIVERY_TYPE, "text": envelope.text(), "meta": envelope.meta()}


def send_frames(frames: list[tuple[str, dict]]) -> None:
    """Hand ready frames to the channel layer; a layer failure is logged and counted, never raised.

    The database write has already committed: the outbox keeps the durable messages, and
    clients recover them with `resume`.
    """
    try:
        async_to_sync(_group_send_all)(frames)
    except Exception:
        stats.publish_failures += len(frames)
        logger.exception("channel layer unavailable: %d realtime messages not delivered live", len(frames))
    else:
        stats.published += len(frames)


class TransportNumbers:
    """This process's count, per group, of the un-sequenced messages it handed to the layer.

    Per process by nature: the hubs tell senders apart by a random id, so that a restarted
    process (a new id) starts a new count instead of looking like a loss (realtime/gaps.py).
    """

    def __init__(self) -> None:
        self.sender = secrets.token_hex(8)
        self.sent: dict[str, int] = {}
        # Producers publish from several threads (each with its own event loop) at once.
        self.lock = threading.Lock()

    def take(self, group: str, count: int) -> list:
        """[sender, before, after]: the count of `group` before and after `count` more messages."""
        with self.lock:
            before = self.sent.get(group, 0)
            after = self.sent[group] = before + count
        return [self.sender, before, after]


_numbers = TransportNumbers()


def _renumber_after_fork() -> None:
    # A forked child sharing its parent's id would interleave two counts under one name.
    global _numbers
    _numbers = TransportNumbers()


os.register_at_fork(after_in_child=_renumber_after_fork)


async def _group_send_all(frames: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, run in itertools.groupby(frames, key=itemgetter(0)):
        messages = [message for _, message in run]
        # Consecutive frames to one group travel as one layer message (the hub unpacks it in
        # order): a bulk ingest of 1,000 detections is one send and one slot of each hub
        # channel's capacity, not 1,000.
        bundle = messages[0] if len(messages) == 1 else {"type": DELIVERY_TYPE, "bundle": messages}
        # Durable messages are numbered by the outbox already; the rest are counted here.
        unsequenced = sum(1 for m in messages if m.get("meta", {}).get("sequence") is None)
        # `sent_at` (wall clock) lets a hub tell that it is behind its channel (realtime/hub.py).
        message = {**bundle, "group": group, "transport": _numbers.take(group, unsequenced)}
        await layer.group_send(group, {**message, "sent_at": time.time()})


def notify_visibility_changed(*, user_id: int | None = None) -> None:
    """Tell every connection, after commit, to recompute which cameras its user may see.

    With `user_id`, only that user's connections act: they re-read the user and their credential.
    """
    message = {"type": DELIVERY_TYPE, "control": "visibility", "user_id": user_id}
    transaction.on_commit(lambda: send_frames([(CONTROL_GROUP, message)]))
