"""The durable outbox: append in the writer's transaction, replay for `resume`, prune by age."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from project.bulk_insert import bulk_insert
from realtime.envelope import Envelope
from realtime.models import OutboxMessage, OutboxWatermark

# Any constant: the key of the PostgreSQL advisory lock that orders outbox inserts.
SEQUENCE_LOCK_KEY = 1_000_777


def _hold_sequence_lock() -> None:
    """Make sequence order equal commit order.

    Two transactions could otherwise take sequences 5 and 6 and commit 6 first: a client that
    saw 6 and resumes from it would never get 5. Holding a transaction-scoped lock from the
    first outbox insert to the commit stops another writer from taking a sequence in between.
    SQLite needs nothing: its IMMEDIATE transactions already serialize writers from BEGIN.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCE_LOCK_KEY])


def outbox_append(envelopes: Sequence[Envelope]) -> list[OutboxMessage]:
    """Store durable envelopes in the current transaction; their ids become their sequences."""
    with transaction.atomic():
        _hold_sequence_lock()
        messages = [
            OutboxMessage(
                event_type=e.event_type,
                channel=e.channel,
                camera_id=e.camera_id,
                owner_id=e.owner_id,
                payload=e.payload,
                correlation_id=e.correlation_id or "",
                created_at=e.timestamp,
            )
            for e in envelopes
        ]
        bulk_insert(messages)
        return messages


def outbox_last_sequence() -> int:
    """The highest sequence written so far (0 when none)."""
    return OutboxMessage.objects.aggregate(last=Max("id"))["last"] or 0


def outbox_senders(
    *, first: int, last: int, channels: set[str]
) -> list[tuple[int, str, int | None, datetime]]:
    """(sequence, channel, owner_id, created_at) of the messages first…last on `channels` or with an owner."""
    rows = OutboxMessage.objects.filter(
        Q(channel__in=channels) | Q(owner_id__isnull=False), id__range=(first, last)
    )
    return list(rows.order_by("id").values_list("id", "channel", "owner_id", "created_at"))


@dataclass(frozen=True)
class Replay:
    """What a resume gets: the envelopes in sequence order, or a gap."""

    envelopes: list[Envelope]
    gap: bool
    last_sequence: int


def outbox_replay(*, since: int, channels: set[str], limit: int | None = None) -> Replay:
    """Envelopes on `channels` after `since`, plus an overlap window before it (clients drop duplicates).

    The overlap covers messages committed in order but delivered live out of order by two
    server processes: a client may have seen #6 live before #5 reached it.
    """
    limit = limit or settings.REALTIME_REPLAY_LIMIT
    last = outbox_last_sequence()
    watermark = OutboxWatermark.objects.filter(pk=1).values_list("pruned_through", flat=True).first() or 0
    if since < watermark:
        return Replay(envelopes=[], gap=True, last_sequence=last)
    on_channels = OutboxMessage.objects.filter(channel__in=channels)
    # Only what followed `since` can make a gap: the overlap is a courtesy, filled nearest to
    # `since` first with what the limit leaves (a bulk ingest puts thousands in a few seconds).
    after = list(on_channels.filter(id__gt=since).order_by("id")[: limit + 1])
    if len(after) > limit:
        return Replay(envelopes=[], gap=True, last_sequence=last)
    anchor = (
        OutboxMessage.objects.filter(id__lte=since).order_by("-id").values_list("created_at", flat=True)[:1]
    )
    overlap = []
    if anchor and len(after) < limit:
        start = anchor[0] - timedelta(seconds=settings.REALTIME_RESUME_OVERLAP_SECONDS)
        window = on_channels.filter(id__lte=since, created_at__gte=start).order_by("-id")
        overlap = list(window[: limit - len(after)])[::-1]
    return Replay(envelopes=[_envelope(row) for row in overlap + after], gap=False, last_sequence=last)


def _envelope(row: OutboxMessage) -> Envelope:
    return Envelope(
        event_type=row.event_type,
        channel=row.channel,
        payload=row.payload,
        timestamp=row.created_at,
        sequence=row.id,
        correlation_id=row.correlation_id or None,
        camera_id=row.camera_id,
        owner_id=row.owner_id,
    )


@transaction.atomic
def outbox_prune(*, older_than_seconds: int | None = None) -> int:
    """Delete messages older than the kept history; remember the highest one deleted."""
    seconds = settings.REALTIME_HISTORY_SECONDS if older_than_seconds is None else older_than_seconds
    old = OutboxMessage.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=seconds))
    highest = old.aggregate(highest=Max("id"))["highest"]
    if highest is None:
        return 0
    deleted, _ = OutboxMessage.objects.filter(id__lte=highest).delete()
    mark, _ = OutboxWatermark.objects.select_for_update().get_or_create(pk=1)
    mark.pruned_through = max(mark.pruned_through, highest)
    mark.save(update_fields=["pruned_through"])
    return deleted
