"""Customer and item mappings on plain data (pure functions: no I/O)."""

from __future__ import annotations

import pytest

from nue_ns import mapping, records
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, GlAccounts, IntegrationConfig, ItemType
from nue_ns.mapping.base import MappingIncomplete
from tests.openapi import check_body

CONFIG = IntegrationConfig(
    gl=SANDBOX_GL,
    subsidiary_id="1",
    category_overrides={"Enterprise": GlAccounts(subscription_income="12", subscription_revenue="13")},
    currency_ids=SANDBOX_CURRENCIES,
)


def _build(rtype, data, config=CONFIG):
    return mapping.build(rtype, records.validate(rtype, data), config, {})


def test_company_customer_body_is_valid_netsuite():
    req = _build(
        "customer",
        {"id": "C-1", "name": "Acme Ltd", "email": "ap@acme.com", "phone": "+1 555 0100", "currency": "EUR"},
    )
    assert (req.ns_type, req.external_id) == ("customer", "nue-cust-C-1")
    assert req.body == {
        "isPerson": False,
        "companyName": "Acme Ltd",
        "email": "ap@acme.com",
        "phone": "+1 555 0100",
        "subsidiary": {"id": "1"},
        "currency": {"id": "2"},
    }
    check_body("customer", req.body)


def test_person_customer_uses_first_and_last_name():
    req = _build(
        "customer",
        {
            "id": "C-2",
            "name": "Pat Doe",
            "is_person": True,
            "first_name": "Pat",
            "last_name": "Doe",
            "subsidiary_id": "3",
        },
    )
    assert req.body["isPerson"] is True and "companyName" not in req.body
    assert (req.body["firstName"], req.body["lastName"], req.body["subsidiary"]) == (
        "Pat",
        "Doe",
        {"id": "3"},
    )
    check_body("customer", req.body)


@pytest.mark.parametrize(
    ("ptype", "item_type", "income", "revenue"),
    [
        ("subscription", "nonInventorySaleItem", "5", "8"),
        ("entitlement", "serviceSaleItem", "6", "9"),
        ("asset", "inventoryItem", "7", "10"),
    ],
)
def test_item_type_and_accounts_follow_product_type(ptype, item_type, income, revenue):
    req = _build("product", {"id": "P-1", "sku": "SKU1", "name": "Thing", "product_type": ptype})
    assert req.ns_type == item_type and req.external_id == "nue-item-P-1"
    assert req.body["incomeAccount"] == {"id": income}
    assert req.body["deferredRevenueAccount"] == {"id": revenue}
    if ptype == "asset":
        assert (req.body["assetAccount"], req.body["cogsAccount"]) == ({"id": "3"}, {"id": "11"})
    else:
        assert "assetAccount" not in req.body


def test_category_override_wins_and_falls_back_for_unset_accounts():
    req = _build(
        "product",
        {"id": "P-2", "sku": "E", "name": "Ent", "product_type": "subscription", "category": "Enterprise"},
    )
    assert req.body["incomeAccount"] == {"id": "12"} and req.body["deferredRevenueAccount"] == {"id": "13"}
    other = _build(
        "product", {"id": "P-3", "sku": "S", "name": "S", "product_type": "subscription", "category": "SMB"}
    )
    assert other.body["incomeAccount"] == {"id": "5"}


def test_item_type_is_configurable():
    config = CONFIG.model_copy(
        update={"item_types": {records.ProductType.asset: ItemType.non_inventory_sale}}
    )
    req = _build("product", {"id": "P-4", "sku": "A", "name": "A", "product_type": "asset"}, config)
    assert req.ns_type == "nonInventorySaleItem" and "assetAccount" not in req.body


def test_missing_gl_account_is_named():
    with pytest.raises(MappingIncomplete, match="entitlement_income"):
        _build(
            "product",
            {"id": "P-5", "sku": "X", "name": "X", "product_type": "entitlement"},
            IntegrationConfig(),
        )


def test_inactive_product_maps_to_inactive_item():
    req = _build(
        "product", {"id": "P-6", "sku": "X", "name": "X", "product_type": "entitlement", "active": False}
    )
    assert req.body["isInactive"] is True


def test_bad_records_name_the_field():
    with pytest.raises(records.InvalidRecord) as exc:
        records.validate("product", {"id": "P 7", "sku": "", "name": "X", "product_type": "gadget"})
    fields = {e["field"] for e in exc.value.errors}
    assert {"id", "sku", "product_type"} <= fields
    with pytest.raises(records.InvalidRecord, match="unknown record type"):
        records.validate("widget", {})
    with pytest.raises(records.InvalidRecord, match="first_name and last_name"):
        records.validate("customer", {"id": "C", "name": "N", "is_person": True})


def test_openapi_check_catches_misspelt_and_mistyped_fields():
    with pytest.raises(AssertionError, match="companyNmae"):
        check_body("customer", {"companyNmae": "Acme"})
    with pytest.raises(AssertionError, match="does not validate"):
        check_body("customer", {"isPerson": "yes"})
