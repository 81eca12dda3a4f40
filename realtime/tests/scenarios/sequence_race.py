"""Two writers race for outbox sequences on a real database; prints what happened as JSON.

Run as a subprocess (DATABASE_URL set), because the test process's database is SQLite.
Writer A takes a sequence and keeps its transaction open; writer B then tries to publish.
With the sequence lock, B must wait until A commits, so commit order equals sequence order.
Pass --no-lock to run the same race without it (the control that shows the test can fail).

Commit order is read from the database, not from clocks: right after B takes its sequence, B's
own transaction asks whether A's row is committed (READ COMMITTED sees only committed rows).
"""

import json
import sys
import threading
import time

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from realtime import outbox  # noqa: E402
from realtime.envelope import Envelope  # noqa: E402
from realtime.models import OutboxMessage  # noqa: E402

DEADLINE = 10.0


def envelope(name: str) -> Envelope:
    return Envelope(
        "event.deleted", "events", {"id": 0, "name": name}, timezone.now(), camera_id="front_door"
    )


def main() -> None:
    if "--no-lock" in sys.argv:
        outbox._hold_sequence_lock = lambda: None
    result: dict = {}
    a_inserted, release_a, b_committed = threading.Event(), threading.Event(), threading.Event()

    def writer_a() -> None:
        with transaction.atomic():
            result["a"] = outbox.outbox_append([envelope("a")])[0].id
            a_inserted.set()
            release_a.wait(DEADLINE)
        connection.close()

    def writer_b() -> None:
        a_inserted.wait(DEADLINE)
        with transaction.atomic():
            result["b"] = outbox.outbox_append([envelope("b")])[0].id
            result["b_saw_a_committed"] = OutboxMessage.objects.filter(id=result["a"]).exists()
        b_committed.set()
        connection.close()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    a_inserted.wait(DEADLINE)
    # Wait for an observable fact: B has committed, or B is waiting on a lock in the server.
    deadline = time.monotonic() + DEADLINE
    result["b_waited_on_lock"] = False
    while time.monotonic() < deadline and not b_committed.is_set():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                result["b_waited_on_lock"] = True
                break
    result["b_committed_before_a"] = b_committed.is_set()
    release_a.set()
    for thread in threads:
        thread.join(DEADLINE)
    replay = outbox.outbox_replay(since=result["a"], channels={"events"})
    result["replayed_after_a"] = [e.sequence for e in replay.envelopes if e.payload.get("name")]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
