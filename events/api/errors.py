"""API errors that DRF does not ship."""

from rest_framework import status
from rest_framework.exceptions import APIException


class Conflict(APIException):
    """409: the object's current state does not allow the action."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this action."
    default_code = "conflict"
