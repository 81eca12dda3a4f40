"""What a connected user may see, computed once per connection (and again when grants change)."""

from cameras.visibility import sees_everything, visible_camera_ids
from realtime.auth import credential_user
from realtime.subscriptions import Viewer


def viewer_for(user) -> Viewer:
    """The user's id, staff flag and visible cameras."""
    return Viewer(user_id=user.pk, is_staff=sees_everything(user), visible_cameras=visible_camera_ids(user))


def viewer_recheck(scope) -> tuple[object, Viewer] | None:
    """The connection's user read again and what they may see now; None if they may no longer connect."""
    user = credential_user(
        user_id=scope["user"].pk, method=scope["auth_method"], credential=scope.get("auth_credential")
    )
    return None if user is None else (user, viewer_for(user))
