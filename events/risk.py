"""Risk score → risk level, by the thresholds of the SPEC (low <30, medium <60, high <85)."""

from django.db import models


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# (lowest score of the level, level), highest first.
RISK_THRESHOLDS: tuple[tuple[int, RiskLevel], ...] = (
    (85, RiskLevel.CRITICAL),
    (60, RiskLevel.HIGH),
    (30, RiskLevel.MEDIUM),
    (0, RiskLevel.LOW),
)


def risk_level_for(score: int) -> RiskLevel:
    """The risk level of a score in 0–100."""
    for floor, level in RISK_THRESHOLDS:
        if score >= floor:
            return level
    raise ValueError(f"risk score out of range: {score}")


def risk_level_constraint_q() -> models.Q:
    """A condition true exactly when risk_level matches risk_score (for a CheckConstraint)."""
    q = models.Q()
    ceiling = 101
    for floor, level in RISK_THRESHOLDS:
        q |= models.Q(risk_level=level, risk_score__gte=floor, risk_score__lt=ceiling)
        ceiling = floor
    return q
