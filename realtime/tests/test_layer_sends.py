"""What the broadcaster hands the channel layer: one layer message per publish and group."""

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from events.services import detection_ingest
from project.testing.layer_probe import receive_all
from realtime.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_a_bulk_ingest_is_one_layer_message_carrying_every_detection_numbered_in_order(
    detections_listener, cameras, django_capture_on_commit_callbacks
):
    layer, channel = detections_listener
    rows = [
        {"camera": cameras["garage"], "object_type": "car", "confidence": 0.8, "detected_at": timezone.now()}
        for _ in range(30)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        detections = detection_ingest(rows=rows)

    messages = async_to_sync(receive_all)(layer, channel)

    assert len(messages) == 1
    items = messages[0]["bundle"]
    assert [item["meta"]["event_type"] for item in items] == ["detection.new"] * 30
    stored = [
        *OutboxMessage.objects.filter(event_type="detection.new")
        .order_by("id")
        .values_list("id", "payload__id")
    ]
    assert [
        (item["meta"]["sequence"], orjson.loads(item["text"])["payload"]["id"]) for item in items
    ] == stored
    assert [payload_id for _, payload_id in stored] == [d.pk for d in detections]
