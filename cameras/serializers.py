"""Cameras in JSON, and the `camera_id` field every other write payload uses."""

from rest_framework import serializers
from rest_framework.fields import empty

from cameras.models import Camera
from cameras.visibility import cameras_writable_by


class CameraSerializer(serializers.ModelSerializer):
    """A camera as staff create it and everyone reads it; status and last_seen_at come from heartbeats."""

    class Meta:
        model = Camera
        fields = ["id", "name", "location", "status", "enabled", "last_seen_at", "created_at", "updated_at"]
        read_only_fields = ["status", "last_seen_at", "created_at", "updated_at"]


class CameraUpdateSerializer(CameraSerializer):
    """A camera being changed: its slug is its primary key and cannot be renamed."""

    class Meta(CameraSerializer.Meta):
        read_only_fields = ["id", *CameraSerializer.Meta.read_only_fields]


class CameraIdField(serializers.CharField):
    """A `camera_id` slug in a write payload, resolved to an enabled camera the caller may write for.

    A camera the caller may not see answers exactly like one that does not exist, so a
    payload cannot be used to probe which cameras exist.
    """

    default_error_messages = {
        "does_not_exist": "Unknown camera '{value}'.",
        "disabled": "Camera '{value}' is disabled.",
    }

    def __init__(self, *, write_perm: str, **kwargs):
        self.write_perm = write_perm
        # A bulk post names the same few cameras in every row: resolve each slug once.
        self._resolved: dict[str, Camera | None] = {}
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def run_validation(self, data=empty) -> Camera:
        # The slug is checked as a string first (type, length), then resolved.
        return self.resolve(super().run_validation(data))

    def resolve(self, slug: str) -> Camera:
        """The enabled camera `slug` names that the caller may write for; a field error otherwise."""
        if slug not in self._resolved:
            user = self.context["request"].user
            self._resolved[slug] = cameras_writable_by(user, self.write_perm).filter(pk=slug).first()
        camera = self._resolved[slug]
        if camera is None:
            self.fail("does_not_exist", value=slug)
        if not camera.enabled:
            self.fail("disabled", value=slug)
        return camera
