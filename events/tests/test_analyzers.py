"""The heuristic analyzer (deterministic, factor by factor) and the LLM analyzer against a loopback server."""

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from events.analyzers import HeuristicAnalyzer, LLMAnalyzer, analyzer_load
from events.models import DetectionBatch
from events.services import detection_ingest

# 02:14 in Berlin (the TIME_ZONE of these tests), a winter night.
NIGHT = datetime(2026, 11, 23, 1, 14, tzinfo=UTC)
DAY = datetime(2026, 11, 23, 13, 14, tzinfo=UTC)


@pytest.fixture(autouse=True)
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.EVENT_CAMERA_WEIGHTS = {}


LABELS = (f"test-{n}" for n in itertools.count())


def batch_of(
    camera, objects: list[tuple[str, float]], *, at: datetime = DAY, frames: int = 1
) -> DetectionBatch:
    """A new batch of `camera` holding `objects` (type, confidence) in each of `frames` frames, 1 s apart."""
    label = next(LABELS)  # a batch of its own, not the camera's open one
    with time_machine.travel(at, tick=False):
        rows = [
            {
                "camera": camera,
                "object_type": kind,
                "confidence": confidence,
                "detected_at": at + timedelta(seconds=frame),
                "batch_id": label,
            }
            for frame in range(frames)
            for kind, confidence in objects
        ]
        return detection_ingest(rows=rows)[0].batch


def factors(reasoning: str) -> dict[str, int]:
    """The heuristic's reasoning as {factor: points}."""
    lines = [line.removeprefix("- ") for line in reasoning.splitlines() if line.startswith("- ")]
    return {name: int(points) for name, _, points in (line.rpartition(": ") for line in lines)}


def test_the_summary_counts_what_was_seen_at_once_at_the_camera_in_local_time(cameras):
    batch = batch_of(
        cameras["front_door"], [("person", 0.9), ("car", 0.8), ("person", 0.7)], at=NIGHT, frames=5
    )
    analysis = HeuristicAnalyzer().analyze(batch)
    assert analysis.summary == "2 people and a car at Front door at 02:14"
    assert analysis.object_types == ["car", "person"]


def test_the_heuristic_gives_the_same_analysis_for_the_same_detections(cameras):
    objects = [("dog", 0.6), ("person", 0.85), ("package", 0.7)]
    first = HeuristicAnalyzer().analyze(batch_of(cameras["garage"], objects, at=NIGHT))
    again = HeuristicAnalyzer().analyze(batch_of(cameras["garage"], list(reversed(objects)), at=NIGHT))
    assert first == again


def test_the_reasoning_lists_every_factor_and_the_score_is_their_sum(cameras, settings):
    settings.EVENT_CAMERA_WEIGHTS = {"backyard": 15}
    analysis = HeuristicAnalyzer().analyze(
        batch_of(cameras["backyard"], [("person", 1.0), ("person", 0.9)], at=NIGHT)
    )
    assert factors(analysis.reasoning) == {
        "most serious object: person": 45,
        "best confidence 1.00": 20,
        "2 object(s) seen at once": 5,
        "time of day 02:14 (night)": 20,
        "camera Backyard": 15,
    }
    assert analysis.risk_score == 100
    assert analysis.reasoning.startswith("Heuristic score 100/100:")


@pytest.mark.parametrize(
    ("calm", "alarming", "factor", "points"),
    [
        ({"objects": [("dog", 0.9)]}, {"objects": [("person", 0.9)]}, "most serious object", 45 - 10),
        ({"objects": [("person", 0.5)]}, {"objects": [("person", 0.9)]}, "best confidence", 16),
        ({"objects": [("car", 0.9)]}, {"objects": [("car", 0.9)] * 4}, "seen at once", 15),
        ({"at": DAY}, {"at": NIGHT}, "time of day", 20),
        ({"camera": "front_door"}, {"camera": "backyard"}, "camera", 12),
    ],
    ids=["object type", "confidence", "count", "time of day", "camera"],
)
def test_each_factor_alone_moves_the_score_by_its_weight(cameras, settings, calm, alarming, factor, points):
    settings.EVENT_CAMERA_WEIGHTS = {"backyard": 12}

    def score(changes: dict) -> int:
        batch = batch_of(
            cameras[changes.get("camera", "front_door")],
            changes.get("objects", [("person", 0.7)]),
            at=changes.get("at", DAY),
        )
        analysis = HeuristicAnalyzer().analyze(batch)
        assert any(factor in name for name in factors(analysis.reasoning))
        return analysis.risk_score

    assert score(alarming) - score(calm) == points


def test_the_default_event_analyzer_names_a_class_that_exists():
    assert isinstance(analyzer_load(), HeuristicAnalyzer)


# The LLM analyzer against an OpenAI-compatible server on 127.0.0.1: the edge of the world.


class ChatServer:
    """A tiny chat-completions endpoint whose answer the test chooses."""

    def __init__(self) -> None:
        self.mode = "good"
        self.verdict: object = {
            "risk_score": 77,
            "summary": "A stranger tries the door",
            "reasoning": "Night, a person.",
        }
        self.requests: list[dict] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if server.mode == "slow":
                    server.release.wait(30)  # longer than the client's timeout: it gives up first
                if server.mode == "500":
                    self.send_error(500, "model crashed")
                    return
                content = json.dumps(server.verdict) if server.mode in {"good", "slow"} else "<html>nope"
                reply = {"choices": [{"message": {"role": "assistant", "content": content}}]}
                text = (json.dumps(reply) if server.mode != "garbage" else "not json at all").encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server(settings) -> Iterator[ChatServer]:
    server = ChatServer()
    settings.LLM_BASE_URL = server.url
    settings.LLM_MODEL = "tiny-test-model"
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


def test_a_good_reply_becomes_the_analysis(cameras, chat_server):
    batch = batch_of(cameras["front_door"], [("person", 0.9)], at=NIGHT)
    analysis = LLMAnalyzer().analyze(batch)
    assert (analysis.risk_score, analysis.summary) == (77, "A stranger tries the door")
    assert analysis.reasoning == "LLM (tiny-test-model): Night, a person."
    assert analysis.object_types == ["person"]
    [request] = chat_server.requests
    assert (request["path"], request["auth"], request["model"]) == (
        "/v1/chat/completions",
        "Bearer sk-test",
        "tiny-test-model",
    )
    facts = json.loads(request["messages"][-1]["content"])
    assert facts["camera"]["name"] == "Front door"
    assert facts["detections"][0]["local_time"] == "2026-11-23T02:14:00+01:00"


@pytest.mark.parametrize(
    ("mode", "verdict", "reason"),
    [
        ("slow", None, "ReadTimeout"),
        ("garbage", None, "malformed reply"),
        ("500", None, "HTTPStatusError"),
        ("good", {"risk_score": 140, "summary": "Boom"}, "risk_score must be an integer 0-100"),
        ("good", {"risk_score": 50, "summary": "x" * 301}, "summary must be text"),
        ("good", {"risk_score": True, "summary": "yes"}, "risk_score must be an integer 0-100"),
    ],
    ids=["slow", "garbage", "500", "score out of range", "summary too long", "score not a number"],
)
def test_an_unusable_reply_falls_back_to_the_heuristic_and_says_so(
    cameras, chat_server, mode, verdict, reason
):
    chat_server.mode = mode
    if verdict is not None:
        chat_server.verdict = verdict
    batch = batch_of(cameras["front_door"], [("person", 0.9)], at=NIGHT)
    analysis = LLMAnalyzer().analyze(batch)
    heuristic = HeuristicAnalyzer().analyze(batch)
    assert (analysis.risk_score, analysis.summary) == (heuristic.risk_score, heuristic.summary)
    first_line, _, rest = analysis.reasoning.partition("\n")
    assert "heuristic fallback used" in first_line
    assert reason in first_line
    assert rest == heuristic.reasoning
