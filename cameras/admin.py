"""Admin for cameras: status at a glance, who may see each camera, enable/disable in bulk."""

from django.contrib import admin, messages

from cameras.models import Camera
from cameras.services import cameras_set_enabled


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    """Cameras; enabling and disabling goes through the service so each change is broadcast."""

    list_display = ["id", "name", "location", "status", "enabled", "last_seen_at"]
    list_filter = ["status", "enabled"]
    search_fields = ["id", "name", "location"]
    filter_horizontal = ["viewers", "viewer_groups"]
    readonly_fields = ["last_seen_at", "created_at", "updated_at"]
    actions = ["enable_selected", "disable_selected"]

    def get_readonly_fields(self, request, obj=None):
        # The slug is the camera_id clients and the pipeline use: fixed once created.
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    @admin.action(description="Enable selected cameras", permissions=["change"])
    def enable_selected(self, request, queryset):
        changed = cameras_set_enabled(cameras=queryset, enabled=True)
        self.message_user(request, f"Enabled {changed} camera(s).", messages.SUCCESS)

    @admin.action(description="Disable selected cameras", permissions=["change"])
    def disable_selected(self, request, queryset):
        changed = cameras_set_enabled(cameras=queryset, enabled=False)
        self.message_user(request, f"Disabled {changed} camera(s).", messages.SUCCESS)
