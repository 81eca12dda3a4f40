"""WebSocket routing: handshake rules (cookies included) → the endpoint's consumer (or a 404 refusal).

No SessionMiddlewareStack: it wraps `send` for the socket's whole life and checks the session on
every frame. The handshake reads the session once (realtime.auth); revocation is pushed to open
sockets by signals (realtime.receivers), not found by polling the session.
"""

from channels.routing import URLRouter
from django.urls import path, re_path

from realtime import consumers
from realtime.auth import HandshakeMiddleware
from realtime.refusals import endpoint_not_found

ENDPOINTS = [
    ("ws/", consumers.RealtimeConsumer),
    ("ws/events/", consumers.EventsConsumer),
    ("ws/system/", consumers.SystemConsumer),
    ("ws/alerts/", consumers.AlertsConsumer),
    ("ws/jobs/<uuid:job_id>/", consumers.JobConsumer),
]

# Each endpoint with and without its trailing slash (SPEC §4); anything else matches the last
# route, so channels' URLRouter never raises "No route found" (a 500 with a traceback).
websocket_urlpatterns = [
    path(route, app)
    for pattern, consumer in ENDPOINTS
    for app in [consumer.as_asgi()]
    for route in (pattern, pattern.removesuffix("/"))
] + [re_path(r"", endpoint_not_found)]

websocket_application = HandshakeMiddleware(URLRouter(websocket_urlpatterns))
