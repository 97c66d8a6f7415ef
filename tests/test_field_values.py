"""Custom field values the integration gives (IntegrationConfig.field_values): what the config
takes, how each value is written for its field's type in the account, what a refusal naming a
mandatory field tells a person, the sandbox's switch, and end to end (real PostgreSQL, Redis, a
worker process and HTTP to the sandbox): an account with mandatory custom fields refuses
customers and invoices until the values are set, and then every record carries them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from nue_ns import mapping, records, sample
from nue_ns.account_profile import AccountProfile, RecordSchema, SublistSchema
from nue_ns.cli import changed_config
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id
from nue_ns.mapping.field_values import with_field_values
from nue_ns.netsuite import segments
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import mandatory_fields
from tests.harness import ACCOUNT

KINDS = {
    "custbody_region": "ref",
    "custbody_hold": "boolean",
    "custbody_note": "string",
    "custbody_weeks": "integer",
    "custbody_rate": "number",
    "custbody_supply": "date",
    "custbody_blob": "object",
}
LINES = SublistSchema(key=["line"], fields={"item": "ref", "amount": "number", "custcol_stream": "ref"})
INVOICE = RecordSchema(fields=dict.fromkeys(("entity", "memo"), "ref") | KINDS, sublists={"item": LINES})
PROFILE = AccountProfile(records={"invoice": INVOICE})


def _invoice(values: dict, profile: AccountProfile | None = PROFILE) -> dict:
    config = IntegrationConfig(field_values={"invoice": values})
    request = NsRequest("invoice", "nue-inv-1", {"entity": {"id": "7"}})
    return with_field_values("invoice", request, config, profile).body


# -- the configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"invoice": {"custentity_x": 1}}, "field_values.invoice.custentity_x: the custom fields of invoice"),
        ({"customer": {"custbody_x": 1}}, "are custentity... fields"),
        ({"product": {"custbody_x": 1}}, "are custitem... fields"),
        ({"invoice": {"memo": "x"}}, "String should match pattern"),
        ({"widget": {"custbody_x": 1}}, "Input should be 'customer'"),
        ({"invoice": {"custbody_x": [1]}}, "custbody_x"),
        ({"invoice": {"custbody_x": {"id": "abc"}}}, "custbody_x"),
        ({"invoice": {"custbody_x": "y" * 4001}}, "custbody_x"),
        (
            {"payment": {"item.custcol_x": 1}},
            "field_values.payment.item.custcol_x: only order, invoice, credit_memo",
        ),
        ({"invoice": {"item.custbody_x": 1}}, "String should match pattern"),
        ({"invoice": {"item.custcol_nue_line_id": "x"}}, "it is line_id_field, which nue-ns fills"),
    ],
)
def test_the_config_refuses_a_field_of_the_wrong_family_or_an_unusable_value(values, words):
    with pytest.raises(ValidationError) as exc:
        IntegrationConfig.model_validate({"field_values": values})
    assert words in str(exc.value)


def test_the_number_field_is_not_also_a_field_value():
    with pytest.raises(ValidationError, match="it is number_field, which nue-ns fills"):
        IntegrationConfig.model_validate(
            {"number_field": "custbody_nue_number", "field_values": {"invoice": {"custbody_nue_number": "x"}}}
        )


def test_the_command_line_reads_json_values_text_otherwise_and_an_empty_value_unsets():
    config = changed_config(
        IntegrationConfig(),
        field_values=[
            'invoice.custbody_region={"id": "3"}',
            "invoice.custbody_hold=true",
            "invoice.custbody_note=Net 30",
            "customer.custentity_tier=2",
        ],  # fmt: skip
    )
    assert config.model_dump(mode="json")["field_values"] == {
        "invoice": {"custbody_region": {"id": "3"}, "custbody_hold": True, "custbody_note": "Net 30"},
        "customer": {"custentity_tier": 2},
    }
    config = changed_config(config, field_values=["customer.custentity_tier=", "invoice.custbody_hold="])
    assert config.model_dump(mode="json")["field_values"] == {
        "invoice": {"custbody_region": {"id": "3"}, "custbody_note": "Net 30"}
    }
    with pytest.raises(ValueError, match="--field-value custbody_x: expected TYPE.FIELD=VALUE"):
        changed_config(config, field_values=["custbody_x=1"])
    with pytest.raises(ValueError, match="field_values.customer.custbody_x"):
        changed_config(config, field_values=["customer.custbody_x=1"])


# -- each value in its field's type -----------------------------------------------------------


def test_each_value_goes_in_the_type_the_account_gives_its_field():
    body = _invoice(
        {
            "custbody_region": 3,
            "custbody_hold": False,
            "custbody_note": 30,
            "custbody_weeks": "4",
            "custbody_rate": "2.50",
            "custbody_supply": "2026-11-30",
        }  # fmt: skip
    )
    assert body == {
        "entity": {"id": "7"},
        "custbody_region": {"id": "3"},
        "custbody_hold": False,
        "custbody_note": "30",
        "custbody_weeks": 4,
        "custbody_rate": 2.5,
        "custbody_supply": "2026-11-30",
    }
    assert _invoice({"custbody_region": {"id": "3"}})["custbody_region"] == {"id": "3"}
    assert _invoice({"custbody_rate": 3})["custbody_rate"] == 3


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("custbody_region", "East", "is a list or record field (an internal id), and 'East'"),
        ("custbody_region", True, "is a list or record field"),
        ("custbody_hold", "yes", "is a check box (true or false), and 'yes'"),
        ("custbody_note", True, "is a text field"),
        ("custbody_weeks", 2.5, "is a whole number field, and 2.5"),
        ("custbody_rate", "about 3", "is a number field"),
        ("custbody_rate", "NaN", "is a number field"),
        ("custbody_supply", "30/11/2026", "is a date field (YYYY-MM-DD)"),
        ("custbody_supply", "2026-02-30", "is a date field"),
        ("custbody_blob", "x", "is of type object, which nue-ns does not fill; remove it"),
    ],
)
def test_a_value_its_field_cannot_take_is_refused_before_any_call_naming_the_field(name, value, words):
    with pytest.raises(MappingIncomplete) as exc:
        _invoice({name: value})
    assert f"field_values.invoice.{name}: the NetSuite account's field {words}" in str(exc.value)


def test_a_line_field_goes_on_every_item_line_in_its_type_each_line_its_own_copy():
    config = IntegrationConfig(field_values={"invoice": {"item.custcol_stream": 2, "custbody_hold": True}})
    lines = [{"item": {"id": "5"}, "amount": 10}, {"item": {"id": "6"}, "amount": 20}]
    request = NsRequest("invoice", "nue-inv-1", {"entity": {"id": "7"}, "item": {"items": lines}})
    body = with_field_values("invoice", request, config, PROFILE).body
    assert body["custbody_hold"] is True and "custcol_stream" not in body
    assert [line["custcol_stream"] for line in body["item"]["items"]] == [{"id": "2"}, {"id": "2"}]
    assert body["item"]["items"][0]["custcol_stream"] is not body["item"]["items"][1]["custcol_stream"]
    assert lines[0] == {"item": {"id": "5"}, "amount": 10}  # the mapping's own lines untouched
    with pytest.raises(MappingIncomplete, match=r"field_values.invoice.item.custcol_stream: .* 'East'"):
        with_field_values(
            "invoice",
            request,
            IntegrationConfig(field_values={"invoice": {"item.custcol_stream": "East"}}),
            PROFILE,
        )


def test_without_a_profile_the_values_go_as_configured_and_other_types_are_untouched():
    assert _invoice({"custbody_region": {"id": "3"}, "custbody_x": "a"}, profile=None) == {
        "entity": {"id": "7"},
        "custbody_region": {"id": "3"},
        "custbody_x": "a",
    }
    config = IntegrationConfig(field_values={"invoice": {"custbody_region": {"id": "3"}}})
    request = NsRequest("customerPayment", "nue-pay-1", {"customer": {"id": "7"}})
    assert with_field_values("payment", request, config, PROFILE) is request


def test_the_mapping_puts_them_on_the_record_and_refuses_a_field_the_account_lacks():
    customer = records.validate("customer", sample.customers(1)[0])
    config = IntegrationConfig(
        gl=SANDBOX_GL, currency_ids=SANDBOX_CURRENCIES, field_values={"customer": {"custentity_tier": "Gold"}}
    )
    built = mapping.build("customer", customer, config, {})
    assert built.body["custentity_tier"] == "Gold"
    profile = AccountProfile(records={"customer": RecordSchema(fields=dict.fromkeys(built.body, "string"))})
    assert mapping.build("customer", customer, config, {}, profile).body["custentity_tier"] == "Gold"
    lacking = AccountProfile(
        records={"customer": RecordSchema(fields={k: "string" for k in built.body if k != "custentity_tier"})}
    )
    with pytest.raises(
        MappingIncomplete, match="no field 'custentity_tier' on customer: create the custom field"
    ):
        mapping.build("customer", customer, config, {}, lacking)


# -- what a refusal naming a mandatory field tells a person ------------------------------------


def test_a_refusal_naming_a_custom_field_says_to_give_it_a_value_and_retry():
    detail = "Please enter value(s) for: Region."
    why = segments.explained(detail)
    assert why.startswith("the NetSuite account requires Region on this record, which nue-ns does not fill")
    assert (
        "--field-value TYPE.FIELD=VALUE`, e.g. invoice.custbody_region=3" in why
        and "`nue-ns hub retry`" in why
    )
    assert why.endswith("NetSuite said: Please enter value(s) for: Region.")
    both = segments.explained("Please enter value(s) for: Department, Region")
    assert "requires Department on this record" in both and "--department ID" in both
    assert "requires Region on this record, which nue-ns does not fill" in both
    schedule = segments.explained("Please enter value(s) for: Tax Schedule.")
    assert schedule.startswith(
        "the NetSuite account requires Tax Schedule on this record: set tax_schedule_id"
    )
    assert "field_values" not in schedule
    assert segments.explained("Invalid Field Value 9 for the following field: memo") == (
        "Invalid Field Value 9 for the following field: memo"
    )


# -- the sandbox's switch ---------------------------------------------------------------------


class _Acct:
    mandatory_fields: dict = {}


def test_the_sandbox_switch_refuses_a_record_without_a_mandatory_field_value():
    acct = _Acct()
    mandatory_fields.apply(acct, {"mandatory_fields": {"invoice": {"custbody_region": "Region"}}})
    assert mandatory_fields.describe(acct) == {"mandatory_fields": {"invoice": {"custbody_region": "Region"}}}
    for body in ({}, {"custbody_region": None}, {"custbody_region": ""}):
        with pytest.raises(Exception, match=r"Please enter value\(s\) for: Region\."):
            mandatory_fields.check(acct, "invoice", body)
    mandatory_fields.check(acct, "invoice", {"custbody_region": {"id": "3"}})
    mandatory_fields.check(acct, "creditMemo", {})  # only the types it names
    mandatory_fields.apply(acct, {"mandatory_fields": {"invoice": {"item.custcol_stream": "Stream"}}})
    with pytest.raises(Exception, match=r"Please enter value\(s\) for: Stream\."):
        mandatory_fields.check(acct, "invoice", {"item": {"items": [{"custcol_stream": {"id": "2"}}, {}]}})
    mandatory_fields.check(acct, "invoice", {"item": {"items": [{"custcol_stream": {"id": "2"}}]}})
    for bad in (
        {"invoice": ["custbody_region"]},
        {"invoice": {"memo": "Memo"}},
        {"invoice": {"custbody_x": ""}},
    ):
        with pytest.raises(ValueError, match="mandatory_fields.invoice must be"):
            mandatory_fields.apply(acct, {"mandatory_fields": bad})


# -- end to end -------------------------------------------------------------------------------

MANDATORY = {
    "customer": {"custentity_bb1_market": "Market"},
    "invoice": {"custbody_transaction_region": "Region", "item.custcol_bb1_labour_type": "Labour Type"},
}


def test_mandatory_custom_fields_refuse_until_given_then_every_record_carries_them(system):
    month = sample.month(
        n_customers=2, n_products=3, n_orders=2, n_invoices=3, n_payments=1, n_refunds=1, n_credit_memos=1
    )
    system.start(rate_limit="100/1s", concurrency=5)
    switched = system.sandbox_post("switches", {"account": ACCOUNT, "mandatory_fields": MANDATORY})
    assert switched["mandatory_fields"] == MANDATORY
    system.workers(1, concurrency=4)
    ids = {rtype: [a.id for a in enqueue_many(rtype, recs)] for rtype, recs in month.items()}
    everything = [i for group in ids.values() for i in group]

    # Without the values every customer is refused once, naming the field and what to do.
    system.wait(ids["customer"], states=(State.FAILED,), what="the refused customers")
    with session_scope(system.ctx.engine) as s:
        failed = s.execute(select(Record.reason, Record.attempts).where(Record.state == State.FAILED)).all()
    assert len(failed) == len(ids["customer"])
    for reason, attempts in failed:
        assert attempts == 1
        assert "the NetSuite account requires Market on this record, which nue-ns does not fill" in reason
        assert reason.endswith("Please enter value(s) for: Market.")

    # A value the account's field cannot take is named by validate, and nothing is sent with it.
    system.cli_ok("integration", "set", "default", "--field-value", "customer.custentity_bb1_market=Gold")
    out = system.cli("integration", "validate", "default")
    assert out.returncode == 1
    assert (
        "field_values.customer.custentity_bb1_market: the NetSuite account's field is a list or record"
        in (" ".join(out.stderr.split()))
    )
    values = ["customer.custentity_bb1_market=7", "invoice.custbody_transaction_region=3"]
    values += ["invoice.custbodyinvoiceonhold=false", "invoice.item.custcol_bb1_labour_type=4"]
    system.cli_ok("integration", "set", "default", *(a for v in values for a in ("--field-value", v)))
    system.cli_ok("integration", "validate", "default")
    system.cli_ok("hub", "retry", "--all-failed")
    system.wait(everything, timeout=60, what="the month with its custom field values")

    ns = {r["externalId"]: r["body"] for r in system.ns_records() if r["externalId"]}
    for customer in month["customer"]:
        assert ns[external_id("customer", customer["id"])]["custentity_bb1_market"] == {"id": "7"}
    for invoice in month["invoice"]:  # made from their orders by transform, or standalone
        body = ns[external_id("invoice", invoice["id"])]
        assert body["custbody_transaction_region"] == {"id": "3"}
        assert body["custbodyinvoiceonhold"] is False
        assert body["item"]["items"] and all(
            line["custcol_bb1_labour_type"] == {"id": "4"} for line in body["item"]["items"]
        )


def test_a_control_character_anywhere_in_the_mapping_is_refused_naming_the_field(hub, client):
    from tests.api_support import bearer, key

    before = client.get("/v1/integrations/default", headers=bearer(key("operator"))).json()
    body = {"field_values": {"invoice": {"custbody_region": "East\u0000"}}, "tax_code_default": "S\u202e"}
    r = client.put("/v1/integrations/default", json=body, headers=bearer(key("operator")))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "tax_code_default",
            "reason": "tax_code_default: text contains a bidirectional control character (U+202E)",
        },
        {
            "field": "field_values",
            "reason": "field_values.invoice.custbody_region: text contains a NUL character",
        },
    ]
    assert (
        client.get("/v1/integrations/default", headers=bearer(key("operator"))).json() == before
    )  # nothing saved
