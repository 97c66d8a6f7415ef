"""Nue refund application → NetSuite customerRefund, paid out of the Nue clearing account and
applied to the payments (unapplied cash) or credit memos it returns."""

from __future__ import annotations

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id, ref
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
from nue_ns.mapping.payment import clearing_account
from nue_ns.records import Refund, RefundApplication
from nue_ns.refs import Ref


def _source(a: RefundApplication) -> Ref:
    return Ref("payment", a.payment_id) if a.payment_id else Ref("credit_memo", a.credit_memo_id or "")


def refund_requirements(r: Refund) -> list[Ref]:
    return [Ref("customer", r.customer_id), *dict.fromkeys(_source(a) for a in r.applications)]


def map_refund(r: Refund, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    applied = [(netsuite_id(resolved, _source(a).type, _source(a).id), a.amount) for a in r.applications]
    body = {
        "customer": ref(netsuite_id(resolved, "customer", r.customer_id)),
        "total": money(r.amount),
        "tranDate": day(r.refund_date),
        "currency": currency(config, r.currency),
        "account": ref(clearing_account(config)),
        "memo": memo(r.refunded_via, r.reference),
        "apply": apply_sublist(applied),
    }
    return NsRequest(
        "customerRefund", external_id("refund", r.id), body, replace=("apply",), optional=APPLY_LINE_OPTIONAL
    )
