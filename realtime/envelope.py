"""The envelope every server frame is: built once, serialized once with orjson."""

from dataclasses import dataclass
from datetime import datetime

import orjson


@dataclass(frozen=True)
class Envelope:
    """One message to clients, with what a consumer needs to route and filter it unparsed."""

    event_type: str
    channel: str | None
    payload: dict
    timestamp: datetime
    sequence: int | None = None
    correlation_id: str | None = None
    camera_id: str = ""
    owner_id: int | None = None

    def text(self) -> str:
        """The frame, as clients receive it."""
        return encode_frame(
            self.event_type,
            self.payload,
            channel=self.channel,
            sequence=self.sequence,
            timestamp=self.timestamp,
            correlation_id=self.correlation_id,
        )

    def meta(self) -> dict:
        """Routing facts (JSON primitives only: the Redis layer packs them with msgpack)."""
        payload = self.payload
        object_types = payload.get("object_types")
        if object_types is None and "object_type" in payload:
            object_types = [payload["object_type"]]
        return {
            "event_type": self.event_type,
            "channel": self.channel,
            "sequence": self.sequence,
            "camera_id": self.camera_id or payload.get("camera_id") or "",
            "owner_id": self.owner_id,
            "risk_score": payload.get("risk_score"),
            "object_types": object_types,
            "job_id": payload.get("job_id"),
        }


def encode_frame(
    event_type: str,
    payload: dict,
    *,
    channel: str | None = None,
    sequence: int | None = None,
    timestamp: datetime,
    correlation_id: str | None = None,
) -> str:
    """Serialize one envelope to the text sent on the wire."""
    return orjson.dumps(
        {
            "type": str(event_type),
            "channel": channel,
            "sequence": sequence,
            "timestamp": timestamp.isoformat(),
            "correlation_id": correlation_id,
            "payload": payload,
        }
    ).decode()
