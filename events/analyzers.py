"""Analyzers: a closed detection batch → a risk score, a summary and the reasoning behind them.

`EVENT_ANALYZER` names the class (dotted path); it is built without arguments and its
`analyze(batch)` runs outside any database transaction (an LLM call can take seconds). An
analyzer that raises leaves the batch to be retried (see events/pipeline.py).
"""

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Protocol

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from events.models import DetectionBatch

SUMMARY_MAX_LENGTH = 300
REASONING_MAX_LENGTH = 4000


@dataclass(frozen=True)
class Analysis:
    """An analyzer's verdict on a batch."""

    risk_score: int
    summary: str
    reasoning: str
    object_types: list[str] = field(default_factory=list)


class Analyzer(Protocol):
    """What EVENT_ANALYZER names."""

    def analyze(self, batch: DetectionBatch) -> Analysis: ...


def analyzer_load(path: str | None = None) -> Analyzer:
    """The analyzer named by `path`, default settings.EVENT_ANALYZER."""
    return import_string(path or settings.EVENT_ANALYZER)()


# Points of the most serious object type in the batch; an unknown type counts as OTHER_WEIGHT.
OBJECT_WEIGHTS = {
    "person": 45,
    "car": 20,
    "truck": 20,
    "motorcycle": 20,
    "bicycle": 15,
    "package": 10,
    "dog": 10,
    "cat": 5,
    "bird": 0,
}
OTHER_WEIGHT = 10
# Local hours (TIME_ZONE) when anything seen counts for more: [22:00, 06:00).
NIGHT_START_HOUR, NIGHT_END_HOUR, NIGHT_WEIGHT = 22, 6, 20
# Each object seen at once beyond the first, up to the cap.
EXTRA_OBJECT_WEIGHT, EXTRA_OBJECT_CAP = 5, 15
# The best confidence moves the score by up to ±CONFIDENCE_WEIGHT around 0.5.
CONFIDENCE_WEIGHT = 20
PLURALS = {"person": "people", "bus": "buses", "box": "boxes"}


def _noun(kind: str, count: int) -> str:
    if count == 1:
        article = "an" if kind[:1] in "aeiou" else "a"
        return f"{article} {kind}"
    return f"{count} {PLURALS.get(kind, kind + 's')}"


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _seen_at_once(detections) -> Counter:
    """Per object type, the most seen in one frame (detections with the same time are one frame)."""
    frames: dict = defaultdict(Counter)
    for detection in detections:
        frames[detection.detected_at][detection.object_type] += 1
    most: Counter = Counter()
    for counts in frames.values():
        for kind, count in counts.items():
            most[kind] = max(most[kind], count)
    return most


class HeuristicAnalyzer:
    """The default: deterministic points for object types, confidence, count, time of day and camera."""

    def analyze(self, batch: DetectionBatch) -> Analysis:
        """Score the batch; the same detections always give the same analysis."""
        detections = list(batch.detections.order_by("detected_at", "id"))
        if not detections:
            raise ValueError(f"batch {batch.pk} has no detections")
        counts = _seen_at_once(detections)
        # Heaviest first, then by name: the order of the summary and of the factors is stable.
        kinds = sorted(counts, key=lambda kind: (-OBJECT_WEIGHTS.get(kind, OTHER_WEIGHT), kind))
        started = timezone.localtime(detections[0].detected_at, timezone.get_default_timezone())
        camera = batch.camera
        best = max(d.confidence for d in detections)
        seen = sum(counts.values())

        factors = [(f"most serious object: {kinds[0]}", OBJECT_WEIGHTS.get(kinds[0], OTHER_WEIGHT))]
        factors.append((f"best confidence {best:.2f}", round(CONFIDENCE_WEIGHT * (best - 0.5) * 2)))
        factors.append(
            (f"{seen} object(s) seen at once", min(EXTRA_OBJECT_CAP, EXTRA_OBJECT_WEIGHT * (seen - 1)))
        )
        night = started.hour >= NIGHT_START_HOUR or started.hour < NIGHT_END_HOUR
        factors.append(
            (f"time of day {started:%H:%M} ({'night' if night else 'day'})", NIGHT_WEIGHT if night else 0)
        )
        factors.append((f"camera {camera.name}", settings.EVENT_CAMERA_WEIGHTS.get(camera.pk, 0)))

        score = max(0, min(100, sum(points for _, points in factors)))
        summary = (
            f"{_listed([_noun(kind, counts[kind]) for kind in kinds])} at {camera.name} at {started:%H:%M}"
        )
        reasoning = "\n".join(
            [f"Heuristic score {score}/100:", *(f"- {name}: {points:+d}" for name, points in factors)]
        )
        return Analysis(
            risk_score=score,
            summary=summary[:1].upper() + summary[1:],
            reasoning=reasoning,
            object_types=sorted(counts),
        )


class LLMReplyError(ValueError):
    """The model answered, but not with a verdict we can use."""


SYSTEM_PROMPT = (
    "You are the risk analyst of a home-security system. You get the detections of one camera "
    "over a short time. Answer with one JSON object and nothing else: "
    '{"risk_score": <integer 0-100>, "summary": "<one sentence a person understands at a glance>", '
    '"reasoning": "<why, in a few sentences>"}. 0 is harmless, 100 is an intrusion in progress.'
)
FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class LLMAnalyzer:
    """Ask an OpenAI-compatible chat-completions server (llama.cpp, vLLM, Ollama, …) for a verdict.

    On a timeout, an HTTP error or a reply that is not a valid verdict, the heuristic scores the
    batch and the reasoning says that it did.
    """

    def __init__(self) -> None:
        self.base_url = settings.LLM_BASE_URL.rstrip("/")
        self.model = settings.LLM_MODEL
        self.api_key = settings.LLM_API_KEY
        self.timeout = settings.LLM_TIMEOUT_SECONDS
        self.fallback = HeuristicAnalyzer()

    def analyze(self, batch: DetectionBatch) -> Analysis:
        """The model's verdict, or the heuristic's with the reason the model was not used."""
        heuristic = self.fallback.analyze(batch)
        try:
            verdict = self._ask(batch, heuristic)
        except (httpx.HTTPError, LLMReplyError) as error:
            # One line: httpx adds a second one pointing at MDN.
            detail = str(error).splitlines()[0] if str(error) else ""
            reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
            note = f"LLM analyzer ({self.model}) not used — {reason}; heuristic fallback used."
            return replace(heuristic, reasoning=f"{note}\n{heuristic.reasoning}")
        return replace(heuristic, **verdict)

    def _ask(self, batch: DetectionBatch, heuristic: Analysis) -> dict:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(self._facts(batch, heuristic))},
            ],
        }
        response = httpx.post(
            f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self.timeout
        )
        response.raise_for_status()
        try:
            content = response.json()["choices"][0]["message"]["content"]
            verdict = json.loads(FENCE.sub("", content.strip()))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise LLMReplyError(f"malformed reply ({error})") from error
        return _validated(verdict)

    def _facts(self, batch: DetectionBatch, heuristic: Analysis) -> dict:
        local = timezone.get_default_timezone()
        return {
            "camera": {"id": batch.camera_id, "name": batch.camera.name, "location": batch.camera.location},
            "local_time_zone": str(local),
            "heuristic_summary": heuristic.summary,
            "detections": [
                {
                    "object_type": d.object_type,
                    "confidence": round(d.confidence, 3),
                    "local_time": timezone.localtime(d.detected_at, local).isoformat(timespec="seconds"),
                }
                for d in batch.detections.order_by("detected_at", "id")[:200]
            ],
        }


def _validated(verdict) -> dict:
    """risk_score an integer 0–100, summary 1–300 characters, reasoning up to 4000."""
    if not isinstance(verdict, dict):
        raise LLMReplyError("the verdict is not a JSON object")
    score, summary, reasoning = (
        verdict.get("risk_score"),
        verdict.get("summary"),
        verdict.get("reasoning", ""),
    )
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
        raise LLMReplyError(f"risk_score must be an integer 0-100, got {score!r}")
    if not isinstance(summary, str) or not 0 < len(summary.strip()) <= SUMMARY_MAX_LENGTH:
        raise LLMReplyError(f"summary must be text of 1-{SUMMARY_MAX_LENGTH} characters")
    if not isinstance(reasoning, str) or len(reasoning) > REASONING_MAX_LENGTH:
        raise LLMReplyError(f"reasoning must be text of at most {REASONING_MAX_LENGTH} characters")
    return {
        "risk_score": score,
        "summary": summary.strip(),
        "reasoning": f"LLM ({settings.LLM_MODEL}): {reasoning.strip()}",
    }
