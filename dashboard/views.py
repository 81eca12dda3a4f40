"""Dashboard pages: thin views over the selectors and the services the API calls too."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from cameras.visibility import cameras_visible_to, sees_everything
from dashboard.forms import ExportForm
from events.api.snapshots import snapshot_path
from events.jobs import CANCELLABLE, JobStateError, job_cancel
from events.models import AlertStatus, JobType
from events.selectors import (
    alert_list,
    cameras_with_latest_snapshot,
    event_list,
    events_with_best_snapshot,
    job_list,
)
from events.services import (
    AlertTransitionError,
    alert_acknowledge,
    alert_dismiss,
    alert_resolve,
    job_create,
)
from project.api_tokens import api_token_regenerate, api_token_revoke
from realtime.event_types import WebSocketEventType as T
from realtime.monitor import health_components, system_figures
from realtime.outbox import outbox_last_sequence
from realtime.payloads import alert_payload, camera_payload, event_payload, job_payload
from realtime.status_report import realtime_report

# The live client caps the feed at the same length, so a reload and a long-open page agree.
FEED_LENGTH = 50
# The jobs page lists this many, newest first (the API pages through all of them).
JOB_LIST_LENGTH = 50
ACTIVE_ALERT_STATUSES = (AlertStatus.PENDING, AlertStatus.ACKNOWLEDGED)
ALERT_ACTIONS = {"acknowledge": alert_acknowledge, "dismiss": alert_dismiss, "resolve": alert_resolve}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Cameras (with their latest snapshot), the latest events, the active alerts and the system panel."""
    user = request.user
    # Read the sequence first: anything committed after it reaches the page through `resume`.
    since = outbox_last_sequence()
    cameras = [
        {
            **camera_payload(c),
            # Through the permission-checked route: the media root is never served.
            "snapshot_url": snapshot_path(c.latest_snapshot_id),
        }
        for c in cameras_with_latest_snapshot(cameras_visible_to(user)).order_by("name")
    ]
    latest = events_with_best_snapshot(event_list(user=user)).order_by("-started_at", "-id")[:FEED_LENGTH]
    events = [event_payload(e) for e in latest]
    alerts = [
        alert_payload(a)
        for a in alert_list(user=user)
        .filter(status__in=ACTIVE_ALERT_STATUSES)
        .select_related("acknowledged_by")
        .order_by("-created_at", "-id")[:FEED_LENGTH]
    ]
    shown = {"cameras": cameras, "events": events, "alerts": alerts, "system": system_panel(user=user)}
    context = {
        **shown,
        "pending_count": sum(a["status"] == AlertStatus.PENDING for a in alerts),
        "initial": {**shown, "since": since, "feed_length": FEED_LENGTH},
    }
    return render(request, "dashboard/dashboard.html", context)


def system_panel(*, user) -> dict:
    """The system panel's first state: the monitor's own frames as of now, and the live connections."""
    figures = {
        message.event_type: message.payload
        for message in system_figures(now=timezone.now(), components=health_components(), host=None)
    }
    return {
        "status": figures[T.SYSTEM_STATUS],
        "throughput": figures[T.PIPELINE_THROUGHPUT],
        # Connection counts are in no frame; the page re-reads them from /api/system/status/.
        "connections": realtime_report(user=user)["connections"],
    }


@login_required
@require_POST
def alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The alert buttons without JavaScript: the same services as POST /api/alerts/<id>/<action>/."""
    if action not in ALERT_ACTIONS:
        raise Http404("unknown alert action")
    alert = get_object_or_404(alert_list(user=request.user), pk=pk)
    try:
        ALERT_ACTIONS[action](alert=alert, user=request.user)
    except AlertTransitionError as error:
        messages.error(request, f"Alert {alert.pk}: {error}.")
    else:
        messages.success(request, f"Alert {alert.pk} {alert_done(action)}.")
    return redirect("dashboard")


def alert_done(action: str) -> str:
    """'acknowledge' → 'acknowledged'."""
    return action.removesuffix("e") + "ed"


@login_required
def jobs(request: HttpRequest) -> HttpResponse:
    """The user's jobs with their progress, and the form that queues an export (as POST /api/jobs/)."""
    if request.method == "POST":
        form = ExportForm(request.POST, request=request)
        if form.is_valid():
            job_create(job_type=JobType.EXPORT, params=form.cleaned_data["params"], user=request.user)
            messages.success(request, "Export queued: its progress shows below.")
            return redirect("jobs")
    else:
        # A link from the events history carries its filters: the form starts with them.
        form = ExportForm(initial=request.GET.dict(), request=request)
    since = outbox_last_sequence()
    rows = [job_payload(job) for job in job_list(user=request.user)[:JOB_LIST_LENGTH]]
    initial = {
        "jobs": rows,
        "since": since,
        "list_length": JOB_LIST_LENGTH,
        "cancellable": sorted(CANCELLABLE),
        "job_types": dict(JobType.choices),
        "camera_names": dict(cameras_visible_to(request.user).values_list("pk", "name")),
    }
    context = {"form": form, "jobs": rows, "initial": initial, "everyones": sees_everything(request.user)}
    return render(request, "dashboard/jobs.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def job_cancel_action(request: HttpRequest, pk: str) -> HttpResponse:
    """The cancel button without JavaScript: the same service as POST /api/jobs/<id>/cancel/."""
    job = get_object_or_404(job_list(user=request.user), pk=pk)
    try:
        job_cancel(job=job)
    except JobStateError as error:
        messages.error(request, f"Job {job.pk}: {error}.")
    else:
        messages.success(request, f"Job {job.pk} cancelled.")
    return redirect("jobs")


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    """The user's own API token: create or regenerate it (the key is shown once, in this answer)."""
    new_key = None
    if request.method == "POST":
        new_key = api_token_regenerate(user=request.user).key
    token = Token.objects.filter(user=request.user).first()
    response = render(request, "dashboard/api_token.html", {"token": token, "new_key": new_key})
    # The key is in this page only: no cache may keep a copy of it.
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def api_token_revoke_action(request: HttpRequest) -> HttpResponse:
    """Revoke the user's API token: requests and sockets that use it are refused from now on."""
    if api_token_revoke(user=request.user):
        messages.success(request, "Your API token is revoked.")
    else:
        messages.info(request, "You had no API token.")
    return redirect("api-token")
