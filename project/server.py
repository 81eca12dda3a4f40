"""daphne as Lookout runs it: RFC close codes 1008/1009, handshake refusals with their HTTP status,
quiet sends to a closing client, an unread-bytes probe (realtime/backpressure.py), and a frame
writer for the fan-out.

The frame writer (realtime/frames.py) takes a ready RFC 6455 frame to the connection's transport
without autobahn's per-frame work, and the frames one socket gets in one loop iteration go out in
one write, sent at once while the kernel takes them: a fast client's socket never waits for epoll.

The 64 KiB frame limit is the consumer's (it closes with 1009): daphne's own limit (1 MiB by
default) makes autobahn drop the TCP connection, which a client sees as 1006, so it stays a backstop.

Imported only when serving: daphne.server installs Twisted's asyncio reactor on import.
"""

import asyncio
import gc
import inspect
import json
import logging
import socket
from collections import deque
from functools import partial

from autobahn.websocket.types import ConnectionDeny
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import reactor

from realtime.backpressure import BACKLOG_KEY
from realtime.consumers import CLOSE_POLICY, CLOSE_SLOW, CLOSE_TOO_BIG, RFC_CLOSE_CODES_KEY
from realtime.frames import WRITER_KEY
from realtime.refusals import CLOSE_UNAVAILABLE, HTTP_REFUSALS

logger = logging.getLogger(__name__)

# Seconds a client should wait before it retries a handshake refused with 503.
RETRY_AFTER_SECONDS = 5
# How long a client closed for being slow has to read its close frame before the socket is
# dropped. autobahn's 1 s suits a client that reads; this one had stopped, and only the close
# frame (the rest of its backlog dropped) tells it to come back with `resume` rather than 1006.
SLOW_CLOSE_TIMEOUT_SECONDS = 30
# daphne pings a client that has sent nothing for this long (its default: 20 s), and drops it
# 30 s later without a pong. The hub's heartbeat (every REALTIME_HEARTBEAT_SECONDS) already
# keeps proxies from timing a quiet socket out, so pings only find dead peers: every 2 minutes
# is enough, and 5,000 idle sockets cost 40 pings a second, not 250.
PING_INTERVAL_SECONDS = 120
# daphne checks every connection's timeouts every 2 s. An open WebSocket has only its ping (every
# PING_INTERVAL_SECONDS) and its lifetime limit to check: every this many checks is soon enough.
OPEN_SOCKET_CHECK_EVERY = 5


class LookoutWebSocketProtocol(WebSocketProtocol):
    """Lets the application close with 1008 (policy) and 1009 (too big), as RFC 6455 allows a server.

    autobahn's public sendClose only takes 1000 and 3000–4999 and raises otherwise, which
    daphne turns into an application crash and a 1011; sendCloseFrame is the call autobahn
    itself uses for those protocol-level closes.
    """

    # autobahn copies its ~30 options from the factory onto every connection, and pretty-prints
    # them for a debug line that it builds even when debug logging is off: a tenth of the server's
    # time per handshake, and a per-socket __dict__ of twice the size. Here the options are read
    # once, onto the class, from the factory of the first connection (daphne has one).
    CONFIG_ATTRS = ()
    options_factory = None

    # The frames write_frame queued in this loop iteration: one frame, or a list of them (None: none).
    # A frame alone is not wrapped in a list: bytes are no work for the garbage collector, a list
    # per socket per message is (see LookoutServer.run).
    queued: bytes | list[bytes] | None = None
    # Bytes handed to the transport so far, and where each write still (partly) in its buffer ends:
    # frame boundaries, so that a slow client's backlog can be cut without splitting a frame.
    stream_bytes = 0
    buffered_ends: deque | None = None
    # Whether the transport is Twisted's TCP connection, whose buffer Lookout may read and trim
    # (not TLS, say): known once the connection is made.
    plain_tcp = False

    def connectionMade(self):
        # Before autobahn's connectionMade, which reads an option already (tcpNoDelay).
        self._read_options()
        self.plain_tcp = isinstance(getattr(self.transport, "socket", None), socket.socket) and hasattr(
            self.transport, "dataBuffer"
        )
        super().connectionMade()

    def unsent_bytes(self) -> int:
        """Bytes written for the client that the kernel has not taken yet: its backlog."""
        return _unsent_bytes(self.transport) if self.plain_tcp else 0

    def _read_options(self) -> None:
        factory = self.factory
        cls = LookoutWebSocketProtocol
        if cls.options_factory is None:
            for name in WebSocketProtocol.CONFIG_ATTRS:
                value = getattr(factory, name)
                # A function option (perMessageCompressionAccept) must not become a method.
                setattr(cls, name, staticmethod(value) if inspect.isfunction(value) else value)
            cls.options_factory = factory
        elif cls.options_factory is not factory:
            # A second server in this process, with options of its own: autobahn's per-socket copy.
            for name in WebSocketProtocol.CONFIG_ATTRS:
                setattr(self, name, getattr(factory, name))

    def _connectionMade(self):
        super()._connectionMade()
        # Only sync or chopped writes use it (sendData), and Lookout makes none: 0.7 KB a socket.
        self.send_queue = ()

    def write_frame(self, frame: bytes) -> None:
        """Queue a ready text frame; every frame queued in one loop iteration goes out in one write."""
        if self.state != self.STATE_OPEN:
            return  # as serverSend: nothing reaches a client that is closing
        if self._perMessageCompress is not None or len(frame) > self.maxMessagePayloadSize > 0:
            # Never negotiated nor reached by Lookout; autobahn's own path is right for either.
            self.sendMessage(frame[_payload_offset(frame) :])
            return
        queued = self.queued
        if queued is None:
            self.queued = frame
            self.server.flush_later(self)
        elif type(queued) is bytes:
            self.queued = [queued, frame]
        else:
            queued.append(frame)

    def flush_frames(self) -> None:
        """Write the queued frames now (before anything else is written, to keep their order)."""
        queued, self.queued = self.queued, None
        if queued is not None and self.state == self.STATE_OPEN:
            self._write(queued if type(queued) is bytes else b"".join(queued))

    def sendData(self, data, sync=False, chopsize=None):
        # Everything autobahn writes (handshake, pings, closes) goes through the same counted write.
        if sync or chopsize or self.send_queue:
            if not self.send_queue:
                self.send_queue = deque()  # autobahn's queue for those writes, made when one comes
            super().sendData(data, sync, chopsize)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if not self.plain_tcp:
            transport.write(data)
            return
        self.stream_bytes += len(data)
        sent = 0
        if not _unsent_bytes(transport) and transport.connected and not transport.disconnecting:
            # Twisted would register the socket with epoll and send on the next writable event:
            # a syscall now is cheaper, and the usual case is that the kernel takes it all.
            try:
                sent = transport.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # Twisted's own send on the writable event meets the error and closes
            if self.buffered_ends:
                self.buffered_ends.clear()
        if sent < len(data):
            transport.write(data[sent:] if sent else data)
            if self.buffered_ends is None:
                self.buffered_ends = deque()
            self.buffered_ends.append(self.stream_bytes)

    def drop_unsent(self) -> None:
        """Forget every frame the client has not started to receive (the one in progress stays whole)."""
        self.queued = None
        transport = self.transport
        unsent = self.unsent_bytes()
        if not unsent or not self.buffered_ends:
            return
        sent = self.stream_bytes - unsent
        end = next((end for end in self.buffered_ends if end >= sent), None)
        if end is None:
            return  # bytes written past our count: keep them all rather than split a frame
        data = bytes(transport.dataBuffer[transport.offset :]) + b"".join(transport._tempDataBuffer)
        # Twisted's buffer (the same private fields the unread-bytes probe reads).
        transport.dataBuffer, transport.offset = data[: end - sent], 0
        transport._tempDataBuffer, transport._tempDataLen = [], 0
        self.stream_bytes = end
        self.buffered_ends.clear()
        self.buffered_ends.append(end)

    def serverClose(self, code=None):
        if code == CLOSE_SLOW:
            # Its backlog would hold the close frame back until autobahn's timeout dropped the
            # socket (the client then sees 1006): the client comes back with `resume` anyway.
            self.drop_unsent()
            self.closeHandshakeTimeout = SLOW_CLOSE_TIMEOUT_SECONDS
        if code in {CLOSE_POLICY, CLOSE_TOO_BIG}:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)

    def handle_reply(self, message):
        # A frame sent the ASGI way (or a close) must not overtake the frames queued before it.
        if self.queued is not None:
            self.flush_frames()
        # daphne answers every close before accept with 403; some codes name a truer status.
        refusal = HTTP_REFUSALS.get(message.get("code"))
        if message.get("type") == "websocket.close" and self.state == self.STATE_CONNECTING and refusal:
            self.refuse(*refusal)
        else:
            super().handle_reply(message)

    def refuse(self, status: int, reason: str) -> None:
        """daphne's serverReject, with `status` instead of 403."""
        self.handshake_deferred.errback(ConnectionDeny(code=status, reason=reason))
        del self.handshake_deferred
        self.server.protocol_disconnected(self)
        client = "{}:{}".format(*self.client_addr) if self.client_addr else None
        self.server.log_action("websocket", "rejected", {"path": self.request.path, "client": client})

    def sendHttpErrorResponse(self, code, reason, responseHeaders=None):
        """autobahn's handshake refusal has no body: add a JSON one (and Retry-After to a 503)."""
        body = json.dumps({"detail": reason}).encode()
        headers = [*(responseHeaders or ()), ("Content-Type", "application/json")]
        if code == HTTP_REFUSALS[CLOSE_UNAVAILABLE][0]:
            headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
        super().sendHttpErrorResponse(code, reason, [*headers, ("Content-Length", str(len(body)))])
        self.sendData(body)

    def serverSend(self, content, binary=False):
        # The client has started to close: the frame cannot reach it. daphne drops frames only
        # once the TCP connection is gone; in between, autobahn raises "Attempt to send on a
        # closed protocol" into the application (a connection.established after an instant close).
        if self.state in {self.STATE_CLOSING, self.STATE_CLOSED}:
            return
        super().serverSend(content, binary)


def _unsent_bytes(transport) -> int:
    # twisted.internet.abstract.FileDescriptor: dataBuffer[offset:] plus the not yet joined writes.
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def _payload_offset(frame: bytes) -> int:
    """Where the payload starts in an unmasked frame built by realtime.frames.text_frame."""
    length = frame[1] & 0x7F
    return 2 if length <= 125 else 4 if length == 126 else 10


class LookoutServer(Server):
    """daphne, with each WebSocket scope able to tell how much its client has not read yet, able
    to take ready frames straight to the transport, and told that its server sends 1008/1009."""

    def __init__(self, *args, ping_interval: float = PING_INTERVAL_SECONDS, **kwargs):
        super().__init__(*args, ping_interval=ping_interval, **kwargs)
        # Connections with frames queued in this loop iteration: one callback writes them all.
        self._flush_due: list[LookoutWebSocketProtocol] = []

    def flush_later(self, protocol: LookoutWebSocketProtocol) -> None:
        """Have `protocol`'s queued frames written at the end of this loop iteration."""
        if not self._flush_due:
            asyncio.get_running_loop().call_soon(self._flush)
        self._flush_due.append(protocol)

    def _flush(self) -> None:
        due, self._flush_due = self._flush_due, []
        for protocol in due:
            try:
                protocol.flush_frames()
            except Exception:
                # One connection's failure must not leave the others' frames queued for good.
                logger.exception("writing queued frames failed")

    def run(self):
        # daphne builds its WebSocketFactory inside run() from the class attribute.
        WebSocketFactory.protocol = LookoutWebSocketProtocol
        # Connections that closed or whose application finished: all that application_checker has to visit.
        self.settling: set = set()
        self.timeout_checks = 0
        # Everything loaded so far (Django, the apps, daphne, Twisted) lives as long as the process:
        # out of the collector's reach, a full collection scans only what the connections and the
        # traffic made (measured: about half the objects), and every socket waits through it.
        gc.freeze()
        super().run()

    def protocol_disconnected(self, protocol):
        super().protocol_disconnected(protocol)
        self.settling.add(protocol)

    def application_checker(self):
        """daphne's clean-up of ended connections, visiting only those, not every open socket each second."""
        everything, due = self.connections, self.settling
        self.settling = set()
        # daphne's loop reads and deletes in self.connections: give it the due ones only.
        self.connections = {protocol: everything[protocol] for protocol in due if protocol in everything}
        try:
            super().application_checker()
        finally:
            checked, self.connections = self.connections, everything
            for protocol in due:
                if protocol not in checked:
                    everything.pop(protocol, None)
            # Closed, but its application still finishing (or to be killed after its close timeout).
            self.settling.update(protocol for protocol, state in checked.items() if "disconnected" in state)

    def timeout_checker(self):
        """daphne's timeout and ping checks; open WebSockets only every OPEN_SOCKET_CHECK_EVERY-th time."""
        self.timeout_checks += 1
        if self.timeout_checks % OPEN_SOCKET_CHECK_EVERY == 0:
            super().timeout_checker()
            return
        for protocol in list(self.connections):
            if not (isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN):
                protocol.check_timeouts()
        reactor.callLater(2, self.timeout_checker)

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            # LookoutWebSocketProtocol sends 1008/1009, writes ready frames and tells the backlog.
            scope = {
                **scope,
                RFC_CLOSE_CODES_KEY: True,
                WRITER_KEY: protocol.write_frame,
                BACKLOG_KEY: protocol.unsent_bytes,
            }
        return self._application_started(protocol, scope)

    def _application_started(self, protocol, scope):
        """daphne's create_application, with an InputQueue for its asyncio.Queue."""
        details = self.connections[protocol]
        assert "application_instance" not in details
        queue = InputQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        send = partial(self.handle_reply, protocol)
        application = self.application(scope=scope, receive=queue.get, send=send)
        instance = details["application_instance"] = asyncio.ensure_future(application)
        # Its end is what application_checker has to see (the socket may stay open after it).
        instance.add_done_callback(lambda _, protocol=protocol: self.settling.add(protocol))
        return queue


class InputQueue:
    """What daphne puts a connection's messages in for its application (`put_nowait`, `get`).

    daphne's asyncio.Queue holds three deques and an Event, 3 KB of every idle socket: one
    reader, an unbounded queue and a few messages at a time need a short list and one waiter.
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list | None = None  # None while empty: an idle socket holds no list
        self.waiter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        if self.items is None:
            self.items = [item]
        else:
            self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self):
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        item = self.items.pop(0)
        if not self.items:
            self.items = None
        return item
