"""The WebSocket code's trips to the database: Channels' `database_sync_to_async`, keeping the connection.

Channels closes the thread's connection around every call (Django's `close_old_connections`,
with the CONN_MAX_AGE of 0 that Django asks for under ASGI): each handshake opened and closed
SQLite or PostgreSQL connections, a third of its time. The WebSocket code runs outside any HTTP
request, so its calls all go to asgiref's one long-lived thread-sensitive thread: there one
connection serves every call, as Django's persistent connections would. What Django checks
between two requests still holds between two calls: a connection left in a transaction or
broken by an error is closed, and one that fails its health check (CONN_HEALTH_CHECKS) is
replaced before use, so the first handshake after a database restart works.
"""

from asgiref.sync import SyncToAsync
from django.db import connections


class DatabaseHop(SyncToAsync):
    """`sync_to_async` for database work of the WebSocket code; its thread's connection stays open."""

    def thread_handler(self, loop, *args, **kwargs):
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if connection.connection is not None and connection.settings_dict["CONN_MAX_AGE"] == 0:
                    # Not obsolete when the next call comes (a configured age still applies).
                    connection.close_at = None


database_hop = DatabaseHop
