"""The durable outbox: every message on a durable channel, numbered by its sequence."""

from django.db import models


class OutboxMessage(models.Model):
    """One durable envelope; `id` is its `sequence`, written in the transaction that caused it."""

    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=40)
    channel = models.CharField(max_length=20, db_index=True)
    camera_id = models.CharField(max_length=64, blank=True, db_index=True)
    envelope = models.TextField(help_text="The serialized envelope, sent as is on replay.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.event_type}"
