"""Subscription filters and who may see a message: one predicate for live frames and replays."""

import re
import uuid
from dataclasses import dataclass

from realtime.event_types import EVENT_TYPE_METADATA, get_all_channels

CHANNELS = frozenset(get_all_channels())
# Channels whose messages concern one camera: a user must be allowed to see it.
CAMERA_CHANNELS = frozenset({"events", "detections", "alerts", "cameras", "enrichment"})
KNOWN_TYPES = tuple(str(t) for t, meta in EVENT_TYPE_METADATA.items() if meta["channel"])


class FilterError(ValueError):
    """A filter the client sent is not valid."""


@dataclass(frozen=True)
class Filters:
    """What a client narrowed a subscription to; None means "no restriction"."""

    camera_ids: frozenset[str] | None = None
    min_risk_score: int | None = None
    object_types: frozenset[str] | None = None
    job_id: str | None = None
    types: tuple[re.Pattern, ...] | None = None

    def allows(self, meta: dict) -> bool:
        """Whether a message (by its routing meta) passes these filters."""
        if self.camera_ids is not None and meta["camera_id"] not in self.camera_ids:
            return False
        if self.min_risk_score is not None and meta["channel"] in {"events", "alerts"}:
            score = meta.get("risk_score")
            if score is not None and score < self.min_risk_score:
                return False
        if self.object_types is not None and meta["channel"] in {"events", "detections"}:
            kinds = meta.get("object_types")
            if kinds is not None and not self.object_types.intersection(kinds):
                return False
        if self.job_id is not None and meta["channel"] == "jobs" and meta.get("job_id") != self.job_id:
            return False
        return self.types is None or any(p.fullmatch(meta["event_type"]) for p in self.types)


def _string_list(name: str, value) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > 100:
        raise FilterError(f"{name} must be a list of at most 100 non-empty strings")
    return frozenset(value)


def _type_pattern(pattern: str) -> re.Pattern:
    compiled = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    if not any(compiled.fullmatch(t) for t in KNOWN_TYPES):
        raise FilterError(f"types: {pattern!r} matches no event type")
    return compiled


def parse_filters(raw) -> Filters:
    """Validate a client's `filters` object."""
    if raw is None:
        return Filters()
    if not isinstance(raw, dict):
        raise FilterError("filters must be an object")
    unknown = set(raw) - {"camera_ids", "min_risk_score", "object_types", "job_id", "types"}
    if unknown:
        raise FilterError(f"unknown filters: {', '.join(sorted(unknown))}")
    values = {}
    for name in ("camera_ids", "object_types"):
        if name in raw:
            values[name] = _string_list(name, raw[name])
    if "min_risk_score" in raw:
        score = raw["min_risk_score"]
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise FilterError("min_risk_score must be an integer from 0 to 100")
        values["min_risk_score"] = score
    if "job_id" in raw:
        try:
            values["job_id"] = str(uuid.UUID(str(raw["job_id"])))
        except ValueError:
            raise FilterError("job_id must be a UUID") from None
    if "types" in raw:
        values["types"] = tuple(_type_pattern(p) for p in _string_list("types", raw["types"]))
    return Filters(**values)


@dataclass(frozen=True)
class Viewer:
    """Who is connected: what they may see, fixed at connect and refreshed on grant changes."""

    user_id: int
    is_staff: bool
    visible_cameras: frozenset[str] | None  # None: every camera

    def may_see(self, meta: dict) -> bool:
        """Whether this user may receive a message at all, whatever they subscribed to."""
        channel = meta["channel"]
        if channel == "jobs":
            return self.is_staff or meta.get("owner_id") == self.user_id
        if channel in CAMERA_CHANNELS and self.visible_cameras is not None:
            return meta["camera_id"] in self.visible_cameras
        return True
