"""Credentials never reach a log line or the inspector (bridge.redaction)."""

from __future__ import annotations

import logging

import pytest

from bridge.auth import Credentials
from bridge.redaction import REDACTED, RedactingFilter, redact

TOKEN = "Zk3-secret-token-value_0123"
CREDENTIALS = Credentials(TOKEN, b"k" * 32)


@pytest.mark.parametrize(
    "text",
    [
        f'127.0.0.1:5 - "WebSocket /rpc?token={TOKEN}" [accepted]',
        f"GET /x?a=1&to%6Ben={TOKEN}&b=2 HTTP/1.1",
        f"GET /x?TOKEN={TOKEN}",
        f"< authorization: Bearer {TOKEN}",
        f"('authorization', 'Bearer {TOKEN}')",
        f"(b'authorization', b'Bearer {TOKEN}')",
        f"< Cookie: theirs=1; ddbridge-view-7700={CREDENTIALS.issue_view()}",
        f"< Sec-WebSocket-Protocol: ddbridge, ddbridge.credential.{CREDENTIALS.issue_session()}",
        f"page http://127.0.0.1:7700/?x={TOKEN}",
    ],
)
def test_every_credential_is_blanked(text: str) -> None:
    cleaned = redact(text, [TOKEN])
    assert TOKEN not in cleaned and REDACTED in cleaned
    assert "s2." not in cleaned.replace("ddbridge.credential.", "") and "v2." not in cleaned


def test_other_text_is_left_as_it_is() -> None:
    for text in ("GET /index.html HTTP/1.1", "tokens=3 tokenizer", "listening on http://127.0.0.1:7700/"):
        assert redact(text, [TOKEN]) == text


def test_the_filter_rewrites_records_with_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, "%s - %s", ("peer", f"/rpc?token={TOKEN}"), None
    )
    assert RedactingFilter([TOKEN]).filter(record)
    assert record.getMessage() == f"peer - /rpc?token={REDACTED}"
