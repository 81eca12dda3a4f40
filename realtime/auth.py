"""WebSocket handshake rules: origin, handshake rate, and who is connecting (ticket, token, cookie).

Everything refused here is refused before accept, which daphne answers with HTTP 403 (503
while the database or the cache is down, under the server Lookout ships).
"""

import logging
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare
from rest_framework.authtoken.models import Token

from realtime.database_hop import database_hop
from realtime.outbox import outbox_last_sequence
from realtime.ratelimit import handshake_allowed
from realtime.refusals import CLOSE_UNAVAILABLE, OUTAGE_ERRORS, outage, refuse
from realtime.subscriptions import Viewer
from realtime.tickets import ticket_redeem
from realtime.visibility import viewer_for

# The connection's Viewer, computed at the handshake (the consumer reads it from the scope).
VIEWER_KEY = "lookout.viewer"
# The outbox's last sequence when the handshake was admitted (connection.established carries it).
LAST_SEQUENCE_KEY = "lookout.last_sequence"

logger = logging.getLogger(__name__)


def origin_allowed(origin: bytes) -> bool:
    """Whether an Origin header names one of ALLOWED_HOSTS."""
    try:
        netloc = urlsplit(origin.decode("latin-1")).netloc
    except ValueError:
        return False
    host, _port = split_domain_port(netloc)
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


# Looked up with get(), not first(): one row at most, and first()'s ORDER BY costs each handshake.
def _token_user(key: str):
    try:
        token = Token.objects.select_related("user").get(key=key)
    except Token.DoesNotExist:
        return None
    return token.user if token.user.is_active else None


def _user_by_id(user_id: int):
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def _cookies(scope) -> dict[str, str]:
    # Parsed here, for the handshakes that need them, rather than by Channels' CookieMiddleware
    # for every handshake into a scope copy that each socket keeps.
    cookie = next((value for name, value in scope.get("headers", ()) if name == b"cookie"), b"")
    return parse_cookie(cookie.decode("latin-1")) if cookie else {}


def authenticate(scope, *, cookie_allowed: bool):
    """(user, method, credential) for the handshake, or (None, reason, None).

    The credential (token key, session key) is what `credential_user` checks again later.
    """
    headers = dict(scope.get("headers", ()))
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "ticket" in query:
        user_id = ticket_redeem(query["ticket"][0])
        user = _user_by_id(user_id) if user_id is not None else None
        return (user, "ticket", None) if user else (None, "invalid or used ticket", None)
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        user = _token_user(key) if scheme.lower() == "token" and key else None
        return (user, "token", key) if user else (None, "invalid token", None)
    session_key = _cookies(scope).get(settings.SESSION_COOKIE_NAME) if cookie_allowed else None
    if session_key:
        user = session_user(session_key)
        if user is not None and user.is_active:
            return user, "session", session_key
    return None, "not authenticated", None


def handshake_admit(scope, *, origin: bytes | None):
    """The scope keys of an admitted handshake (user, credential, viewer, last sequence), or None.

    One thread hop for the handshake's database reads: the credential, what the user may see
    and the outbox's last sequence, each a hop of its own otherwise.
    """
    # A cookie rides along on any cross-site request: only trust it with a checked Origin.
    user, method, credential = authenticate(scope, cookie_allowed=origin is not None)
    if user is None:
        return None
    return {
        "user": user,
        "auth_method": method,
        "auth_credential": credential,
        VIEWER_KEY: viewer_for(user),
        # Read before the connection joins its groups: whatever is committed after it reaches
        # the client live or by `resume` from it, never neither.
        LAST_SEQUENCE_KEY: outbox_last_sequence(),
    }


def credential_user(*, user_id: int, method: str, credential: str | None):
    """The user as stored now, if the credential a socket was opened with still admits them; else None.

    A token socket needs its token; a session socket needs its session, unchanged password
    hash included (Django's own session check, without its write). A ticket was good once:
    its socket needs only an active user.
    """
    if method == "token":
        token = Token.objects.select_related("user").filter(key=credential, user_id=user_id).first()
        user = token.user if token else None
    elif method == "session":
        user = session_user(credential) if credential else None
        user = user if user is not None and user.pk == user_id else None
    else:
        user = get_user_model().objects.filter(pk=user_id).first()
    return user if user is not None and user.is_active else None


def viewer_recheck(scope) -> tuple[object, Viewer] | None:
    """The connection's user read again and what they may see now; None if they may no longer connect."""
    user = credential_user(
        user_id=scope["user"].pk, method=scope["auth_method"], credential=scope.get("auth_credential")
    )
    return None if user is None else (user, viewer_for(user))


def session_user(session_key: str):
    """The user a session is logged in as, password hash checked as Django does; None otherwise.

    Read once per handshake (and per recheck): a socket keeps no session object, so no frame it
    sends pays for Channels' session middleware.
    """
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    model = get_user_model()
    user = model.objects.filter(pk=model._meta.pk.to_python(user_id)).first()
    session_hash = session.get(HASH_SESSION_KEY) or ""
    hashes = (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()) if user else ()
    return user if any(constant_time_compare(session_hash, h) for h in hashes) else None


class HandshakeMiddleware(BaseMiddleware):
    """Refuses bad origins, handshake floods and anonymous users; sets scope["user"] and the viewer."""

    async def __call__(self, scope, receive, send):
        origin = dict(scope.get("headers", ())).get(b"origin")
        address = (scope.get("client") or ("unknown", 0))[0]
        try:
            admitted = (
                await database_hop(handshake_admit)(scope, origin=origin)
                if (origin is None or origin_allowed(origin))
                and await handshake_allowed(address, per_minute=settings.REALTIME_CONNECT_RATE)
                else None
            )
        except OUTAGE_ERRORS as error:
            # An outage, not a bug: one line in the log, and the client may retry later.
            logger.warning("refusing a WebSocket handshake: %s", outage(error))
            return await refuse(receive, send, CLOSE_UNAVAILABLE)
        if admitted is None:
            return await WebsocketDenier()(scope, receive, send)
        # Not BaseMiddleware's call: it would copy this copy of the scope again.
        return await self.inner({**scope, **admitted}, receive, send)
