"""Credentials never reach a log line or the inspector.

The daemon's token, page credentials and view cookies can appear wherever a request is
described: uvicorn's and websockets' debug lines (the request line with ``?token=``, every
handshake header), a Referer the inspector shows as the page. ``redact`` blanks them in any
text; ``RedactingFilter`` applies it to every record a log handler writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# Signed credentials (``bridge.auth``), whatever carries them; a header or parameter that
# carries a credential by its very name (``Authorization``, ``Cookie``, ``token=``, also
# percent-encoded, as ``to%6Ben=``).
_PATTERNS = (
    re.compile(r"\b[sv][0-9]\.[0-9]{6,}\.[0-9a-f]{64}\b"),
    re.compile(r"(?i)(authorization['\"]?\s*[:,=]\s*['\"]?(?:b['\"])?)[^'\"\r\n]+"),
    re.compile(r"(?i)(cookie['\"]?\s*[:,=]\s*['\"]?(?:b['\"])?)[^'\"\r\n]+"),
    re.compile(r"(?i)((?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)(?:=|%3d))[^&\s'\"#]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential in it replaced by ``[redacted]``; ``secrets`` are values to
    blank wherever they appear (the daemon's token)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: (match.group(1) if match.groups() else "") + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with its credentials redacted (attach it to a handler, so
    that every logger's records pass through it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
