"""WebSocket routing: session cookie → handshake rules → the endpoint's consumer."""

from channels.routing import URLRouter
from channels.sessions import SessionMiddlewareStack
from django.urls import path

from realtime import consumers
from realtime.auth import HandshakeMiddleware

websocket_urlpatterns = [
    path("ws/", consumers.RealtimeConsumer.as_asgi()),
    path("ws/events/", consumers.EventsConsumer.as_asgi()),
    path("ws/system/", consumers.SystemConsumer.as_asgi()),
    path("ws/alerts/", consumers.AlertsConsumer.as_asgi()),
    path("ws/jobs/<uuid:job_id>/", consumers.JobConsumer.as_asgi()),
]

websocket_application = SessionMiddlewareStack(HandshakeMiddleware(URLRouter(websocket_urlpatterns)))
