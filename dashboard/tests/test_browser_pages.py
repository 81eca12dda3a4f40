"""The jobs and API-token pages and the dashboard's system panel, critical marks and reload after lost
live messages, in headless Chromium against a real daphne (fixtures: test_browser.py)."""

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from dashboard.tests.test_browser import ARRIVAL_TIMEOUT_MS, DESKTOP, PHONE, SCREENSHOTS_DIR
from project.testing.servers import BASE_DIR

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def open_jobs(open_dashboard, **options) -> Page:
    """A signed-in viewer's jobs page, once it is live."""
    page = open_dashboard(**options)
    page.get_by_role("link", name="Jobs").click()
    expect(page).to_have_title("Jobs · Lookout")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


def start_export(page: Page, *, camera: str, export_format: str = "JSON") -> str:
    """Fill in and submit the export form; the id of the job it queued."""
    page.get_by_label("Format").select_option(label=export_format)
    page.get_by_label("Camera").select_option(label=camera)
    page.get_by_label("Minimum risk score").fill("10")
    page.get_by_role("button", name="Start export").click()
    expect(page.get_by_text("Export queued")).to_be_visible()
    return page.locator("#jobs > li").first.get_attribute("id").removeprefix("job-")


def test_the_system_panel_is_redrawn_from_live_system_frames(open_dashboard):
    page = open_dashboard()
    gpu, health = page.locator("#system-gpu"), page.locator("#system-health")
    expect(gpu).to_have_text("No GPU")
    # Only a system frame (every SYSTEM_STATUS_INTERVAL = 5 s) draws the panel again.
    for element in (gpu, health):
        element.evaluate("element => { element.textContent = 'stale'; }")
    expect(gpu).to_have_text("No GPU", timeout=3 * ARRIVAL_TIMEOUT_MS)
    # Which word depends on the shared server's cameras (the watchdog takes silent ones offline).
    expect(health).to_have_text(re.compile(r"^(Healthy|Degraded)$"))


# Run in a second process: with Redis as the channel layer its sends reach the server's sockets.
EMIT_CRITICAL_SCRIPT = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from cameras.models import Camera
from events.services import alert_raise, event_record
from realtime.broadcast import emit_critical_event
from realtime.payloads import alert_payload, event_payload
event = event_record(camera=Camera.objects.get(pk="front_door"), started_at=timezone.now(), risk_score=50,
                     summary="{summary}")
alert = alert_raise(event=event, rule=None, message="door")
viewer = get_user_model().objects.get(username="viewer")
emit_critical_event(viewer, "event.updated", {{**event_payload(event), "updated_fields": []}})
emit_critical_event(viewer, "alert.updated", {{**alert_payload(alert), "updated_fields": []}})
"""


@pytest.mark.redis
def test_critical_rows_are_marked_in_words_and_colour(open_dashboard, start_daphne, fresh_redis_url):
    server = start_daphne({"REDIS_URL": fresh_redis_url})
    server.seed_demo()
    page = open_dashboard(base_url=server.base_url)
    summary = f"Window forced open {uuid.uuid4().hex[:8]}"
    server.manage("shell", "--no-imports", "-c", EMIT_CRITICAL_SCRIPT.format(summary=summary))
    for row in (page.locator("#events li", has_text=summary), page.locator("#alerts li", has_text=summary)):
        expect(row).to_have_class(re.compile(r"\bis-critical\b"))
        expect(row.locator(".flag-critical")).to_have_text("Critical")
    server.stop()


def test_an_export_started_on_the_jobs_page_reaches_100_and_downloads_the_events(open_dashboard, hub):
    shown = f"Person at the door {uuid.uuid4().hex[:8]}"
    hidden = f"Garden {uuid.uuid4().hex[:8]}"
    hub["pipeline"].post_event(shown, camera_id="front_door", risk_score=50)
    hub["pipeline"].post_event(hidden, camera_id="backyard", risk_score=50)
    # Open before the job exists: whatever this page shows of it came over the socket.
    watcher = open_jobs(open_dashboard)
    starter = open_jobs(open_dashboard)
    job_id = start_export(starter, camera="Front door")

    row = watcher.locator(f"#job-{job_id}")
    expect(row.locator("progress")).to_have_attribute("value", "100")
    expect(row.locator(".percent")).to_have_text("100 %")
    expect(row.locator(".badge")).to_have_text("Completed")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    with watcher.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == f"lookout-export-{job_id}.json"
    events = json.loads(Path(download.value.path()).read_text())
    summaries = {event["summary"] for event in events}
    assert shown in summaries and hidden not in summaries
    assert {event["camera_id"] for event in events} == {"front_door"}


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_jobs_and_token_pages_have_no_serious_accessibility_violations(open_dashboard, color_scheme):
    jobs = open_jobs(open_dashboard, color_scheme=color_scheme)
    start_export(jobs, camera="All cameras", export_format="CSV")
    expect(jobs.locator("#jobs > li").first.locator(".badge")).to_have_text("Completed")
    token = open_dashboard(color_scheme=color_scheme)
    token.get_by_role("link", name="API token").click()
    token.get_by_role("button", name="token").first.click()
    expect(token.get_by_label("Key")).to_be_visible()
    for page in (jobs, token):
        violations = Axe().run(page).response["violations"]
        serious = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in {"serious", "critical"}]
        assert serious == [], page.url


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_screenshots_of_the_jobs_and_token_pages(open_dashboard, hub, color_scheme, tmp_path):
    screenshots = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path
    for name, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        jobs = open_jobs(open_dashboard, viewport=viewport, color_scheme=color_scheme)
        if name == "desktop":
            for summary, score in [("Person at the door", 64), ("Parcel left on the porch", 24)]:
                hub["pipeline"].post_event(summary, camera_id="front_door", risk_score=score)
            start_export(jobs, camera="Front door")
        expect(jobs.locator("#jobs > li").first.locator("progress")).to_have_attribute("value", "100")
        jobs.screenshot(path=screenshots / f"jobs-{name}-{color_scheme}.png", full_page=name == "phone")
        jobs.get_by_role("link", name="API token").click()
        expect(jobs.get_by_role("heading", name="API token")).to_be_visible()
        jobs.screenshot(path=screenshots / f"token-{name}-{color_scheme}.png", full_page=name == "phone")


# Run in a second process, a sender on the server's Redis layer: messages while the server is
# stopped, then (after a line on stdin) one more.
PUBLISH_THROUGHPUT_SCRIPT = """
import sys
from realtime.broadcast import Message, publish_many
throughput = Message("pipeline.throughput", {"detections_per_minute": 1, "events_per_minute": 1})
for _ in range(10):
    publish_many([throughput])
print("sent", flush=True)
for _ in sys.stdin:  # one more message a line
    publish_many([throughput])
"""


@pytest.mark.redis
def test_a_reload_hint_makes_the_dashboard_re_read_its_lists(open_dashboard, start_daphne, fresh_redis_url):
    server = start_daphne(
        {"REDIS_URL": fresh_redis_url, "CHANNEL_LAYER_CAPACITY": "3", "REALTIME_GAP_GRACE_SECONDS": "0.5"}
    )
    server.seed_demo()
    page = open_dashboard(base_url=server.base_url)
    argv = [sys.executable, "manage.py", "shell", "--no-imports", "-c", PUBLISH_THROUGHPUT_SCRIPT]
    options = {"cwd": BASE_DIR, "env": server.env, "stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    # A stopped server falls behind: its layer channel holds 3 messages, the rest are dropped.
    os.kill(server.pid, signal.SIGSTOP)
    try:
        with subprocess.Popen(argv, text=True, **options) as sender:
            assert sender.stdout.readline().strip() == "sent"
            os.kill(server.pid, signal.SIGCONT)
            # A later message shows the server how many did not come, once it finds room in the
            # server's channel (the server drains what it holds first): one more until it does.
            for _ in range(20):
                sender.stdin.write("\n")
                sender.stdin.flush()
                try:
                    page.wait_for_event(
                        "request", lambda request: "/api/events/" in request.url, timeout=ARRIVAL_TIMEOUT_MS
                    )
                    break
                except PlaywrightTimeoutError:
                    continue
            else:
                pytest.fail("the dashboard never re-read its lists")
            sender.stdin.close()
    finally:
        os.kill(server.pid, signal.SIGCONT)
    server.stop()
