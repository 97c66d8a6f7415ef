"""Who numbers a transaction: NetSuite, unless the account lets nue-ns keep Nue's number (pure).

Auto-generated numbers are always on for transactions, and a number typed in (or sent as
`tranId`) is kept only where "Allow Override" is checked for that transaction type
[section_N252198, section_N547392]. So `tranId` is sent only for the types the integration lists
in `tran_id_override`; elsewhere NetSuite numbers the document and Nue's number goes to the
configured custom body field (`number_field`, which the account must have: `fit` names it when
missing) or to `memo`. The number NetSuite gave is read back later, never on the write path (the
upsert answers 204 with no body): see docs/NETSUITE_SETUP.md "Numbering".
"""

from __future__ import annotations

from dataclasses import replace

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest


def place_number(record_type: str, request: NsRequest, config: IntegrationConfig) -> NsRequest:
    if "tranId" not in request.body or record_type in config.tran_id_override:
        return request
    body = dict(request.body)
    nue_number = body.pop("tranId")
    field = config.number_field or "memo"
    body[field] = f"{nue_number} ({body[field]})" if body.get(field) else nue_number
    return replace(request, body=body)
