"""Refused at the door, with the reason: what the integration's collection scenario does not sync,
and a product whose NetSuite item type would change (real PostgreSQL, the HTTP API)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nue_ns.hub import transfers
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import save_config
from nue_ns.hub.models import Record
from nue_ns.integration import SANDBOX_GL, Collection, IntegrationConfig
from nue_ns.producer import InvalidBatch, enqueue_many
from tests.api_support import bearer, key
from tests.test_mapping_documents import CREDIT_MEMO, REFUND


def _stored(ctx) -> list[str]:
    with session_scope(ctx.engine) as s:
        return list(s.scalars(select(Record.record_type)))


@pytest.mark.parametrize(("record_type", "data"), [("refund", REFUND), ("credit_memo", CREDIT_MEMO)])
def test_refunds_and_credit_memos_are_refused_when_netsuite_collects(hub, client, record_type, data):
    save_config(hub.engine, "default", IntegrationConfig(gl=SANDBOX_GL, collection=Collection.netsuite))
    r = client.post(f"/v1/records/{record_type}", json=[data], headers=bearer(key("producer")))
    assert r.status_code == 422, r.text
    reason = r.text
    assert "integration 'default' collects payments in NetSuite (collection scenario 'netsuite')" in reason
    assert "synced only when Nue collects (stripe, nue_payment_link, third_party)" in reason
    assert _stored(hub) == []
    # Under a Nue collection the same records are accepted.
    save_config(hub.engine, "default", IntegrationConfig(gl=SANDBOX_GL, collection=Collection.third_party))
    assert enqueue_many(record_type, [data], ctx=hub, dispatch_now=False)[0].created


def test_a_product_whose_item_type_would_change_is_refused(hub):
    product = {"id": "P-1", "sku": "S-1", "name": "Seats", "product_type": "subscription"}
    [accepted] = enqueue_many("product", [product], ctx=hub, dispatch_now=False)
    with session_scope(hub.engine) as s:  # as if transferred: the hub knows its NetSuite type
        rec = s.get(Record, accepted.id)
        s.expunge(rec)
    transfers.complete(hub.engine, rec, "nonInventorySaleItem", "nue-item-P-1", "301")
    renamed = product | {"name": "Seats (v2)"}
    assert enqueue_many("product", [renamed], ctx=hub, dispatch_now=False)[0].created
    with pytest.raises(InvalidBatch) as err:
        enqueue_many("product", [renamed, product | {"product_type": "asset"}], ctx=hub, dispatch_now=False)
    [problem] = err.value.as_json()
    assert problem["index"] == 1 and problem["errors"][0]["field"] == "product_type"
    assert (
        "maps to NetSuite inventoryItem, but the product is already in NetSuite as nonInventorySaleItem"
        in (problem["errors"][0]["reason"])
    )
    # A type that maps to the same NetSuite item type is no change for NetSuite.
    same = IntegrationConfig(gl=SANDBOX_GL, item_types={"subscription": "nonInventorySaleItem",
                                                        "asset": "nonInventorySaleItem"})  # fmt: skip
    save_config(hub.engine, "default", same)
    assert enqueue_many("product", [product | {"product_type": "asset"}], ctx=hub, dispatch_now=False)
