"""The durable outbox: every message on a durable channel, numbered by its sequence."""

from django.db import models


class OutboxMessage(models.Model):
    """One durable message; `id` is its envelope's `sequence`, written in the transaction that caused it."""

    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=40)
    channel = models.CharField(max_length=20)
    camera_id = models.CharField(max_length=64, blank=True)
    owner_id = models.IntegerField(null=True, blank=True, help_text="For jobs: the user who started it.")
    payload = models.JSONField()
    correlation_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.event_type}"


class OutboxWatermark(models.Model):
    """A single row: the highest sequence pruned so far (a resume from before it is a gap)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pruned through #{self.pruned_through}"
