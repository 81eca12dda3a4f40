"""The cameras API: everyone reads the cameras they may see, staff manage them, pipelines heartbeat."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from cameras.serializers import CameraSerializer, CameraUpdateSerializer
from cameras.services import camera_heartbeat
from cameras.visibility import cameras_visible_to, cameras_writable_by
from project.permissions import ActionPermissions


class CameraViewSet(viewsets.ModelViewSet):
    """Cameras: list and read what you may see; staff create, change and delete; pipelines heartbeat."""

    serializer_class = CameraSerializer
    permission_classes = [ActionPermissions]
    action_perms = {"heartbeat": "cameras.send_heartbeat"}
    staff_actions = {"create", "update", "partial_update", "destroy"}
    # A household has a handful of cameras: one page, ordered by name.
    pagination_class = None

    def get_permissions(self):
        if self.action in self.staff_actions:
            return [IsAdminUser()]
        return super().get_permissions()

    def get_queryset(self):
        if self.action == "heartbeat":
            return cameras_writable_by(self.request.user, self.action_perms["heartbeat"])
        return cameras_visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return CameraUpdateSerializer
        return CameraSerializer

    @extend_schema(request=None, responses={204: None}, summary="Record a heartbeat from the camera")
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk=None):
        """The camera is alive: last_seen_at moves to now and an offline camera comes online."""
        # No body: a pipeline account may heartbeat cameras it is not allowed to read.
        camera_heartbeat(camera=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
