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
# The SVG's own units; the browser scales the drawing to the width it gets.
WIDTH, HEIGHT = 720, 180
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 12, 150, 28
SLOT = (WIDTH - PLOT_LEFT) / HOURS
BAR = SLOT * 0.72
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

    @property
    def label_x(self) -> float:
        """Where the hour's label ends: under the right edge of its bar."""
        return round(self.x + BAR, 1)


@dataclass
class HourChart:
    end: datetime
    slots: list[Slot]
    scale_max: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM
    plot_left: int = PLOT_LEFT
    bar_width: float = round(BAR, 1)
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
        return self.slots[::3]


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
    plot_height = PLOT_BOTTOM - PLOT_TOP
    for index, slot in enumerate(slots):
        slot.x = round(PLOT_LEFT + index * SLOT + (SLOT - BAR) / 2, 1)
        top = PLOT_BOTTOM
        for level in LEVELS:
            count = slot.counts[level]
            if count:
                height = count / chart.scale_max * plot_height
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
