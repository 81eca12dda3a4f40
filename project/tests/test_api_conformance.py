"""The live API keeps to its own OpenAPI schema: schemathesis against a real daphne, as staff and as a viewer.

Every operation of /api/schema/ is called with generated input (invalid boundary values, then
a bounded number of random valid and invalid examples), derandomized so that a run repeats.
An answer fails the run if it is a 5xx, or if its status, Content-Type or body is not one
the schema documents for that operation.
"""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Invalid boundary values (the coverage phase, about 1,500 requests) are the same input for
# every role: only staff, who reaches every operation, sends them. Then a bounded number of
# random valid and invalid examples per operation, for both roles.
RUNS = {
    "staff": {"phases": "examples,coverage,fuzzing", "max_examples": 10},
    "viewer": {"phases": "examples,fuzzing", "max_examples": 10},
}
# The coverage phase's valid boundary values double its time (bulk bodies of 1,000 items)
# and are left to the random valid examples.
CONFIG = """
[phases.coverage.generation]
mode = "negative"
"""

SEED_SCRIPT = (
    "import json; from project.testing.conformance_seed import conformance_data_seed; "
    "print(json.dumps(conformance_data_seed()))"
)


@pytest.fixture(scope="module")
def api_server(start_daphne):
    """A daphne of its own: the staff run creates, changes and deletes data."""
    return start_daphne()


def schemathesis_run(
    schema_url: str, *, token: str, phases: str, max_examples: int, workdir
) -> subprocess.CompletedProcess:
    """`schemathesis run` against `schema_url` with `token`, derandomized; its report is in the output."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    argv = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", schema_url),
        *("--checks", ",".join(CHECKS)),
        *("--header", f"Authorization: Token {token}"),
        *("--phases", phases),
        *("--max-examples", str(max_examples)),
        "--generation-deterministic",
        "--no-shrink",
        *("--workers", "1"),
        *("--request-timeout", "15"),
        "--no-color",
    ]
    # In a directory of its own: the run leaves its files there.
    return subprocess.run(
        argv, cwd=workdir, capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", list(RUNS))
def test_every_api_operation_answers_as_the_schema_documents(api_server, role, tmp_path):
    # The data is reset first, so that each role's run starts from the same objects.
    seeded = api_server.manage("shell", "--no-imports", "-c", SEED_SCRIPT)
    token = json.loads(seeded.stdout.splitlines()[-1])[role]
    done = schemathesis_run(f"{api_server.base_url}/api/schema/", token=token, workdir=tmp_path, **RUNS[role])
    assert done.returncode == 0, f"schemathesis failed as {role}:\n{done.stdout}\n{done.stderr}"
