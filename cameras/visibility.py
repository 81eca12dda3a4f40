"""Who may see which camera: staff see all, others only cameras granted to them or their groups."""

from django.db.models import Q, QuerySet

from cameras.models import Camera


def sees_everything(user) -> bool:
    """Whether `user` sees every camera and every job: active staff (superuser or not)."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def cameras_visible_to(user) -> QuerySet[Camera]:
    """The cameras `user` may see (none for an anonymous or inactive user)."""
    if sees_everything(user):
        return Camera.objects.all()
    if not user or not user.is_authenticated or not user.is_active:
        return Camera.objects.none()
    return Camera.objects.filter(Q(viewers=user) | Q(viewer_groups__user=user)).distinct()


def visible_camera_ids(user) -> frozenset[str] | None:
    """The ids of the cameras `user` may see, or None for "all" (staff)."""
    if sees_everything(user):
        return None
    return frozenset(cameras_visible_to(user).values_list("id", flat=True))


def cameras_writable_by(user, perm: str) -> QuerySet[Camera]:
    """Cameras `user` may write for: all of them with `perm` (a pipeline account), else the visible ones."""
    return Camera.objects.all() if user.has_perm(perm) else cameras_visible_to(user)


def restrict_to_visible(queryset: QuerySet, user, *, camera_field: str = "camera") -> QuerySet:
    """Filter any queryset with a camera relation down to what `user` may see."""
    if sees_everything(user):
        return queryset
    return queryset.filter(**{f"{camera_field}__in": cameras_visible_to(user).values("id")})
