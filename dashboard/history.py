"""Pages that look back: the events history, one event (and its review), one camera."""

from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from cameras.visibility import cameras_visible_to
from dashboard.filters import EventHistoryFilter
from dashboard.forms import ExportForm
from dashboard.frames import event_frames
from dashboard.timeline_chart import hour_chart
from events.api.events import EventReviewSerializer, EventViewSet
from events.selectors import detection_list, event_list, events_with_best_snapshot, snapshots_latest_first
from events.services import event_update
from project.pagination import TimeCursorPagination
from realtime.payloads import camera_payload, detection_payload, event_payload

HISTORY_PAGE_SIZE = 25
CAMERA_RECENT_EVENTS = 10
# An event can group thousands of detections: the page lists the first ones and says how many.
EVENT_DETECTIONS_LISTED = 200
EVENT_FRAMES_DRAWN = 4


@dataclass
class CursorPage:
    rows: list
    next_url: str | None
    previous_url: str | None


def cursor_page(request: HttpRequest, queryset, *, ordering: tuple[str, ...], size: int) -> CursorPage:
    """One page of `queryset` by the API's cursor pagination (?cursor=; the links keep the filters)."""
    paginator = TimeCursorPagination()
    paginator.page_size = size
    paginator.page_size_query_param = None  # a page has one size; only the API lets clients choose
    try:
        rows = paginator.paginate_queryset(
            queryset, Request(request), SimpleNamespace(cursor_ordering=ordering)
        )
    except NotFound as error:
        raise Http404("That page of the list does not exist (its cursor is invalid).") from error
    return CursorPage(
        rows=rows, next_url=paginator.get_next_link(), previous_url=paginator.get_previous_link()
    )


@login_required
def event_history(request: HttpRequest) -> HttpResponse:
    """The events the user may see, filtered as by the API, a page at a time, and a day's chart of them."""
    user = request.user
    filters = EventHistoryFilter(
        request.GET, queryset=event_list(user=user), cameras=cameras_visible_to(user).order_by("name")
    )
    context = {"form": filters.form, "filtered": any(request.GET.get(name) for name in filters.filters)}
    if not filters.is_valid():
        # As the API answers 400: never rows that look filtered but are not.
        return render(request, "dashboard/history.html", context, status=400)
    events = filters.qs
    page = cursor_page(
        request,
        events_with_best_snapshot(events),
        ordering=EventViewSet.cursor_ordering,
        size=HISTORY_PAGE_SIZE,
    )
    end = filters.form.cleaned_data.get("started_before") or timezone.now()
    context |= {
        "events": [event_payload(event) for event in page.rows],
        "page": page,
        "match_count": events.count(),
        "chart": hour_chart(events, end=end),
        # The jobs page starts its export form with the filters an export takes.
        "export_query": urlencode(
            {name: value for name, value in request.GET.items() if value and name in ExportForm.base_fields}
        ),
    }
    return render(request, "dashboard/history.html", context)


@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event: summary, reasoning, risk, camera, times, its detections (boxes over snapshots), review."""
    user = request.user
    event = get_object_or_404(events_with_best_snapshot(event_list(user=user)), pk=pk)
    detections = detection_list(user=user).filter(event=event)
    context = {
        "event": event_payload(event),
        "camera": camera_payload(event.camera),
        "frames": event_frames(detections, limit=EVENT_FRAMES_DRAWN),
        "detections": [
            detection_payload(d) for d in detections.order_by("detected_at", "id")[:EVENT_DETECTIONS_LISTED]
        ],
        "detection_total": detections.count(),
        "notes_max_length": EventReviewSerializer().fields["notes"].max_length,
    }
    return render(request, "dashboard/event.html", context)


@login_required
@require_POST
def event_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The review form without JavaScript: checked as PATCH /api/events/<id>/ checks it, the same service."""
    event = get_object_or_404(event_list(user=request.user), pk=pk)
    review = EventReviewSerializer(
        data={"reviewed": "reviewed" in request.POST, "notes": request.POST.get("notes", "")}
    )
    if review.is_valid():
        event_update(event=event, **review.validated_data)
        messages.success(request, "Review saved.")
    else:
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in review.errors.items())
        messages.error(request, f"Review not saved. {problems}")
    return redirect("event-page", pk=event.pk)


@login_required
def camera_detail(request: HttpRequest, pk: str) -> HttpResponse:
    """One camera: status, last seen, its latest snapshot, a day's chart and its recent events."""
    user = request.user
    camera = get_object_or_404(cameras_visible_to(user), pk=pk)
    events = event_list(user=user).filter(camera=camera)
    recent = events_with_best_snapshot(events).order_by(*EventViewSet.cursor_ordering)[:CAMERA_RECENT_EVENTS]
    latest = snapshots_latest_first(detection_list(user=user).filter(camera=camera)).first()
    context = {
        "camera": camera_payload(camera),
        "latest_snapshot": detection_payload(latest) if latest else None,
        "events": [event_payload(event) for event in recent],
        "chart": hour_chart(events, end=timezone.now()),
    }
    return render(request, "dashboard/camera.html", context)
