"""Derive the repository's copy of a real NetSuite account's record schema.

Reads the OpenAPI document a NetSuite account emitted from its metadata catalog
(../shared/netsuite/record-api-openapi-2025-09.json beside a development checkout) and writes what
the tests and the sandbox need of it into nue_ns/sandbox/schema/: every component schema with its
field names, types, formats, references, enums and NetSuite's `x-ns-*` markers (sublist keys,
custom fields), the list of transform operations, and the request header parameters the operations
declare (their enums and defaults, e.g. X-NetSuite-PropertyValueValidation). Titles, descriptions
and examples (prose) are dropped. Nothing reads ../shared at test or run time; re-run this when
the document changes:

    python scripts/derive_netsuite_schema.py [SOURCE] [DEST]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "netsuite" / "record-api-openapi-2025-09.json"
DEST = ROOT / "nue_ns" / "sandbox" / "schema" / "account-2025-09.json"

PROSE = frozenset({"title", "description", "example", "examples", "x-ns-filterable", "externalDocs"})


def strip(node: Any) -> Any:
    """The node without prose; property maps keep every name (a field may be called 'title')."""
    if isinstance(node, list):
        return [strip(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: strip(prop) for name, prop in value.items()}
        elif key not in PROSE:
            out[key] = strip(value)
    return out


def header_parameters(document: dict[str, Any]) -> dict[str, Any]:
    """{header name: its schema} over every operation; a header declared differently by two
    operations is an error (the sandbox reads one enum and default per header)."""
    out: dict[str, Any] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") != "header":
                    continue
                schema = strip(param.get("schema", {}))
                if out.setdefault(param["name"], schema) != schema:
                    raise ValueError(f"{method.upper()} {path} declares {param['name']} differently")
    return dict(sorted(out.items()))


def derive(document: dict[str, Any]) -> dict[str, Any]:
    transforms = sorted(
        path.strip("/").replace("{id}/", "") for path in document["paths"] if "/!transform/" in path
    )
    return {
        "source": "NetSuite metadata catalog (OpenAPI 3.0.1), " + document["info"].get("description", ""),
        "derived_by": "scripts/derive_netsuite_schema.py",
        "transforms": transforms,
        "headers": header_parameters(document),
        "schemas": {name: strip(schema) for name, schema in document["components"]["schemas"].items()},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    dest = Path(argv[2]) if len(argv) > 2 else DEST
    if not source.exists():
        print(f"no OpenAPI document at {source}: nothing to derive", file=sys.stderr)
        return 1
    derived = derive(json.loads(source.read_text()))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(derived, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}: "
        f"{len(derived['schemas'])} schemas, {len(derived['transforms'])} transforms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
