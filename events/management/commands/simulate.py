"""`manage.py simulate`: drive a running Lookout's demo cameras over HTTP, as a detection pipeline would."""

import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from events.demo import DEMO_CAMERAS
from events.simulator import DemoTraffic, HttpSink, Simulator


class Command(BaseCommand):
    help = (
        "Post the demo household's simulated detections and heartbeats to a running Lookout "
        "(POST /api/detections/ in bulk, POST /api/cameras/<id>/heartbeat/) for demos and load."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the instance, e.g. http://127.0.0.1:8000")
        parser.add_argument("--token", required=True, help="a token that writes detections")
        parser.add_argument("--seconds", type=float, help="stop after this long (default: until CONTROL-C)")
        parser.add_argument("--seed", type=int, default=settings.SIMULATOR_SEED, help="the traffic's seed")
        parser.add_argument(
            "--interval", type=float, default=settings.SIMULATOR_TICK_SECONDS, help="seconds between ticks"
        )

    def handle(self, *args, url, token, seconds, seed, interval, **options):
        traffic = DemoTraffic(seed=seed, cameras=[slug for slug, _, _ in DEMO_CAMERAS])
        sink = HttpSink(url=url, token=token)
        simulator = Simulator(traffic=traffic, sink=sink, interval=interval)
        until = timezone.now() + timedelta(seconds=seconds) if seconds is not None else None
        try:
            simulator.run(threading.Event(), until=until)
        except KeyboardInterrupt:
            pass
        finally:
            sink.close()
        self.stdout.write(
            "sent {detections} detections and {heartbeats} heartbeats in {ticks} ticks".format(
                **simulator.delivered
            )
        )
