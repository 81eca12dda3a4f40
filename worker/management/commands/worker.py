"""manage.py worker: the deployment's periodic work in its own process (SPEC §7, scale-out)."""

import signal
import threading

from django.core.management.base import BaseCommand

from worker.schedule import Worker
from worker.tasks import periodic_tasks


class Command(BaseCommand):
    """Run the periodic tasks until SIGINT or SIGTERM."""

    help = "Run Lookout's periodic work (jobs, batch closing, camera watchdog, outbox pruning) until stopped."

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        Worker(periodic_tasks(stop)).run(stop)
