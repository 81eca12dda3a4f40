"""cameras API routes."""

from rest_framework.routers import SimpleRouter

from cameras.api import CameraViewSet

router = SimpleRouter()
router.register("cameras", CameraViewSet, basename="camera")
urlpatterns = router.urls
