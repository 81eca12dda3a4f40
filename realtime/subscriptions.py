"""Subscription filters and who may see a message: one predicate for live frames and replays."""

import uuid
from dataclasses import dataclass

from realtime.event_types import EVENT_TYPE_METADATA, get_all_channels

CHANNELS = frozenset(get_all_channels())
# Channels whose messages concern one camera: a user must be allowed to see it.
CAMERA_CHANNELS = frozenset({"events", "detections", "alerts", "cameras", "enrichment"})
KNOWN_TYPES = tuple(str(t) for t, meta in EVENT_TYPE_METADATA.items() if meta["channel"])
# A `types` filter is resolved against the registry once, at subscribe time; these bounds keep
# even that step small (the longest registered name is well under the length).
MAX_TYPE_PATTERNS = 50
MAX_TYPE_PATTERN_LENGTH = 64


class FilterError(ValueError):
    """A filter the client sent is not valid."""


@dataclass(frozen=True)
class Filters:
    """What a client narrowed a subscription to; None means "no restriction"."""

    camera_ids: frozenset[str] | None = None
    min_risk_score: int | None = None
    object_types: frozenset[str] | None = None
    job_id: str | None = None
    types: frozenset[str] | None = None  # the event types the patterns resolved to

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
        return self.types is None or meta["event_type"] in self.types


def _string_list(name: str, value) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > 100:
        raise FilterError(f"{name} must be a list of at most 100 non-empty strings")
    return frozenset(value)


def wildcard_match(pattern: str, name: str) -> bool:
    """Whether `name` matches `pattern`, where `*` stands for any run of characters (nothing else is special).

    Greedy two-pointer matching: at most len(pattern) × len(name) steps. A regex with `.*` per
    star backtracks exponentially on patterns like `"************Q"` and stalls the event loop.
    """
    p = n = 0
    star = resume = -1
    while n < len(name):
        if p < len(pattern) and pattern[p] == name[n] and pattern[p] != "*":
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, n
            p += 1
        elif star >= 0:
            # Let the last star swallow one more character and retry from just after it.
            resume += 1
            p, n = star + 1, resume
        else:
            return False
    return all(c == "*" for c in pattern[p:])


def _event_types(patterns) -> frozenset[str]:
    if not isinstance(patterns, list) or len(patterns) > MAX_TYPE_PATTERNS:
        raise FilterError(f"types must be a list of at most {MAX_TYPE_PATTERNS} patterns")
    resolved = set()
    for pattern in patterns:
        if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_TYPE_PATTERN_LENGTH:
            raise FilterError(f"types: each pattern is a string of 1 to {MAX_TYPE_PATTERN_LENGTH} characters")
        matched = {t for t in KNOWN_TYPES if wildcard_match(pattern, t)}
        if not matched:
            raise FilterError(f"types: {pattern!r} matches no event type")
        resolved |= matched
    return frozenset(resolved)


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
        values["types"] = _event_types(raw["types"])
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
        owner_id = meta.get("owner_id")
        if channel == "jobs":
            return self.is_staff or owner_id == self.user_id
        if owner_id is not None and owner_id != self.user_id:
            return False  # sent to one user (send_to_user): nobody else, staff included
        if channel in CAMERA_CHANNELS and self.visible_cameras is not None:
            return meta["camera_id"] in self.visible_cameras
        return True
