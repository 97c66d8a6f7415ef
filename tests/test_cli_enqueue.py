"""`nue-ns enqueue` tells a person what is wrong in their words: records and lines counted from 1,
an unknown record type named as such, a missing file said plainly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nue_ns import sample
from nue_ns.cli import app
from nue_ns.records import CONTRACTS

runner = CliRunner()


def _enqueue(*args: str):
    return runner.invoke(app, ["enqueue", *args], env={"COLUMNS": "300"})


def test_unknown_record_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "invoices.jsonl"
    path.write_text("{}\n")
    result = _enqueue("invoce", str(path))
    assert result.exit_code == 1  # refused, as any invalid input (2: the file could not be read)
    assert f"unknown record type 'invoce'; one of: {', '.join(CONTRACTS)}" in result.output
    assert "invalid record" not in result.output


def test_missing_file_is_said_in_plain_words(tmp_path: Path) -> None:
    result = _enqueue("customer", str(tmp_path / "nowhere.jsonl"))
    assert result.exit_code == 2
    assert "nowhere.jsonl: no such file" in result.output
    assert "Errno" not in result.output


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    result = _enqueue("customer", str(tmp_path))
    assert result.exit_code == 2
    assert "is a folder, not a file" in result.output and "Errno" not in result.output


def test_bad_json_line_is_counted_from_one(tmp_path: Path) -> None:
    good = json.dumps(sample.customers(1)[0])
    path = tmp_path / "c.jsonl"
    path.write_text(f"{good}\n\n{{not json\n")
    result = _enqueue("customer", str(path))
    assert result.exit_code == 2
    assert "line 3: is not valid JSON" in result.output


def test_invalid_array_record_is_numbered_from_one(env, tmp_path: Path) -> None:
    from nue_ns.context import get_context
    from nue_ns.hub.integrations import upsert_integration
    from nue_ns.netsuite.auth import Credentials

    ctx = get_context()
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "acme",
        account_id="1234567",
        credentials=Credentials("k" * 64, "s" * 64, "t" * 64, "u" * 64),
        rest_url="http://127.0.0.1:9/services/rest",
    )
    records = sample.customers(2)
    records[0]["email"] = "not-an-email"
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(records))
    result = _enqueue("customer", str(path), "--integration", "acme")
    assert result.exit_code == 1
    assert "customer #1: email:" in result.output
    assert "(line" not in result.output  # a JSON array has no record lines

    # JSON lines with a blank line before the second record: record #2 is on line 3.
    records = sample.customers(3)
    records[1]["email"] = "not-an-email"
    lines_path = tmp_path / "customers.jsonl"
    lines_path.write_text(json.dumps(records[0]) + "\n\n" + "\n".join(json.dumps(r) for r in records[1:]))
    result = _enqueue("customer", str(lines_path), "--integration", "acme")
    assert result.exit_code == 1
    assert "customer #2 (line 3): email:" in result.output
    assert "customer #1" not in result.output and "customer #3" not in result.output
