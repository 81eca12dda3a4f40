"""Server-rendered pages: sign in / out, the dashboard, events, an event, a camera, jobs, the API token,
the no-JavaScript buttons."""

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import history, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="dashboard-alert-action"),
    path("events/", history.event_history, name="event-history"),
    path("events/<int:pk>/", history.event_detail, name="event-page"),
    path("events/<int:pk>/review/", history.event_review, name="event-review"),
    path("cameras/<str:pk>/", history.camera_detail, name="camera-page"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<uuid:pk>/cancel/", views.job_cancel_action, name="dashboard-job-cancel"),
    path("account/token/", views.api_token, name="api-token"),
    path("account/token/revoke/", views.api_token_revoke_action, name="api-token-revoke"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
