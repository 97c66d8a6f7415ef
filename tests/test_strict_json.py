"""strict_json's fast forms answer as the exact ones: the depth pre-check against the byte-by-byte
scan, and the duplicate-key walk (done only when some object held a key twice)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nue_ns.strict_json import MAX_DEPTH, BadJson, _too_deep, _too_deep_exact, loads


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet='[]{}"\\a:, ', max_size=80))
def test_the_depth_check_answers_as_the_exact_scan(text):
    assert _too_deep(text) == _too_deep_exact(text.encode())


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
def test_depth_around_the_limit_with_brackets_in_strings(depth):
    noise = [{"s": "[[[{{{", "t": 'say \\"]]]\\" ok'}] * 40  # brackets and escaped quotes in strings
    body = json.dumps([noise, "[" * 50]) + " " + "[" * depth + "]" * depth
    assert _too_deep(body) == _too_deep_exact(body.encode()) == (depth > MAX_DEPTH)


def test_a_big_valid_batch_is_not_too_deep():
    body = json.dumps([{"id": f"C-{i}", "name": "x [{", "lines": [{"q": "1"}]} for i in range(2000)])
    assert not _too_deep(body)
    assert len(loads(body)) == 2000


def test_the_first_duplicate_is_named_with_its_path():
    body = '[{"id": "A"}, {"id": "B", "lines": [{"q": 1}, {"q": 1, "q": 2}]}, {"id": "C", "id": "D"}]'
    with pytest.raises(BadJson) as caught:
        loads(body)
    assert caught.value.field == "[1].lines[1].q"


def test_objects_without_duplicates_are_plain_dicts():
    value = loads('{"a": {"b": [{"c": 1}]}}')
    assert type(value) is dict and type(value["a"]["b"][0]) is dict
    assert value == {"a": {"b": [{"c": 1}]}}
