"""manage.py close_batches: close the due detection batches once and record their events."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from events.pipeline import batches_close_due


class Command(BaseCommand):
    """One round of the pipeline's batch closing (the worker loop runs it periodically)."""

    help = "Close every due detection batch (and retry failed ones), analyze them and record their events."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="Close as of this ISO 8601 time instead of now (with an offset).")

    def handle(self, *args, at: str | None, **options):
        now = parse_datetime(at) if at else None
        if at and (now is None or now.tzinfo is None):
            raise CommandError(f"--at needs an ISO 8601 time with an offset, got {at!r}")
        closed = batches_close_due(now=now)
        for batch in closed:
            batch.refresh_from_db()
            self.stdout.write(f"batch {batch.pk} ({batch.camera_id}): {batch.state}, event {batch.event_id}")
        self.stdout.write(f"{len(closed)} batch(es) closed")
