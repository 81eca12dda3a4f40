"""An event's snapshots with the boxes of what was detected in each frame, for drawing over the image."""

import logging
from dataclasses import dataclass

from django.db.models import QuerySet

from events.models import Detection
from events.selectors import snapshots_best_first
from realtime.payloads import detection_payload

logger = logging.getLogger(__name__)


@dataclass
class Frame:
    """One camera frame: its snapshot, the image's size in pixels, and the detections seen in it."""

    snapshot_url: str
    width: int
    height: int
    detections: list[dict]

    @property
    def boxes(self) -> list[dict]:
        return [d for d in self.detections if d["bbox"]]


def event_frames(detections: QuerySet[Detection], *, limit: int) -> list[Frame]:
    """Up to `limit` frames of `detections` that have a snapshot, the best snapshot's frame first.

    A frame is the detections sharing one `detected_at` (a pipeline sends the objects of one
    frame with that frame's time); each has the boxes of all of them, drawn over the frame's
    best snapshot. Bounding boxes are in the image's pixels, so the image's size is read from
    its header.
    """
    best_per_time: dict = {}
    for detection in snapshots_best_first(detections).iterator():
        best_per_time.setdefault(detection.detected_at, detection)
        if len(best_per_time) == limit:
            break
    seen_at: dict = {}
    for detection in detections.filter(detected_at__in=list(best_per_time)).order_by("-confidence", "id"):
        seen_at.setdefault(detection.detected_at, []).append(detection_payload(detection))
    frames = []
    for detected_at, best in best_per_time.items():
        try:
            width, height = best.snapshot.width, best.snapshot.height
        except OSError:  # the file is gone from the media root
            width = height = None
        if not (width and height):
            # Nothing to draw the boxes over; the detections stay in the page's list.
            logger.warning("snapshot of detection %s is unreadable", best.pk)
            continue
        url = detection_payload(best)["snapshot_url"]
        frames.append(Frame(snapshot_url=url, width=width, height=height, detections=seen_at[detected_at]))
    return frames
