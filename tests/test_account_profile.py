"""The account profile read from a real account's metadata catalog, and bodies fitted to it."""

from __future__ import annotations

import pytest

from nue_ns import mapping, records
from nue_ns.account_profile import AccountProfile, record_schema
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest
from nue_ns.mapping.fit import fit
from nue_ns.refs import Ref
from nue_ns.sandbox.account_schema import openapi_document


def real_profile() -> AccountProfile:
    doc = openapi_document()
    return AccountProfile(records={t: record_schema(doc, t) for t in ("customer", "invoice", "creditMemo")})


def test_record_schema_reads_fields_references_and_sublist_keys() -> None:
    invoice = record_schema(openapi_document(), "invoice")
    assert invoice is not None
    assert invoice.fields["entity"] == "ref" and invoice.fields["tranDate"] == "date"
    assert invoice.fields["total"] == "number" and invoice.fields["item"] == "sublist"
    assert invoice.sublists["item"].key == ["orderLine"]
    assert invoice.sublists["item"].fields["rate"] == "number"
    assert "custcol_prj_order_line" in invoice.sublists["item"].fields  # the account's custom column
    memo = record_schema(openapi_document(), "creditMemo")
    assert memo is not None and memo.sublists["apply"].key == ["doc", "line"]
    assert record_schema(openapi_document(), "salesOrder") is None


def test_the_real_account_has_neither_arm_nor_suitetax() -> None:
    profile = real_profile()
    assert not profile.arm and not profile.suitetax
    assert profile.has("invoice", "revRecStartDate", sublist="item") is False
    assert profile.has("salesOrder", "entity") is None  # not read


def _invoice() -> records.Invoice:
    line = {
        "id": "L-1",
        "product_id": "P-1",
        "quantity": "2",
        "unit_price": "50.00",
        "amount": "100.00",
        "start_date": "2025-03-01",
        "end_date": "2025-03-31",
    }
    data = {
        "id": "I-1",
        "customer_id": "C-1",
        "invoice_number": "INV-1",
        "invoice_date": "2025-03-01",
        "currency": "USD",
        "status": "active",
        "total": "100.00",
        "lines": [line],
    }
    return records.validate("invoice", data)


def test_optional_line_fields_the_account_lacks_are_left_out() -> None:
    resolved = {Ref("customer", "C-1"): "1", Ref("product", "P-1"): "2"}
    config = IntegrationConfig(gl=SANDBOX_GL, currency_ids=SANDBOX_CURRENCIES)
    full = mapping.build("invoice", _invoice(), config, resolved)
    assert {"revRecStartDate", "custcol_nue_line_id"} <= set(full.body["item"]["items"][0])
    fitted = mapping.build("invoice", _invoice(), config, resolved, real_profile())
    line = fitted.body["item"]["items"][0]
    assert not {"revRecStartDate", "revRecEndDate", "custcol_nue_line_id"} & set(line)
    assert line["rate"] == 50.0 and fitted.body["entity"] == {"id": "1"}


def test_a_needed_field_the_account_lacks_names_the_field_and_the_feature() -> None:
    request = NsRequest("invoice", "nue-inv-1", {"entity": {"id": "1"}, "taxDetails": {"items": []}})
    with pytest.raises(MappingIncomplete, match="taxDetails.*enable SuiteTax"):
        fit(request, real_profile())
    assert fit(request, None) is request
