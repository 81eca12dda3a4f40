"""HTTP side of realtime: WebSocket tickets and system status."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.status_report import system_status
from realtime.tickets import ticket_issue


class TicketView(APIView):
    """POST: a single-use ticket for `?ticket=` on a WebSocket URL (expires in 60 s)."""

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "RealtimeTicket",
                {"ticket": serializers.CharField(), "expires_in": serializers.IntegerField()},
            )
        },
    )
    def post(self, request):
        return Response(
            {"ticket": ticket_issue(user=request.user), "expires_in": settings.REALTIME_TICKET_SECONDS},
            status=201,
        )


class SystemStatusView(APIView):
    """GET: health, GPU, queues, cameras, live connections and batcher metrics (household-wide for staff)."""

    @extend_schema(responses=inline_serializer("SystemStatus", {"health": serializers.CharField()}))
    def get(self, request):
        return Response(system_status(user=request.user))
