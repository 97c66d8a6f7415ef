"""Nue payment application → NetSuite customerPayment on the Nue clearing account.

Money collected by Stripe, Nue payment links or a third-party processor sits in the clearing
account until the payout is deposited; the payment is applied to the invoices Nue applied it to.
"""

from __future__ import annotations

from nue_ns.integration import Collection, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id, ref
from nue_ns.mapping.lines import (
    APPLY_LINE_OPTIONAL,
    Resolved,
    apply_sublist,
    currency,
    day,
    memo,
    money,
    netsuite_id,
)
from nue_ns.records import Payment
from nue_ns.refs import Ref


def clearing_account(config: IntegrationConfig) -> str:
    if not config.gl.clearing:
        raise MappingIncomplete("GL account 'clearing' is not configured")
    return config.gl.clearing


def payment_requirements(p: Payment) -> list[Ref]:
    return [Ref("customer", p.customer_id), *(Ref("invoice", a.invoice_id) for a in p.applications)]


def map_payment(p: Payment, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    if config.collection is Collection.netsuite:
        # Enqueueing refuses these; a payment accepted before the scenario changed waits here.
        raise MappingIncomplete("the integration collects payments in NetSuite: Nue payments are not pushed")
    body = {
        "customer": ref(netsuite_id(resolved, "customer", p.customer_id)),
        "payment": money(p.amount),
        "tranDate": day(p.payment_date),
        "currency": currency(config, p.currency),
        # Deposited to the clearing account itself: `account` counts only with Undeposited Funds
        # off (the form's choice between "Undep. Funds" and "Account"), and no page says what an
        # `account` does while undepFunds keeps an account's default of on [U]. So undepFunds is
        # sent off, "F", in the account's shape (mapping/fit.py selects): {"id": "F"} as the REST
        # API Browser types it (an object {id, refName}), false where the account says boolean.
        "undepFunds": {"id": "F"},
        "account": ref(clearing_account(config)),
        # Applied only to the invoices Nue applied it to, never by NetSuite's own choice.
        "autoApply": False,
        "memo": memo(p.collected_via.value, p.reference),
        "apply": apply_sublist(
            (netsuite_id(resolved, "invoice", a.invoice_id), a.amount) for a in p.applications
        ),
    }
    return NsRequest(
        "customerPayment",
        external_id("payment", p.id),
        body,
        replace=("apply",),
        optional=APPLY_LINE_OPTIONAL,
        selects=frozenset({"undepFunds"}),
    )
