"""JSON as producers send it, read strictly: one parser for the HTTP API and the CLI.

Python's json keeps the last of two equal keys, so `{"id": "A", "id": "B"}` would silently become
record B; a duplicate key is refused here, naming the key and where it is. Nesting deeper than any
record is refused too (a record is at most 4 levels deep), before it can exhaust the stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32


class BadJson(ValueError):
    """Not acceptable JSON; `field` is where (a path such as `[3].lines[0]`), `reason` why."""

    def __init__(self, field: str, reason: str, *, syntax: bool = False) -> None:
        self.field = field
        self.reason = reason
        self.syntax = syntax  # not JSON at all (as opposed to JSON we refuse)
        super().__init__(f"{field}: {reason}" if field != "(body)" else reason)


class _Pairs(dict):
    """An object as parsed that held a key twice, remembering which."""

    duplicates: tuple[str, ...] = ()


def _twice(pairs: list[tuple[str, Any]]) -> _Pairs:
    seen: set[str] = set()
    obj = _Pairs(pairs)
    obj.duplicates = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


# Strings, then everything but brackets, are cut away at C speed; the brackets left are then
# emptied pair by innermost pair, one nesting level per pass. What is not empty after MAX_DEPTH
# passes (too deep, or not balanced: not JSON) goes to the exact scan.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def _too_deep(text: str | bytes) -> bool:
    """Cheap pre-check: brackets open at once, outside strings, deeper than MAX_DEPTH."""
    data = text.encode() if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False
    bare = _STRING.sub(b"", data)
    if b'"' not in bare:  # every string closed
        brackets = bare.translate(None, _NOT_BRACKETS)
        for _ in range(MAX_DEPTH):
            brackets = _EMPTY_PAIR.sub(b"", brackets)
            if not brackets:
                return False
    return _too_deep_exact(data)


def _too_deep_exact(data: bytes) -> bool:
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _path(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _first_duplicate(value: Any, path: str = "") -> tuple[str, str] | None:
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if isinstance(node, _Pairs):
                return where, node.duplicates[0]
            stack.extend((v, _path(where, k)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((v, _path(where, i)) for i, v in reversed(list(enumerate(node))))
    return None


def loads(text: str | bytes) -> Any:
    """Parse JSON; raise BadJson for invalid JSON, duplicate keys or nesting past MAX_DEPTH."""
    if _too_deep(text):
        raise BadJson("(body)", f"is nested deeper than {MAX_DEPTH} levels")
    twice: list[_Pairs] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        twice.append(_twice(pairs))
        return twice[-1]

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "is not UTF-8"
        raise BadJson("(body)", f"is not valid JSON ({msg}{where})", syntax=True) from None
    except RecursionError:
        raise BadJson("(body)", f"is nested deeper than {MAX_DEPTH} levels") from None
    dup = _first_duplicate(value) if twice else None  # where: only looked for when there is one
    if dup is not None:
        where, key = dup
        raise BadJson(
            _path(where, key), "is given twice in one object (which value is meant cannot be known)"
        )
    return value
