"""manage.py seed_demo: create the demo household (idempotent) and print how to log in."""

import os

from django.core.management.base import BaseCommand

from events.demo import PASSWORD_KEPT, demo_household_seed


class Command(BaseCommand):
    """Seed demo cameras, users, the pipeline's token and alert rules; print the credentials."""

    help = (
        "Create the demo household (cameras, admin, viewer, pipeline token, alert rules). Safe to re-run: "
        "passwords are set when their users are created and kept afterwards unless --reset-demo-passwords."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--admin-password",
            default=os.environ.get("LOOKOUT_ADMIN_PASSWORD", "lookout-admin"),
            help="Password of the 'admin' user (env LOOKOUT_ADMIN_PASSWORD; default lookout-admin).",
        )
        parser.add_argument(
            "--viewer-password",
            default=os.environ.get("LOOKOUT_VIEWER_PASSWORD", "lookout-viewer"),
            help="Password of the 'viewer' user (env LOOKOUT_VIEWER_PASSWORD; default lookout-viewer).",
        )
        parser.add_argument(
            "--reset-demo-passwords",
            action="store_true",
            help="set the admin's and viewer's passwords again (by default a re-run keeps them)",
        )

    def handle(self, *args, admin_password: str, viewer_password: str, reset_demo_passwords: bool, **options):
        seeded = demo_household_seed(
            admin_password=admin_password,
            viewer_password=viewer_password,
            reset_passwords=reset_demo_passwords,
        )
        admin, viewer, pipeline = seeded["admin"], seeded["viewer"], seeded["pipeline"]
        lines = [
            self.style.SUCCESS("Demo household ready."),
            f"  cameras:  {', '.join(seeded['cameras'])}",
            f"  rules:    {'; '.join(seeded['rules'])}",
            f"  admin:    username {admin['username']}  password {admin['password'] or PASSWORD_KEPT}"
            "  (staff, all cameras)",
            f"  viewer:   username {viewer['username']}  password {viewer['password'] or PASSWORD_KEPT}"
            f"  (cameras {', '.join(viewer['cameras'])})",
            f"  pipeline: username {pipeline['username']}  token {pipeline['token']}",
            f"            send it as the header  Authorization: Token {pipeline['token']}",
        ]
        self.stdout.write("\n".join(lines))
