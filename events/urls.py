"""events API routes."""

from rest_framework.routers import SimpleRouter

from events.api.alerts import AlertViewSet
from events.api.detections import DetectionViewSet
from events.api.events import EventViewSet
from events.api.jobs import JobViewSet
from events.api.rules import AlertRuleViewSet

router = SimpleRouter()
router.register("detections", DetectionViewSet, basename="detection")
router.register("events", EventViewSet, basename="event")
router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
