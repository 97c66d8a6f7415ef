"""Pure mapping: Nue record + integration config + resolved NetSuite ids → request body.

`requirements` says which records must be in NetSuite first; `build` makes the request. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nue_ns.hub.store import Ref
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id
from nue_ns.mapping.customer import map_customer
from nue_ns.mapping.item import map_item
from nue_ns.records import _Record

__all__ = ["MappingIncomplete", "NsRequest", "build", "external_id", "requirements"]

Resolved = Mapping[Ref, str]

_BUILDERS: dict[str, Callable[[_Record, IntegrationConfig, Resolved], NsRequest]] = {
    "customer": lambda r, c, _ids: map_customer(r, c),
    "product": lambda r, c, _ids: map_item(r, c),
}

_REQUIREMENTS: dict[str, Callable[[_Record], list[Ref]]] = {
    "customer": lambda r: [],
    "product": lambda r: [],
}


def requirements(record_type: str, record: _Record) -> list[Ref]:
    return _REQUIREMENTS[record_type](record)


def build(record_type: str, record: _Record, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    return _BUILDERS[record_type](record, config, resolved)
