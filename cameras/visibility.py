"""Who may see which camera: staff see all, others only cameras granted to them or their groups."""

from django.db.models import Q, QuerySet

from cameras.models import Camera


def cameras_visible_to(user) -> QuerySet[Camera]:
    """The cameras `user` may see (none for an anonymous or inactive user)."""
    if not user or not user.is_authenticated or not user.is_active:
        return Camera.objects.none()
    if user.is_staff:
        return Camera.objects.all()
    return Camera.objects.filter(Q(viewers=user) | Q(viewer_groups__user=user)).distinct()


def visible_camera_ids(user) -> frozenset[str] | None:
    """The ids of the cameras `user` may see, or None for "all" (staff)."""
    if user and user.is_authenticated and user.is_active and user.is_staff:
        return None
    return frozenset(cameras_visible_to(user).values_list("id", flat=True))


def restrict_to_visible(queryset: QuerySet, user, *, camera_field: str = "camera") -> QuerySet:
    """Filter any queryset with a camera relation down to what `user` may see."""
    if user and user.is_authenticated and user.is_active and user.is_staff:
        return queryset
    return queryset.filter(**{f"{camera_field}__in": cameras_visible_to(user).values("id")})
