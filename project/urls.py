"""Lookout URL map: the dashboard, admin, the REST API, its schema and docs, health probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import project.openapi  # noqa: F401  (registers the schema extensions before generation)
from project import health

admin.site.site_header = admin.site.site_title = "Lookout"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("cameras.urls")),
    path("api/", include("events.urls")),
    path("api/", include("realtime.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("dashboard.urls")),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
]

handler404 = "project.not_found.not_found"
