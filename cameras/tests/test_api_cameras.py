"""The cameras API: who sees which camera, who manages them, who may heartbeat."""

import pytest
from django.utils import timezone

from cameras.models import Camera, CameraStatus
from cameras.tests.conftest import answers

LIST = "/api/cameras/"


def detail(slug: str) -> str:
    return f"/api/cameras/{slug}/"


def heartbeat(slug: str) -> str:
    return f"/api/cameras/{slug}/heartbeat/"


@pytest.fixture
def new_camera() -> dict:
    return {"id": "side_gate", "name": "Side gate", "location": "Path"}


def test_every_signed_in_user_may_list_cameras_and_anonymous_may_not(statuses):
    assert statuses("get", LIST) == answers(200)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("owner", ["backyard", "front_door", "garage"]),
        ("viewer", ["front_door", "garage"]),
        ("stranger", []),
        ("pipeline", []),
    ],
)
def test_the_camera_list_holds_only_the_cameras_the_user_may_see_by_name(users, client_for, user, expected):
    response = client_for(users[user]).get(LIST)
    assert [camera["id"] for camera in response.json()] == expected


def test_a_camera_reads_with_its_slug_status_and_timestamps(client_for, viewer, cameras):
    seen = timezone.now().replace(microsecond=0)
    Camera.objects.filter(pk="front_door").update(last_seen_at=seen, status=CameraStatus.ONLINE)
    camera = Camera.objects.get(pk="front_door")

    body = client_for(viewer).get(detail("front_door")).json()

    assert body == {
        "id": "front_door",
        "name": "Front door",
        "location": "Porch",
        "status": "online",
        "enabled": True,
        "last_seen_at": seen.isoformat().replace("+00:00", "Z"),
        "created_at": camera.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": camera.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_hidden_camera_answers_404_to_everyone_but_staff(statuses):
    assert statuses("get", detail("backyard")) == answers(404, owner=200)


def test_listing_cameras_takes_one_query_however_many_there_are(
    client_for, viewer, cameras, django_assert_num_queries
):
    for number in range(20):
        Camera.objects.create(id=f"extra_{number}", name=f"Extra {number}").viewers.add(viewer)
    with django_assert_num_queries(1):
        response = client_for(viewer).get(LIST)
    assert len(response.json()) == 22


def test_only_staff_may_create_a_camera(statuses, new_camera):
    assert statuses("post", LIST, new_camera) == answers(403, owner=201)
    created = Camera.objects.get(pk="side_gate")
    assert (created.name, created.location, created.status) == ("Side gate", "Path", CameraStatus.UNKNOWN)


def test_staff_who_are_not_superusers_list_every_camera(client_for, staff_member):
    response = client_for(staff_member).get(LIST)
    assert [camera["id"] for camera in response.json()] == ["backyard", "front_door", "garage"]


def test_status_and_last_seen_are_not_set_by_create(client_for, owner, cameras, new_camera):
    response = client_for(owner).post(
        LIST, {**new_camera, "status": "online", "last_seen_at": None}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["last_seen_at"]) == ("unknown", None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "front_door"}, "id"),
        ({"id": "not a slug!"}, "id"),
        ({"id": ""}, "id"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"enabled": "sometimes"}, "enabled"),
    ],
    ids=["duplicate-id", "bad-slug", "empty-id", "empty-name", "long-name", "bad-enabled"],
)
def test_creating_a_camera_from_bad_input_answers_400_and_stores_nothing(
    client_for, owner, cameras, new_camera, change, field
):
    response = client_for(owner).post(LIST, {**new_camera, **change}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert Camera.objects.count() == 3


def test_a_camera_without_a_name_is_refused(client_for, owner, cameras):
    response = client_for(owner).post(LIST, {"id": "side_gate"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["name"])
    assert not Camera.objects.filter(pk="side_gate").exists()


def test_only_staff_may_change_a_camera(statuses, cameras):
    assert statuses("patch", detail("front_door"), {"name": "Porch cam"}) == answers(403, owner=200)
    assert Camera.objects.get(pk="front_door").name == "Porch cam"


def test_staff_can_disable_a_camera_but_not_rename_its_slug(client_for, owner, cameras):
    response = client_for(owner).patch(detail("garage"), {"enabled": False, "id": "carport"}, format="json")
    assert (response.status_code, response.json()["id"], response.json()["enabled"]) == (200, "garage", False)
    assert list(Camera.objects.filter(enabled=False).values_list("id", flat=True)) == ["garage"]
    assert not Camera.objects.filter(pk="carport").exists()


def test_only_staff_may_delete_a_camera(statuses, cameras):
    assert statuses("delete", detail("backyard")) == answers(403, owner=204)
    assert sorted(Camera.objects.values_list("id", flat=True)) == ["front_door", "garage"]


def test_only_holders_of_the_heartbeat_permission_may_heartbeat(statuses, cameras):
    assert statuses("post", heartbeat("front_door")) == answers(403, owner=204, pipeline=204)


def test_a_pipeline_heartbeat_brings_a_camera_it_cannot_see_online(client_for, pipeline, cameras):
    Camera.objects.filter(pk="backyard").update(status=CameraStatus.OFFLINE)
    before = timezone.now()

    response = client_for(pipeline).post(heartbeat("backyard"))

    camera = Camera.objects.get(pk="backyard")
    assert camera.status == CameraStatus.ONLINE
    assert camera.last_seen_at >= before
    # Nothing of the camera it may not read comes back.
    assert (response.status_code, response.content) == (204, b"")


def test_a_heartbeat_for_an_unknown_camera_answers_404(client_for, pipeline, cameras):
    assert client_for(pipeline).post(heartbeat("attic")).status_code == 404
