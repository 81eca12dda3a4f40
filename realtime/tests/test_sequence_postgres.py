"""On PostgreSQL, sequence order is commit order: a resume never skips a late commit."""

import json
import subprocess
import sys

import pytest

from project.testing.servers import BASE_DIR, django_env, manage

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_env(postgres_url, tmp_path_factory) -> dict[str, str]:
    env = django_env(tmp_path_factory.mktemp("pg-data"), {"DATABASE_URL": postgres_url})
    manage(env, "migrate", "--noinput")
    return env


def race(env, *flags) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "realtime.tests.scenarios.sequence_race", *flags],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_later_writer_waits_for_the_earlier_sequence_to_commit(pg_env):
    result = race(pg_env)
    assert result["b_waited_on_lock"] is True
    assert result["b_committed_before_a"] is False
    # Sequence order is commit order: B took the later sequence, and only once A's row was committed.
    assert result["b"] > result["a"]
    assert result["b_saw_a_committed"] is True
    # The overlap window replays A again too; the client drops it by sequence.
    assert result["replayed_after_a"] == [result["a"], result["b"]]


def test_without_the_lock_the_later_sequence_would_commit_first(pg_env):
    """The control: the race is real, so the test above can fail."""
    result = race(pg_env, "--no-lock")
    assert result["b_committed_before_a"] is True
    assert result["b"] > result["a"]
    assert result["b_saw_a_committed"] is False
