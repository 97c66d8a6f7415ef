"""The transform step's exactly-once rule over a fake NetSuite client (no I/O): a refused transform
whose document exists is that document; one that does not exist stays refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests

from nue_ns import linking, mapping, records
from nue_ns.cli import changed_config
from nue_ns.integration import IntegrationConfig, InvoiceLink
from nue_ns.mapping import links
from nue_ns.mapping.base import NsRequest
from nue_ns.netsuite.client import NetSuiteClient, WriteResult
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.refs import Ref
from tests.test_mapping_documents import CONFIG, CREDIT_MEMO, INVOICE, LINES, ORDER, RESOLVED

TRANSFORM = links.TransformRequest(
    "invoice", "501", "creditMemo", "nue-cm-CM-1", {"externalId": "nue-cm-CM-1"}
)


class FakeClient:
    base_url = "https://x/services/rest"

    def __init__(self, existing: dict[str, str]):
        self.existing, self.calls = existing, []

    def transform(self, *args):
        self.calls.append(("POST", args[:3]))
        raise NetSuiteError(
            Kind.NEEDS_PERSON, "A record with this external ID already exists.", 400, "USER_ERROR"
        )

    def get(self, ns_type, ref, expand=False):
        self.calls.append(("GET", (ns_type, ref)))
        if ref[4:] in self.existing:
            return {"id": self.existing[ref[4:]]}, Exchange("GET", ref)
        raise NetSuiteError(Kind.NEEDS_PERSON, "The record instance does not exist.", 404, "NONEXISTENT_ID")


@pytest.fixture
def direct(monkeypatch):
    """The gateway's governance is tested on its own (tests/test_gateway.py): here, call send()."""
    monkeypatch.setattr(linking.gateway, "call", lambda ctx, conn, m, url, body, send, **kw: send()[0])


def test_a_repeated_transform_is_resolved_by_reading_the_document(direct):
    conn = SimpleNamespace(client=FakeClient({"nue-cm-CM-1": "777"}))
    assert linking._post(None, conn, None, TRANSFORM) == "777"
    assert conn.client.calls == [
        ("POST", ("invoice", "501", "creditMemo")),
        ("GET", ("creditMemo", "eid:nue-cm-CM-1")),
    ]


def test_a_refused_transform_without_a_document_stays_refused(direct):
    conn = SimpleNamespace(client=FakeClient({}))
    with pytest.raises(NetSuiteError, match="already exists"):
        linking._post(None, conn, None, TRANSFORM)


def test_a_retry_reads_before_it_transforms(direct):
    conn = SimpleNamespace(client=FakeClient({"nue-cm-CM-1": "777"}), config=IntegrationConfig())
    memo = records.validate("credit_memo", CREDIT_MEMO)
    plan = linking.Plan(NsRequest("creditMemo", "nue-cm-CM-1", {}), "credit_memo")
    rec = SimpleNamespace(attempts=1)
    assert linking.transform(None, conn, rec, plan, memo, {}) == "777"
    assert [c[0] for c in conn.client.calls] == ["GET"]  # found: no second transform


def test_the_link_mode_is_set_from_the_command_line():
    assert (
        changed_config(IntegrationConfig(), invoice_link="standalone").invoice_link is InvoiceLink.standalone
    )
    with pytest.raises(ValueError, match="invoice_link"):
        changed_config(IntegrationConfig(), invoice_link="sometimes")


def test_write_results_pair_with_their_exchange():
    result = WriteResult("1", Exchange("POST", "u"))
    assert linking._pair(result) == (result, result.exchange)


def test_an_invoice_whose_order_lines_are_billed_already_is_looked_up_not_refused(direct, monkeypatch):
    """A worker killed after the transform committed: the retry (no failed attempt counted) finds the
    order billed; the invoice that billed it is this one."""
    invoice = records.validate(
        "invoice", INVOICE | {"lines": [LINES[0] | {"order_line_id": "L-1"}], "total": "1200.00"}
    )
    billed = {"id": "401", "item": {"items": [{"line": 1, "quantity": 12.0, "quantityBilled": 12.0,
                                               "custcol_nue_line_id": "L-1"}]}}  # fmt: skip
    client = FakeClient({"nue-inv-I-1": "901"})
    client.get = lambda ns_type, ref, expand=False: (  # type: ignore[method-assign]
        (billed, Exchange("GET", ref)) if ns_type == "salesOrder" else FakeClient.get(client, ns_type, ref)
    )
    monkeypatch.setattr(
        linking, "_order", lambda ctx, rec, inv: records.validate("order", ORDER | {"lines": [LINES[0]]})
    )
    conn = SimpleNamespace(client=client, config=IntegrationConfig())
    plan = linking.Plan(NsRequest("invoice", "nue-inv-I-1", {"item": {"items": [{}]}}), "invoice")
    resolved = {Ref("order", "O-1"): "401"}
    assert linking.transform(None, conn, SimpleNamespace(attempts=0), plan, invoice, resolved) == "901"
    assert ("POST", ("salesOrder", "401", "invoice")) not in client.calls
    client.existing.clear()
    with pytest.raises(links.LinkRefused, match="closed or billed in full"):
        linking.transform(None, conn, SimpleNamespace(attempts=0), plan, invoice, resolved)


def test_the_product_names_a_transform_source_by_its_internal_id(direct, monkeypatch):
    """The real client builds the path (it refuses anything but an internal id, as NetSuite's
    OpenAPI types it): a credit memo from its invoice and an invoice from its order go by the ids
    the hub resolved, never `eid:`."""
    client = NetSuiteClient(
        "123", requests.auth.HTTPBasicAuth("u", "p"), rest_url="https://ns.test/services/rest"
    )
    sent: list[tuple[str, str]] = []

    def send(method, path, body=None, query=None, headers=None, accept=None):
        sent.append((method, path))
        answer = requests.Response()
        answer.status_code = 204
        answer.headers["Location"] = f"https://ns.test/services/rest/record/v1/x/{900 + len(sent)}"
        return answer, Exchange(method, path, request_body=body)

    monkeypatch.setattr(client, "_send", send)
    conn = SimpleNamespace(client=client, config=IntegrationConfig())
    memo = records.validate("credit_memo", CREDIT_MEMO)
    plan = linking.Plan(mapping.build("credit_memo", memo, CONFIG, RESOLVED), "credit_memo")
    made = linking.transform(None, conn, SimpleNamespace(attempts=0), plan, memo, RESOLVED)
    assert made == "901" and sent == [
        ("POST", f"/record/v1/invoice/{RESOLVED[Ref('invoice', 'I-1')]}/!transform/creditMemo")
    ]
    # An invoice from its order: the order read by its internal id, transformed by it.
    order_lines = [{"line": 1, "quantity": 12.0, "custcol_nue_line_id": "L-1"}]
    monkeypatch.setattr(
        client, "get", lambda t, ref, expand=False: ({"id": ref, "item": {"items": order_lines}}, None)
    )
    monkeypatch.setattr(
        linking, "_order", lambda ctx, rec, inv: records.validate("order", ORDER | {"lines": [LINES[0]]})
    )
    invoice = records.validate(
        "invoice", INVOICE | {"lines": [LINES[0] | {"order_line_id": "L-1"}], "total": "1200.00"}
    )
    plan = linking.Plan(mapping.build("invoice", invoice, CONFIG, RESOLVED), "invoice")
    linking.transform(None, conn, SimpleNamespace(attempts=0), plan, invoice, RESOLVED)
    assert sent[-1] == ("POST", f"/record/v1/salesOrder/{RESOLVED[Ref('order', 'O-1')]}/!transform/invoice")
