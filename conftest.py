"""Standing users and cameras every test can use: owner (staff superuser), staff_member (staff only),
viewer (some cameras), stranger."""

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera

# Real Redis, PostgreSQL and daphne servers on loopback, started and stopped by the tests; a
# listener on the channel layer.
pytest_plugins = ["project.testing.servers", "project.testing.outages", "project.testing.layer_probe"]


@pytest.fixture
def cameras(db) -> dict[str, Camera]:
    """front_door (granted to the viewer directly), garage (to the viewer's group), backyard (hidden)."""
    return {
        slug: Camera.objects.create(id=slug, name=name, location=location)
        for slug, name, location in [
            ("front_door", "Front door", "Porch"),
            ("garage", "Garage", "Driveway"),
            ("backyard", "Backyard", "Garden"),
        ]
    }


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(
        "owner", password="owner-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_member(django_user_model, cameras):
    """Staff but not a superuser, with no camera granted: staff see every camera all the same."""
    return django_user_model.objects.create_user("staff", password="staff-pass-123", is_staff=True)


@pytest.fixture
def viewer(django_user_model, cameras):
    user = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    family = Group.objects.create(name="family")
    user.groups.add(family)
    cameras["front_door"].viewers.add(user)
    cameras["garage"].viewer_groups.add(family)
    return user


@pytest.fixture
def stranger(django_user_model, cameras):
    return django_user_model.objects.create_user("stranger", password="stranger-pass-123")


@pytest.fixture
def pipeline(django_user_model, cameras):
    """The detection pipeline's service account: may post detections, events and heartbeats."""
    user = django_user_model.objects.create_user("pipeline", password="pipeline-pass-123")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_detection", "add_event", "send_heartbeat"],
        )
    )
    return user


@pytest.fixture
def token_for(db):
    def make(user) -> str:
        return Token.objects.get_or_create(user=user)[0].key

    return make


@pytest.fixture
def api():
    """An APIClient; call `api.force_authenticate(user)` or use `client_for(user)`."""
    return APIClient()


@pytest.fixture
def client_for(db):
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Every test: a clean cache (rate-limit budgets, used tickets live there), strict payloads
    (a missing required field raises instead of being logged), and a fast password hasher
    (the standing users are created for every test)."""
    from django.core.cache import cache

    settings.REALTIME_STRICT_PAYLOADS = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()
