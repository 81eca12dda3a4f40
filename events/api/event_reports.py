"""The shapes of the events stats and timeline answers, and the timeline's query."""

from rest_framework import serializers

from events.selectors import TIMELINE_BUCKETS


class EventStatsSerializer(serializers.Serializer):
    """How many events match, in total and by risk level, camera and object type."""

    total = serializers.IntegerField()
    by_risk_level = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every level, 0 included."
    )
    by_camera = serializers.DictField(child=serializers.IntegerField(), help_text="camera_id → count.")
    by_object_type = serializers.DictField(
        child=serializers.IntegerField(), help_text="Events whose object_types contain it."
    )


class TimelineQuerySerializer(serializers.Serializer):
    """?bucket=hour|day|week (default day)."""

    bucket = serializers.ChoiceField(choices=list(TIMELINE_BUCKETS), default="day")


class TimelineBucketSerializer(serializers.Serializer):
    """The events that started in one bucket."""

    start = serializers.DateTimeField()
    count = serializers.IntegerField()
    max_risk_score = serializers.IntegerField()
    by_risk_level = serializers.DictField(child=serializers.IntegerField())


class EventTimelineSerializer(serializers.Serializer):
    """Non-empty buckets, oldest first."""

    bucket = serializers.ChoiceField(choices=list(TIMELINE_BUCKETS))
    results = TimelineBucketSerializer(many=True)
