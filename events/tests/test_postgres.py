"""Run `postgres_cases.py` on the real PostgreSQL server: this process's database is SQLite."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from project.testing.servers import BASE_DIR, django_env

pytestmark = pytest.mark.postgres

CASES = "events/tests/postgres_cases.py"


@pytest.fixture(scope="module")
def outcomes(postgres_url, tmp_path_factory) -> dict[str, str]:
    """Run every case once (one test database); {case name: passed | failed | skipped}, output on failure."""
    data = tmp_path_factory.mktemp("pg-cases")
    report = data / "report.xml"
    env = django_env(data, {"DATABASE_URL": postgres_url})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", CASES],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        results[case.get("name")] = kinds.pop() if kinds else "passed"
    results["output"] = done.stdout + done.stderr
    return results


@pytest.mark.parametrize(
    "case",
    [
        "test_the_object_type_filter_finds_non_ascii_types",
        "test_an_event_with_several_snapshots_lists_its_best_one",
        "test_two_concurrent_acknowledges_let_exactly_one_through",
    ],
)
def test_on_postgresql(outcomes, case):
    assert outcomes.get(case) == "passed", outcomes["output"]
