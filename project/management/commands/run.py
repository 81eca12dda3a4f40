"""`manage.py run`: the embedded Lookout in one process (SPEC §7)."""

from django.core.management.base import BaseCommand, CommandError

from project import runner


class Command(BaseCommand):
    help = (
        "Run Lookout in one process: migrate, optionally seed the demo, serve HTTP and WebSockets "
        "and run the periodic work."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        parser.add_argument("--demo", action="store_true", help="seed the demo household and simulate it")
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="with --demo, seed the household but do not simulate its cameras' traffic",
        )
        parser.add_argument(
            "--reset-demo-passwords",
            action="store_true",
            help="with --demo, give the admin and viewer new passwords (by default set once, then kept)",
        )
        parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="leave the periodic work to a separate `manage.py worker` (scale-out)",
        )

    def handle(
        self, *args, host, port, demo, no_simulator, reset_demo_passwords, no_migrate, no_worker, **options
    ):
        try:
            runner.address_check(host=host, port=port)
        except OSError as error:
            raise CommandError(str(error)) from error
        if not no_migrate:
            runner.database_migrate()
        seeded = runner.demo_seed(reset_passwords=reset_demo_passwords) if demo else None

        def announce() -> None:
            self.stdout.write(runner.banner(host=host, port=port, demo=seeded))
            self.stdout.flush()

        try:
            runner.serve(
                host=host,
                port=port,
                on_ready=announce,
                worker=not no_worker,
                simulate=seeded["cameras"] if seeded and not no_simulator else None,
            )
        except OSError as error:
            raise CommandError(str(error)) from error
