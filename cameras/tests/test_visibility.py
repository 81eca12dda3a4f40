"""Who may see which camera, and which cameras a caller may write for."""

from django.contrib.auth.models import AnonymousUser, Group

from cameras.models import Camera
from cameras.visibility import (
    cameras_visible_to,
    cameras_writable_by,
    restrict_to_visible,
    visible_camera_ids,
)
from events.models import Event
from events.tests.conftest import T0


def ids(cameras) -> list[str]:
    return sorted(camera.id for camera in cameras)


def test_staff_see_every_camera_superusers_or_not(owner, staff_member, cameras):
    assert ids(cameras_visible_to(staff_member)) == ["backyard", "front_door", "garage"]
    assert ids(cameras_visible_to(owner)) == ["backyard", "front_door", "garage"]


def test_a_viewer_sees_cameras_granted_to_them_and_to_their_group(viewer):
    assert ids(cameras_visible_to(viewer)) == ["front_door", "garage"]


def test_a_stranger_sees_no_camera(stranger):
    assert ids(cameras_visible_to(stranger)) == []


def test_anonymous_and_inactive_users_see_no_camera(viewer):
    viewer.is_active = False
    assert ids(cameras_visible_to(AnonymousUser())) == []
    assert ids(cameras_visible_to(viewer)) == []
    assert ids(cameras_visible_to(None)) == []


def test_a_camera_granted_twice_is_listed_once(viewer, cameras):
    cameras["garage"].viewers.add(viewer)
    other = Group.objects.create(name="neighbours")
    viewer.groups.add(other)
    cameras["garage"].viewer_groups.add(other)
    assert ids(cameras_visible_to(viewer)) == ["front_door", "garage"]


def test_visible_camera_ids_means_all_for_staff_and_the_granted_ids_for_others(
    staff_member, viewer, stranger
):
    assert visible_camera_ids(staff_member) is None
    assert visible_camera_ids(viewer) == frozenset({"front_door", "garage"})
    assert visible_camera_ids(stranger) == frozenset()


def test_restrict_to_visible_keeps_only_rows_of_visible_cameras(staff_member, viewer, stranger, cameras):
    for slug in cameras:
        Event.objects.create(camera=cameras[slug], started_at=T0, risk_score=10, summary=slug)
    events = Event.objects.all()
    assert sorted(restrict_to_visible(events, staff_member).values_list("camera_id", flat=True)) == [
        "backyard",
        "front_door",
        "garage",
    ]
    assert sorted(restrict_to_visible(events, viewer).values_list("camera_id", flat=True)) == [
        "front_door",
        "garage",
    ]
    assert list(restrict_to_visible(events, stranger)) == []


def test_a_permission_holder_may_write_for_every_camera(pipeline):
    assert ids(cameras_writable_by(pipeline, "events.add_detection")) == ["backyard", "front_door", "garage"]


def test_without_the_permission_a_user_may_write_only_for_visible_cameras(viewer, stranger):
    assert ids(cameras_writable_by(viewer, "events.add_detection")) == ["front_door", "garage"]
    assert ids(cameras_writable_by(stranger, "events.add_detection")) == []


def test_a_new_camera_stays_hidden_until_granted(viewer):
    camera = Camera.objects.create(id="attic", name="Attic")
    assert "attic" not in ids(cameras_visible_to(viewer))
    camera.viewers.add(viewer)
    assert "attic" in ids(cameras_visible_to(viewer))
