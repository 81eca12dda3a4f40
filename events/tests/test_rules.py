"""Alert rule matching at its boundaries, and the dry run."""

from datetime import UTC, datetime, time, timedelta

import pytest

from events.rules import alert_rule_dry_run, alert_rule_update, rule_matches
from events.tests.factories import make_event, make_rule

NIGHT = {"active_from": time(22, 0), "active_until": time(6, 0)}


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC)


@pytest.fixture
def event(cameras):
    return make_event(cameras["front_door"], 50, started_at=at(12), object_types=("car", "person"))


@pytest.mark.parametrize(("minimum", "expected"), [(49, True), (50, True), (51, False)])
def test_score_equal_to_the_minimum_matches(event, minimum, expected):
    assert rule_matches(rule=make_rule(min_risk_score=minimum), event=event) is expected


def test_a_disabled_rule_never_matches(event):
    assert rule_matches(rule=make_rule(min_risk_score=0, enabled=False), event=event) is False


def test_no_cameras_means_every_camera(event):
    assert rule_matches(rule=make_rule(min_risk_score=0), event=event) is True


def test_cameras_limit_the_rule(cameras, event):
    assert (
        rule_matches(rule=make_rule(min_risk_score=0, cameras=[cameras["front_door"]]), event=event) is True
    )
    assert rule_matches(rule=make_rule(min_risk_score=0, cameras=[cameras["garage"]]), event=event) is False


@pytest.mark.parametrize(
    ("object_types", "expected"),
    [([], True), (["person"], True), (["dog", "car"], True), (["dog"], False), (["Person"], False)],
)
def test_object_types_need_one_in_common_with_the_event(event, object_types, expected):
    assert rule_matches(rule=make_rule(min_risk_score=0, object_types=object_types), event=event) is expected


def test_an_event_without_object_types_matches_only_rules_for_any_object(cameras):
    bare = make_event(cameras["garage"], 80, object_types=())
    assert rule_matches(rule=make_rule(min_risk_score=0), event=bare) is True
    assert rule_matches(rule=make_rule(min_risk_score=0, object_types=["person"]), event=bare) is False


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(21, 59), False),
        (at(22, 0), True),
        (at(23, 0), True),
        (at(0, 0), True),
        (at(5, 59), True),
        (at(6, 0), False),
        (at(12, 0), False),
    ],
)
def test_active_hours_wrapping_past_midnight(event, when, expected):
    rule = make_rule(min_risk_score=0, **NIGHT)
    assert rule_matches(rule=rule, event=event, at=when) is expected


@pytest.mark.parametrize(("when", "expected"), [(at(8, 59), False), (at(9, 0), True), (at(17, 0), False)])
def test_active_hours_within_one_day(event, when, expected):
    rule = make_rule(min_risk_score=0, active_from=time(9, 0), active_until=time(17, 0))
    assert rule_matches(rule=rule, event=event, at=when) is expected


@pytest.mark.parametrize("when", [at(0, 0), at(7, 59), at(8, 0), at(8, 1), at(23, 59)])
def test_active_hours_with_equal_start_and_end_mean_the_whole_day(event, when):
    rule = make_rule(min_risk_score=0, active_from=time(8, 0), active_until=time(8, 0))
    assert rule_matches(rule=rule, event=event, at=when) is True


def test_a_dry_run_keeps_a_score_equal_to_the_minimum(cameras):
    events = [make_event(cameras["garage"], score) for score in (69, 70, 71)]
    result = alert_rule_dry_run(rule=make_rule(min_risk_score=70), events=events)
    assert result["matched_event_ids"] == [events[1].pk, events[2].pk]


def test_active_hours_default_to_the_event_start(cameras):
    rule = make_rule(min_risk_score=0, **NIGHT)
    assert rule_matches(rule=rule, event=make_event(cameras["garage"], 50, started_at=at(23))) is True
    assert rule_matches(rule=rule, event=make_event(cameras["garage"], 50, started_at=at(7))) is False


def test_active_hours_are_local_time(settings, event):
    settings.TIME_ZONE = "Europe/Berlin"
    rule = make_rule(min_risk_score=0, **NIGHT)
    # 21:30 UTC is 22:30 in Berlin (UTC+1 in November); 05:30 UTC is 06:30 there.
    assert rule_matches(rule=rule, event=event, at=at(21, 30)) is True
    assert rule_matches(rule=rule, event=event, at=at(5, 30)) is False


def test_dry_run_counts_tested_and_matched_and_ignores_enabled(cameras):
    rule = make_rule(min_risk_score=60, enabled=False, cameras=[cameras["front_door"]])
    hit_old = make_event(cameras["front_door"], 60, started_at=at(8))
    hit_new = make_event(cameras["front_door"], 90, started_at=at(9))
    too_low = make_event(cameras["front_door"], 59, started_at=at(10))
    other_camera = make_event(cameras["garage"], 95, started_at=at(11))
    result = alert_rule_dry_run(rule=rule, events=[hit_new, hit_old, too_low, other_camera])
    assert result == {"events_tested": 4, "events_matched": 2, "matched_event_ids": [hit_new.pk, hit_old.pk]}


def test_dry_run_checks_hours_at_each_event_start(cameras):
    rule = make_rule(min_risk_score=0, **NIGHT)
    night = make_event(cameras["garage"], 10, started_at=at(23, 30))
    day = make_event(cameras["garage"], 10, started_at=at(6))
    assert alert_rule_dry_run(rule=rule, events=[night, day])["matched_event_ids"] == [night.pk]


def test_dry_run_lists_at_most_100_ids_but_counts_all(cameras):
    start = at(0)
    events = [make_event(cameras["garage"], 70, started_at=start + timedelta(minutes=i)) for i in range(105)]
    result = alert_rule_dry_run(rule=make_rule(min_risk_score=70), events=events)
    assert result["events_tested"] == 105
    assert result["events_matched"] == 105
    assert result["matched_event_ids"] == [e.pk for e in events[:100]]


def test_rule_update_keeps_cameras_unless_given(cameras):
    rule = make_rule(
        min_risk_score=10, cameras=[cameras["garage"]], object_types=[" person ", "car", "person"]
    )
    assert rule.object_types == ["car", "person"]
    alert_rule_update(rule=rule, min_risk_score=20)
    assert list(rule.cameras.values_list("id", flat=True)) == ["garage"]
    alert_rule_update(rule=rule, cameras=[])
    assert rule.cameras.count() == 0
    rule.refresh_from_db()
    assert rule.min_risk_score == 20
