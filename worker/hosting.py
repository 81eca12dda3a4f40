"""The worker inside another process (the embedded runner): a thread of its own.

A thread, not a task on the server's event loop: the tasks are synchronous ORM work, and on the
loop they would need `sync_to_async`, whose thread-sensitive executor is the one thread the
consumers' database calls also queue on — every second's batch close would delay WebSocket
handlers. In its own thread the worker shares only the GIL with the server.
"""

import threading

from worker.schedule import Worker
from worker.tasks import periodic_tasks

STOP_TIMEOUT_SECONDS = 30


class WorkerThread:
    """Start and stop a `Worker` running in a daemon thread."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.worker = Worker(periodic_tasks(self.stop_event))
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop_event,), name="lookout-worker")

    def start(self) -> None:
        """Start ticking."""
        self.thread.daemon = True
        self.thread.start()

    def stop(self) -> None:
        """Ask the worker to stop and wait for the task in hand (and a running job) to finish."""
        self.stop_event.set()
        self.thread.join(STOP_TIMEOUT_SECONDS)
