"""Dashboard pages: thin views over the selectors and the services the API calls too."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cameras.visibility import cameras_visible_to
from events.models import AlertStatus
from events.selectors import alert_list, event_list
from events.services import AlertTransitionError, alert_acknowledge, alert_dismiss, alert_resolve
from realtime.outbox import outbox_last_sequence
from realtime.payloads import alert_payload, camera_payload, event_payload

# The live client caps the feed at the same length, so a reload and a long-open page agree.
FEED_LENGTH = 50
ACTIVE_ALERT_STATUSES = (AlertStatus.PENDING, AlertStatus.ACKNOWLEDGED)
ALERT_ACTIONS = {"acknowledge": alert_acknowledge, "dismiss": alert_dismiss, "resolve": alert_resolve}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Cameras, the latest events and the active alerts the user may see, as of now."""
    user = request.user
    # Read the sequence first: anything committed after it reaches the page through `resume`.
    since = outbox_last_sequence()
    cameras = [camera_payload(c) for c in cameras_visible_to(user).order_by("name")]
    events = [event_payload(e) for e in event_list(user=user).order_by("-started_at", "-id")[:FEED_LENGTH]]
    alerts = [
        alert_payload(a)
        for a in alert_list(user=user)
        .filter(status__in=ACTIVE_ALERT_STATUSES)
        .select_related("acknowledged_by")
        .order_by("-created_at", "-id")[:FEED_LENGTH]
    ]
    lists = {"cameras": cameras, "events": events, "alerts": alerts}
    context = {
        **lists,
        "pending_count": sum(a["status"] == AlertStatus.PENDING for a in alerts),
        "initial": {**lists, "since": since, "feed_length": FEED_LENGTH},
    }
    return render(request, "dashboard/dashboard.html", context)


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
