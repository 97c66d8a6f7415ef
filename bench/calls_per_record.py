"""(1) NetSuite calls per transferred record, per record type, cold and warm.

Cold: a month of every record type enqueued at once into a new account, so orders, invoices,
payments, refunds and credit memos find their customers and items missing at first (they wait and
are woken), the account profile was never read nor the GL accounts checked. Warm: new versions
of the customers and products and a second month of documents under new ids, all prerequisites
already in NetSuite. Calls are what the sandbox NetSuite logged, attributed to a record type by
externalId (the transform's by the externalId in its body; the read of a sales order and the PATCH
closing its lines are made for an invoice). Run once per invoice link mode (README "Linking
documents").
"""

from __future__ import annotations

from sqlalchemy import func, select

from bench import data
from bench.env import CONFIG, wait_until, world
from bench.report import Table, verdict
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.integration import InvoiceLink
from nue_ns.records import TYPE_ORDER

ACCOUNTS = {InvoiceLink.transform: "BENCHTR00000", InvoiceLink.standalone: "BENCHSA00000"}
_BY_PREFIX = {
    "nue-cust-": "customer",
    "nue-item-": "product",
    "nue-so-": "order",
    "nue-inv-": "invoice",
    "nue-pay-": "payment",
    "nue-ref-": "refund",
    "nue-cm-": "credit_memo",
}
# The account profile's read, once per integration (and mapping): the metadata catalog and SuiteQL
# for currencies, subsidiaries, the GL accounts (the GL check) and, with SuiteTax, tax codes.
_CHECK = "account profile: SuiteQL"
_CATALOG = "account profile: metadata catalog"


def _settled(ctx, ids: list[int]) -> dict[str, int]:
    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Record.state, func.count()).where(Record.id.in_(ids)).group_by(Record.state))
        return dict(rows.all())


def _calls_by_type(calls: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for call in calls:
        eid = call.get("external_id") or ""
        kind = next((t for p, t in _BY_PREFIX.items() if eid.startswith(p)), None)
        if kind is None and call.get("type") == "salesOrder" and call["method"] in ("GET", "PATCH"):
            kind = "invoice"  # the order read before its invoice is made, its lines closed after
        if kind is None:
            kind = {"suiteql": _CHECK, "metadata": _CATALOG}.get(
                call.get("type") or "", f"other ({call['method']} {call['path']})"
            )
        out[kind] = out.get(kind, 0) + 1
    return out


def _phase(
    w, account: str, batch: dict[str, list[dict]], since: int, timeout: float
) -> tuple[dict[str, int], dict, list]:
    ids = data.enqueue_all(w.ctx, account.lower(), batch, dispatch_now=True)
    every = [i for type_ids in ids.values() for i in type_ids]
    wait_until(lambda: _settled(w.ctx, every).get(State.TRANSFERRED, 0) == len(every), timeout, poll=0.5)
    counts = _settled(w.ctx, every)
    transferred: dict[str, int] = {}
    with session_scope(w.ctx.engine) as s:
        for record_type, n in s.execute(
            select(Record.record_type, func.count())
            .where(Record.id.in_(every), Record.state == State.TRANSFERRED)
            .group_by(Record.record_type)
        ):
            transferred[record_type] = n
    calls = w.calls(account)[since:]
    return transferred, counts, calls


def _new_versions(batch: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {
        "customer": [c | {"email": "changed-" + c["email"]} for c in batch["customer"]],
        "product": [p | {"name": p["name"] + " (v2)"} for p in batch["product"]],
    }


def run(scale: int = 1) -> list[Table]:
    tables = []
    with world("calls") as w:
        w.sandbox()
        for link, account in ACCOUNTS.items():
            w.accounts(
                1,
                "50/1s",
                concurrency=5,
                prefix=account[:-5],
                config=CONFIG.model_copy(update={"invoice_link": link}),
            )
        w.workers(1, concurrency=8)
        w.beat()
        for link, account in ACCOUNTS.items():
            month = data.month(scale)
            cold, cold_states, cold_calls = _phase(w, account, month, 0, 300)
            warm_batch = _new_versions(month) | data.renamed_documents(month, "W")
            warm, warm_states, warm_calls = _phase(w, account, warm_batch, len(cold_calls), 300)
            tables.append(_table(link, cold, cold_states, cold_calls, warm, warm_states, warm_calls))
    return tables


def _table(link, cold, cold_states, cold_calls, warm, warm_states, warm_calls) -> Table:
    table = Table(
        f"NetSuite calls per transferred record, invoice_link: {link.value}",
        ["record type", "cold records", "cold calls", "cold calls/record", "warm records", "warm calls",
         "warm calls/record"],
    )  # fmt: skip
    cold_by, warm_by = _calls_by_type(cold_calls), _calls_by_type(warm_calls)
    kinds = sorted(set(cold) | set(warm), key=TYPE_ORDER.__getitem__)
    extra = sorted((set(cold_by) | set(warm_by)) - set(kinds))
    for kind in kinds + extra:
        nc, nw = cold.get(kind, 0), warm.get(kind, 0)
        cc, cw = cold_by.get(kind, 0), warm_by.get(kind, 0)
        table.rows.append([kind, nc, cc, _ratio(cc, nc), nw, cw, _ratio(cw, nw)])
    total_cold, total_warm = sum(cold.values()), sum(warm.values())
    warm_ratio = len(warm_calls) / total_warm if total_warm else float("nan")
    table.rows.append(["all", total_cold, len(cold_calls), _ratio(len(cold_calls), total_cold), total_warm,
                       len(warm_calls), _ratio(len(warm_calls), total_warm)])  # fmt: skip
    failed = {k: v for k, v in (cold_states | warm_states).items() if k != State.TRANSFERRED}
    target = 1.0 if link is InvoiceLink.standalone else None
    table.notes += [
        f"warm: {warm_ratio:.3f} calls per record"
        + (f"; target 1.00: {verdict(abs(warm_ratio - target) < 0.005)}" if target else
           " (an invoice of an order: read the order, transform; + PATCH where it closes order lines)"),
        f"non-2xx answers: cold {sum(1 for c in cold_calls if c['status'] >= 300)}, "
        f"warm {sum(1 for c in warm_calls if c['status'] >= 300)}; "
        f"records not transferred: {failed or 'none'}",
        "rate limit 50/1s, concurrency 5, sandbox latency 0; one worker (threads pool, 8 threads) and beat",
    ]  # fmt: skip
    return table


def _ratio(calls: int, records: int) -> str:
    return f"{calls / records:.3f}" if records else "-"
