"""Short-lived, single-use WebSocket tickets for clients that cannot send headers (browsers)."""

import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache

SALT = "lookout.realtime.ticket"


def ticket_issue(*, user) -> str:
    """A signed ticket naming `user`, good once within REALTIME_TICKET_SECONDS."""
    return signing.dumps({"u": user.pk, "n": secrets.token_urlsafe(12)}, salt=SALT, compress=False)


def ticket_redeem(ticket: str) -> int | None:
    """The user id of a valid, fresh, unused ticket; None otherwise. A ticket works once."""
    try:
        data = signing.loads(ticket, salt=SALT, max_age=settings.REALTIME_TICKET_SECONDS)
    except signing.BadSignature:
        return None
    # cache.add is atomic (Redis SET NX when scaled out): only the first redemption wins.
    first = cache.add(f"ws-ticket:{data['n']}", 1, timeout=settings.REALTIME_TICKET_SECONDS + 5)
    return data["u"] if first else None
