"""The events history, event and camera pages in headless Chromium against a real daphne."""

import json
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

# hub, browser and open_dashboard (the shared server and signed-in contexts) come from conftest.py.
from dashboard.tests.test_browser import DESKTOP, PHONE, SCREENSHOTS_DIR

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SUMMARY = "Person left a package at the front door"

SCENE_SCRIPT = f"""
import json
from dashboard.tests.scene import scene_record
print(json.dumps(scene_record(summary={SUMMARY!r})))
"""


@pytest.fixture(scope="module")
def scene(hub) -> dict:
    """A day of events, a pictured event on the front door, and the cameras the viewer sees online."""
    for camera_id in ("front_door", "driveway"):
        hub["pipeline"].post(f"/api/cameras/{camera_id}/heartbeat/")
    done = hub["server"].manage("shell", "--no-imports", "-c", SCENE_SCRIPT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def open_page(open_dashboard, path: str, **options) -> Page:
    """A signed-in viewer's page at `path`, once its images have loaded."""
    page = open_dashboard(**options)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    return page


def test_viewer_finds_the_event_in_the_history_reviews_it_and_the_review_persists(open_dashboard, scene):
    page = open_page(open_dashboard, "/events/")
    page.get_by_label("Summary contains").fill("package at the front door")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#history > li")).to_have_count(1)
    page.get_by_role("link", name=SUMMARY).click()
    expect(page).to_have_url(re.compile(rf"/events/{scene['event_id']}/$"))
    expect(page.locator(".frame-svg .box")).to_have_count(2)

    page.get_by_label("Reviewed").check()
    expect(page.locator("#review-status")).to_contain_text("Marked reviewed at")
    page.get_by_label("Notes").fill("The courier; signed for it.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#review-status")).to_contain_text("Review saved at")

    page.reload()
    expect(page.get_by_label("Reviewed")).to_be_checked()
    expect(page.get_by_label("Notes")).to_have_value("The courier; signed for it.")
    page.goto("/events/?reviewed=true")
    expect(page.locator(f"#event-{scene['event_id']}")).to_contain_text("Reviewed")


PAGES = {
    "events": "/events/",
    "event": "/events/{event_id}/",
    "camera": "/cameras/front_door/",
}


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_screenshots_of_the_history_event_and_camera_pages(open_dashboard, scene, color_scheme, tmp_path):
    screenshots = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path
    for name, path in PAGES.items():
        for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
            page = open_page(
                open_dashboard, path.format(**scene), viewport=viewport, color_scheme=color_scheme
            )
            expect(page.locator("main h1")).to_be_visible()
            page.screenshot(path=screenshots / f"{name}-{size}-{color_scheme}.png", full_page=size == "phone")


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_history_event_and_camera_pages_have_no_serious_accessibility_violations(
    open_dashboard,
    scene,
    color_scheme,
):
    for path in PAGES.values():
        page = open_page(open_dashboard, path.format(**scene), color_scheme=color_scheme)
        violations = Axe().run(page).response["violations"]
        serious = [
            (v["id"], v["impact"], [node["target"] for node in v["nodes"]])
            for v in violations
            if v["impact"] in {"serious", "critical"}
        ]
        assert serious == [], page.url
