"""Alert rules: whether a rule matches an event, a dry run over past events, and rule writes.

Cooldown is deliberately absent here: it belongs to live evaluation (one alert per rule per
cooldown window), which needs the rule's previous alerts. A dry run answers "which of these
events satisfy the rule's conditions", so it ignores both the cooldown and `enabled` — people
try a rule out before switching it on.
"""

from collections.abc import Iterable
from datetime import datetime, time

from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from events.models import AlertRule, Event

DRY_RUN_MAX_IDS = 100


def active_at(*, rule: AlertRule, at: datetime) -> bool:
    """Whether `at` (local time, TIME_ZONE) falls in the rule's active hours; no hours = always.

    The window includes its start and excludes its end; a start after the end wraps past
    midnight (22:00–06:00), and equal start and end mean the whole day.
    """
    start, end = rule.active_from, rule.active_until
    if start is None or end is None:
        return True
    now = timezone.localtime(at, timezone.get_default_timezone()).time()
    return _in_window(now, start, end)


def _in_window(now: time, start: time, end: time) -> bool:
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _conditions_met(*, rule: AlertRule, camera_ids: set[str], event: Event, at: datetime) -> bool:
    if event.risk_score < rule.min_risk_score:
        return False
    if camera_ids and event.camera_id not in camera_ids:
        return False
    if rule.object_types and not set(rule.object_types) & set(event.object_types or ()):
        return False
    return active_at(rule=rule, at=at)


def _camera_ids(rule: AlertRule) -> set[str]:
    # .all() uses a prefetch when the caller made one.
    return {camera.pk for camera in rule.cameras.all()}


def rule_matches(*, rule: AlertRule, event: Event, at: datetime | None = None) -> bool:
    """Whether `rule` (enabled) matches `event`; hours are checked at `at`, default the event's start."""
    if not rule.enabled:
        return False
    return _conditions_met(rule=rule, camera_ids=_camera_ids(rule), event=event, at=at or event.started_at)


def alert_rule_dry_run(*, rule: AlertRule, events: Iterable[Event]) -> dict:
    """Test the rule's conditions on past events (ignoring enabled and cooldown); ids of the first 100."""
    camera_ids = _camera_ids(rule)
    tested = 0
    matched: list[int] = []
    for event in events:
        tested += 1
        if _conditions_met(rule=rule, camera_ids=camera_ids, event=event, at=event.started_at):
            matched.append(event.pk)
    return {
        "events_tested": tested,
        "events_matched": len(matched),
        "matched_event_ids": matched[:DRY_RUN_MAX_IDS],
    }


def _normalized(fields: dict) -> dict:
    if "object_types" in fields:
        fields["object_types"] = sorted({kind.strip() for kind in fields["object_types"] if kind.strip()})
    return fields


@transaction.atomic
def alert_rule_create(*, cameras: Iterable[Camera] = (), **fields) -> AlertRule:
    """Create an alert rule from model fields; no cameras means every camera."""
    rule = AlertRule(**_normalized(fields))
    rule.full_clean()
    rule.save()
    rule.cameras.set(cameras)
    return rule


@transaction.atomic
def alert_rule_update(*, rule: AlertRule, cameras: Iterable[Camera] | None = None, **changes) -> AlertRule:
    """Change an alert rule's fields and, when given, its cameras."""
    for name, value in _normalized(changes).items():
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    if cameras is not None:
        rule.cameras.set(cameras)
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule) -> None:
    """Delete an alert rule; its past alerts stay, without a rule."""
    rule.delete()
