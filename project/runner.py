"""The embedded runner (SPEC §7): migrate, seed the demo, serve HTTP and WebSockets with daphne in-process,
and run the worker's periodic work in a thread of the same process."""

import secrets
import socket
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.management import call_command
from django.db import connections
from rest_framework.authtoken.models import Token

from events.demo import PASSWORD_KEPT, demo_household_seed


def address_check(*, host: str, port: int) -> None:
    """Raise OSError, saying how to pick another port, if `host:port` cannot be listened on.

    Checked before anything touches the database: a second `make run` must not migrate or re-seed
    the first instance's database only to fail on the busy port afterwards.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Twisted listens: a port left in TIME_WAIT by a stopped instance is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(_cannot_listen(host, port, error.strerror or str(error))) from error


def _cannot_listen(host: str, port: int, reason: str) -> str:
    return (
        f"could not listen on {host}:{port} ({reason}); is another Lookout running? "
        f"Pick another port: manage.py run --port {port + 1} (or make run PORT={port + 1})"
    )


def database_migrate() -> None:
    """Apply every pending migration, then free this thread's connection for the server's threads."""
    call_command("migrate", interactive=False, verbosity=1)
    connections.close_all()


def demo_seed(*, reset_passwords: bool = False) -> dict:
    """Seed the demo household, with random passwords for users it creates (or all, on reset);
    returns what events.demo says about it."""
    demo = demo_household_seed(
        admin_password=secrets.token_urlsafe(9),
        viewer_password=secrets.token_urlsafe(9),
        reset_passwords=reset_passwords,
    )
    # The pipeline's token can only write; a client following docs/protocol.md needs one that reads.
    viewer = get_user_model().objects.get(username=demo["viewer"]["username"])
    demo["viewer"]["token"] = Token.objects.get_or_create(user=viewer)[0].key
    connections.close_all()
    return demo


def banner(*, host: str, port: int, demo: dict | None) -> str:
    """What the runner prints once it listens: where to go and, for the demo, how to sign in."""
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    lines = [
        f"Lookout is running at {base}/",
        f"  admin:    {base}/admin/",
        f"  API docs: {base}/api/docs/",
    ]
    if demo:
        lines += [
            f"  sign in:  {demo[role]['username']} / {demo[role]['password'] or PASSWORD_KEPT}"
            for role in ("admin", "viewer")
        ]
        lines.append(f"  pipeline token: {demo['pipeline']['token']}  (writes detections)")
        lines.append(f"  viewer token:   {demo['viewer']['token']}  (reads: API and WebSockets)")
    lines.append("Stop with CONTROL-C.")
    return "\n".join(lines)


def application():
    """project.asgi's application, with static files served even without DEBUG."""
    from project.asgi import application as lookout_application

    # The handler only takes HTTP requests under STATIC_URL; WebSockets pass through untouched.
    return ASGIStaticFilesHandler(lookout_application)


def serve(
    *,
    host: str,
    port: int,
    on_ready: Callable[[], None],
    worker: bool = True,
    simulate: list[str] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, the way daphne's own CLI does; raise if the port can't be bound.

    With `worker`, the periodic work runs in a thread from the moment the server listens until it stops;
    with `simulate` (camera ids), so does the demo simulator, driving those cameras.
    """
    from daphne.endpoints import build_endpoint_description_strings

    from events.simulator import SimulatorThread
    from project.server import LookoutServer
    from worker.hosting import WorkerThread

    worker_thread = WorkerThread() if worker else None
    simulator_thread = SimulatorThread(cameras=simulate) if simulate else None

    def ready() -> None:
        # Only once the port is ours: a runner that cannot listen must not do another's periodic work.
        if worker_thread is not None:
            worker_thread.start()
        if simulator_thread is not None:
            simulator_thread.start()
        on_ready()

    server = LookoutServer(
        application=application(),
        endpoints=build_endpoint_description_strings(host=host, port=port),
        signal_handlers=True,
        ready_callable=ready,
    )
    try:
        server.run()
    finally:
        # The simulator first: nothing new arrives while the worker finishes the task in hand.
        if simulator_thread is not None and simulator_thread.thread.is_alive():
            simulator_thread.stop()
        if worker_thread is not None and worker_thread.thread.is_alive():
            worker_thread.stop()
    if server.abort_start:
        raise OSError(_cannot_listen(host, port, "the server could not bind it"))
