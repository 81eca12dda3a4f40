"""`manage.py worker` does the periodic work and runs jobs beside a second worker, and stops cleanly."""

import signal
import sqlite3
import sys

import pytest

from project.testing.servers import BASE_DIR, django_env, manage

pytestmark = pytest.mark.e2e

SEED_SILENT_CAMERA = """
from datetime import timedelta
from django.utils import timezone
from cameras.models import Camera
an_hour_ago = timezone.now() - timedelta(hours=1)
Camera.objects.create(id="shed", name="Shed", status="online", last_seen_at=an_hour_ago)
from django.contrib.auth.models import User
from events.services import job_create
job_create(job_type="export", params={"format": "json"}, user=User.objects.create_user("ann", is_staff=True))
"""


def job_statuses(database) -> list[str]:
    with sqlite3.connect(database) as db:
        return [status for (status,) in db.execute("SELECT status FROM events_job")]


def offline_messages(database) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT event_type FROM realtime_outboxmessage WHERE camera_id = 'shed' ORDER BY id"
        ).fetchall()
    return [event_type for (event_type,) in rows]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_command_reports_a_silent_camera_once_runs_a_job_and_stops_on_a_signal(
    spawn, tmp_path, stop_signal
):
    env = django_env(tmp_path, {"CAMERA_WATCHDOG_INTERVAL": "0.2"})
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SEED_SILENT_CAMERA)
    argv = [sys.executable, "manage.py", "worker"]
    workers = [spawn(f"worker-{n}", argv, cwd=BASE_DIR, env=env, stop_signal=stop_signal) for n in range(2)]
    for worker in workers:
        worker.wait_until(lambda w=worker: "worker started" in w.output(), what="started", timeout=60)
    database = tmp_path / "lookout.sqlite3"
    workers[0].wait_until(
        lambda: "camera.offline" in offline_messages(database), what="reporting the camera", timeout=15
    )
    workers[0].wait_until(lambda: job_statuses(database) == ["completed"], what="running the job", timeout=15)
    assert [worker.stop() for worker in workers] == [0, 0]
    # The first message is the camera's creation.
    assert offline_messages(database) == ["camera.config_updated", "camera.status_changed", "camera.offline"]
    assert all("worker stopped" in worker.output() for worker in workers)
