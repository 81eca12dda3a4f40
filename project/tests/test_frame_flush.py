"""The server's one write callback per loop iteration (project/server.py), outside a running server.

Run in a child interpreter: importing daphne.server installs Twisted's asyncio reactor, which the
test process must not get.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging

    import django

    django.setup()
    from project.server import LookoutServer

    logging.disable(logging.CRITICAL)
    written = []


    class Connection:
        def __init__(self, name, fails=False):
            self.name, self.fails = name, fails

        def flush_frames(self):
            if self.fails:
                raise OSError("the transport failed")
            written.append(self.name)


    async def main():
        server = LookoutServer(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])  # never run
        for connection in (Connection("a"), Connection("b", fails=True), Connection("c")):
            server.flush_later(connection)
        await asyncio.sleep(0)  # the callback runs once this iteration is over
        server.flush_later(Connection("d"))  # a new iteration: a new callback
        await asyncio.sleep(0)
        print(",".join(written))


    asyncio.run(main())
    """
)


def test_one_connection_failing_to_write_leaves_the_others_frames_going_out():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "project.settings", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "a,c,d"
