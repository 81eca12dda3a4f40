"""The migrations describe the models exactly (a constraint built in code, such as the risk-level
check, must not drift from the migration that created it)."""

from django.core.management import call_command


def test_the_models_need_no_new_migration(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
