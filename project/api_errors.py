"""How the API answers errors: JSON bodies only, a 400 for a model rule, a 503 while the database is down.

DRF's own handler knows only its exceptions and Django's 404/403; anything else escapes
to Django's HTML 500 page with a traceback in the log. Two kinds are not server bugs:
- a Django `ValidationError` from `full_clean()` in a model or a service: the rule lives
  there once, and serializers do not restate it, so it must reach the client as a 400 with
  the same field-error shape a serializer gives;
- a database that cannot be reached (PostgreSQL restarting, a network blip): a 503 the
  client can retry. Django drops the broken connection at the end of the request, so the
  next request after the database is back succeeds without a restart.
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

# Long enough for PostgreSQL to restart, short enough that a dashboard comes back by itself.
DATABASE_RETRY_AFTER_SECONDS = 5


class Conflict(APIException):
    """409: the object's current state does not allow the action."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this action."
    default_code = "conflict"


class DatabaseUnavailable(APIException):
    """503: the database cannot be reached right now; the client should retry."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "database_unavailable"
    wait = DATABASE_RETRY_AFTER_SECONDS  # DRF's handler sends it as Retry-After


def model_validation_error(error: DjangoValidationError) -> ValidationError:
    """A model's ValidationError as DRF's: {field: [messages]}, whole-object errors under non_field_errors."""
    detail = as_serializer_error(error)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return ValidationError(detail)


def api_exception_handler(exc, context):
    """DRF's handler, plus a model ValidationError as a 400 and an unreachable database as a 503."""
    if isinstance(exc, DjangoValidationError):
        exc = model_validation_error(exc)
    elif isinstance(exc, OperationalError | InterfaceError):
        # OperationalError also covers lock timeouts and the like: logged, so a real fault
        # that is not an outage still shows up in the logs.
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    return exception_handler(exc, context)
