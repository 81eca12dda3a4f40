"""API permissions shared by every app."""

from rest_framework.permissions import IsAuthenticated


class ActionPermissions(IsAuthenticated):
    """An authenticated user holding the model permission the view's `action_perms` names for the action."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        perm = getattr(view, "action_perms", {}).get(view.action)
        return perm is None or request.user.has_perm(perm)
