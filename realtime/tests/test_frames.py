"""The frames Lookout's server writes itself are the bytes autobahn would have written."""

import pytest
from autobahn.websocket.protocol import PreparedMessage

from realtime.frames import shared_text_frame, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_text_frame_is_byte_identical_to_autobahns(size):
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode()  # `size` bytes of UTF-8
    autobahn = PreparedMessage(payload, isBinary=False, applyMask=False, doNotCompress=True).payloadHybi
    assert len(payload) == size
    assert text_frame(payload) == autobahn


def test_each_text_gets_its_own_frame_even_when_equal_texts_alternate():
    first, second = "a" * 10, "b" * 200
    same_as_first = "".join(["a" * 5, "a" * 5])  # equal to `first`, another object
    assert shared_text_frame(first) == text_frame(first.encode())
    assert shared_text_frame(first) == text_frame(first.encode())
    assert shared_text_frame(second) == text_frame(second.encode())
    assert shared_text_frame(same_as_first) == text_frame(first.encode())
    assert shared_text_frame(first) == text_frame(first.encode())
