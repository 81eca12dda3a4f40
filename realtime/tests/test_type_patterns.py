"""`types` filter patterns: resolved once against the registry, bounded, never a stall."""

import pytest

from events.tests.factories import make_event
from realtime.subscriptions import MAX_TYPE_PATTERN_LENGTH, MAX_TYPE_PATTERNS
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)

# Generous: a healthy server answers in milliseconds; the old regex took hours on this pattern.
ALIVE_TIMEOUT = 10


def subscribe(types, request_id="sub") -> dict:
    filters = {"types": types}
    return {"action": "subscribe", "channels": ["events"], "filters": filters, "request_id": request_id}


async def test_a_pathological_pattern_does_not_stall_other_clients(ws_connect, viewer, stranger):
    bystander = await ws_connect("/ws/", user=viewer)
    attacker = await ws_connect("/ws/", user=stranger)
    await attacker.send(subscribe(["*" * 40 + "Q"]))
    await bystander.send({"action": "ping", "request_id": "alive"})
    pong = await bystander.receive_type("pong", timeout=ALIVE_TIMEOUT)
    assert pong["payload"]["request_id"] == "alive"
    error = await attacker.receive_type("error", timeout=ALIVE_TIMEOUT)
    assert error["payload"]["code"] == "invalid_filter"


async def test_a_star_heavy_pattern_that_matches_filters_live_frames(ws_connect, owner, cameras):
    client = await ws_connect("/ws/", user=owner)
    await client.request(subscribe(["*e*v*e*n*t*.*c*r*e*a*t*e*d*"]), "subscribed")
    event = await db(make_event, cameras["garage"], 40)
    event_id = event.id
    await db(event.delete)
    await client.send({"action": "ping"})
    frames = [await client.receive_type("event.created", timeout=ALIVE_TIMEOUT)]
    while frames[-1]["type"] != "pong":
        frames.append(await client.receive(timeout=ALIVE_TIMEOUT))
    assert [(f["type"], f["payload"].get("id")) for f in frames[:-1]] == [("event.created", event_id)]


@pytest.mark.parametrize(
    "types",
    [
        ["x" * (MAX_TYPE_PATTERN_LENGTH + 1)],
        ["event.*"] * (MAX_TYPE_PATTERNS + 1),
        [""],
        ["event.created", 7],
        "event.*",
        # `?` and `[` are plain characters, not wildcards or sets.
        ["event.create?"],
        ["[e]vent.created"],
    ],
)
async def test_patterns_past_the_bounds_or_matching_nothing_are_invalid(ws_connect, viewer, types):
    client = await ws_connect("/ws/", user=viewer)
    await client.send(subscribe(types))
    error = await client.receive_type("error")
    assert error["payload"]["code"] == "invalid_filter"
    assert error["payload"]["request_id"] == "sub"


async def test_patterns_at_the_bounds_are_accepted(ws_connect, viewer):
    client = await ws_connect("/ws/", user=viewer)
    longest = "*" * (MAX_TYPE_PATTERN_LENGTH - len("event.created")) + "event.created"
    answer = await client.request(subscribe([longest] * MAX_TYPE_PATTERNS), "subscribed")
    assert answer["payload"]["channels"] == ["events"]
