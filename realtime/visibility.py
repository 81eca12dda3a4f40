"""What a connected user may see, computed once per connection (and again when grants change)."""

from cameras.visibility import sees_everything, visible_camera_ids
from realtime.subscriptions import Viewer


def viewer_for(user) -> Viewer:
    """The user's id, staff flag and visible cameras."""
    return Viewer(user_id=user.pk, is_staff=sees_everything(user), visible_cameras=visible_camera_ids(user))
