"""Faults that make the sandbox answer like a misbehaving NetSuite (or a proxy in front of it).

NetSuite documents none of these; they are what the client must survive anyway: error codes longer
than any column, NUL bytes and terminal or rich markup in the detail, bodies that are not JSON or
are huge, and a 204 whose Location holds no usable internal id. Opt-in only (POST /_sandbox/faults).
"""

from __future__ import annotations

import json

from starlette.responses import Response

ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"
# Markup a careless renderer would run: rich's closing tag and link, a terminal escape, HTML.
HOSTILE_TEXT = "[/x] [link=http://evil.example]click[/link] \x1b[2J <b>bold</b>"

MALFORMED_KINDS = frozenset(
    {"long_code", "nul_detail", "non_json", "huge_body", "long_internal_id", "bad_location"}
)
# These replace the answer; the other two alter a real (committed) answer's Location.
_ERROR_KINDS = {"long_code", "nul_detail", "non_json", "huge_body"}


def _error(status: int, code: str, detail: str, path: str | None = None) -> Response:
    item = {"detail": detail, "o:errorCode": code} | ({"o:errorPath": path} if path else {})
    body = {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1", "title": "Error"}
    return Response(
        json.dumps(body | {"status": status, "o:errorDetails": [item]}), status, media_type=ERROR_TYPE
    )


def error_answer(kind: str) -> Response | None:
    """The malformed error answer for `kind`, or None when the kind alters a real answer."""
    if kind == "long_code":  # transient (500) with an error code far longer than any column
        return _error(500, "UNEXPECTED_ERROR_" + "X" * 300, "An unexpected error occurred.")
    if kind == "nul_detail":  # needs a person (400) with NUL, markup and an escape in detail and path
        return _error(400, "INVALID_CONTENT", f"bad\x00value {HOSTILE_TEXT}", f"entity\x00[/x]{HOSTILE_TEXT}")
    if kind == "non_json":  # a proxy's HTML page, with a NUL for good measure
        page = f"<html><body><h1>502 Bad Gateway</h1>\x00{HOSTILE_TEXT}</body></html>"
        return Response(page, 502, media_type="text/html")
    if kind == "huge_body":  # a 2 MB error body (transient)
        return _error(503, "UNEXPECTED_ERROR", "overloaded " + "x" * (2 * 1024 * 1024))
    return None


def alter_location(kind: str, response: Response) -> Response:
    """A committed write answered with an internal id nobody can use."""
    location = response.headers.get("location", "")
    base = location.rsplit("/", 1)[0]
    if kind == "long_internal_id":
        response.headers["location"] = f"{base}/{'9' * 60}"
    elif kind == "bad_location":
        response.headers["location"] = f"{base}/12%00[link=x]3"
    return response
