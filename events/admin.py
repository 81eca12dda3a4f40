"""Admin for detections, batches, events, alerts, alert rules and jobs.

Every add, change and action goes through the services (never `obj.save()` or
queryset.update()), so normalization, validation, alert evaluation and broadcasts happen
exactly as through the API. What a person should not write (detections, batches, alerts'
status) is read-only here.
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from events.api.snapshots import snapshot_path
from events.jobs import JobStateError, job_cancel
from events.models import Alert, AlertRule, Detection, DetectionBatch, Event, Job
from events.rules import alert_rule_create, alert_rule_update
from events.selectors import events_with_best_snapshot
from events.services import (
    AlertTransitionError,
    alert_acknowledge,
    alert_dismiss,
    alert_resolve,
    event_record,
    event_update,
    events_mark_reviewed,
    job_create,
)

INLINE_DETECTIONS = 20


def snapshot_thumbnail(detection_id: int | None, alt: str) -> str:
    """A thumbnail linking the permission-checked snapshot route (nothing serves the media root)."""
    path = snapshot_path(detection_id)
    if path is None:
        return "—"
    return format_html('<a href="{}"><img src="{}" alt="{}" height="60" loading="lazy"></a>', path, path, alt)


def detection_thumbnail(detection: Detection) -> str:
    """The detection's snapshot as a thumbnail, or a dash without one."""
    return snapshot_thumbnail(detection.pk if detection.snapshot else None, f"Snapshot of {detection}")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only the pipeline writes: people look, and may delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Detection)
class DetectionAdmin(ReadOnlyAdmin):
    """Detections as the pipeline sent them (posted through the API, which batches them)."""

    list_display = ["id", "detected_at", "camera", "object_type", "confidence", "event", "batch", "thumbnail"]
    list_filter = ["object_type", "camera"]
    search_fields = ["object_type", "camera__id", "camera__name"]
    list_select_related = ["camera", "event", "batch"]
    date_hierarchy = "detected_at"
    exclude = ["snapshot"]
    readonly_fields = ["thumbnail"]

    @admin.display(description="Snapshot")
    def thumbnail(self, detection: Detection) -> str:
        return detection_thumbnail(detection)


@admin.register(DetectionBatch)
class DetectionBatchAdmin(ReadOnlyAdmin):
    """Batches as the pipeline grouped, closed and analyzed them."""

    list_display = ["id", "opened_at", "camera", "state", "attempts", "next_attempt_at", "event"]
    list_filter = ["state", "camera"]
    search_fields = ["source_batch_id", "camera__id", "camera__name"]
    list_select_related = ["camera", "event"]
    date_hierarchy = "opened_at"


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
    fields = ["object_type", "confidence", "detected_at", "bbox", "thumbnail"]
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

    @admin.display(description="Snapshot")
    def thumbnail(self, detection: Detection) -> str:
        return detection_thumbnail(detection)


EVENT_PEOPLE_FIELDS = {"reviewed", "notes"}
# What a person recording an event by hand gives (event_record's arguments).
EVENT_ADD_FIELDS = ["camera", "started_at", "ended_at", "risk_score", "summary", "reasoning", "object_types"]


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
        "best_snapshot",
    ]
    list_filter = ["risk_level", "reviewed", "camera"]
    search_fields = ["summary"]
    list_select_related = ["camera"]
    date_hierarchy = "started_at"
    autocomplete_fields = ["camera"]
    readonly_fields = ["risk_level", "created_at", "updated_at"]
    inlines = [DetectionInline]
    actions = ["mark_reviewed"]

    def get_queryset(self, request):
        return events_with_best_snapshot(super().get_queryset(request))

    def get_fields(self, request, obj=None):
        if obj is None:
            return EVENT_ADD_FIELDS
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = [f.name for f in Event._meta.fields if f.name not in {"id", *EVENT_PEOPLE_FIELDS}]
        return [*fixed, "best_snapshot"]

    @admin.display(description="Best snapshot")
    def best_snapshot(self, event: Event) -> str:
        return snapshot_thumbnail(event.best_snapshot_id, f"Best snapshot of event {event.pk}")

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            event_update(event=Event.objects.get(pk=obj.pk), **changes)
            return
        fields = {name: form.cleaned_data[name] for name in EVENT_ADD_FIELDS if name in form.cleaned_data}
        event = event_record(**fields)
        # The admin logs and redirects with `obj`: give it the recorded row's identity.
        obj.pk = event.pk

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

    def save_model(self, request, obj, form, change):
        names = form.changed_data if change else list(form.cleaned_data)
        fields = {name: form.cleaned_data[name] for name in names if name != "cameras"}
        cameras = form.cleaned_data.get("cameras")
        if change:
            rule = alert_rule_update(rule=AlertRule.objects.get(pk=obj.pk), cameras=cameras, **fields)
        else:
            rule = alert_rule_create(cameras=cameras or (), **fields)
        obj.pk = rule.pk

    def save_related(self, request, form, formsets, change):
        # The service has set the cameras; form.save_m2m() would write them a second time.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.display(description="Cameras")
    def camera_list(self, rule: AlertRule) -> str:
        return ", ".join(camera.pk for camera in rule.cameras.all()) or "All"


class JobAddForm(forms.ModelForm):
    """A job to queue, its params checked by the API's own serializer (defaults filled in)."""

    class Meta:
        model = Job
        fields = ["job_type", "params"]

    def clean(self):
        from events.api.jobs import JobCreateSerializer

        cleaned = super().clean()
        data = {"job_type": cleaned.get("job_type"), "params": cleaned.get("params") or {}}
        serializer = JobCreateSerializer(data=data, context={"request": self.request})
        if not serializer.is_valid():
            raise forms.ValidationError(str(serializer.errors))
        return {**cleaned, **serializer.validated_data}


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs are queued here as through the API (job_create); the admin follows them and can cancel them."""

    list_display = ["id", "job_type", "status", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["job_type", "status"]
    search_fields = ["id", "created_by__username", "message"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected"]

    def has_add_permission(self, request):
        return request.user.has_perm("events.add_job")

    def has_change_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)
        form = super().get_form(request, obj, form=JobAddForm, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        form.instance = job_create(job_type=data["job_type"], params=data["params"], user=request.user)

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
