"""Events per hour by risk level over one day, laid out as a stacked bar chart (inline SVG)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from events.models import Event
from events.risk import RiskLevel
from events.selectors import event_timeline

HOURS = 24
HOUR = timedelta(hours=1)
# The SVG's own units. The page stretches the bars to the width and height it gives them; the
# labels are HTML beside the drawing, so they stay legible from a phone to a wall screen.
SLOT, BAR = 30, 22
WIDTH, HEIGHT = SLOT * HOURS, 100
LABEL_EVERY = 3
# Bars are stacked from the least to the most serious level, so the most serious sits on top.
LEVELS = [level.value for level in RiskLevel]


@dataclass
class Segment:
    level: str
    count: int
    y: float
    height: float


@dataclass
class Slot:
    start: datetime
    counts: dict[str, int]
    x: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def level_counts(self) -> list[int]:
        return [self.counts[level] for level in LEVELS]


@dataclass
class HourChart:
    end: datetime
    slots: list[Slot]
    scale_max: int
    width: int = WIDTH
    height: int = HEIGHT
    bar_width: int = BAR
    levels: list[str] = field(default_factory=lambda: LEVELS)

    @property
    def total(self) -> int:
        return sum(slot.total for slot in self.slots)

    @property
    def busiest(self) -> Slot | None:
        busiest = max(self.slots, key=lambda slot: slot.total)
        return busiest if busiest.total else None

    @property
    def labelled_slots(self) -> list[Slot]:
        """Every third hour gets its time under the axis (all 24 would overlap on a phone)."""
        return self.slots[::LABEL_EVERY]


def hour_chart(events: QuerySet[Event], *, end: datetime) -> HourChart:
    """`events` per hour and risk level in the 24 hours (of TIME_ZONE) up to `end` (exclusive, as
    started_before is): the last bar is the hour holding the moment just before `end`."""
    # Hours start on the local clock; stepping in UTC keeps them one hour apart across a DST change.
    last = timezone.localtime(end - timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    last = last.astimezone(UTC)
    first = last - (HOURS - 1) * HOUR
    window = events.filter(started_at__gte=first, started_at__lt=last + HOUR)
    counted = {row["start"]: row["by_risk_level"] for row in event_timeline(window, bucket="hour")}
    slots = [
        Slot(start=start, counts=counted.get(start, dict.fromkeys(LEVELS, 0)))
        for start in (first + n * HOUR for n in range(HOURS))
    ]
    chart = HourChart(end=last + HOUR, slots=slots, scale_max=nice_ceiling(max(s.total for s in slots)))
    for index, slot in enumerate(slots):
        slot.x = index * SLOT + (SLOT - BAR) / 2
        top = HEIGHT
        for level in LEVELS:
            count = slot.counts[level]
            if count:
                height = count / chart.scale_max * HEIGHT
                top -= height
                slot.segments.append(
                    Segment(level=level, count=count, y=round(top, 1), height=round(height, 1))
                )
    return chart


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … at least `value`: a round top for the scale."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10
