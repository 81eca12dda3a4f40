"""The living demo: plausible traffic from the demo household's cameras, through the real ingest path.

`DemoTraffic` decides what happens (pure and deterministic for a seed: the same seed and clock give
the same ticks); a sink delivers it — `IngestSink` calls the services the REST API calls, `HttpSink`
posts to a running Lookout. `Simulator` paces the ticks by the wall clock until told to stop.

What a tick may hold, by the hour in TIME_ZONE: visitors at the front door, deliveries (a person and
a package), cars in the driveway, pets in the backyard, people in the living room; by night mostly
cats, and now and then an intruder — several people at once, clearly seen, at the garage or the
backyard, which the heuristic analyzer scores critical (person 45, confidence ≥ 0.9 +16…20, 2–3
people at once +5…10, night +20) and the seeded rules alert on. From time to time the garage goes
silent (no heartbeats, no detections) for longer than CAMERA_OFFLINE_SECONDS and comes back.
"""

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from cameras.models import Camera
from cameras.services import camera_heartbeat
from events.analyzers import NIGHT_END_HOUR, NIGHT_START_HOUR
from events.services import detection_ingest

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30
# The camera that drops offline, how often an outage starts (on average) and how long it lasts:
# longer than CAMERA_OFFLINE_SECONDS so the watchdog sees it.
FLAKY_CAMERA = "garage"
OUTAGE_EVERY_SECONDS = 15 * 60
OUTAGE_EXTRA_SECONDS = 60
# Chance per tick of a burst (a scenario), by day and by night.
DAY_BURST_CHANCE, NIGHT_BURST_CHANCE = 0.35, 0.12
# At night, the share of bursts that are an intruder.
INTRUDER_SHARE = 0.15

# name → (camera, [(object type, most at once)], confidence range, frames), with a weight.
DAY_SCENARIOS = [
    ("visitor", 5, "front_door", [("person", 1)], (0.6, 0.9), (2, 4)),
    ("delivery", 3, "front_door", [("person", 1), ("package", 1)], (0.7, 0.95), (2, 4)),
    ("car", 4, "driveway", [("car", 1)], (0.75, 0.98), (2, 5)),
    ("pet", 4, "backyard", [("dog", 1), ("cat", 1)], (0.5, 0.9), (1, 3)),
    ("family", 3, "living_room", [("person", 2)], (0.55, 0.85), (2, 4)),
    ("loiterer", 1, "garage", [("person", 2)], (0.85, 0.95), (3, 5)),
]
NIGHT_SCENARIOS = [
    ("cat", 5, "backyard", [("cat", 1)], (0.4, 0.8), (1, 3)),
    ("late car", 2, "driveway", [("car", 1)], (0.6, 0.9), (2, 3)),
    ("fox", 1, "backyard", [("dog", 1)], (0.3, 0.6), (1, 2)),
]
INTRUDER = ("intruder", 1, None, [("person", 3)], (0.9, 0.99), (3, 6))
INTRUDER_CAMERAS = ["garage", "backyard"]
# The cameras' frame size, for bounding boxes.
FRAME_WIDTH, FRAME_HEIGHT = 1280, 720


def is_night(at: datetime) -> bool:
    """Whether `at` falls in the analyzer's night hours, in TIME_ZONE."""
    hour = timezone.localtime(at, timezone.get_default_timezone()).hour
    return hour >= NIGHT_START_HOUR or hour < NIGHT_END_HOUR


@dataclass
class Tick:
    """What happens in one step: detection rows (camera by id) and the cameras that heartbeat."""

    detections: list[dict] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    scenario: str = ""


class DemoTraffic:
    """The household's traffic, deterministic for a seed; `tick(now)` says what happens at `now`."""

    def __init__(self, *, seed: int, cameras: list[str]) -> None:
        self.rng = random.Random(seed)
        self.cameras = list(cameras)
        self.last_heartbeat: datetime | None = None
        self.outage_until: datetime | None = None
        self.next_outage: datetime | None = None
        self.ticks = 0

    def tick(self, now: datetime) -> Tick:
        """The detections and heartbeats of this step."""
        tick = Tick()
        silent = self._silent_cameras(now)
        if self.last_heartbeat is None or now - self.last_heartbeat >= timedelta(seconds=HEARTBEAT_SECONDS):
            self.last_heartbeat = now
            tick.heartbeats = [camera for camera in self.cameras if camera not in silent]
        # The first tick always shows someone at the door: a demo should not start empty.
        first = self.ticks == 0
        self.ticks += 1
        night = is_night(now)
        if not first and self.rng.random() >= (NIGHT_BURST_CHANCE if night else DAY_BURST_CHANCE):
            return tick
        scenario = self._scenario(night=night, first=first)
        name, _, camera, objects, confidence, frames = scenario
        camera = camera or self.rng.choice(INTRUDER_CAMERAS)
        if camera in silent or camera not in self.cameras:
            return tick
        tick.scenario = name
        tick.detections = self._burst(now, camera, objects, confidence, frames)
        return tick

    def _scenario(self, *, night: bool, first: bool) -> tuple:
        if first:
            return DAY_SCENARIOS[0]
        if night and self.rng.random() < INTRUDER_SHARE:
            return INTRUDER
        scenarios = NIGHT_SCENARIOS if night else DAY_SCENARIOS
        return self.rng.choices(scenarios, weights=[s[1] for s in scenarios])[0]

    def _burst(self, now, camera, objects, confidence, frames) -> list[dict]:
        # One frame a second up to now; each object type seen by up to its most at once.
        count = self.rng.randint(*frames)
        rows = []
        for frame in range(count):
            at = now - timedelta(seconds=count - 1 - frame)
            for object_type, most in objects:
                for _ in range(self.rng.randint(1, most) if frame else most):
                    rows.append(self._row(camera, object_type, at, confidence))
        return rows

    def _row(self, camera: str, object_type: str, at: datetime, confidence: tuple) -> dict:
        width, height = self.rng.randint(60, 320), self.rng.randint(80, 400)
        return {
            "camera_id": camera,
            "object_type": object_type,
            "confidence": round(self.rng.uniform(*confidence), 2),
            "detected_at": at,
            "bbox": {
                "x": self.rng.randint(0, FRAME_WIDTH - width),
                "y": self.rng.randint(0, FRAME_HEIGHT - height),
                "width": width,
                "height": height,
            },
        }

    def _silent_cameras(self, now: datetime) -> set[str]:
        """The flaky camera during an outage; outages start at random, about every OUTAGE_EVERY_SECONDS."""
        if self.next_outage is None:
            self.next_outage = now + timedelta(seconds=self.rng.uniform(0.5, 1.5) * OUTAGE_EVERY_SECONDS)
        if self.outage_until is not None and now >= self.outage_until:
            self.outage_until = None
        if self.outage_until is None and now >= self.next_outage:
            length = settings.CAMERA_OFFLINE_SECONDS + OUTAGE_EXTRA_SECONDS
            self.outage_until = now + timedelta(seconds=length)
            self.next_outage = self.outage_until + timedelta(
                seconds=self.rng.uniform(0.5, 1.5) * OUTAGE_EVERY_SECONDS
            )
            logger.info("simulator: %s goes silent for %d s", FLAKY_CAMERA, length)
        return {FLAKY_CAMERA} if self.outage_until is not None else set()


class IngestSink:
    """Deliver ticks in process, through the services the REST API calls."""

    def deliver(self, tick: Tick) -> None:
        ids = set(tick.heartbeats) | {row["camera_id"] for row in tick.detections}
        cameras = Camera.objects.in_bulk(ids)
        if tick.detections:
            rows = [
                {**{k: v for k, v in row.items() if k != "camera_id"}, "camera": cameras[row["camera_id"]]}
                for row in tick.detections
            ]
            detection_ingest(rows=rows)
        for camera_id in tick.heartbeats:
            if camera_id in cameras:
                camera_heartbeat(camera=cameras[camera_id])


class HttpSink:
    """Deliver ticks to a running Lookout over its REST API, as a detection pipeline does."""

    def __init__(self, *, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Token {token}"}, timeout=10
        )

    def deliver(self, tick: Tick) -> None:
        if tick.detections:
            body = [{**row, "detected_at": row["detected_at"].isoformat()} for row in tick.detections]
            self.client.post("/api/detections/", json=body).raise_for_status()
        for camera_id in tick.heartbeats:
            self.client.post(f"/api/cameras/{camera_id}/heartbeat/").raise_for_status()

    def close(self) -> None:
        self.client.close()


class Simulator:
    """Run `traffic` into `sink`, one tick every `interval` seconds of wall clock, until `stop` is set."""

    def __init__(self, *, traffic: DemoTraffic, sink, interval: float) -> None:
        self.traffic, self.sink, self.interval = traffic, sink, interval
        self.delivered = {"ticks": 0, "detections": 0, "heartbeats": 0}

    def run(self, stop: threading.Event, *, until: datetime | None = None) -> None:
        logger.info("simulator started: a tick every %g s", self.interval)
        while not stop.is_set() and (until is None or timezone.now() < until):
            tick = self.traffic.tick(timezone.now())
            try:
                self.sink.deliver(tick)
            except Exception:  # a failed tick must not end the demo; the next one may work
                logger.exception("simulator: delivering a tick failed")
            else:
                self.delivered["ticks"] += 1
                self.delivered["detections"] += len(tick.detections)
                self.delivered["heartbeats"] += len(tick.heartbeats)
            finally:
                close_old_connections()
            stop.wait(self.interval)
        connections.close_all()
        logger.info("simulator stopped: %s", self.delivered)


class SimulatorThread:
    """The in-process demo simulator (`manage.py run --demo`) in a daemon thread."""

    def __init__(self, *, cameras: list[str]) -> None:
        self.stop_event = threading.Event()
        traffic = DemoTraffic(seed=settings.SIMULATOR_SEED, cameras=cameras)
        simulator = Simulator(traffic=traffic, sink=IngestSink(), interval=settings.SIMULATOR_TICK_SECONDS)
        self.thread = threading.Thread(
            target=simulator.run, args=(self.stop_event,), name="lookout-simulator", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
