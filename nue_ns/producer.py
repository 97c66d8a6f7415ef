"""The Python API for upstream systems: validate, make durable in the hub, then dispatch.

A call returns only after its records are committed in PostgreSQL; a batch is all-or-nothing:
if any record is invalid, none is stored and the error names every bad record and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from nue_ns import currencies, dispatch, mapping, profile, records
from nue_ns.context import Context, get_context
from nue_ns.hub import intake, links
from nue_ns.hub.intake import Accepted
from nue_ns.hub.integrations import DEFAULT, config_of, ensure_default
from nue_ns.hub.models import Integration
from nue_ns.integration import Collection, IntegrationConfig

# The most records one call may carry (API, CLI and Python alike); docs/OPERATIONS.md says so.
MAX_BATCH = 10_000


class InvalidBatch(ValueError):
    """Some records of a batch are invalid; nothing of the batch was stored."""

    def __init__(self, problems: list[records.InvalidRecord]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} invalid record(s), nothing stored:\n{shown}{more}")

    def as_json(self) -> list[dict[str, Any]]:
        return [{"index": p.index, "type": p.record_type, "errors": p.errors} for p in self.problems]


def enqueue(
    record_type: str, data: dict[str, Any], *, integration: str = DEFAULT, ctx: Context | None = None
) -> Accepted:
    return enqueue_many(record_type, [data], integration=integration, ctx=ctx)[0]


def enqueue_many(
    record_type: str,
    items: Iterable[dict[str, Any]],
    *,
    integration: str = DEFAULT,
    ctx: Context | None = None,
    dispatch_now: bool = True,
) -> list[Accepted]:
    items = list(items)
    if len(items) > MAX_BATCH:
        raise InvalidBatch([too_big(record_type, len(items))])
    ctx = ctx or get_context()
    if integration == DEFAULT:
        ensure_default(ctx.engine, ctx.settings)
    integ = ctx.integration(integration)
    accepted = None
    if len(items) > intake.PART:
        try:
            accepted = intake.accept_parts(
                ctx.engine, integ, record_type, _parts(ctx, integ, record_type, items)
            )
        except _Unsure:
            accepted = None  # rolled back: the whole batch again, one part, to name what is wrong
    if accepted is None:
        valid = validate_all(record_type, items)
        _check(ctx, integ, record_type, valid)
        accepted = intake.accept(ctx.engine, integ, record_type, valid)
    config = config_of(integ)
    if dispatch_now and not config.scheduled_mode:
        dispatch.dispatch(ctx, integ.id)
    return accepted


class _Unsure(Exception):
    """A part of a batch has an invalid record, or a record of an earlier part: stored in one part."""


def _parts(
    ctx: Context, integ: Integration, record_type: str, items: list[Any]
) -> Iterator[list[records._Record]]:
    """The batch validated part by part, for intake.accept_parts to insert each part while the next
    is validated; the whole batch is checked after its last part, before the commit."""
    valid: list[records._Record] = []
    seen: set[str] = set()
    for start in range(0, len(items), intake.PART):
        try:
            part = [records.validate(record_type, item) for item in items[start : start + intake.PART]]
        except records.InvalidRecord:
            raise _Unsure from None
        if not seen.isdisjoint(rec.id for rec in part):
            raise _Unsure
        seen.update(rec.id for rec in part)
        valid += part
        yield part
    _check(ctx, integ, record_type, valid)


def _check(ctx: Context, integ: Integration, record_type: str, valid: list[records._Record]) -> None:
    """What a valid batch must also meet to be stored: mapping readiness, the integration's
    collection scenario, known currencies, amounts within their currency's precision in the
    account, no item type change. Raises InvalidBatch."""
    unready = [
        records.InvalidRecord(record_type, [reason], i)
        for i, rec in enumerate(valid)
        if (reason := mapping.not_ready(record_type, rec))
    ]
    if unready:
        raise InvalidBatch(unready)
    config = config_of(integ)
    refused = _collection_refusal(record_type, integ.name, config)
    if refused:
        raise InvalidBatch([records.InvalidRecord(record_type, [{"field": "(record)", "reason": refused}])])
    known = profile.load(integ.profile)
    if known is None:  # before the account's profile is read, an explicit currency map rules
        _check_currencies(record_type, valid, config)
    problems = currencies.against_the_account(record_type, valid, integ, config, known)
    problems += currencies.cross_currency(ctx, integ, record_type, valid)
    if problems:
        raise InvalidBatch(sorted(problems, key=lambda p: p.index or 0))
    if record_type == "product":
        _refuse_type_changes(ctx, integ.id, config, valid)


# What Nue pushes only when it collects (the tutorial's data model: payment applications, refund
# applications and credit memos "only apply if using Nue collections").
_NUE_COLLECTIONS_ONLY = {
    "payment": "payments",
    "refund": "refund applications",
    "credit_memo": "credit memos",
}


def _collection_refusal(record_type: str, name: str, config: IntegrationConfig) -> str | None:
    what = _NUE_COLLECTIONS_ONLY.get(record_type)
    if what is None or config.collection is not Collection.netsuite:
        return None
    nue = ", ".join(c.value for c in Collection if c is not Collection.netsuite)
    return (
        f"integration {name!r} collects payments in NetSuite (collection scenario 'netsuite'): "
        f"{what} are synced only when Nue collects ({nue}); payments flow from NetSuite to Nue"
    )


def _refuse_type_changes(
    ctx: Context, integration_id: int, config: IntegrationConfig, products: Sequence[records._Record]
) -> None:
    """NetSuite cannot change an item's record type, and an externalId is unique across all item
    types [section_N3436356]: a product whose item type would change is refused, naming both."""
    sent = links.ns_types(ctx.engine, integration_id, "product", [p.id for p in products])
    problems = []
    for i, p in enumerate(products):
        assert isinstance(p, records.Product)
        before, now = sent.get(p.id), config.item_type(p.product_type).value
        if before is not None and before != now:
            reason = (
                f"is {p.product_type.value!r}, which maps to NetSuite {now}, but the product is "
                f"already in NetSuite as {before}: NetSuite cannot change an item's type; create a "
                "new product in Nue (a new id) or map this product type back"
            )
            problems.append(
                records.InvalidRecord("product", [{"field": "product_type", "reason": reason}], i)
            )
    if problems:
        raise InvalidBatch(problems)


def _check_currencies(record_type: str, valid: list[records._Record], config) -> None:
    """A currency the integration maps to no NetSuite currency would wait for the mapping for ever:
    refused at the door once the integration has a currency map at all."""
    accepted = set(config.currency_ids) or None
    if accepted is None:
        return  # no map yet: records wait for the mapping, named, until an operator sets one
    bad = [
        records.InvalidRecord(record_type, [{"field": "currency", "reason": problem}], i)
        for i, rec in enumerate(valid)
        if (code := getattr(rec, "currency", None)) and (problem := records.currency_problem(code, accepted))
    ]
    if bad:
        raise InvalidBatch(bad)


def too_big(record_type: str, n: int) -> records.InvalidRecord:
    reason = f"holds {n} records; a batch holds at most {MAX_BATCH}: split it"
    return records.InvalidRecord(record_type, [{"field": "(batch)", "reason": reason}])


def validate_all(record_type: str, items: Sequence[Any]) -> list[records._Record]:
    valid, problems = [], []
    for i, item in enumerate(items):
        try:
            valid.append(records.validate(record_type, item, index=i))
        except records.InvalidRecord as exc:
            problems.append(exc)
    if problems:
        raise InvalidBatch(problems)
    if not valid:
        raise InvalidBatch([records.InvalidRecord(record_type, [{"field": "(batch)", "reason": "is empty"}])])
    return valid
