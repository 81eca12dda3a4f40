"""Job writes beyond creation: cancelling, and the stored file of a finished export.

An export's result is `{"file": <storage name>, "format": "csv"|"json", "count": <rows>,
"size": <bytes>}`; the file lives in the default storage under `exports/`. The job runner
(`events/job_runner.py`) writes it with `job_export_save`, the API reads it with
`job_export_file`, and it goes when its job is deleted.
"""

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from events.models import Job, JobStatus, JobType

CANCELLABLE = {JobStatus.QUEUED, JobStatus.RUNNING}
EXPORT_FORMATS = {"csv": "text/csv", "json": "application/json"}


class JobStateError(Exception):
    """The job is in a state in which that action is not possible."""


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued or running job; a finished one cannot be cancelled."""
    with transaction.atomic():
        # Lock the row: a runner finishing the job at this moment must not be overwritten.
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status not in CANCELLABLE:
            raise JobStateError(f"cannot cancel a {locked.status} job")
        locked.status = JobStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.message = "Cancelled"
        locked.save(update_fields=["status", "finished_at", "message", "updated_at"])
    return locked


@transaction.atomic
def job_export_save(
    *, job: Job, content: bytes | File, export_format: str, count: int, size: int | None = None
) -> Job:
    """Store an export's file and mark the job completed with its result."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format: {export_format}")
    if isinstance(content, bytes):
        content, size = ContentFile(content), len(content)
    name = default_storage.save(f"exports/{job.pk}.{export_format}", content)
    job.status = JobStatus.COMPLETED
    job.progress = 100
    job.finished_at = timezone.now()
    job.message = f"{count} events exported"
    job.result = {"file": name, "format": export_format, "count": count, "size": size}
    job.save(update_fields=["status", "progress", "finished_at", "message", "result", "updated_at"])
    return job


@receiver(post_delete, sender=Job, dispatch_uid="events-job-file-deleted")
def job_file_delete(sender, instance: Job, **kwargs) -> None:
    """An export's file goes with its job (admin, API or a bulk delete alike)."""
    name = (instance.result or {}).get("file")
    if name:
        # After commit: a rolled-back delete keeps the job, so it must keep its file too.
        transaction.on_commit(lambda: default_storage.delete(name))


def job_export_file(*, job: Job) -> tuple[File, str, str]:
    """A completed export's open file, its download name and its content type."""
    if job.job_type != JobType.EXPORT:
        raise ValueError("only an export job has a file")
    if job.status != JobStatus.COMPLETED:
        raise JobStateError(f"the export is {job.status}, not completed")
    result = job.result or {}
    if not result.get("file"):
        raise FileNotFoundError("the export has no stored file")
    export_format = result.get("format", "csv")
    handle = default_storage.open(result["file"], "rb")
    return handle, f"lookout-export-{job.pk}.{export_format}", EXPORT_FORMATS[export_format]
