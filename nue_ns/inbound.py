"""NetSuite -> Nue: payments collected in NetSuite and credit memos voided there become hub events.

The poller reads changed transactions with SuiteQL, one governed call (one token) per page, in
keyset pages ordered by (lastmodifieddate, id): each page asks for the rows strictly after the last
row read, so a row that changes while a poll runs moves to the end instead of shifting the pages
under it, and rows sharing one timestamp are told apart by id. Each page's events and the new
watermark commit in one transaction, so a poll stopped anywhere resumes where it stopped. A small
look-back overlap re-reads the last minutes (late commits keep an early lastmodifieddate) and the
idempotency key of each change makes a re-read row a no-op.

Nothing nue-ns wrote comes back: payments with a `nue-` externalId or an internal id in ns_links
are skipped. Delivery to Nue is webhook.py's job.

How NetSuite shows these changes is in docs/NETSUITE.md "Inbound SuiteQL": status is filtered
through BUILTIN.CF (article_1029114514); a void may show as the status letter V, the voided flag,
or both, and a voided payment reports no applications (section_N563543); amounts are unsigned;
result names are read whatever their case (section_156257796125).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nue_ns import gateway
from nue_ns.context import Connection, Context
from nue_ns.hub import events, links
from nue_ns.hub.integrations import list_integrations
from nue_ns.hub.models import Integration
from nue_ns.hub.models_inbound import EventKind, EventState, InboundEvent
from nue_ns.integration import Collection
from nue_ns.mapping.base import EXTERNAL_ID_PREFIX
from nue_ns.mapping.lines import currency_ids
from nue_ns.netsuite import literals
from nue_ns.netsuite.errors import NetSuiteError

log = logging.getLogger(__name__)

SUITEQL_TIME = literals.TIME_FORMAT
_TIME = "%Y-%m-%d %H:%M:%S"
# The time zone SuiteQL shows times in is unpublished (the account's, the role's user's, or UTC:
# anywhere from UTC-12 to UTC+14; docs/NETSUITE.md "Inbound SuiteQL"): the first poll of an
# integration starts this far before its creation so no zone makes it miss a change.
_FIRST_POLL_LOOKBACK = dt.timedelta(hours=14)

# A status's type and letter pair, without spaces: 'CustCred:V' (BUILTIN.CF, article_1029114514).
_STATUS = "REPLACE(BUILTIN.CF(t.status), ' ', '')"
_CM_PREFIX, _PAY_PREFIX = EXTERNAL_ID_PREFIX["credit_memo"], EXTERNAL_ID_PREFIX["payment"]
_PAYMENTS = "(t.type = 'CustPymt' AND (t.externalid IS NULL OR t.externalid NOT LIKE 'nue-%'))"
_VOIDED = f"({_STATUS} = '{{type}}:V' OR t.voided = 'T')"  # status letter V, or the voided flag
_VOIDS = f"(t.type = 'CustCred' AND {_VOIDED.format(type='CustCred')} AND t.externalid LIKE '{_CM_PREFIX}%')"
# A payment nue-ns wrote (collected in Nue: Stripe, payment links) that was voided in NetSuite since:
# the invoices it paid are open there again (section_N563543), so Nue hears of it in either mode.
_NUE_PAYMENT_VOIDS = (
    f"(t.type = 'CustPymt' AND {_VOIDED.format(type='CustPymt')} AND t.externalid LIKE '{_PAY_PREFIX}%')"
)
_NS_TYPES = {"CustPymt": "customerPayment", "CustCred": "creditMemo"}
_KINDS = {"CustPymt": EventKind.PAYMENT_RECEIVED, "CustCred": EventKind.CREDIT_MEMO_VOIDED}


def changes_query(payments: bool, key: tuple[dt.datetime, int]) -> str:
    """Changed payments (when collecting in NetSuite) and voided nue-ns payments and credit memos
    after a key, its values inlined as validated literals (nue_ns/netsuite/literals.py: REST SuiteQL
    has no bind parameters)."""
    kinds = (
        f"{_PAYMENTS} OR {_VOIDS} OR {_NUE_PAYMENT_VOIDS}"
        if payments
        else f"{_VOIDS} OR {_NUE_PAYMENT_VOIDS}"
    )
    after, after_id = literals.timestamp(key[0]), literals.integer(key[1])
    return (
        "SELECT t.id, t.type, t.tranid, t.externalid, t.entity, t.foreigntotal, t.currency, t.voided, "
        f"{_STATUS} AS status, "
        # The ISO code from the account itself (currency.symbol): internal ids are the account's.
        "c.symbol AS currencycode, "
        f"TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, TO_CHAR(t.lastmodifieddate, '{SUITEQL_TIME}') "
        "AS lastmodified FROM transaction t LEFT JOIN currency c ON c.id = t.currency "
        f"WHERE ({kinds}) AND (t.lastmodifieddate > {after} "
        f"OR (t.lastmodifieddate = {after} AND t.id > {after_id})) ORDER BY t.lastmodifieddate, t.id"
    )


def applications_query(payment_ids: Sequence[int]) -> str:
    """The invoices these payments apply to: their links of type 'Payment' only (the table links
    fulfilments, billings, deposit applications too: 'ShipRcpt', 'OrdBill', 'DepAppl' in public
    SuiteQL [J]). The link amount's sign is unpublished: abs() in _money."""
    listed = literals.integers(payment_ids)
    return (
        "SELECT l.nextdoc AS payment, l.previousdoc AS invoice, SUM(l.foreignamount) AS amount "
        f"FROM NextTransactionLineLink l WHERE l.nextdoc IN ({listed}) AND l.previoustype = 'CustInvc' "
        "AND l.linktype = 'Payment' GROUP BY l.nextdoc, l.previousdoc ORDER BY l.nextdoc, l.previousdoc"
    )


def add_applications(out: dict[str, list[tuple[str, str]]], items: list[dict[str, Any]]) -> None:
    """A page of applications_query into {payment id: [(invoice id, amount)]}."""
    for item in items:  # names in lower case (netsuite/client.lower_names)
        out.setdefault(str(item["payment"]), []).append((str(item["invoice"]), str(item.get("amount", "0"))))


# ---------------------------------------------------------------- what a page holds


@dataclass(frozen=True)
class Change:
    """One row of the changes query."""

    id: int
    type: str  # CustPymt | CustCred
    lastmodified: dt.datetime
    row: dict[str, str]

    @classmethod
    def parse(cls, item: dict[str, Any]) -> Change:
        lastmodified = dt.datetime.strptime(item["lastmodified"], _TIME)
        row = {k: str(v) for k, v in item.items() if k != "links"}
        return cls(int(item["id"]), item["type"], lastmodified, row)

    @property
    def kind(self) -> EventKind:
        """What the change tells Nue: a voided payment is its own kind, so a receiver that does not
        know it never takes it for a payment received."""
        if self.type == "CustPymt" and self.voided:
            return EventKind.PAYMENT_VOIDED
        return _KINDS[self.type]

    @property
    def voided(self) -> bool:
        """Voided: status V, or the voided flag (which of them a void sets is unpublished)."""
        return self.row.get("voided") == "T" or self.row.get("status") == f"{self.type}:V"

    @property
    def key(self) -> tuple[dt.datetime, int]:
        return self.lastmodified, self.id

    @property
    def ns_type(self) -> str:
        return _NS_TYPES[self.type]


@dataclass(frozen=True)
class Links:
    """Nue ids of the NetSuite records nue-ns wrote: {(ns_type, internal id): nue_id}."""

    nue_ids: dict[tuple[str, str], str]

    def nue_id(self, ns_type: str, internal_id: str | None) -> str | None:
        return self.nue_ids.get((ns_type, internal_id or ""))


def _money(value: str) -> str:
    return str(abs(Decimal(value)).quantize(Decimal("0.01")))


def payment_content(
    change: Change, applications: Sequence[tuple[str, str]], links: Links, currencies: dict[str, str]
) -> dict[str, Any]:
    """What a payment reports: amount, customer, and each application with the Nue invoice id; a
    voided one applies to nothing (a void reopens what it paid, section_N563543)."""
    r = change.row
    voided = change.voided
    applied = []
    for invoice_id, amount in [] if voided else applications:
        nue_id = links.nue_id("invoice", invoice_id)
        applied.append(
            {"invoice": {"netsuite_id": invoice_id, "nue_id": nue_id, "known": nue_id is not None}}
            | {"amount": _money(amount)}
        )
    total = abs(Decimal(r.get("foreigntotal") or "0"))  # signed by type in SuiteQL: unsigned here
    used = sum((Decimal(a["amount"]) for a in applied), Decimal(0))
    customer = r.get("entity")
    external_id = r.get("externalid") or ""
    nue_id = links.nue_id("customerPayment", str(change.id)) or (
        external_id.removeprefix(_PAY_PREFIX) if external_id.startswith(_PAY_PREFIX) else None
    )
    return {
        "payment": {
            "nue_id": nue_id,  # a payment nue-ns wrote (reported when voided); None for NetSuite's own
            "amount": _money(str(total)),
            "currency": r.get("currencycode") or currencies.get(r.get("currency", "")),
            "tran_date": r.get("trandate"),
            "tran_id": r.get("tranid"),
            "customer": {"netsuite_id": customer, "nue_id": links.nue_id("customer", customer)},
            "voided": voided,
            "applications": applied,
            "unapplied": _money(str(max(total - used, Decimal(0)) if not voided else Decimal(0))),
        }
    }


def credit_memo_content(change: Change, links: Links) -> dict[str, Any]:
    r = change.row
    external_id = r.get("externalid", "")
    nue_id = links.nue_id("creditMemo", str(change.id)) or external_id.removeprefix(_CM_PREFIX)
    return {
        "credit_memo": {
            "nue_id": nue_id,
            "netsuite_id": str(change.id),
            "external_id": external_id,
            "tran_id": r.get("tranid"),
        }
    }


def idempotency_key(integration_id: int, change: Change) -> str:
    """Deterministic per change, so a re-read row or a second poller never makes a second event."""
    stamp = change.lastmodified.strftime("%Y%m%dT%H%M%S")
    return f"nue-ns:{integration_id}:{change.ns_type}:{change.id}:{stamp}"


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- governed SuiteQL


class PollStopped(Exception):
    """The poll ends early (no call slot, NetSuite error); what it committed stays."""


class _Reader:
    """SuiteQL for one integration's poll: each page paid with one governor token and logged."""

    def __init__(self, ctx: Context, conn: Connection) -> None:
        self.ctx, self.conn = ctx, conn
        self.calls = 0

    def query(self, q: str, limit: int, offset: int = 0) -> dict[str, Any]:
        self.calls += 1
        try:
            return gateway.suiteql(self.ctx, self.conn, q, limit=limit, offset=offset)
        except gateway.NoCallSlot as exc:
            self.calls -= 1  # no token, no call
            raise PollStopped(str(exc)) from None
        except NetSuiteError as err:
            raise PollStopped(f"SuiteQL failed: {err}") from err

    def applications(self, payment_ids: list[int]) -> dict[str, list[tuple[str, str]]]:
        """{payment id: [(invoice id, amount)]}, every page of the answer."""
        out: dict[str, list[tuple[str, str]]] = {}
        limit, offset = 1000, 0
        while payment_ids:
            page = self.query(applications_query(payment_ids), limit, offset)
            add_applications(out, page.get("items", []))
            if not page.get("hasMore"):
                break
            offset += limit
        return out


# ---------------------------------------------------------------- the hub side


def _watermark(ctx: Context, integ: Integration) -> tuple[dt.datetime, int]:
    """The stored watermark, created at the first poll."""
    start = integ.created_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0) - _FIRST_POLL_LOOKBACK
    return events.watermark(ctx.engine, integ.id, start)


def _links(ctx: Context, integration_id: int, refs: set[tuple[str, str]]) -> Links:
    return Links(links.nue_ids_of(ctx.engine, integration_id, refs))


@dataclass
class _Counts:
    created: int = 0
    echoes: int = 0
    unchanged: int = 0  # already an event (re-read), or nothing new to report


def _record_page(
    ctx: Context,
    integ: Integration,
    changes: list[Change],
    contents: dict[int, dict[str, Any] | None],
    last_key: tuple[dt.datetime, int],
) -> _Counts:
    """The page's events, in key order, into the hub with the watermark moved past the page
    (events.record_page: one transaction); a payment nue-ns wrote itself is an echo, not an event."""
    counts = _Counts()
    new = []
    for change in changes:
        content = contents[change.id]
        if content is None:
            counts.echoes += 1
            continue
        key = idempotency_key(integ.id, change)
        payload = {
            "event_id": key,
            "type": change.kind.value,
            "integration": integ.name,
            "sequence": None,  # the record's next number, given by the hub
            "netsuite": {
                "account_id": integ.account_id,
                "type": change.ns_type,
                "internal_id": str(change.id),
                "last_modified": change.lastmodified.strftime(_TIME),
            },
        } | content
        new.append(
            events.NewEvent(
                change.kind.value, change.ns_type, str(change.id), change.lastmodified, key,
                _hash(content), payload,
            )
        )  # fmt: skip
    counts.created, counts.unchanged = events.record_page(ctx.engine, integ.id, new, last_key)
    return counts


def _contents(reader: _Reader, changes: list[Change]) -> dict[int, dict[str, Any] | None]:
    """Each change's reported content; None for a payment nue-ns wrote itself (an echo)."""
    conn = reader.conn
    payments = [c.id for c in changes if c.type == "CustPymt"]
    applied = reader.applications([c.id for c in changes if c.type == "CustPymt" and not c.voided])
    refs = {("customerPayment", str(i)) for i in payments} | {("creditMemo", str(c.id)) for c in changes}
    refs |= {("customer", c.row["entity"]) for c in changes if "entity" in c.row}
    refs |= {("invoice", inv) for apps in applied.values() for inv, _ in apps}
    links = _links(reader.ctx, conn.integration.id, refs)
    currencies = {ns_id: code for code, ns_id in currency_ids(conn.config, conn.profile).items()}
    out: dict[int, dict[str, Any] | None] = {}
    for c in changes:
        if c.type == "CustCred":
            out[c.id] = credit_memo_content(c, links)
        elif _ours(c, links) and not c.voided:
            out[c.id] = None  # nue-ns wrote it (even if its externalId was changed since): an echo
        else:
            out[c.id] = payment_content(c, applied.get(str(c.id), []), links, currencies)
    return out


def _ours(change: Change, links: Links) -> bool:
    """A payment nue-ns wrote: linked in the hub, or carrying a nue-ns externalId."""
    external_id = change.row.get("externalid") or ""
    return links.nue_id("customerPayment", str(change.id)) is not None or external_id.startswith(_PAY_PREFIX)


def _handle_page(reader: _Reader, changes: list[Change], result: PollResult) -> None:
    """Turn a page's new changes into events and move the watermark past the page."""
    integ = reader.conn.integration
    known = events.known_keys(reader.ctx.engine, [idempotency_key(integ.id, c) for c in changes])
    fresh = [c for c in changes if idempotency_key(integ.id, c) not in known]
    counts = _record_page(reader.ctx, integ, fresh, _contents(reader, fresh), changes[-1].key)
    result.changes += len(changes)
    result.created += counts.created
    result.echoes += counts.echoes
    result.unchanged += counts.unchanged + len(known)


# ---------------------------------------------------------------- the poller


@dataclass
class PollResult:
    integration: str
    queries: int = 0  # SuiteQL calls made, each paid with a governor token
    changes: int = 0  # rows read
    created: int = 0  # new events
    echoes: int = 0  # payments nue-ns wrote itself
    unchanged: int = 0  # already an event (a re-read), or nothing new to report
    more: bool = False  # stopped at the page cap with rows left: the next poll goes on
    stopped: str | None = None  # why the poll ended early

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def poll(ctx: Context, integration_id: int) -> PollResult:
    """Read one integration's changes since its watermark into hub events.

    Pages inside the look-back overlap do not count against NUE_NS_INBOUND_MAX_PAGES: however many
    rows the overlap holds, every poll gets past the watermark.
    """
    conn = ctx.connection(integration_id)
    settings = ctx.settings
    reader = _Reader(ctx, conn)
    result = PollResult(conn.integration.name)
    watermark = _watermark(ctx, conn.integration)
    overlap = dt.timedelta(seconds=settings.inbound_overlap_seconds)
    key = (watermark[0] - overlap, 0) if overlap else watermark
    payments = conn.config.collection == Collection.netsuite
    pages = 0
    try:
        while True:
            page = reader.query(changes_query(payments, key), settings.inbound_page_size)
            changes = [Change.parse(item) for item in page.get("items", [])]
            if changes:
                _handle_page(reader, changes, result)
                key = changes[-1].key
            if not page.get("hasMore"):
                break
            pages += key > watermark
            if pages >= settings.inbound_max_pages:
                result.more = True
                break
    except PollStopped as stop:
        result.stopped = str(stop)
    result.queries = reader.calls
    events.poll_finished(ctx.engine, integration_id, result.stopped)
    return result


def poll_all(ctx: Context) -> list[PollResult]:
    """Every integration in turn; one integration's failure never stops the others."""
    results = []
    for integration_id, name in [(i.id, i.name) for i in list_integrations(ctx.engine)]:
        try:
            results.append(poll(ctx, integration_id))
        except Exception as exc:  # e.g. an integration whose secrets cannot be read
            log.exception("inbound poll of integration %s failed", name)
            results.append(PollResult(name, stopped=f"internal error: {type(exc).__name__}"))
    return results


# ---------------------------------------------------------------- operators


def summary(payload: dict[str, Any]) -> str:
    """One line for a table: what the event says, with Nue ids."""
    if "credit_memo" in payload:
        return f"credit memo {payload['credit_memo']['nue_id']} voided"
    pay = payload.get("payment") or {}
    parts = [
        f"{(a['invoice']['nue_id'] or 'NetSuite invoice ' + a['invoice']['netsuite_id'] + ' (unknown)')} "
        f"{a['amount']}"
        for a in pay.get("applications", [])
    ]
    customer = (pay.get("customer") or {}).get("nue_id") or "unknown customer"
    if pay.get("voided"):
        return f"payment {pay.get('amount')} {pay.get('currency') or ''} from {customer} voided"
    return f"payment {pay.get('amount')} {pay.get('currency') or ''} from {customer}: " + (
        ", ".join(parts) or "unapplied"
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def inbound_view(event: InboundEvent) -> dict[str, Any]:
    """An inbound event as the CLI and the hub API show it."""
    return {
        "id": event.id,
        "direction": "inbound",
        "integration_id": event.integration_id,
        "kind": event.kind,
        "event_id": event.idempotency_key,
        "sequence": event.sequence,
        "status": event.display_state,
        "state": event.state,
        "summary": summary(event.payload),
        "netsuite": {
            "type": event.ns_type,
            "internal_id": event.ns_internal_id,
            "last_modified": event.lastmodified.strftime(_TIME),
        },
        "attempts": event.attempts,
        "next_attempt_at": _iso(event.next_attempt_at) if event.state == EventState.PENDING else None,
        "last_status": event.last_status,
        "last_error": event.last_error,
        "delivered_at": _iso(event.delivered_at),
        "created_at": _iso(event.created_at),
        "updated_at": _iso(event.updated_at),
        "payload": event.payload,
    }
