"""A demo household: cameras, an admin, a viewer, the pipeline's account and a few alert rules.

Idempotent: running it again creates nothing new, keeps the pipeline's token, and sets the
two passwords to the ones given, so that what the command prints always works.
"""

from datetime import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from cameras.models import Camera
from events.models import AlertRule
from events.rules import alert_rule_create

DEMO_CAMERAS = [
    ("front_door", "Front door", "Porch"),
    ("driveway", "Driveway", "Front of the house"),
    ("backyard", "Backyard", "Garden"),
    ("garage", "Garage", "Side entrance"),
    ("living_room", "Living room", "Ground floor"),
]
ADMIN_USERNAME = "admin"
VIEWER_USERNAME = "viewer"
PIPELINE_USERNAME = "pipeline"
VIEWER_GROUP = "family"
PIPELINE_PERMISSIONS = [("events", "add_detection"), ("events", "add_event"), ("cameras", "send_heartbeat")]
DEMO_RULES = [
    {"name": "High risk anywhere", "min_risk_score": 60},
    {
        "name": "Person at night",
        "min_risk_score": 30,
        "object_types": ["person"],
        "active_from": time(22, 0),
        "active_until": time(6, 0),
    },
    {
        "name": "Vehicle in the driveway",
        "min_risk_score": 40,
        "object_types": ["car"],
        "cameras": ["driveway"],
    },
]


def _user(username: str, password: str, **flags):
    user, _ = get_user_model().objects.get_or_create(username=username)
    for name, value in flags.items():
        setattr(user, name, value)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def demo_household_seed(*, admin_password: str, viewer_password: str) -> dict:
    """Create (or find) the demo household; return its cameras, rules and credentials."""
    cameras = {
        slug: Camera.objects.get_or_create(id=slug, defaults={"name": name, "location": location})[0]
        for slug, name, location in DEMO_CAMERAS
    }
    _user(ADMIN_USERNAME, admin_password, is_staff=True, is_superuser=True)

    viewer = _user(VIEWER_USERNAME, viewer_password)
    family, _ = Group.objects.get_or_create(name=VIEWER_GROUP)
    viewer.groups.add(family)
    cameras["front_door"].viewers.add(viewer)
    cameras["driveway"].viewer_groups.add(family)

    # A service account: it authenticates with its token only.
    pipeline = _user(PIPELINE_USERNAME, "")
    for app_label, codename in PIPELINE_PERMISSIONS:
        pipeline.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    token, _ = Token.objects.get_or_create(user=pipeline)

    for spec in DEMO_RULES:
        if not AlertRule.objects.filter(name=spec["name"]).exists():
            fields = {**spec, "cameras": [cameras[slug] for slug in spec.get("cameras", ())]}
            alert_rule_create(**fields)

    return {
        "cameras": list(cameras),
        "rules": [spec["name"] for spec in DEMO_RULES],
        "admin": {"username": ADMIN_USERNAME, "password": admin_password},
        "viewer": {
            "username": VIEWER_USERNAME,
            "password": viewer_password,
            "cameras": ["front_door", "driveway"],
        },
        "pipeline": {"username": PIPELINE_USERNAME, "token": token.key},
    }
