"""The jobs page with the Django test client: owner, viewer, stranger, anonymous."""

import pytest
from django.urls import reverse

from events.jobs import job_export_save
from events.models import Job, JobStatus, JobType
from events.tests.factories import make_job

JOBS = "/jobs/"


@pytest.fixture
def jobs(owner, viewer):
    """A queued export of the viewer's, a completed one of the viewer's, and a queued one of the owner's."""
    queued = make_job(viewer, camera="front_door", min_risk_score=40, format="json")
    done = make_job(viewer, status=JobStatus.RUNNING, format="csv")
    job_export_save(job=done, content=b"id\n", export_format="csv", count=0)
    return {"queued": queued, "done": done, "owners": make_job(owner, format="csv")}


def test_anonymous_is_sent_to_the_sign_in_page(client, db):
    response = client.get(JOBS)
    assert response.status_code == 302 and response.url == f"{reverse('login')}?next={JOBS}"


def test_viewer_sees_their_own_jobs_with_progress_cancel_and_download(client, viewer, jobs):
    client.force_login(viewer)
    response = client.get(JOBS)
    body = response.content.decode()
    queued, done = jobs["queued"], jobs["done"]
    assert f'id="job-{queued.pk}"' in body and f'id="job-{done.pk}"' in body
    assert f'id="job-{jobs["owners"].pk}"' not in body
    assert "Your jobs" in body
    assert "Export events · JSON · Front door · risk ≥ 40" in body
    assert f'action="{reverse("dashboard-job-cancel", args=[queued.pk])}"' in body
    assert f'action="{reverse("dashboard-job-cancel", args=[done.pk])}"' not in body
    assert f'href="{reverse("job-download", args=[done.pk])}"' in body
    assert f'href="{reverse("job-download", args=[queued.pk])}"' not in body
    assert '<progress max="100" value="100"' in body
    rows = response.context["initial"]["jobs"]
    assert [row["job_id"] for row in rows] == [str(done.pk), str(queued.pk)]
    assert rows[1]["params"] == {"camera": "front_door", "min_risk_score": 40, "format": "json"}


def test_owner_sees_every_job(client, owner, jobs):
    client.force_login(owner)
    body = client.get(JOBS).content.decode()
    assert all(f'id="job-{job.pk}"' in body for job in jobs.values())
    assert "Everyone's jobs" in body


def test_stranger_sees_no_job_and_only_all_cameras_in_the_form(client, stranger, jobs):
    client.force_login(stranger)
    response = client.get(JOBS)
    body = response.content.decode()
    assert "No jobs yet." in body and response.context["initial"]["jobs"] == []
    assert "Front door" not in body and '<option value="" selected>All cameras</option>' in body


def test_viewer_queues_an_export_with_the_filters_as_the_api_takes_them(client, viewer, cameras):
    client.force_login(viewer)
    form = {
        "format": "json",
        "camera": "garage",
        "min_risk_score": "30",
        "started_after": "2026-11-01T00:00",
        "started_before": "2026-11-02T00:00",
    }
    response = client.post(JOBS, form, follow=True)
    job = Job.objects.get()
    assert (job.job_type, job.status, job.created_by) == (JobType.EXPORT, JobStatus.QUEUED, viewer)
    assert job.params == {
        "camera": "garage",
        "min_risk_score": 30,
        "started_after": "2026-11-01T00:00:00Z",
        "started_before": "2026-11-02T00:00:00Z",
        "format": "json",
    }
    assert "Export queued" in response.content.decode()
    assert f'id="job-{job.pk}"' in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("camera", "backyard", "Unknown camera"),
        ("min_risk_score", "101", "less than or equal to 100"),
        ("started_before", "2026-10-01T00:00", "Must be later than started_after"),
    ],
)
def test_the_apis_rules_refuse_a_bad_export_and_nothing_is_queued(client, viewer, field, value, error):
    client.force_login(viewer)
    form = {"format": "csv", "started_after": "2026-11-01T00:00", field: value}
    response = client.post(JOBS, form)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Job.objects.exists()


def test_a_link_from_the_events_history_fills_the_form(client, viewer, cameras):
    client.force_login(viewer)
    body = client.get(f"{JOBS}?camera=garage&min_risk_score=60").content.decode()
    assert '<option value="garage" selected>Garage</option>' in body
    assert 'name="min_risk_score" value="60"' in body


def test_viewer_cancels_a_queued_job_without_javascript(client, viewer, jobs):
    client.force_login(viewer)
    job = jobs["queued"]
    response = client.post(reverse("dashboard-job-cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert f"Job {job.pk} cancelled." in response.content.decode()


def test_a_finished_job_cannot_be_cancelled_and_says_why(client, viewer, jobs):
    client.force_login(viewer)
    job = jobs["done"]
    response = client.post(reverse("dashboard-job-cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert "cannot cancel a completed job" in response.content.decode()


@pytest.mark.parametrize("who", ["viewer", "stranger"])
def test_someone_elses_job_cannot_be_cancelled_from_the_page(client, request, jobs, who):
    client.force_login(request.getfixturevalue(who))
    job = jobs["owners"]
    response = client.post(reverse("dashboard-job-cancel", args=[job.pk]))
    job.refresh_from_db()
    assert response.status_code == 404 and job.status == JobStatus.QUEUED


def test_anonymous_cancel_goes_to_sign_in_and_changes_nothing(client, jobs):
    job = jobs["queued"]
    response = client.post(reverse("dashboard-job-cancel", args=[job.pk]))
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == JobStatus.QUEUED
