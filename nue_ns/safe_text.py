"""Text from outside (NetSuite's answers, webhook receivers' replies) made safe to store and show.

PostgreSQL refuses NUL in text and jsonb; terminals run escape sequences; a huge answer must not
become a huge row. One rule, used wherever such text is kept.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Cc, but for newline and tab


def clip(text: str | None, limit: int) -> str | None:
    """NetSuite's (or anyone's) text made safe to store and show: control characters and NUL
    escaped (PostgreSQL refuses NUL; terminals run escapes), lone surrogates escaped, and cut to
    `limit` characters noting the raw length."""
    if text is None:
        return None
    text = str(text)
    # One regular-expression scan (it is on every attempt logged): Unicode's control characters
    # (category Cc) are exactly U+0000-U+001F and U+007F-U+009F.
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > limit:
        note = f"... [truncated: {len(text)} characters]"
        text = text[: max(0, limit - len(note))] + note
    return text


def clip_json(value: Any, limit: int = 20_000) -> Any:
    """A JSON value made safe for a jsonb column: every string and key clipped, NUL escaped."""
    if isinstance(value, dict):
        return {clip(str(k), 200): clip_json(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_json(v, limit) for v in value]
    if isinstance(value, str):
        return clip(value, limit)
    return value
