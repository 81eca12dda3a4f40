"""Server-rendered pages: sign in / out, the dashboard, the no-JavaScript alert buttons."""

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="dashboard-alert-action"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
