"""A real NetSuite account's record schema, as the repository keeps it.

schema/account-2025-09.json is derived by scripts/derive_netsuite_schema.py from the OpenAPI
document one NetSuite account's metadata catalog emitted (2025-09-02): its component schemas with
field names, types, references, sublist keys (`x-ns-sublistkey`) and custom-field markers
(`x-ns-custom-field`), without prose. It covers customer, invoice, creditMemo, account, currency,
term, taxType, vendor, vendorBill and salesTaxItem.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "account-2025-09.json"


@cache
def derived_document() -> dict[str, Any]:
    """The derived schema: {"schemas": {name: schema}, "transforms": [...], ...} (read once)."""
    text = resources.files("nue_ns.sandbox").joinpath("schema", SCHEMA_FILE).read_text()
    return json.loads(text)


def openapi_document() -> dict[str, Any]:
    """The derived schema in OpenAPI shape (`components.schemas`), as `$ref`s inside it expect."""
    return {"openapi": "3.0.1", "components": {"schemas": derived_document()["schemas"]}}
