"""The text rules' fast forms give exactly the answers of the rules they speed up: clean_text's
one regex search against the per-character rule, email_address against pydantic's EmailStr."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, EmailStr, ValidationError

from nue_ns import records
from nue_ns.records import Customer, clean_text


def _refused_by_the_rule(ch: str) -> bool:
    """The rule as clean_text first wrote it, one character at a time."""
    return ch in records._BIDI or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r")


def test_clean_text_refuses_exactly_the_characters_of_the_rule():
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: refused earlier as invalid Unicode
        ch = chr(code)
        assert bool(records._FORBIDDEN.search(ch)) == _refused_by_the_rule(ch), f"U+{code:04X}"


def _reference_clean_text(v: str) -> str:
    """clean_text as first written: one unicodedata lookup per character."""
    if "\x00" in v:
        raise ValueError("text contains a NUL character")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode") from exc
    for ch in v:
        if ch in records._BIDI:
            raise ValueError(f"text contains a bidirectional control character (U+{ord(ch):04X})")
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            raise ValueError(f"text contains a control character (U+{ord(ch):04X})")
    if v and all(records._invisible(ch) for ch in v) and not v.isspace():
        raise ValueError("text is made only of invisible characters")
    return v


def _answer(rule, v: str) -> str:
    try:
        return "ok: " + rule(v)
    except ValueError as exc:
        return str(exc)


_TEXTS = st.text(
    alphabet=st.sampled_from(" \t\n\r\x00\x07\x1f\x7f\x85\u00a0\u200b\u202e\u2066\u3164\ufeffaZ9~é東🚀")
    | st.characters(),
    max_size=12,
)


@settings(max_examples=1000, deadline=None)
@given(_TEXTS)
def test_clean_text_answers_as_the_per_character_rule(v):
    assert _answer(clean_text, v) == _answer(_reference_clean_text, v)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\x00b", "text contains a NUL character"),
        ("ok\x07\u202e", "text contains a control character (U+0007)"),  # the first one met
        ("ok\u202e\x07", "text contains a bidirectional control character (U+202E)"),
        ("x\x85", "text contains a control character (U+0085)"),
        ("\u200b\u200b", "text is made only of invisible characters"),
        ("a\ud800", "text is not valid Unicode"),
    ],
)
def test_clean_text_names_the_first_problem(text, reason):
    with pytest.raises(ValueError) as caught:
        clean_text(text)
    assert str(caught.value) == reason


@pytest.mark.parametrize("text", ["tab\there", "two\nlines\r\n", "back\\slash", "café 東京 🚀", "  "])
def test_clean_text_keeps_what_the_rule_allows(text):
    assert clean_text(text) == text


class _Plain(BaseModel):
    email: EmailStr


def _emailstr(value: str) -> tuple[str, str]:
    """pydantic's EmailStr answer: ("ok", address) or ("error", message)."""
    try:
        return "ok", _Plain(email=value).email
    except ValidationError as exc:
        return "error", exc.errors()[0]["msg"]


class _Fast(BaseModel):
    email: records.Email


def _ours(value: str) -> tuple[str, str]:
    try:
        return "ok", _Fast(email=value).email
    except ValidationError as exc:
        return "error", exc.errors()[0]["msg"]


def test_customers_use_the_fast_form():
    assert records.Customer.model_fields["email"].annotation == records.Email | None
    assert Customer(id="C-1", name="N", email="Pat@Example.COM").email == "Pat@example.com"
    with pytest.raises(ValidationError) as caught:
        Customer(id="C-1", name="N", email="pat@localhost")
    assert caught.value.errors()[0]["loc"] == ("email",)


@pytest.mark.parametrize(
    "value",
    [
        "billing@example.com",
        "Billing.Dept@Example.COM",  # the domain is lower-cased, the local part kept
        "POSTMASTER@example.com",  # an RFC 2142 name: lower-cased by email-validator
        "a..b@example.com",
        ".a@example.com",
        "a@example",
        "a@localhost",
        "a@sub.invalid",
        "a@-bad.com",
        "a@bad-.com",
        "a@ab--cd.com",
        "a@xn--bcher-kva.example",  # punycode: normalised to Unicode, left to the full check
        "a@123.456",
        "a@example.c0m",
        "a@" + "x" * 64 + ".com",  # a label longer than 63
        "a" * 65 + "@example.com",
        "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "com",
        "a" * 60 + "@" + ("b" * 62 + ".") * 3 + "com",  # over 254 characters
        "Pat <pat@example.com>",
        '"quoted"@example.com',
        "a@[127.0.0.1]",
        "x@ex_ample.com",
        "a@exämple.com",
        "a+tag@example.co.uk",
    ],
)
def test_email_answers_as_emailstr(value):
    assert _ours(value) == _emailstr(value)


_EMAILISH = st.text(alphabet="aZ9.-_+@xX!#'\"<> ", min_size=1, max_size=20) | st.builds(
    lambda a, b: f"{a}@{b}",
    st.text(alphabet="aB3._-+!~", min_size=0, max_size=8),
    st.text(alphabet="aB3.-", min_size=0, max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(_EMAILISH)
def test_email_answers_as_emailstr_for_any_text(value):
    assert _ours(value) == _emailstr(value)
