"""Whose turn it is: one row per periodic task, shared by every worker of the deployment."""

from django.db import models


class TaskTurn(models.Model):
    """The next time a periodic task is due; a worker takes the turn by moving it on (compare-and-set)."""

    name = models.CharField(primary_key=True, max_length=64)
    due_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} due {self.due_at.isoformat()}"
