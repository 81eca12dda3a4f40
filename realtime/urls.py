"""Realtime API routes."""

from django.urls import path

from realtime.views import SystemStatusView, TicketView

urlpatterns = [
    path("realtime/ticket/", TicketView.as_view(), name="realtime-ticket"),
    path("system/status/", SystemStatusView.as_view(), name="system-status"),
]
