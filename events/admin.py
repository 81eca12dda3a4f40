"""Admin for detections, events, alerts, alert rules and jobs.

Actions and event edits go through events.services (never queryset.update): each change is a
save, and saves are what the realtime receivers broadcast.
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet

from events.jobs import JobStateError, job_cancel
from events.models import Alert, AlertRule, Detection, Event, Job
from events.services import (
    AlertTransitionError,
    alert_acknowledge,
    alert_dismiss,
    alert_resolve,
    event_update,
    events_mark_reviewed,
)

INLINE_DETECTIONS = 20


@admin.register(Detection)
class DetectionAdmin(admin.ModelAdmin):
    """Detections as the pipeline sent them."""

    list_display = ["id", "detected_at", "camera", "object_type", "confidence", "event", "batch_id"]
    list_filter = ["object_type", "camera"]
    search_fields = ["object_type", "batch_id", "camera__id", "camera__name"]
    list_select_related = ["camera", "event"]
    autocomplete_fields = ["camera"]
    raw_id_fields = ["event"]
    date_hierarchy = "detected_at"
    readonly_fields = ["created_at"]


class LimitedDetectionFormSet(BaseInlineFormSet):
    """Only the most confident detections: an event can hold thousands."""

    def get_queryset(self):
        # Cached: the formset asks again for every form, and a sliced queryset re-queries.
        if not hasattr(self, "_limited"):
            self._limited = super().get_queryset().order_by("-confidence", "-id")[:INLINE_DETECTIONS]
        return self._limited


class DetectionInline(admin.TabularInline):
    """An event's best detections, read-only."""

    model = Detection
    formset = LimitedDetectionFormSet
    fields = ["object_type", "confidence", "detected_at", "bbox", "snapshot"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    verbose_name_plural = f"Detections (the {INLINE_DETECTIONS} most confident)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


EVENT_PEOPLE_FIELDS = {"reviewed", "notes"}


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Security events; once recorded, people change only `reviewed` and `notes`."""

    list_display = [
        "id",
        "started_at",
        "camera",
        "risk_score",
        "risk_level",
        "object_type_list",
        "detection_count",
        "reviewed",
    ]
    list_filter = ["risk_level", "reviewed", "camera"]
    search_fields = ["summary"]
    list_select_related = ["camera"]
    date_hierarchy = "started_at"
    autocomplete_fields = ["camera"]
    readonly_fields = ["risk_level", "created_at", "updated_at"]
    inlines = [DetectionInline]
    actions = ["mark_reviewed"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return [f.name for f in Event._meta.fields if f.name not in {"id", *EVENT_PEOPLE_FIELDS}]

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        event_update(event=Event.objects.get(pk=obj.pk), **changes)

    @admin.display(description="Object types")
    def object_type_list(self, event: Event) -> str:
        return ", ".join(event.object_types)

    @admin.action(description="Mark selected events reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        count = events_mark_reviewed(events=queryset)
        self.message_user(request, f"Marked {count} event(s) reviewed.", messages.SUCCESS)


def apply_each(modeladmin, request, queryset, *, apply: Callable, refused: type[Exception], done: str):
    """Apply a service to each selected object; report how many moved and how many refused."""
    moved = skipped = 0
    for obj in queryset:
        try:
            apply(obj)
            moved += 1
        except refused:
            skipped += 1
    noun = queryset.model._meta.verbose_name
    text = f"{done.capitalize()} {moved} {noun}(s)."
    if skipped:
        text += f" Skipped {skipped} that cannot be {done} in their current status."
    modeladmin.message_user(request, text, messages.WARNING if skipped else messages.SUCCESS)


def alert_action(move: Callable[..., Alert], verb: str, done: str):
    """An admin action moving each selected alert through `move` (acknowledge, resolve, dismiss)."""

    @admin.action(description=f"{verb.capitalize()} selected alerts", permissions=["change"])
    def run(modeladmin, request, queryset):
        apply_each(
            modeladmin,
            request,
            queryset,
            apply=lambda alert: move(alert=alert, user=request.user),
            refused=AlertTransitionError,
            done=done,
        )

    run.__name__ = f"{verb}_selected"
    return run


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Alerts are raised by rules; here people read them and move them along."""

    list_display = ["id", "created_at", "severity", "status", "camera_id", "event", "rule", "acknowledged_by"]
    list_filter = ["status", "severity", "rule", "event__camera"]
    search_fields = ["message", "event__summary"]
    list_select_related = ["event", "rule", "acknowledged_by"]
    date_hierarchy = "created_at"
    # Status moves only through the actions (the services); people may edit the message.
    readonly_fields = [f.name for f in Alert._meta.fields if f.name not in {"id", "message"}]
    actions = [
        alert_action(alert_acknowledge, "acknowledge", "acknowledged"),
        alert_action(alert_resolve, "resolve", "resolved"),
        alert_action(alert_dismiss, "dismiss", "dismissed"),
    ]

    def has_add_permission(self, request):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """Alert rules; empty cameras or object types mean all of them."""

    list_display = [
        "name",
        "enabled",
        "min_risk_score",
        "camera_list",
        "object_types",
        "active_from",
        "active_until",
        "cooldown_seconds",
    ]
    list_filter = ["enabled"]
    search_fields = ["name"]
    filter_horizontal = ["cameras"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("cameras")

    @admin.display(description="Cameras")
    def camera_list(self, rule: AlertRule) -> str:
        return ", ".join(camera.pk for camera in rule.cameras.all()) or "All"


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs are queued through the API; the admin follows them and can cancel them."""

    list_display = ["id", "job_type", "status", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["job_type", "status"]
    search_fields = ["id", "created_by__username", "message"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("events.change_job")

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            apply=lambda job: job_cancel(job=job),
            refused=JobStateError,
            done="cancelled",
        )
