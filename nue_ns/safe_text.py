"""Text from outside (NetSuite's answers, webhook receivers' replies) made safe to store and show.

PostgreSQL refuses NUL in text and jsonb; terminals run escape sequences; a huge answer must not
become a huge row. One rule, used wherever such text is kept.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def clip(text: str | None, limit: int) -> str | None:
    """NetSuite's (or anyone's) text made safe to store and show: control characters and NUL
    escaped (PostgreSQL refuses NUL; terminals run escapes), lone surrogates escaped, and cut to
    `limit` characters noting the raw length."""
    if text is None:
        return None
    text = str(text)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        text = "".join(
            f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" and ch not in "\n\t" else ch
            for ch in text
        )
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
