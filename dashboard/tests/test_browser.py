"""The dashboard in headless Chromium against a real daphne: sign in, live events, alerts, screenshots."""

import json
import os
import re
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from project.testing.servers import BASE_DIR, answers_200

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# How long a change may take to reach the page before the test fails (a bound, not a latency claim).
ARRIVAL_TIMEOUT_MS = 10_000
VIEWER_PASSWORD = "lookout-viewer"
# The README's screenshots are refreshed with LOOKOUT_SCREENSHOTS_DIR=docs/screenshots; by default a
# run writes them to a temporary directory, so the suite leaves the work tree as it found it.
SCREENSHOTS_DIR = os.environ.get("LOOKOUT_SCREENSHOTS_DIR")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


class Api:
    """The REST API of the server under test, with one user's token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    def post(self, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path: str) -> dict:
        headers = {"Authorization": f"Token {self.token}"}
        request = urllib.request.Request(f"{self.base_url}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def post_event(self, summary: str, *, camera_id: str = "front_door", risk_score: int = 40) -> dict:
        body = {
            "camera_id": camera_id,
            "started_at": datetime.now(UTC).isoformat(),
            "risk_score": risk_score,
            "summary": summary,
        }
        return self.post("/api/events/", body)


@pytest.fixture(scope="module")
def hub(daphne_server):
    """The shared daphne with the demo household, and an alert rule with no cooldown for the tests."""
    tokens = daphne_server.seed_demo()
    admin = Api(daphne_server.base_url, tokens["admin"])
    # Once per server, however many browser modules set this up: two rules would raise two alerts.
    rule = {"name": "browser tests", "min_risk_score": 95, "cooldown_seconds": 0}
    if not any(r["name"] == rule["name"] for r in admin.get("/api/alert-rules/")["results"]):
        admin.post("/api/alert-rules/", rule)
    return {"server": daphne_server, "pipeline": Api(daphne_server.base_url, tokens["pipeline"])}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(context: BrowserContext) -> Page:
    """Sign in as the demo viewer through the sign-in form; the page once the dashboard is live."""
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(VIEWER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


@pytest.fixture
def open_dashboard(browser, hub) -> Iterator:
    """Open a new browser context signed in as the demo viewer, on a live dashboard."""
    contexts: list[BrowserContext] = []
    expect.set_options(timeout=ARRIVAL_TIMEOUT_MS)

    def open_(viewport: dict = DESKTOP, color_scheme: str = "light", base_url: str | None = None) -> Page:
        context = browser.new_context(
            base_url=base_url or hub["server"].base_url,
            viewport=viewport,
            color_scheme=color_scheme,
            reduced_motion="reduce",
        )
        contexts.append(context)
        return sign_in(context)

    yield open_
    for context in contexts:
        context.close()


def test_viewer_signs_in_and_sees_an_event_posted_through_the_api(open_dashboard, hub):
    page = open_dashboard()
    summary = f"Person at the door {uuid.uuid4().hex[:8]}"
    event = hub["pipeline"].post_event(summary, risk_score=72)
    row = page.locator(f"#event-{event['id']}")
    expect(row).to_contain_text(summary)
    expect(row.locator(".badge")).to_have_text("High 72")
    expect(row).to_contain_text("Front door")


def test_a_hidden_cameras_event_never_appears(open_dashboard, hub):
    page = open_dashboard()
    hidden = hub["pipeline"].post_event(f"Backyard {uuid.uuid4().hex[:8]}", camera_id="backyard")
    # Events reach a socket in sequence order: once the later one is drawn, the hidden one had its turn.
    later = hub["pipeline"].post_event(f"Driveway {uuid.uuid4().hex[:8]}", camera_id="driveway")
    expect(page.locator(f"#event-{later['id']}")).to_be_visible()
    expect(page.locator(f"#event-{hidden['id']}")).to_have_count(0)
    assert "Backyard" not in page.locator("main").inner_text()


def test_acknowledging_in_one_context_updates_another(open_dashboard, hub):
    first, second = open_dashboard(), open_dashboard()
    summary = f"Break-in at the door {uuid.uuid4().hex[:8]}"
    hub["pipeline"].post_event(summary, risk_score=96)
    in_first = first.locator("#alerts li", has_text=summary)
    in_second = second.locator("#alerts li", has_text=summary)
    expect(in_second).to_have_attribute("data-status", "pending")
    expect(second).to_have_title(re.compile(r"^\(\d+\) Dashboard · Lookout$"))
    in_first.get_by_role("button", name="Acknowledge").click()
    expect(in_second).to_have_attribute("data-status", "acknowledged")
    expect(in_second.locator(".status")).to_have_text("Acknowledged by viewer")
    expect(in_second.get_by_role("button", name="Acknowledge")).to_have_count(0)
    in_second.get_by_role("button", name="Dismiss").click()
    expect(in_first).to_have_count(0)


# Written while the server is down: the outbox keeps them for the client's resume.
WRITE_EVENTS_SCRIPT = """
from django.utils import timezone
from cameras.models import Camera
from events.services import event_record
for n in range({first}, {last}):
    event_record(camera=Camera.objects.get(pk="front_door"), started_at=timezone.now(), risk_score=40,
                 summary=f"Restart #{{n}}")
"""


def test_after_a_server_restart_the_feed_shows_every_event_once_in_order(open_dashboard, start_daphne, spawn):
    server = start_daphne()
    pipeline = Api(server.base_url, server.seed_demo()["pipeline"])
    page = open_dashboard(base_url=server.base_url)
    summaries = [f"Restart #{n}" for n in range(9)]
    for summary in summaries[:3]:
        pipeline.post_event(summary)
    expect(page.get_by_text(summaries[2], exact=True)).to_be_visible()

    server.stop()
    expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
    server.manage("shell", "--no-imports", "-c", WRITE_EVENTS_SCRIPT.format(first=3, last=6))
    restarted = spawn("daphne-restarted", server.process.popen.args, cwd=BASE_DIR, env=server.env)
    restarted.wait_until(lambda: answers_200(f"{server.base_url}/healthz"), what="answering /healthz")
    for summary in summaries[6:]:
        pipeline.post_event(summary)

    # Reconnecting waits out a jittered backoff of up to a few seconds first.
    expect(page.get_by_text(summaries[-1], exact=True)).to_be_visible(timeout=3 * ARRIVAL_TIMEOUT_MS)
    shown = page.locator("#events .summary").all_inner_texts()
    assert [text for text in shown if text.startswith("Restart #")] == summaries[::-1]
    restarted.stop()


@pytest.fixture(scope="module")
def scene(hub) -> str:
    """Two cameras online and events of every risk level; the summary of the newest."""
    pipeline = hub["pipeline"]
    for camera_id in ("front_door", "driveway"):
        pipeline.post(f"/api/cameras/{camera_id}/heartbeat/")
    newest = "Person trying the door handle at night"
    for summary, camera_id, score in [
        ("Package left on the porch", "front_door", 22),
        ("Car parked in the driveway for 10 minutes", "driveway", 45),
        ("Person walking up to the door", "front_door", 68),
        (newest, "front_door", 97),
    ]:
        pipeline.post_event(summary, camera_id=camera_id, risk_score=score)
    return newest


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_screenshots_desktop_and_phone(browser, open_dashboard, hub, scene, color_scheme, tmp_path):
    screenshots = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path
    for name, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page = open_dashboard(viewport=viewport, color_scheme=color_scheme)
        expect(page.locator("#events li").first).to_contain_text(scene)
        page.screenshot(path=screenshots / f"dashboard-{name}-{color_scheme}.png", full_page=name == "phone")
    context = browser.new_context(base_url=hub["server"].base_url, viewport=PHONE, color_scheme=color_scheme)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.screenshot(path=screenshots / f"sign-in-phone-{color_scheme}.png")
    context.close()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_pages_have_no_serious_accessibility_violations(browser, open_dashboard, hub, scene, color_scheme):
    dashboard = open_dashboard(color_scheme=color_scheme)
    expect(dashboard.locator("#events li").first).to_contain_text(scene)
    context = browser.new_context(base_url=hub["server"].base_url, color_scheme=color_scheme)
    sign_in_page = context.new_page()
    sign_in_page.goto("/accounts/login/")
    for page in (dashboard, sign_in_page):
        violations = Axe().run(page).response["violations"]
        serious = [
            (v["id"], v["impact"], len(v["nodes"]))
            for v in violations
            if v["impact"] in {"serious", "critical"}
        ]
        assert serious == [], page.url
    context.close()
