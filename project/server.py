"""daphne as Lookout runs it: RFC close codes 1008/1009, and an unread-bytes probe.

The 64 KiB frame limit is the consumer's (it closes with 1009): daphne's own limit (1 MiB by
default) makes autobahn drop the TCP connection, which a client sees as 1006, so it stays a backstop.

Imported only when serving: daphne.server installs Twisted's asyncio reactor on import.
"""

from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

from realtime.backpressure import with_probe
from realtime.consumers import CLOSE_POLICY, CLOSE_TOO_BIG


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


class LookoutServer(Server):
    """daphne, with each WebSocket scope able to tell how much its client has not read yet."""

    def run(self):
        # daphne builds its WebSocketFactory inside run() from the class attribute.
        WebSocketFactory.protocol = LookoutWebSocketProtocol
        super().run()

    def create_application(self, protocol, scope):
        return super().create_application(protocol, with_probe(scope, protocol))
