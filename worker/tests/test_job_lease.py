"""A job whose worker was killed outright is failed once its lease lapses, never left `running`."""

import signal
import sqlite3
import sys
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from events.analyzers import HeuristicAnalyzer
from events.job_runner import LAPSED
from events.models import Job, JobStatus
from events.services import job_create
from project.testing.servers import BASE_DIR, django_env, manage
from realtime.models import OutboxMessage
from worker.tasks import periodic_tasks


class HangingAnalyzer(HeuristicAnalyzer):
    """Never finishes a batch: the worker running a re-analysis with it is busy until killed."""

    def analyze(self, batch):
        threading.Event().wait()


def job_runner_turn(now) -> None:
    """One turn of the worker's job task, as `manage.py worker` runs it."""
    [jobs] = [task for task in periodic_tasks(threading.Event()) if task.name == "job_runner"]
    jobs.step(now)


def running_job(*, lease_expires_at) -> Job:
    owner = get_user_model().objects.create_user("ann", is_staff=True)
    job = job_create(job_type="export", params={"format": "csv"}, user=owner)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), lease_expires_at=lease_expires_at
    )
    return job


@pytest.mark.django_db
def test_the_job_task_fails_a_running_job_whose_lease_lapsed():
    now = timezone.now()
    job = running_job(lease_expires_at=now - timedelta(seconds=1))

    job_runner_turn(now)

    job.refresh_from_db()
    assert (job.status, job.error, job.message) == (JobStatus.FAILED, LAPSED, "Failed")
    [failed] = OutboxMessage.objects.filter(event_type="job.failed")
    assert failed.payload["error"] == LAPSED


@pytest.mark.django_db
def test_the_job_task_leaves_a_running_job_with_a_live_lease_running():
    now = timezone.now()
    job = running_job(lease_expires_at=now + timedelta(seconds=30))

    job_runner_turn(now)

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert not OutboxMessage.objects.filter(event_type="job.failed").exists()


# A closed batch with its event, and a re-analysis of the hour around it, queued.
SEED_REANALYSIS = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from cameras.models import Camera
from events.pipeline import batches_close_due
from events.services import detection_ingest, job_create
camera = Camera.objects.create(id="porch", name="Porch")
now = timezone.now()
detection_ingest(rows=[{"camera": camera, "object_type": "person", "confidence": 0.9, "detected_at": now}])
batches_close_due(now=now + timedelta(hours=1))
hour = timedelta(hours=1)
params = {"started_after": (now - hour).isoformat(), "started_before": (now + hour).isoformat()}
job_create(job_type="reanalyze", params=params, user=User.objects.create_user("ann", is_staff=True))
"""


def job_row(database) -> tuple[str, str, str]:
    with sqlite3.connect(database) as db:
        [row] = db.execute("SELECT status, error, lease_expires_at FROM events_job").fetchall()
    return row


def job_failed_messages(database) -> int:
    with sqlite3.connect(database) as db:
        [(count,)] = db.execute("SELECT count(*) FROM realtime_outboxmessage WHERE event_type = 'job.failed'")
    return count


@pytest.mark.e2e
def test_a_job_of_a_worker_killed_with_sigkill_is_failed_by_the_next_worker(spawn, tmp_path):
    env = django_env(tmp_path, {"JOB_LEASE_SECONDS": "2"})
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SEED_REANALYSIS)
    database = tmp_path / "lookout.sqlite3"
    argv = [sys.executable, "manage.py", "worker"]
    busy_env = env | {"EVENT_ANALYZER": f"{__name__}.HangingAnalyzer"}
    killed = spawn("worker-killed", argv, cwd=BASE_DIR, env=busy_env)
    killed.wait_until(lambda: job_row(database)[0] == "running", what="running the job", timeout=60)
    claimed_lease = job_row(database)[2]
    # A busy worker keeps its job's lease alive.
    killed.wait_until(lambda: job_row(database)[2] != claimed_lease, what="renewing the lease", timeout=30)

    killed.popen.send_signal(signal.SIGKILL)  # nothing of it runs again: no shutdown marks the job
    killed.popen.wait(10)
    assert job_row(database)[0] == "running"
    survivor = spawn("worker-survivor", argv, cwd=BASE_DIR, env=env)
    survivor.wait_until(lambda: job_row(database)[0] == "failed", what="failing the lapsed job", timeout=60)

    assert job_row(database)[:2] == ("failed", LAPSED)
    assert job_failed_messages(database) == 1
    assert survivor.stop() == 0
