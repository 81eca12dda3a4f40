"""A user's own API token (DRF's authtoken: one per user): create or regenerate it, revoke it.

Deleting the Token row is what closes the sockets opened with it (realtime/receivers.py listens
for the deletion), so a regenerated or revoked key stops working everywhere at once.
"""

from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def api_token_regenerate(*, user) -> Token:
    """A new key for `user`; the old one, if any, is revoked."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user) -> bool:
    """Revoke `user`'s key; whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
