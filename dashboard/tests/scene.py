"""A day of a household's events for the browser tests and their screenshots, written through the services.

Run inside the server under test (`manage.py shell`): the events keep their real times over the
last day (the API stamps what it receives now), and one event's detections come with a snapshot,
drawn here: a porch at night, a person and a package where the boxes say.
"""

import io
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from cameras.models import Camera
from events.models import BatchState, DetectionBatch
from events.services import detection_ingest, event_record

# (hours ago, camera, risk score, summary, object types)
DAY = [
    (23, "driveway", 12, "Car passing on the street", ["car"]),
    (21, "front_door", 8, "Cat crossing the porch", ["cat"]),
    (19, "driveway", 35, "Car stopped in the driveway", ["car"]),
    (17.5, "front_door", 22, "Courier at the door", ["person"]),
    (16, "front_door", 48, "Person waited at the door for two minutes", ["person"]),
    (15.2, "driveway", 18, "Neighbour walking a dog", ["dog", "person"]),
    (14, "backyard", 90, "Someone climbing the garden fence", ["person"]),
    (12.5, "front_door", 64, "Person tried the door handle", ["person"]),
    (11, "driveway", 30, "Unknown car parked for ten minutes", ["car"]),
    (9, "front_door", 15, "Leaves blowing past the door", ["unknown"]),
    (7.3, "front_door", 88, "Two people at the door at night", ["person"]),
    (7.1, "driveway", 55, "Person walking up the driveway", ["person"]),
    (5, "driveway", 20, "Car leaving", ["car"]),
    (3.4, "front_door", 40, "Package delivered", ["package", "person"]),
    (2, "driveway", 10, "Cat under the car", ["cat"]),
    (1.2, "front_door", 26, "Person rang the bell", ["person"]),
]
PERSON_BOX = {"x": 860, "y": 200, "width": 145, "height": 490}
PACKAGE_BOX = {"x": 588, "y": 548, "width": 124, "height": 104}


def porch_at_night() -> bytes:
    """A 1280×720 JPEG: a door, a lit window, a porch light, a person right of the door, a package."""
    image = Image.new("RGB", (1280, 720))
    draw = ImageDraw.Draw(image)
    for y in range(520):
        shade = 28 + y // 20
        draw.line([(0, y), (1280, y)], fill=(shade, shade + 6, shade + 16))
    draw.rectangle([0, 520, 1280, 720], fill=(58, 56, 52))
    draw.rectangle([150, 180, 380, 380], fill=(120, 104, 52))
    draw.line([(265, 180), (265, 380)], fill=(40, 40, 40), width=6)
    draw.ellipse([760, 110, 840, 190], fill=(255, 226, 140))
    draw.rectangle([540, 170, 760, 520], fill=(92, 60, 34))
    draw.ellipse([725, 340, 741, 356], fill=(200, 170, 90))
    draw.rectangle([600, 560, 700, 640], fill=(160, 120, 60))
    draw.line([(650, 560), (650, 640)], fill=(210, 190, 140), width=8)
    silhouette = (14, 16, 20)
    draw.ellipse([892, 212, 968, 288], fill=silhouette)
    draw.rounded_rectangle([878, 288, 986, 560], radius=26, fill=silhouette)
    draw.rectangle([892, 555, 930, 680], fill=silhouette)
    draw.rectangle([940, 555, 978, 680], fill=silhouette)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def scene_record(*, summary: str) -> dict:
    """Record the day and the pictured event (its summary is `summary`); the pictured event's id."""
    now = timezone.now()
    cameras = {camera.pk: camera for camera in Camera.objects.all()}
    for hours, camera_id, score, text, object_types in DAY:
        event_record(
            camera=cameras[camera_id],
            started_at=now - timedelta(hours=hours),
            risk_score=score,
            summary=text,
            object_types=object_types,
            reasoning="Scored by the pipeline.",
        )
    seen_at = now - timedelta(minutes=3)
    frame = {"camera": cameras["front_door"], "detected_at": seen_at}
    detections = detection_ingest(
        rows=[
            {
                **frame,
                "object_type": "person",
                "confidence": 0.93,
                "bbox": PERSON_BOX,
                "snapshot": ContentFile(porch_at_night(), name="porch.jpg"),
            },
            {**frame, "object_type": "package", "confidence": 0.81, "bbox": PACKAGE_BOX},
            {
                **frame,
                "detected_at": seen_at + timedelta(seconds=6),
                "object_type": "person",
                "confidence": 0.88,
                "bbox": {**PERSON_BOX, "x": 900},
            },
        ]
    )
    event = event_record(
        camera=cameras["front_door"],
        started_at=seen_at,
        ended_at=seen_at + timedelta(seconds=6),
        risk_score=72,
        summary=summary,
        reasoning=(
            "A person at the front door after dark (+30).\n"
            "A package left on the porch (+12).\n"
            "The person stayed close to the door for 6 s (+10)."
        ),
        object_types=["package", "person"],
        detection_count=len(detections),
        detections=detections,
    )
    # Their batch became this event: left open, the worker would close it into an event of its
    # own and take the detections away from this one.
    DetectionBatch.objects.filter(pk=detections[0].batch_id).update(
        state=BatchState.CLOSED, closed_at=now, event=event
    )
    return {"event_id": event.pk}
