"""The realtime tests' WebSocket clients, for the pages whose actions close or feed sockets."""

from realtime.tests.conftest import ws_connect  # noqa: F401
