"""`make run` hands its variables to `manage.py run` (checked with `make -n`, which runs nothing)."""

import shutil
import subprocess

import pytest

from project.testing.servers import BASE_DIR


def make_run_command(*variables: str) -> str:
    """The `manage.py run` line that `make run <variables>` would execute."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: run `bash scripts/install-system-deps.sh`", pytrace=False)
    done = subprocess.run(
        [make, "-n", "run", *variables], cwd=BASE_DIR, capture_output=True, text=True, check=True, timeout=30
    )
    [line] = [line for line in done.stdout.splitlines() if "manage.py run" in line]
    return line.rstrip()


def test_make_run_passes_args_to_the_run_command():
    line = make_run_command("ARGS=--reset-demo-passwords", "PORT=8001", "HOST=0.0.0.0")
    assert line.endswith("manage.py run --demo --host 0.0.0.0 --port 8001 --reset-demo-passwords")


def test_make_run_without_args_keeps_the_demo_passwords():
    assert make_run_command().endswith("manage.py run --demo --host 127.0.0.1 --port 8000")
