"""`manage.py run` serves the whole app from one process and stops cleanly on SIGTERM or SIGINT."""

import http.cookiejar
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from project.testing.servers import BASE_DIR, answers_200, django_env, free_port, http_get

pytestmark = pytest.mark.e2e


@pytest.fixture
def start_runner(spawn, tmp_path):
    """Start `manage.py run <args>` on a free port with a fresh data dir; returns (process, base URL)."""

    def start(*args: str, stop_signal=signal.SIGTERM):
        port = free_port()
        argv = [sys.executable, "manage.py", "run", "--port", str(port), *args]
        env = django_env(tmp_path / "data")
        process = spawn("runner", argv, cwd=BASE_DIR, env=env, stop_signal=stop_signal)
        base_url = f"http://127.0.0.1:{port}"
        process.wait_until(lambda: answers_200(f"{base_url}/healthz"), what="answering /healthz", timeout=60)
        return process, base_url

    return start


def session_login(base_url: str, username: str, password: str) -> urllib.request.OpenerDirector:
    """An opener holding the session of `username`, signed in through the admin login form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base_url}/admin/login/", timeout=5).read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/admin/"}
    opener.open(f"{base_url}/admin/login/", urllib.parse.urlencode(form).encode(), timeout=5).read()
    assert any(cookie.name == "sessionid" for cookie in jar), f"{username} could not sign in"
    return opener


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_runner_serves_pages_and_static_files_then_exits_cleanly_on_a_stop_signal(start_runner, stop_signal):
    process, base_url = start_runner(stop_signal=stop_signal)
    assert http_get(f"{base_url}/admin/login/")[0] == 200
    # DEBUG is off, so only the runner's static handler can answer this.
    assert http_get(f"{base_url}/static/admin/css/base.css")[0] == 200
    assert process.stop() == 0
    assert f"Lookout is running at {base_url}/" in process.output()
    # The periodic work ran in the same process and stopped with it.
    assert "worker started" in process.output()
    assert "worker stopped" in process.output()


def test_runner_demo_prints_credentials_that_open_the_api(start_runner):
    process, base_url = start_runner("--demo")
    username, password = re.search(r"sign in:\s+(\S+) / (\S+)", process.output()).groups()
    with session_login(base_url, username, password).open(f"{base_url}/api/cameras/", timeout=5) as answer:
        assert answer.status == 200
        assert json.loads(answer.read())
    read_token = re.search(r"viewer token:\s+(\w+)", process.output()).group(1)
    status, body = http_get(f"{base_url}/api/cameras/", {"Authorization": f"Token {read_token}"})
    assert status == 200
    assert {camera["id"] for camera in json.loads(body)} == {"front_door", "driveway"}
    assert process.stop() == 0


def test_a_second_demo_run_keeps_the_passwords_and_the_reset_flag_changes_them(start_runner):
    first, _ = start_runner("--demo", "--no-simulator")
    admin_password = re.search(r"sign in:\s+admin / (\S+)", first.output()).group(1)
    assert first.stop() == 0

    second, base_url = start_runner("--demo", "--no-simulator")
    assert "sign in:  admin / (set earlier and kept; --reset-demo-passwords" in second.output()
    session_login(base_url, "admin", admin_password)
    assert second.stop() == 0

    third, base_url = start_runner("--demo", "--no-simulator", "--reset-demo-passwords")
    new_password = re.search(r"sign in:\s+admin / (\S+)", third.output()).group(1)
    assert new_password != admin_password
    session_login(base_url, "admin", new_password)
    with pytest.raises(AssertionError, match="could not sign in"):
        session_login(base_url, "admin", admin_password)
    assert third.stop() == 0


def test_runner_on_a_busy_port_says_how_to_pick_another_and_leaves_the_database_alone(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = django_env(tmp_path / "data")
        done = subprocess.run(
            [sys.executable, "manage.py", "run", "--demo", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert f"could not listen on 127.0.0.1:{port}" in done.stderr
    assert f"--port {port + 1}" in done.stderr
    assert not (tmp_path / "data" / "lookout.sqlite3").exists()
