"""daphne as Lookout runs it: RFC close codes 1008/1009, handshake refusals with their HTTP status,
quiet sends to a closing client, and an unread-bytes probe.

The 64 KiB frame limit is the consumer's (it closes with 1009): daphne's own limit (1 MiB by
default) makes autobahn drop the TCP connection, which a client sees as 1006, so it stays a backstop.

Imported only when serving: daphne.server installs Twisted's asyncio reactor on import.
"""

import json

from autobahn.websocket.types import ConnectionDeny
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

from realtime.backpressure import with_probe
from realtime.consumers import CLOSE_POLICY, CLOSE_TOO_BIG, RFC_CLOSE_CODES_KEY
from realtime.refusals import CLOSE_UNAVAILABLE, HTTP_REFUSALS

# Seconds a client should wait before it retries a handshake refused with 503.
RETRY_AFTER_SECONDS = 5


class LookoutWebSocketProtocol(WebSocketProtocol):
    """Lets the application close with 1008 (policy) and 1009 (too big), as RFC 6455 allows a server.

    autobahn's public sendClose only takes 1000 and 3000–4999 and raises otherwise, which
    daphne turns into an application crash and a 1011; sendCloseFrame is the call autobahn
    itself uses for those protocol-level closes.
    """

    def serverClose(self, code=None):
        if code in {CLOSE_POLICY, CLOSE_TOO_BIG}:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)

    def handle_reply(self, message):
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


class LookoutServer(Server):
    """daphne, with each WebSocket scope able to tell how much its client has not read yet,
    and that its server sends 1008/1009."""

    def run(self):
        # daphne builds its WebSocketFactory inside run() from the class attribute.
        WebSocketFactory.protocol = LookoutWebSocketProtocol
        super().run()

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope = {**scope, RFC_CLOSE_CODES_KEY: True}  # LookoutWebSocketProtocol sends 1008/1009
        return super().create_application(protocol, with_probe(scope, protocol))
