"""The API on real PostgreSQL: 503 JSON with Retry-After while the database is down, then recovery."""

import json
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from django.utils import timezone

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def call(url: str, token: str, body: dict | None = None) -> tuple[int, dict, dict]:
    """GET (or POST `body` as JSON) with a token: status, headers, JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Token {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture(scope="module")
def server(start_daphne, postgres_url):
    # Persistent connections: the harder recovery, as each one dies with the server restart.
    return start_daphne({"DATABASE_URL": postgres_url, "DATABASE_CONN_MAX_AGE": "60"})


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    return server.seed_demo()


def detection_count(postgres_url: str) -> int:
    with psycopg.connect(postgres_url) as conn:
        return conn.execute("SELECT count(*) FROM events_detection").fetchone()[0]


def test_while_postgresql_is_down_the_api_answers_503_json_and_recovers_by_itself(
    server, tokens, postgres_server
):
    admin = tokens["admin"]
    events = f"{server.base_url}/api/events/"
    assert call(events, admin)[0] == 200

    postgres_server.stop()
    try:
        for url in (events, f"{server.base_url}/api/cameras/", f"{server.base_url}/api/system/status/"):
            status, headers, body = call(url, admin)
            assert (status, headers["Content-Type"], headers["Retry-After"]) == (503, "application/json", "5")
            assert body == {"detail": "The database is unavailable; try again shortly."}
    finally:
        postgres_server.start()

    deadline = time.monotonic() + 15
    while (status := call(events, admin)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 200


def test_a_box_value_past_postgresqls_integer_answers_400_and_stores_nothing(server, tokens, postgres_url):
    before = detection_count(postgres_url)
    row = {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.9,
        "detected_at": timezone.now().isoformat(),
        "bbox": {"x": 2147483648, "y": 0, "width": 10, "height": 10},
    }
    status, _, body = call(f"{server.base_url}/api/detections/", tokens["pipeline"], row)
    refused = {"bbox": {"x": ["Ensure this value is less than or equal to 2147483647."]}}
    assert (status, body) == (400, refused)
    assert detection_count(postgres_url) == before
