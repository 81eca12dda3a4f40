"""Subscription filters and who may see a message, on the routing facts every frame carries.

The consumer decides each live frame and each replayed one with `Viewer.may_see` and
`Filters.allows` on `Envelope.meta()`; these tests build the same envelopes. The WebSocket
tests (`test_protocol.py`, `test_who_sees_what.py`) show the same rules end to end.
"""

import uuid
from datetime import UTC, datetime

import pytest

from realtime.envelope import Envelope
from realtime.subscriptions import (
    MAX_TYPE_PATTERN_LENGTH,
    MAX_TYPE_PATTERNS,
    FilterError,
    Filters,
    Viewer,
    parse_filters,
    wildcard_match,
)

JOB_ID = "0b0e2a4c-3f4e-4a59-9d4e-7a1c2b3d4e5f"


def meta(event_type: str, channel: str, payload: dict, *, camera_id: str = "", owner_id=None) -> dict:
    envelope = Envelope(
        event_type=event_type,
        channel=channel,
        payload=payload,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        camera_id=camera_id,
        owner_id=owner_id,
    )
    return envelope.meta()


def event(score: int, *, camera: str = "front_door", kinds=("person",)) -> dict:
    payload = {"id": 1, "camera_id": camera, "risk_score": score, "object_types": list(kinds)}
    return meta("event.created", "events", payload)


def alert(score: int, *, camera: str = "front_door") -> dict:
    return meta("alert.created", "alerts", {"id": 1, "camera_id": camera, "risk_score": score})


def detection(kind: str, *, camera: str = "front_door") -> dict:
    return meta("detection.new", "detections", {"id": 1, "camera_id": camera, "object_type": kind})


def job(job_id: str = JOB_ID, *, owner_id: int | None = 7) -> dict:
    return meta("job.progress", "jobs", {"job_id": job_id, "progress": 10}, owner_id=owner_id)


def camera_status(camera: str = "front_door") -> dict:
    return meta("camera.status_changed", "cameras", {"camera_id": camera, "status": "online"})


def system_status() -> dict:
    return meta("system.status", "system", {"gpu": None, "cameras": {}, "queue": {}, "health": "ok"})


# --- Filters.allows -------------------------------------------------------------------------


def test_no_filters_let_everything_through():
    for message in (event(0), alert(0), detection("cat"), job(), camera_status(), system_status()):
        assert Filters().allows(message)


def test_camera_ids_keep_only_the_listed_cameras():
    filters = parse_filters({"camera_ids": ["garage"]})
    assert filters.allows(event(50, camera="garage"))
    assert not filters.allows(event(50, camera="front_door"))
    assert not filters.allows(camera_status("front_door"))


@pytest.mark.parametrize("message", [event, alert], ids=["events", "alerts"])
def test_min_risk_score_keeps_the_minimum_and_above_and_drops_below(message):
    filters = parse_filters({"min_risk_score": 60})
    assert not filters.allows(message(59))
    assert filters.allows(message(60))
    assert filters.allows(message(61))


def test_min_risk_score_leaves_other_channels_alone_even_with_a_score():
    # SPEC §4: min_risk_score narrows events and alerts only.
    enrichment = meta("enrichment.completed", "enrichment", {"batch_id": 1, "risk_score": 5})
    assert parse_filters({"min_risk_score": 60}).allows(enrichment)


def test_min_risk_score_lets_an_event_without_a_score_through():
    assert parse_filters({"min_risk_score": 60}).allows(meta("event.deleted", "events", {"id": 1}))


def test_object_types_keep_events_and_detections_of_those_types():
    filters = parse_filters({"object_types": ["person", "car"]})
    assert filters.allows(event(10, kinds=("dog", "car")))
    assert not filters.allows(event(10, kinds=("dog",)))
    assert filters.allows(detection("person"))
    assert not filters.allows(detection("cat"))


def test_object_types_leave_other_channels_and_messages_without_types_alone():
    filters = parse_filters({"object_types": ["person"]})
    # An alert's payload carries no object types; a camera message is not about objects.
    assert filters.allows(meta("alert.created", "alerts", {"id": 1, "object_types": ["cat"]}))
    assert filters.allows(camera_status())
    assert filters.allows(meta("event.deleted", "events", {"id": 1}))


def test_job_id_keeps_only_that_jobs_messages_on_the_jobs_channel():
    filters = parse_filters({"job_id": JOB_ID})
    assert filters.allows(job(JOB_ID))
    assert not filters.allows(job(str(uuid.uuid4())))
    # Only jobs carry a job_id: the filter leaves other channels alone.
    assert filters.allows(event(10))


def test_types_keep_only_the_resolved_event_types():
    filters = parse_filters({"types": ["alert.*", "event.created"]})
    assert filters.allows(alert(10))
    assert filters.allows(event(10))
    assert not filters.allows(meta("event.deleted", "events", {"id": 1}))


def test_filters_combine_every_condition():
    filters = parse_filters({"camera_ids": ["garage"], "min_risk_score": 50, "types": ["event.created"]})
    assert filters.allows(event(70, camera="garage"))
    assert not filters.allows(event(70, camera="front_door"))
    assert not filters.allows(event(40, camera="garage"))


# --- parse_filters --------------------------------------------------------------------------


def test_no_filters_object_means_no_restriction():
    assert parse_filters(None) == Filters()
    assert parse_filters({}) == Filters()


def test_every_filter_is_parsed_into_its_field():
    filters = parse_filters(
        {
            "camera_ids": ["garage", "backyard"],
            "object_types": ["person"],
            "min_risk_score": 0,
            "job_id": JOB_ID.upper(),
            "types": ["job.c*"],
        }
    )
    assert filters == Filters(
        camera_ids=frozenset({"garage", "backyard"}),
        object_types=frozenset({"person"}),
        min_risk_score=0,
        job_id=JOB_ID,
        types=frozenset({"job.completed", "job.cancelled"}),
    )


def test_min_risk_score_bounds_are_accepted():
    assert parse_filters({"min_risk_score": 100}).min_risk_score == 100
    assert parse_filters({"min_risk_score": 0}).min_risk_score == 0


def test_a_list_of_100_strings_is_accepted():
    assert len(parse_filters({"camera_ids": [f"c{i}" for i in range(100)]}).camera_ids) == 100


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "filters must be an object"),
        ({"camera": ["garage"]}, "unknown filters: camera"),
        ({"zeta": 1, "alpha": 2}, "unknown filters: alpha, zeta"),
        ({"camera_ids": "garage"}, "camera_ids must be a list of at most 100 non-empty strings"),
        ({"camera_ids": ["garage", ""]}, "camera_ids must be a list of at most 100 non-empty strings"),
        ({"camera_ids": ["garage", 3]}, "camera_ids must be a list of at most 100 non-empty strings"),
        ({"object_types": ["x"] * 101}, "object_types must be a list of at most 100 non-empty strings"),
        ({"min_risk_score": -1}, "min_risk_score must be an integer from 0 to 100"),
        ({"min_risk_score": 101}, "min_risk_score must be an integer from 0 to 100"),
        ({"min_risk_score": True}, "min_risk_score must be an integer from 0 to 100"),
        ({"min_risk_score": 50.0}, "min_risk_score must be an integer from 0 to 100"),
        ({"job_id": "not-a-uuid"}, "job_id must be a UUID"),
        ({"types": "event.*"}, f"types must be a list of at most {MAX_TYPE_PATTERNS} patterns"),
        ({"types": ["event.*"] * (MAX_TYPE_PATTERNS + 1)}, "types must be a list of at most 50 patterns"),
        ({"types": [""]}, "types: each pattern is a string of 1 to 64 characters"),
        ({"types": [7]}, "types: each pattern is a string of 1 to 64 characters"),
        ({"types": ["e" * (MAX_TYPE_PATTERN_LENGTH + 1)]}, "types: each pattern is a string of 1 to 64"),
        ({"types": ["event.*", "nothing.*"]}, "types: 'nothing.*' matches no event type"),
    ],
)
def test_invalid_filters_are_refused_with_a_message_that_says_why(raw, message):
    with pytest.raises(FilterError) as refused:
        parse_filters(raw)
    assert str(refused.value).startswith(message)


def test_type_patterns_at_the_bounds_are_accepted():
    patterns = ["event.*"] * (MAX_TYPE_PATTERNS - 1) + ["*" * (MAX_TYPE_PATTERN_LENGTH - 1) + "d"]
    assert "alert.resolved" in parse_filters({"types": patterns}).types


def test_a_star_resolves_to_every_channel_type_and_no_control_type():
    every = parse_filters({"types": ["*"]}).types
    assert len(every) == 33
    assert {"heartbeat", "pong", "batch", "error", "subscribed"}.isdisjoint(every)
    with pytest.raises(FilterError):
        parse_filters({"types": ["heartbeat"]})


# --- wildcard_match -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("event.created", "event.created", True),
        ("event.created", "event.create", False),
        ("event.create", "event.created", False),
        ("event.*", "event.created", True),
        ("event.*", "event.", True),
        ("event.*", "alert.created", False),
        ("*", "", True),
        ("", "", True),
        ("", "x", False),
        ("*.created", "event.created", True),
        ("*d", "event.created", True),
        ("*d", "event.create", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXcYYb", False),
        # The last star must swallow more than its first guess: "ab" first matches too early.
        ("*ab", "aab", True),
        ("*ab*ab", "xabyabab", True),
        ("a**", "a", True),
        ("*a*", "bbb", False),
        ("?vent.created", "event.created", False),
        # A star in the name is a character like any other: the pattern's star still spans it.
        ("*b", "*ab", True),
    ],
)
def test_wildcard_match_treats_only_the_star_as_special(pattern, name, matches):
    assert wildcard_match(pattern, name) is matches


# --- Viewer.may_see -------------------------------------------------------------------------

OWNER = Viewer(user_id=1, is_staff=True, visible_cameras=None)
VIEWER = Viewer(user_id=2, is_staff=False, visible_cameras=frozenset({"front_door", "garage"}))
STRANGER = Viewer(user_id=3, is_staff=False, visible_cameras=frozenset())


@pytest.mark.parametrize(
    "message",
    [
        event(10, camera="backyard"),
        detection("cat", camera="backyard"),
        alert(10, camera="backyard"),
        camera_status("backyard"),
        meta("enrichment.started", "enrichment", {"batch_id": 1, "camera_id": "backyard"}),
    ],
    ids=["events", "detections", "alerts", "cameras", "enrichment"],
)
def test_camera_messages_reach_only_those_who_may_see_the_camera(message):
    assert OWNER.may_see(message)
    assert not VIEWER.may_see(message)
    assert not STRANGER.may_see(message)


def test_a_visible_cameras_message_reaches_the_viewer():
    assert VIEWER.may_see(event(10, camera="garage"))
    assert not STRANGER.may_see(event(10, camera="garage"))


def test_system_messages_reach_everyone():
    for user in (OWNER, VIEWER, STRANGER):
        assert user.may_see(system_status())


def test_a_job_reaches_its_owner_and_staff_only():
    assert VIEWER.may_see(job(owner_id=VIEWER.user_id))
    assert OWNER.may_see(job(owner_id=VIEWER.user_id))
    assert not STRANGER.may_see(job(owner_id=VIEWER.user_id))
    assert not VIEWER.may_see(job(owner_id=None))


def test_a_message_sent_to_one_user_reaches_nobody_else_staff_included():
    direct = meta("system.error", "system", {"error": "x", "message": "y", "timestamp": "z"}, owner_id=2)
    assert VIEWER.may_see(direct)
    assert not OWNER.may_see(direct)
    assert not STRANGER.may_see(direct)


def test_a_message_sent_to_one_user_still_needs_the_camera():
    direct = meta("event.created", "events", {"id": 1, "camera_id": "backyard"}, owner_id=2)
    assert not VIEWER.may_see(direct)
    assert VIEWER.may_see(meta("event.created", "events", {"id": 1, "camera_id": "garage"}, owner_id=2))
