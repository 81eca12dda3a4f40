"""The site's 404 page: JSON under /api/, like every other API error; Django's page elsewhere."""

from django.http import JsonResponse
from django.views import defaults


def not_found(request, exception):
    """A URL that no route matches, e.g. an object id holding a dot or a slash."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
