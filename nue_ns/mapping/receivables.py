"""The integration's A/R account on the documents that post to it (pure).

An account may keep more than one Accounts Receivable account; a document then names its own
(invoice and credit memo `account`, of type AcctRec in the sandbox's and NetSuite's checks;
customer payment `arAcct`, "the Accounts Receivable account that will be affected by this
transaction", Records Browser customerpayment `aracct`), else NetSuite takes the default. One
account for all of an integration's documents (IntegrationConfig gl.receivables) keeps a payment
or a credit memo with the invoices it applies to: an apply list shows only the documents of the
applier's A/R account [J: NetSuite's form lists them by A/R account; no Oracle page in hand says
it of REST]. Refunds name it only where the account's record has the field (`if_present`: the
sandbox's hand-written customerRefund has none) [U].
"""

from __future__ import annotations

from dataclasses import replace

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, ref

# The field that holds a document's A/R account, by NetSuite record type.
FIELD = {"invoice": "account", "creditMemo": "account"} | dict.fromkeys(
    ("customerPayment", "customerRefund"), "arAcct"
)
_IF_PRESENT = frozenset({"customerRefund"})


def with_receivables(request: NsRequest, config: IntegrationConfig) -> NsRequest:
    """`request` naming the integration's A/R account, where it sets one."""
    field = FIELD.get(request.ns_type)
    if field is None or not config.gl.receivables:
        return request
    body = request.body | {field: ref(config.gl.receivables)}
    if request.ns_type in _IF_PRESENT:
        return replace(request, body=body, if_present=request.if_present | {field})
    return replace(request, body=body)
