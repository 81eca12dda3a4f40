"""Several callers of `batches_close_due` at the same moment on a real database; prints JSON.

Run as a subprocess with LOOKOUT_DATA_DIR (SQLite in a file) or DATABASE_URL (PostgreSQL) set,
because the test process's own database is an in-memory SQLite that threads cannot share.

    seed <cameras> <batches>  open batches (2 detections each), all due an hour from now
    threads                   two threads close at once (released together by a barrier)
    close <lock-key>          one close, started when the test releases the PostgreSQL advisory lock
    report                    what the callers left behind
"""

import json
import sys
import threading
from datetime import timedelta

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from cameras.models import Camera  # noqa: E402
from events.models import Detection, DetectionBatch, Event  # noqa: E402
from events.pipeline import batches_close_due  # noqa: E402
from events.services import detection_ingest  # noqa: E402
from realtime.models import OutboxMessage  # noqa: E402

DEADLINE = 30.0


def later():
    return timezone.now() + timedelta(hours=1)


def seed(cameras: int, batches: int) -> dict:
    for n in range(cameras):
        camera = Camera.objects.create(id=f"cam{n}", name=f"Camera {n}")
        for label in range(batches):
            row = {
                "camera": camera,
                "object_type": "person",
                "confidence": 0.8,
                "detected_at": timezone.now(),
            }
            detection_ingest(rows=[{**row, "batch_id": f"run-{label}"}, {**row, "batch_id": f"run-{label}"}])
    return {"batches": DetectionBatch.objects.count()}


def close_in_threads() -> dict:
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {}

    def close(name: str) -> None:
        try:
            barrier.wait(DEADLINE)
            claimed[name] = [batch.pk for batch in batches_close_due(now=later())]
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    return claimed


def close_when_released(lock_key: int) -> dict:
    with connection.cursor() as cursor:
        # Blocks until the test releases its exclusive hold: every caller starts at once.
        cursor.execute("SELECT pg_advisory_lock_shared(%s)", [lock_key])
        cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [lock_key])
    return {"claimed": [batch.pk for batch in batches_close_due(now=later())]}


def report() -> dict:
    return {
        "batches": DetectionBatch.objects.count(),
        "closed": DetectionBatch.objects.filter(state="closed").count(),
        "events": Event.objects.count(),
        "events_per_batch_max": max(
            [
                Event.objects.filter(batch_id=str(pk)).count()
                for pk in DetectionBatch.objects.values_list("pk", flat=True)
            ],
            default=0,
        ),
        "batch_messages": OutboxMessage.objects.filter(event_type="detection.batch").count(),
        "event_messages": OutboxMessage.objects.filter(event_type="event.created").count(),
        "detections": Detection.objects.count(),
        "detections_in_events": Detection.objects.exclude(event=None).count(),
        "detections_counted": sum(Event.objects.values_list("detection_count", flat=True)),
    }


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "seed":
        result = seed(int(args[0]), int(args[1]))
    elif command == "threads":
        result = close_in_threads()
    elif command == "close":
        result = close_when_released(int(args[0]))
    else:
        result = report()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
