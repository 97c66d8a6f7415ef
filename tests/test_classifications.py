"""Departments, classes and locations: the integration's ids on every transaction's header and item
lines (where the account has the field), NetSuite's refusal of a transaction without a mandatory
one explained to a person, the sandbox's switches that make them mandatory, and the check of the
configured ids against the account (pure, and the sandbox in-process)."""

from __future__ import annotations

import itertools
import json

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from nue_ns import mapping, records
from nue_ns.api import settings
from nue_ns.api.common import Problem
from nue_ns.api.ui_settings import SettingsForm
from nue_ns.cli import changed_config
from nue_ns.hub.integrations import save_config
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping import classifications, links, setup
from nue_ns.netsuite import segments
from nue_ns.netsuite.errors import Kind, classify_response
from nue_ns.sandbox import state, suiteql, switches
from nue_ns.sandbox.state import NsError, SandboxState
from tests.test_account_setup import profile_of
from tests.test_links import BILLING, NS_ORDER
from tests.test_mapping_documents import (
    CONFIG,
    CREDIT_MEMO,
    INVOICE,
    ORDER,
    PAYMENT,
    REFUND,
    RESOLVED,
)

IDS = {"department_id": "11", "class_id": "21", "location_id": "31"}
CLASSIFIED = CONFIG.model_copy(update=IDS)
SENT = {"department": {"id": "11"}, "class": {"id": "21"}, "location": {"id": "31"}}
DOCUMENTS = [("order", ORDER), ("invoice", INVOICE), ("credit_memo", CREDIT_MEMO)]


def build(rtype, data, config=CLASSIFIED, profile=None):
    return mapping.build(rtype, records.validate(rtype, data), config, RESOLVED, profile)


def carries(part: dict) -> dict:
    return {k: part.get(k) for k in SENT}


# -- the configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", list(IDS))
def test_each_id_is_a_netsuite_internal_id_and_a_bad_one_is_named(setting):
    assert getattr(IntegrationConfig.model_validate({setting: "7"}), setting) == "7"
    with pytest.raises(ValidationError, match=setting):
        IntegrationConfig.model_validate({setting: "Sales"})
    with pytest.raises(Problem) as err:  # the API and the settings page
        settings.parse_config({setting: "1 OR 1=1"})
    assert err.value.errors == [{"field": setting, "reason": "must be a NetSuite internal id (digits only)"}]


def test_the_command_line_sets_and_unsets_them_and_names_a_bad_one():
    config = changed_config(CONFIG, classifications={"department_id": "11", "class_id": None})
    assert (config.department_id, config.class_id, config.subsidiary_id) == ("11", None, "1")
    assert changed_config(config, classifications={"department_id": ""}).department_id is None
    with pytest.raises(ValueError, match="location_id: String should match pattern"):
        changed_config(CONFIG, classifications={"location_id": "HQ"})


# -- the mapping --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rtype", "data"), DOCUMENTS)
def test_documents_carry_them_on_the_header_and_every_item_line(rtype, data):
    body = build(rtype, data).body
    assert carries(body) == SENT
    assert body["item"]["items"] and all(carries(line) == SENT for line in body["item"]["items"])
    plain = build(rtype, data, CONFIG).body  # none configured: none sent
    assert not any(k in plain for k in SENT)
    assert not any(k in line for line in plain["item"]["items"] for k in SENT)


def test_only_the_configured_ones_are_sent():
    body = build("invoice", INVOICE, CONFIG.model_copy(update={"location_id": "31"})).body
    assert carries(body) == {"department": None, "class": None, "location": {"id": "31"}}
    assert all(carries(line) == carries(body) for line in body["item"]["items"])


def test_tax_item_lines_carry_them_too():
    """Without SuiteTax tax goes as item lines of the tax item (mapping/tax.py): item lines, so a
    mandatory classification is needed there too."""
    gl = SANDBOX_GL.model_copy(update={"tax_liability": "18"})
    config = CLASSIFIED.model_copy(update={"tax_item_id": "900", "gl": gl})
    taxed = INVOICE | {"total": "1329.09", "lines": [INVOICE["lines"][0] | {"tax_amount": "99.00"}]}
    taxed |= {"lines": [*taxed["lines"], *INVOICE["lines"][1:]]}
    items = build("invoice", taxed, config).body["item"]["items"]
    tax_lines = [line for line in items if line["item"] == {"id": "900"}]
    assert len(tax_lines) == 1 and all(carries(line) == SENT for line in items)


def test_an_account_without_the_field_gets_it_left_out():
    """The real account's invoice has all three; one whose Locations feature is off has no
    `location` on the body or its lines (its profile says so), and gets none."""
    profile = profile_of("real-2025-09", CLASSIFIED)
    body = build("invoice", INVOICE, profile=profile).body
    assert carries(body) == SENT and all(carries(line) == SENT for line in body["item"]["items"])
    invoice = profile.records["invoice"]
    invoice.fields.pop("location")
    invoice.sublists["item"].fields.pop("location")
    body = build("invoice", INVOICE, profile=profile).body
    assert "location" not in body and body["department"] == {"id": "11"}
    assert all("location" not in line and line["class"] == {"id": "21"} for line in body["item"]["items"])


def test_payments_and_refunds_carry_them_only_where_the_account_shows_the_field():
    profile = profile_of("full", CLASSIFIED)
    for rtype, data in (("payment", PAYMENT), ("refund", REFUND)):
        assert carries(build(rtype, data, profile=profile).body) == SENT
        assert not any(k in build(rtype, data).body for k in SENT)  # no profile: not known, not sent
        ns_type = "customerPayment" if rtype == "payment" else "customerRefund"
        profile.records[ns_type].fields.pop("class")
        assert carries(build(rtype, data, profile=profile).body) == SENT | {"class": None}


def test_transforms_carry_them_on_the_header_and_the_lines_they_send():
    invoice, order = records.validate("invoice", BILLING), records.validate("order", ORDER)
    request = mapping.build("invoice", invoice, CLASSIFIED, RESOLVED)
    t = links.invoice_from_order(request, invoice, order, NS_ORDER, CLASSIFIED)
    assert carries(t.body) == SENT
    sent = [line for line in t.body["item"]["items"] if line.get("quantity") != 0]
    assert len(sent) == 2 and all(carries(line) == SENT for line in sent)
    # The order's lines it does not bill, at quantity 0, carry them too (the order may predate them).
    unbilled = [line for line in t.body["item"]["items"] if line.get("quantity") == 0]
    assert unbilled and all(carries(line) == SENT for line in unbilled)
    memo = records.validate("credit_memo", CREDIT_MEMO)
    cm = links.credit_memo_from_invoice(mapping.build("credit_memo", memo, CLASSIFIED, RESOLVED), memo, "501")
    assert carries(cm.body) == SENT and all(carries(line) == SENT for line in cm.body["item"]["items"])
    assert carries(links.header_only(request).body) == SENT  # a linked document's header update


# -- NetSuite's refusal, explained ----------------------------------------------------------------


def refusal(detail: str, code: str = "USER_ERROR", path: str | None = None) -> str:
    item = {"detail": f"Error while accessing a resource. {detail}", "o:errorCode": code}
    return json.dumps({"o:errorDetails": [item | ({"o:errorPath": path} if path else {})]})


def test_a_missing_classification_names_what_to_set_and_keeps_netsuites_words():
    err = classify_response(400, refusal("Please enter value(s) for: Department, Location."))
    assert err.kind is Kind.NEEDS_PERSON
    assert err.detail.startswith("the NetSuite account requires Department, Location on this record")
    assert "Make Departments Mandatory, Make Locations Mandatory" in err.detail
    assert "set department_id, location_id" in err.detail and "--department ID --location ID" in err.detail
    assert "class_id" not in err.detail
    assert err.detail.endswith(
        "NetSuite said: Error while accessing a resource. Please enter value(s) for: Department, Location."
    )
    assert [s.setting for s in segments.missing("Please enter value(s) for: Class")] == ["class_id"]


def test_an_unknown_classification_id_names_the_setting():
    detail = "You have entered an Invalid Field Value 99 for the following field: class"
    err = classify_response(400, refusal(detail, "INVALID_CONTENT", "item.items[0].class"))
    assert err.detail.startswith("class is the integration's class_id, which NetSuite does not take here")


@pytest.mark.parametrize(
    "detail",
    [
        "You have entered an Invalid Field Value 99 for the following field: entity",
        "Please enter value(s) for: Department.",  # on a transient answer: left as NetSuite said it
    ],
)
def test_other_refusals_are_left_as_netsuite_said_them(detail):
    status = 503 if "Department" in detail else 400
    err = classify_response(status, refusal(detail))
    assert err.detail == f"Error while accessing a resource. {detail}"


# -- the sandbox: seeded values and the Make ... Mandatory switches ---------------------------------

_names = itertools.count()


@pytest.fixture
def acct() -> state.AccountData:
    return SandboxState().register_account(f"SEG{next(_names)}", "ck", "cs", "ti", "ts")


def invoice(acct: state.AccountData, header: dict, line: dict) -> state.Record:
    eid = f"c{next(_names)}"
    cust = state.upsert(acct, "customer", eid, {"companyName": eid, "subsidiary": {"id": "1"}}).record.id
    itm = state.upsert(
        acct, "nonInventorySaleItem", eid, {"itemId": eid, "incomeAccount": {"id": "5"}}
    ).record
    items = [{"item": {"id": itm.id}, "quantity": 1.0, "rate": 5.0, "amount": 5.0} | line]
    body = {"entity": {"id": cust}, "tranDate": "2025-03-01", "item": {"items": items}} | header
    return state.upsert(acct, "invoice", f"i{eid}", body, strict=True).record


def test_mandatory_classifications_are_needed_on_the_header_and_the_lines(acct):
    assert invoice(acct, {}, {})  # off by default
    described = switches.apply(acct, dict.fromkeys(["departments_mandatory", "classes_mandatory"], True))
    assert described["departments_mandatory"] and not described["locations_mandatory"]
    assert described["classifications"]["department"]["13"] == {"name": "Closed Unit", "isInactive": True}
    with pytest.raises(NsError) as err:
        invoice(acct, {}, {})
    assert err.value.detail.endswith("Please enter value(s) for: Department, Class.")
    header = {"department": {"id": "11"}, "class": {"id": "21"}}
    with pytest.raises(NsError) as err:  # on both levels (section_N265988)
        invoice(acct, header, {"department": {"id": "12"}})
    assert err.value.detail.endswith("Please enter value(s) for: Class.")
    rec = invoice(acct, header, {"department": {"id": "12"}, "class": {"id": "22"}})
    assert rec.body["item"]["items"][0]["department"] == {"id": "12"}


@pytest.mark.parametrize(
    ("header", "line", "path"),
    [
        ({"department": {"id": "99"}}, {}, "department"),
        ({}, {"class": {"id": "13"}}, "item.items[0].class"),  # a department's id as a class
        ({"location": {"id": "33"}}, {}, "location"),  # inactive
    ],
)
def test_an_unknown_or_inactive_classification_is_refused_naming_the_field(acct, header, line, path):
    with pytest.raises(NsError) as err:
        invoice(acct, header, line)
    assert (err.value.code, err.value.path) == ("INVALID_CONTENT", path)


def test_suiteql_lists_the_seeded_values(acct):
    page = suiteql.run(acct, {"q": classifications.query(segments.SEGMENTS[1], "23")}, 10, 0)
    assert page["items"] == [{"id": "23", "name": "Legacy", "isinactive": "T", "links": []}]


# -- validate: the configured ids against the account -------------------------------------------


def test_validate_names_an_id_that_is_not_an_active_value_of_the_account():
    profile = profile_of("full", CLASSIFIED)
    profile.classifications = {"department": {"11": "Sales"}, "classification": {}}
    found = setup.judge(CLASSIFIED, profile)
    assert found.problems == [
        "class_id: 21 is not an active class of the NetSuite account (it does not exist or is inactive)"
    ]
    assert any(w.startswith("location_id: the account's locations could not be read") for w in found.warnings)
    assert not any(p.startswith("department_id") for p in found.problems + found.warnings)


# -- the settings page ---------------------------------------------------------------------------


def test_the_settings_page_shows_the_ids_and_names_a_bad_one(client, hub):
    from tests.api_support import key
    from tests.test_ui import _csrf, _login

    hub_config = CONFIG.model_copy(update={"department_id": "11"})
    save_config(hub.engine, "default", hub_config)
    _login(client, key("operator"))
    page = client.get("/ui/integrations/default")
    assert 'name="department_id" value="11"' in page.text and 'name="class_id" value=""' in page.text
    form = {
        "csrf": _csrf(page.text), "action": "save", "collection": "stripe",
        "item_type.subscription": "nonInventorySaleItem", "item_type.entitlement": "serviceSaleItem",
        "item_type.asset": "inventoryItem", "department_id": "11", "class_id": "Hardware",
    }  # fmt: skip
    r = client.post("/ui/integrations/default", data=form)
    assert r.status_code == 422 and "<code>class_id</code>: must be a NetSuite internal id" in r.text
    assert IntegrationConfig.load(hub.integration("default").settings).class_id is None  # nothing saved
    data = SettingsForm.parse(FormData(form | {"class_id": "22", "location_id": ""}))
    assert {k: data.config_data(hub_config)[k] for k in IDS} == {
        "department_id": "11",
        "class_id": "22",
        "location_id": None,
    }
