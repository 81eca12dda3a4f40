"""Admin for the durable outbox: a read-only view of what was sent, for debugging resumes."""

from django.contrib import admin

from realtime.models import OutboxMessage, OutboxWatermark


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the broadcaster only: the admin may read them, never change them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """The durable messages a client can resume from, newest first."""

    list_display = ["id", "event_type", "channel", "camera_id", "created_at"]
    list_filter = ["channel", "event_type"]
    search_fields = ["event_type", "camera_id"]
    date_hierarchy = "created_at"
    ordering = ["-id"]


@admin.register(OutboxWatermark)
class OutboxWatermarkAdmin(ReadOnlyAdmin):
    """How far the outbox has been pruned: a resume from before it is a gap."""

    list_display = ["id", "pruned_through"]
