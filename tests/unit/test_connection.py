"""What makes the session reserve a reply's budget as escaped to ASCII: the frame holds a
surrogate escape or a number that may be past 64 bits (``bridge.connection``)."""

from __future__ import annotations

import pytest

from bridge.connection import _may_escape_to_ascii

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("frame", "escapes"),
    [
        ('{"id":1,"method":"x"}', False),
        ('{"id":"\\ud800"}', True),
        ('{"id":"\\uDBFF"}', True),
        ('{"id":"\\udc80x"}', True),
        ('{"id":"\\ue000\\u00e9\\ud7ff"}', False),  # past and before the surrogates
        ('{"id":"\\\\ud800"}', True),  # an escaped backslash: conservative, as it may be
        ('{"id":1234567890123456789}', True),
        ('{"id":123456789012345678}', False),  # 18 digits fit 64 bits
        ('{"a":"1234567890123456789"}', True),  # in a text too: conservative
        ('{"a":[123456789,0123456789]}', False),
        ('{"a":"١٢٣٤٥٦٧٨٩١٢٣٤٥٦٧٨٩٠"}', False),  # other scripts' digits are text to orjson
        ('{"a":"é"}', False),
    ],
)
def test_what_may_send_the_reply_to_the_stdlib_encoder(frame: str, escapes: bool) -> None:
    assert _may_escape_to_ascii(frame) is escapes
    assert _may_escape_to_ascii(frame.encode()) is escapes


def test_a_big_frame_is_read_to_its_end() -> None:
    body = b"u" * (16 * MiB)
    assert not _may_escape_to_ascii(b'{"data":"' + body + b'"}')
    assert _may_escape_to_ascii(b'{"data":"' + body + b'","id":99999999999999999999}')
    assert _may_escape_to_ascii(b'{"data":"' + body + b'\\uD83D"}')
