"""Fixtures shared by the dashboard's test files: real WebSocket clients, and the browser session."""

from dashboard.tests.test_browser import browser, hub, open_dashboard  # noqa: F401
from realtime.tests.conftest import ws_connect  # noqa: F401
