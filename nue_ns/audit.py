"""`hub verify`: cross-check Transferred records against NetSuite, as accountants would by hand.

For every record the hub says is Transferred (its latest transferred version), NetSuite is asked by
externalId, in batches, with SuiteQL on `customer`, `item` and `transaction`. Every query takes a
token from the account's governor like any other call, so an audit never pushes the account over
its limits. Reported: records missing in NetSuite, and records whose NetSuite id, amount,
customer, item line count or type differ from what the hub sent. The same query reads the number
NetSuite gave each transaction (`tranid`) into the hub, so the hub shows both numbers without a
call on the write path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from nue_ns import gateway
from nue_ns.context import Connection, Context
from nue_ns.hub import audits, links
from nue_ns.hub.models import Record
from nue_ns.mapping.base import external_id
from nue_ns.netsuite.errors import Kind, NetSuiteError

BATCH = 200  # externalIds per query: well under SuiteQL's 1000-row page and Oracle's IN-list limit
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # externalIds are inlined: only these characters

# Nue record type -> (SuiteQL table, NetSuite transaction type code or None)
TABLES: dict[str, tuple[str, str | None]] = {
    "customer": ("customer", None),
    "product": ("item", None),
    "order": ("transaction", "SalesOrd"),
    "invoice": ("transaction", "CustInvc"),
    "payment": ("transaction", "CustPymt"),
    "refund": ("transaction", "CustRfnd"),
    "credit_memo": ("transaction", "CustCred"),
}

_QUERIES = {
    "customer": "SELECT id, externalid FROM customer WHERE externalid IN ({ids})",
    "item": "SELECT id, externalid FROM item WHERE externalid IN ({ids})",
    # The line count is of the document's item lines only: NetSuite's transactionline also holds the
    # main line (mainline 'T'), tax lines (taxline 'T') and COGS lines (iscogs 'T'), the last two
    # with an item (docs/NETSUITE.md "SuiteQL transactionline"); NVL: a flag read as null is unset.
    # The tax-item lines of an account without SuiteTax are ordinary item lines, counted.
    "transaction": (
        "SELECT t.id, t.externalid, t.type, t.tranid, t.foreigntotal, t.entity, t.voided, "
        "COUNT(tl.item) AS linecount "
        "FROM transaction t LEFT JOIN transactionline tl ON tl.transaction = t.id "
        "AND tl.mainline = 'F' AND NVL(tl.taxline, 'F') = 'F' AND NVL(tl.iscogs, 'F') = 'F' "
        "WHERE t.externalid IN ({ids}) "
        "GROUP BY t.id, t.externalid, t.type, t.tranid, t.foreigntotal, t.entity, t.voided"
    ),
}


class AuditError(RuntimeError):
    """NetSuite could not be asked (refused, unreachable, or the governor kept saying wait)."""


@dataclass
class Finding:
    record_id: int
    record_type: str
    nue_id: str
    external_id: str
    problem: str  # missing | differs
    details: list[str] = field(default_factory=list)


@dataclass
class Report:
    integration: str
    checked: int = 0
    missing: list[Finding] = field(default_factory=list)
    differing: list[Finding] = field(default_factory=list)
    queries: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.differing

    def as_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "checked": self.checked,
            "queries": self.queries,
            "ok": self.ok,
            "missing": [dataclasses.asdict(f) for f in self.missing],
            "differing": [dataclasses.asdict(f) for f in self.differing],
        }


@dataclass(frozen=True)
class _Expected:
    record: Record
    external_id: str
    amount: Decimal | None = None
    customer_nue_id: str | None = None
    lines: int | None = None


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def expected(rec: Record, tax_lines: bool = True) -> _Expected:
    """What NetSuite should hold for this record, read from the payload the hub sent. Tax is in
    the totals; `tax_lines`: the account takes tax as tax-item lines (no SuiteTax), one a taxed line."""
    p = rec.payload
    eid = rec.external_id or external_id(rec.record_type, rec.nue_id)
    lines = p.get("lines")
    if isinstance(lines, list) and tax_lines:
        lines = lines + [line for line in lines if line.get("tax_amount") is not None]
    if rec.record_type in ("invoice", "credit_memo"):
        amount = _money(p.get("total"))
    elif rec.record_type == "order":
        amount = sum(
            (
                _money(line.get(k)) or Decimal(0)
                for line in p.get("lines") or []
                for k in ("amount", "tax_amount")
            ),
            Decimal("0.00"),
        )
    elif rec.record_type in ("payment", "refund"):
        amount = _money(p.get("amount"))
    else:
        amount = None
    return _Expected(rec, eid, amount, p.get("customer_id"), len(lines) if isinstance(lines, list) else None)


def compare(exp: _Expected, row: dict[str, Any] | None, customer_ns_id: str | None) -> Finding | None:
    """None when NetSuite agrees with the hub; else what is missing or different."""
    rec = exp.record
    finding = Finding(rec.id, rec.record_type, rec.nue_id, exp.external_id, "missing")
    if row is None:
        finding.details.append(f"no NetSuite record has externalId {exp.external_id}")
        return finding
    details = finding.details
    if rec.ns_internal_id and str(row.get("id")) != rec.ns_internal_id:
        details.append(f"NetSuite id is {row.get('id')}, the hub recorded {rec.ns_internal_id}")
    code = TABLES[rec.record_type][1]
    if code and row.get("type") != code:
        details.append(f"NetSuite type is {row.get('type')}, expected {code}")
    if exp.amount is not None:
        got = _money(row.get("foreigntotal"))
        if got is None or abs(got) != abs(exp.amount):
            details.append(f"amount in NetSuite {row.get('foreigntotal')}, in the hub {exp.amount}")
    if exp.customer_nue_id is not None:
        if customer_ns_id is None:
            details.append(f"customer {exp.customer_nue_id} has no NetSuite id in the hub")
        elif str(row.get("entity")) != customer_ns_id:
            details.append(f"customer in NetSuite is {row.get('entity')}, expected {customer_ns_id}")
    if exp.lines is not None and str(row.get("linecount")) != str(exp.lines):
        details.append(f"{row.get('linecount')} line(s) in NetSuite, {exp.lines} in the hub")
    if row.get("voided") == "T":
        details.append("voided in NetSuite")
    if not details:
        return None
    finding.problem = "differs"
    return finding


def _governed_query(ctx: Context, conn: Connection, sql: str, timeout: float) -> list[dict[str, Any]]:
    """One SuiteQL page, paid for with a governor token; waits out rate limits and 429 pauses.
    The attempt log keeps the call (the governor re-seeds from it) but not the result rows."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AuditError(f"no NetSuite call slot within {timeout:g}s (the account is busy or paused)")
        try:
            page = gateway.suiteql(
                ctx, conn, sql, outcome="audit", max_wait=min(remaining, 5.0), keep_rows=False
            )
        except gateway.NoCallSlot as exc:
            time.sleep(min(exc.denied.retry_after, max(0.0, deadline - time.monotonic())))
            continue
        except NetSuiteError as err:
            if err.kind is Kind.THROTTLED:
                continue  # the gateway paused the account: the next acquire waits it out
            raise AuditError(f"NetSuite refused the audit query: {err}") from None
        if page.get("hasMore"):
            raise AuditError("a SuiteQL page overflowed; lower the batch size")
        return list(page.get("items") or [])


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def verify(
    ctx: Context,
    integration: str = "default",
    since: dt.datetime | None = None,
    *,
    batch: int = BATCH,
    timeout: float = 600.0,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check every Transferred record of `integration` (since a time) against NetSuite."""
    integ = ctx.integration(integration)
    conn = ctx.connection(integ.id)
    report = Report(integ.name)
    tax_lines = not (conn.profile is not None and conn.profile.suitetax)
    wanted = [expected(r, tax_lines) for r in audits.latest_transferred(ctx.engine, integ.id, since)]
    customers = links.customer_ids(
        ctx.engine, integ.id, [e.customer_nue_id for e in wanted if e.customer_nue_id]
    )
    by_table: dict[str, list[_Expected]] = {}
    for exp in wanted:
        by_table.setdefault(TABLES[exp.record.record_type][0], []).append(exp)
    total = len(wanted)
    if progress:
        progress(0, total)
    for table, group in by_table.items():
        for chunk in _chunks(group, batch):
            ids = [e.external_id for e in chunk if _SAFE_ID.match(e.external_id)]
            rows = (
                _governed_query(ctx, conn, _QUERIES[table].format(ids=_in_list(ids)), timeout) if ids else []
            )
            report.queries += 1 if ids else 0
            found = {str(r.get("externalid")): r for r in rows}
            _keep_tran_ids(ctx, chunk, found)
            for exp in chunk:
                customer = customers.get(exp.customer_nue_id) if exp.customer_nue_id else None
                finding = compare(exp, found.get(exp.external_id), customer)
                if finding is not None:
                    (report.missing if finding.problem == "missing" else report.differing).append(finding)
            report.checked += len(chunk)
            if progress:
                progress(report.checked, total)
    return report


def _keep_tran_ids(ctx: Context, chunk: Sequence[_Expected], found: dict[str, dict[str, Any]]) -> None:
    """Store the number NetSuite gave each transaction where the hub does not have it yet."""
    numbers = {
        e.record.id: str(found[e.external_id]["tranid"])
        for e in chunk
        if found.get(e.external_id, {}).get("tranid")
        and e.record.ns_tran_id != found[e.external_id]["tranid"]
    }
    audits.keep_tran_ids(ctx.engine, numbers)


def _in_list(ids: Sequence[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)
