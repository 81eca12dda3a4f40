"""Jobs API: queueing with validated params, who sees which job, cancelling, downloading an export."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from events.jobs import job_export_save
from events.models import Job, JobStatus, JobType
from events.tests.factories import make_job

URL = "/api/jobs/"
RANGE = {"started_after": "2026-11-01T00:00:00+00:00", "started_before": "2026-11-08T00:00:00+00:00"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def jobs(owner, viewer, stranger):
    return {"owner": make_job(owner), "viewer": make_job(viewer), "stranger": make_job(stranger)}


def test_anonymous_cannot_touch_jobs(jobs):
    client = APIClient()
    job = jobs["viewer"]
    assert client.get(URL).status_code == 401
    assert client.post(URL, {"job_type": "export"}, format="json").status_code == 401
    assert client.get(f"{URL}{job.pk}/").status_code == 401
    assert client.post(f"{URL}{job.pk}/cancel/").status_code == 401
    assert client.get(f"{URL}{job.pk}/download/").status_code == 401
    assert Job.objects.count() == 3
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_listing_jobs_takes_the_same_queries_however_many_users_made_them(
    client_for, owner, jobs, django_user_model, django_assert_num_queries
):
    client = client_for(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for n in range(3):
        make_job(django_user_model.objects.create_user(f"user{n}"))
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(URL).json()["results"]) == 6


@pytest.mark.parametrize(
    ("who", "visible"),
    [("owner", {"owner", "viewer", "stranger"}), ("viewer", {"viewer"}), ("stranger", {"stranger"})],
)
def test_staff_list_every_job_and_others_their_own(request, client_for, jobs, who, visible):
    response = client_for(request.getfixturevalue(who)).get(URL)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {str(jobs[name].pk) for name in visible}


@pytest.mark.parametrize(
    ("who", "owner_of_job", "status"),
    [
        ("owner", "viewer", 200),
        ("viewer", "viewer", 200),
        ("viewer", "stranger", 404),
        ("stranger", "viewer", 404),
    ],
)
def test_someone_elses_job_is_not_found(request, client_for, jobs, who, owner_of_job, status):
    client = client_for(request.getfixturevalue(who))
    job = jobs[owner_of_job]
    assert client.get(f"{URL}{job.pk}/").status_code == status
    assert client.post(f"{URL}{job.pk}/cancel/").status_code == status
    job.refresh_from_db()
    assert job.status == (JobStatus.CANCELLED if status == 200 else JobStatus.QUEUED)


def test_filters_by_status_and_job_type(client_for, owner):
    export = make_job(owner)
    reanalyze = make_job(owner, JobType.REANALYZE, status=JobStatus.RUNNING, **RANGE)
    client = client_for(owner)
    assert [row["id"] for row in client.get(URL, {"status": "running"}).json()["results"]] == [
        str(reanalyze.pk)
    ]
    assert [row["id"] for row in client.get(URL, {"job_type": "export"}).json()["results"]] == [
        str(export.pk)
    ]
    assert client.get(URL, {"status": "paused"}).status_code == 400


def test_a_viewer_queues_an_export_with_normalized_params(client_for, viewer):
    params = {"camera": "garage", "min_risk_score": 60, "started_after": "2026-11-01T01:00:00+01:00"}
    response = client_for(viewer).post(URL, {"job_type": "export", "params": params}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["job_type"] == "export"
    assert body["status"] == "queued"
    assert body["progress"] == 0
    assert body["created_by"] == "viewer"
    assert body["download_url"] is None
    expected = {
        "camera": "garage",
        "min_risk_score": 60,
        "started_after": "2026-11-01T00:00:00Z",
        "format": "csv",
    }
    assert body["params"] == expected
    job = Job.objects.get(pk=body["id"])
    assert (job.created_by, job.status, job.params) == (viewer, JobStatus.QUEUED, expected)


def test_an_export_without_params_exports_everything_as_csv(client_for, stranger):
    response = client_for(stranger).post(URL, {"job_type": "export"}, format="json")
    assert response.status_code == 201
    assert response.json()["params"] == {"format": "csv"}


def test_staff_queue_a_reanalysis(client_for, owner):
    response = client_for(owner).post(URL, {"job_type": "reanalyze", "params": RANGE}, format="json")
    assert response.status_code == 201
    assert Job.objects.get().params == {
        "started_after": "2026-11-01T00:00:00Z",
        "started_before": "2026-11-08T00:00:00Z",
    }


def test_only_staff_may_reanalyze(client_for, viewer):
    response = client_for(viewer).post(URL, {"job_type": "reanalyze", "params": RANGE}, format="json")
    assert response.status_code == 403
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "job_type"),
        ({"job_type": "delete_everything"}, "job_type"),
        ({"job_type": "export", "params": "camera=garage"}, "params"),
        ({"job_type": "export", "params": ["camera"]}, "params"),
    ],
)
def test_bad_job_type_or_params_shape_is_a_400_and_queues_nothing(client_for, owner, data, field):
    response = client_for(owner).post(URL, data, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert Job.objects.count() == 0


BACKWARDS = {"started_after": RANGE["started_before"], "started_before": RANGE["started_after"]}
EMPTY = {"started_after": RANGE["started_after"], "started_before": RANGE["started_after"]}


@pytest.mark.parametrize(
    ("job_type", "params", "fields"),
    [
        ("export", {"camera": "attic"}, {"camera"}),
        # The viewer may not see the backyard: for them it is an unknown camera.
        ("export", {"camera": "backyard"}, {"camera"}),
        ("export", {"min_risk_score": 101}, {"min_risk_score"}),
        ("export", {"min_risk_score": "high"}, {"min_risk_score"}),
        ("export", {"started_after": "yesterday"}, {"started_after"}),
        ("export", {"format": "xml"}, {"format"}),
        ("export", {"colour": "red"}, {"colour"}),
        ("export", BACKWARDS, {"started_before"}),
        ("export", EMPTY, {"started_before"}),
        ("reanalyze", {}, {"started_after", "started_before"}),
        ("reanalyze", {**RANGE, "format": "csv"}, {"format"}),
        ("reanalyze", BACKWARDS, {"started_before"}),
        ("reanalyze", EMPTY, {"started_before"}),
    ],
)
def test_bad_params_are_a_400_with_field_errors_and_queue_nothing(
    client_for, owner, viewer, job_type, params, fields
):
    user = viewer if job_type == "export" else owner
    response = client_for(user).post(URL, {"job_type": job_type, "params": params}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["params"]
    assert set(response.json()["params"]) == fields
    assert Job.objects.count() == 0


@pytest.mark.parametrize("start", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_a_queued_or_running_job_can_be_cancelled(client_for, viewer, start):
    job = make_job(viewer, status=start)
    response = client_for(viewer).post(f"{URL}{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.finished_at is not None


@pytest.mark.parametrize("start", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_finished_job_cannot_be_cancelled(client_for, owner, start):
    job = make_job(owner, status=start)
    before = Job.objects.values().get(pk=job.pk)
    response = client_for(owner).post(f"{URL}{job.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"cannot cancel a {start} job."
    assert Job.objects.values().get(pk=job.pk) == before


def test_a_completed_export_downloads_its_file(client_for, viewer):
    job = make_job(viewer, format="json")
    job_export_save(job=job, content=b'[{"id": 1}]', export_format="json", count=1)
    client = client_for(viewer)
    body = client.get(f"{URL}{job.pk}/").json()
    assert body["download_url"] == f"http://testserver{URL}{job.pk}/download/"
    assert body["result"]["count"] == 1
    response = client.get(f"{URL}{job.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="lookout-export-{job.pk}.json"'
    assert json.loads(b"".join(response.streaming_content)) == [{"id": 1}]


def test_a_csv_export_downloads_as_csv(client_for, owner):
    job = job_export_save(
        job=make_job(owner), content=b"id,camera_id\n1,garage\n", export_format="csv", count=1
    )
    response = client_for(owner).get(f"{URL}{job.pk}/download/")
    assert response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content) == b"id,camera_id\n1,garage\n"


@pytest.mark.parametrize(
    "start", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED]
)
def test_an_export_that_has_not_completed_has_no_download_yet(client_for, owner, start):
    job = make_job(owner, status=start)
    response = client_for(owner).get(f"{URL}{job.pk}/download/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"the export is {start}, not completed."


def test_a_reanalysis_has_no_download(client_for, owner):
    job = make_job(owner, JobType.REANALYZE, status=JobStatus.COMPLETED, **RANGE)
    response = client_for(owner).get(f"{URL}{job.pk}/download/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Only an export job has a download."


def test_someone_elses_export_cannot_be_downloaded(client_for, viewer, stranger):
    job = job_export_save(job=make_job(viewer), content=b"id\n", export_format="csv", count=0)
    assert client_for(stranger).get(f"{URL}{job.pk}/download/").status_code == 404


def test_an_export_whose_file_is_gone_is_a_404(client_for, owner):
    job = make_job(owner, status=JobStatus.COMPLETED)
    response = client_for(owner).get(f"{URL}{job.pk}/download/")
    assert response.status_code == 404
    assert response.json()["detail"] == "The export's file is gone."


def test_jobs_cannot_be_edited_or_deleted_through_the_api(client_for, owner, jobs):
    client = client_for(owner)
    job = jobs["owner"]
    assert client.patch(f"{URL}{job.pk}/", {"status": "completed"}, format="json").status_code == 405
    assert client.delete(f"{URL}{job.pk}/").status_code == 405
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
