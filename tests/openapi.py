"""Check request bodies against a real NetSuite account's schema (nue_ns/sandbox/schema/, derived
from the account's OpenAPI document by scripts/derive_netsuite_schema.py).

The document's schemas allow unknown properties, so besides validating types this also insists
that every field we send is one NetSuite declares (what X-NetSuite-PropertyNameValidation does).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from nue_ns.sandbox.account_schema import openapi_document


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    # NetSuite's generator writes `oneOf` for references whose alternatives (customer, vendor,
    # nsResource; nsResource, salesTaxItem) all accept {"id": ...}: read strictly, no reference could
    # pass. NetSuite means "any of these".
    return json.loads(json.dumps(openapi_document()).replace('"oneOf":', '"anyOf":'))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document()["components"]["schemas"][name]
    return schema


def _unknown_fields(schema: dict[str, Any], body: Any, path: str) -> list[str]:
    schema = _resolve(schema)
    if isinstance(body, dict):
        props = schema.get("properties")
        if props is None:
            return []
        out = []
        for key, value in body.items():
            if key not in props:
                out.append(f"{path}{key}")
            else:
                out += _unknown_fields(props[key], value, f"{path}{key}.")
        return out
    if isinstance(body, list) and "items" in schema:
        return [e for i, v in enumerate(body) for e in _unknown_fields(schema["items"], v, f"{path}[{i}].")]
    return []


def check_body(record: str, body: dict[str, Any]) -> None:
    """Assert that `body` is a valid `record` (customer, invoice, creditMemo) request body."""
    doc = document()
    registry = Registry().with_resource("urn:netsuite", DRAFT4.create_resource(doc))
    schema = {"$ref": f"urn:netsuite#/components/schemas/{record}"}
    errors = [e.message for e in OAS30Validator(schema, registry=registry).iter_errors(body)]
    assert not errors, f"{record} body does not validate: {errors[:5]}"
    unknown = _unknown_fields(doc["components"]["schemas"][record], body, "")
    assert not unknown, f"{record} body has fields NetSuite does not declare: {unknown}"
