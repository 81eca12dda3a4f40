"""Cases only PostgreSQL can show. Not collected on SQLite: `test_postgres.py` runs this module
with pytest against the real PostgreSQL server (DATABASE_URL set), one case at a time."""

import threading
import time

import pytest
from django.db import connection, transaction

from events.models import Alert, AlertStatus
from events.services import AlertTransitionError, alert_acknowledge
from events.tests.factories import make_alert
from realtime.models import OutboxMessage

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")

DEADLINE = 10.0


@pytest.mark.django_db
def test_the_object_type_filter_finds_non_ascii_types(client_for, viewer, make_event):
    # PostgreSQL prints non-ASCII text raw in the JSON of object_types, where SQLite keeps \u escapes.
    event = make_event(object_types=["chat_noir_é", "Ärger", "日本"])
    make_event("garage", object_types=["chat_noir_e"])
    client = client_for(viewer)
    for wanted in ("chat_noir_é", "Ärger", "日本"):
        response = client.get("/api/events/", {"object_type": wanted})
        assert [item["id"] for item in response.json()["results"]] == [event.pk], wanted
    assert client.get("/api/events/", {"object_type": "chat"}).json()["results"] == []


@pytest.mark.django_db
def test_an_event_with_several_snapshots_lists_its_best_one(client_for, viewer, make_event, make_detection):
    # The best snapshot is a scalar subquery: PostgreSQL refuses one that returns two rows.
    event = make_event()
    make_detection(event=event, confidence=0.8, snapshot="snapshots/good.png")
    best = make_detection(event=event, confidence=0.9, snapshot="snapshots/best.png")
    response = client_for(viewer).get("/api/events/")
    assert response.status_code == 200
    assert response.json()["results"][0]["best_snapshot_url"].endswith(f"/detections/{best.pk}/snapshot/")


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_acknowledges_let_exactly_one_through(cameras, owner, viewer):
    alert = make_alert(cameras["front_door"])
    first_moved, release, second_done = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def first() -> None:
        try:
            # Keep the first acknowledge's transaction open while the second one tries.
            with transaction.atomic():
                alert_acknowledge(alert=alert, user=owner)
                first_moved.set()
                release.wait(DEADLINE)
            outcome["first"] = "acknowledged"
        finally:
            connection.close()

    def second() -> None:
        first_moved.wait(DEADLINE)
        try:
            alert_acknowledge(alert=alert, user=viewer)  # `alert` still says pending, as a stale page would
            outcome["second"] = "acknowledged"
        except AlertTransitionError:
            outcome["second"] = "refused"
        finally:
            second_done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_moved.wait(DEADLINE)
    # An observable fact, not a clock: the second acknowledge waits on a lock, or has finished.
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and not second_done.is_set() and not lock_waiters():
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(DEADLINE)

    assert outcome == {"first": "acknowledged", "second": "refused"}
    stored = Alert.objects.get(pk=alert.pk)
    assert (stored.status, stored.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, owner)
    assert OutboxMessage.objects.filter(event_type="alert.acknowledged").count() == 1
