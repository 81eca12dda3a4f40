"""RFC 6455 text frames built once for every socket that gets them, and the server's frame writer.

A server's frames are unmasked and, without compression (Lookout's daphne negotiates none), the
same bytes for every client. The hub hands one message text to each of its listeners in turn, so
the last frame built is kept: the first listener that sends a text frames it, the others reuse it.
Under Lookout's daphne (project/server.py) each WebSocket scope carries a writer that takes such a
frame straight to the connection's transport; elsewhere the consumer sends ASGI `websocket.send`.
"""

import struct
from collections.abc import Callable

# scope[WRITER_KEY](frame): queue a ready frame for the client (Lookout's daphne only).
WRITER_KEY = "lookout.write_frame"
FrameWriter = Callable[[bytes], None]

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text): one unfragmented text message


def text_frame(payload: bytes) -> bytes:
    """The unmasked, unfragmented server frame of a UTF-8 text message."""
    length = len(payload)
    if length <= 125:
        header = bytes((_FIN_TEXT, length))
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", _FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, length)
    return header + payload


_last: tuple[str, bytes] = ("", text_frame(b""))


def shared_text_frame(text: str) -> bytes:
    """`text`'s frame, built once while the same text object goes to one listener after another."""
    global _last
    last = _last
    # Identity, not equality: a hit costs nothing, and the kept reference keeps the id unique.
    if last[0] is text:
        return last[1]
    frame = text_frame(text.encode())
    _last = (text, frame)
    return frame
