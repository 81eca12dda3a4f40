"""The naive Channels broadcast every tutorial teaches, kept as the benchmark's baseline.

Each socket gets its own layer channel and joins the group (`group_add` per socket); each message
is one layer message per socket and one `send_json` (a `json.dumps`) per socket. Served by plain
daphne on channels-redis:

    DJANGO_SETTINGS_MODULE=bench.naive_settings BENCH_REDIS_URL=redis://… \
        python -m daphne -b 127.0.0.1 -p PORT bench.naive:application
"""

import django
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from bench.naive_settings import GROUP

django.setup()


class BroadcastConsumer(AsyncJsonWebsocketConsumer):
    """Joins the one group on connect; forwards each group message as JSON."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bench_message(self, event):
        await self.send_json(event["payload"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/", BroadcastConsumer.as_asgi())])})
