"""SuiteQL for the sandbox: the account's data loaded into an in-memory sqlite3 database.

Tables and lower-case columns mirror NetSuite's (account, customer, item, transaction,
transactionline (the main line, item lines, tax and COGS lines, flagged mainline / taxline /
iscogs), nexttransactionlinelink for applications: previousdoc = the invoice or credit memo
applied to, nextdoc = the payment, credit memo or refund applying it, linktype 'Payment';
department, classification, location); no table NetSuite lacks. Values come back as strings and
null columns are left out of an item, as NetSuite does. `transaction.status` is a composite
field: selected it reads as the letter ('B'), BUILTIN.CF(status) as type and letter
('CustInvc:B'), and in a condition it is the composite, so a filter on the bare letter finds
nothing (see "transaction.status" below). Dates are stored as
'YYYY-MM-DD HH:MM:SS' (UTC) so they compare correctly; a date column selected as it is reads
like NetSuite's default date format ('M/D/YYYY', no time), so portable queries use
TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS'). TO_DATE, TO_TIMESTAMP, TO_CHAR, TRUNC, NVL, REPLACE,
BUILTIN.CF, SYSDATE and FETCH FIRST n ROWS ONLY are understood.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from nue_ns.sandbox import classifications, tax
from nue_ns.sandbox.state import (
    ITEM_CODE,
    ITEM_TYPES,
    TRANSACTION_CODE,
    TRANSACTION_TYPES,
    AccountData,
    NsError,
    Record,
)
from nue_ns.sandbox.state import _applications as ns_applications  # a record's {doc: amount} applied

MAX_LIMIT = 1000
PATH = "/services/rest/query/v1/suiteql"
MAX_RESULTS = 100_000  # NetSuite stops a query at 100,000 rows

_TABLES = {
    "account": "id INTEGER, acctnumber TEXT, accountsearchdisplayname TEXT, fullname TEXT, accttype TEXT, "
    "isinactive TEXT",
    "subsidiary": "id INTEGER, name TEXT, parent INTEGER, isinactive TEXT",
    # currencyprecision (the record's field id, section_N3201267) unless the switch
    # currency_precision_column leaves it out: its SuiteQL name is on no Oracle page [U].
    "currency": "id INTEGER, symbol TEXT, name TEXT, isbasecurrency TEXT, isinactive TEXT{precision}",
    # The tax code's column: `itemid` (public SuiteQL code), or `name` (the ODBC tax_items column)
    # with the switch tax_code_column (sandbox/switches.py); Oracle names none for SuiteQL [U].
    "salestaxitem": "id INTEGER, {tax_code_column} TEXT, description TEXT, isinactive TEXT",
    "customer": "id INTEGER, entityid TEXT, companyname TEXT, firstname TEXT, lastname TEXT, isperson TEXT, "
    "externalid TEXT, email TEXT, subsidiary INTEGER, currency INTEGER, isinactive TEXT, "
    "lastmodifieddate NSDATE, datecreated NSDATE",
    "item": "id INTEGER, itemid TEXT, displayname TEXT, externalid TEXT, itemtype TEXT, "
    "incomeaccount INTEGER, deferredrevenueaccount INTEGER, assetaccount INTEGER, cogsaccount INTEGER, "
    "isinactive TEXT, lastmodifieddate NSDATE, datecreated NSDATE",
    '"transaction"': "id INTEGER, tranid TEXT, type TEXT, status NSSTATUS, voided TEXT, externalid TEXT, "
    "entity INTEGER, trandate NSDATE, foreigntotal REAL, foreignamountremaining REAL, currency INTEGER, "
    "account INTEGER, createdfrom INTEGER, memo TEXT, lastmodifieddate NSDATE, datecreated NSDATE, "
    "createdby TEXT",
    # Every transaction's lines as NetSuite keeps them: its main line (mainline 'T', line 0, no item
    # on these types), the item lines, and the tax and COGS lines it adds (taxline / iscogs 'T', each
    # with an item): see _lines below and docs/NETSUITE.md "SuiteQL transactionline".
    "transactionline": '"transaction" INTEGER, id INTEGER, linesequencenumber INTEGER, item INTEGER, '
    "quantity REAL, rate REAL, foreignamount REAL, custcol_nue_line_id TEXT, account INTEGER, memo TEXT, "
    "isclosed TEXT, quantitybilled REAL, mainline TEXT, taxline TEXT, iscogs TEXT",
    # Departments, classes, locations (sandbox/classifications.py); columns as the ODBC Departments
    # table names them (name, isinactive) [U for SuiteQL, like salestaxitem's].
    **dict.fromkeys(classifications.TABLES, "id INTEGER, name TEXT, isinactive TEXT"),
    "nexttransactionlinelink": "previousdoc INTEGER, previoustype TEXT, previousline INTEGER, "
    "nextdoc INTEGER, nexttype TEXT, nextline INTEGER, linktype TEXT, foreignamount REAL",
}

# -- Oracle-style date functions -------------------------------------------------------------------

_ORACLE_TOKENS = re.compile(
    r'HH24|HH12|HH|YYYY|YY|MONTH|MON|MM|DD|MI|SS|AM|PM|FF\d?|"[^"]*"|.', re.IGNORECASE
)
_STRFTIME = {"HH24": "%H", "HH12": "%I", "HH": "%I", "YYYY": "%Y", "YY": "%y", "MONTH": "%B", "MON": "%b"}
_STRFTIME |= {"MM": "%m", "DD": "%d", "MI": "%M", "SS": "%S", "AM": "%p", "PM": "%p"}
_STORED = "%Y-%m-%d %H:%M:%S"


def _python_format(oracle: str) -> str:
    out = []
    for token in _ORACLE_TOKENS.findall(oracle):
        upper = token.upper()
        if upper in _STRFTIME:
            out.append(_STRFTIME[upper])
        elif upper.startswith("FF"):
            out.append("%f")
        elif token.startswith('"'):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def _parse_stored(value: str) -> datetime:
    return datetime.strptime(value[:19], _STORED) if len(value) > 10 else datetime.strptime(value, "%Y-%m-%d")


def _to_date(value: Any, fmt: str | None = None) -> str | None:
    if value is None:
        return None
    parsed = datetime.strptime(str(value), _python_format(fmt)) if fmt else _parse_stored(str(value))
    return parsed.strftime(_STORED)


def _to_char(value: Any, fmt: str | None = None) -> str | None:
    if value is None or fmt is None:
        return None if value is None else _text(value)
    if isinstance(value, int | float):
        return _text(value)
    return _parse_stored(str(value)).strftime(_python_format(fmt))


def _trunc(value: Any, fmt: str | None = None) -> Any:
    if isinstance(value, int | float):
        return int(value)
    if value is None:
        return None
    return _parse_stored(str(value)).strftime("%Y-%m-%d 00:00:00")


def _display_date(raw: bytes) -> str:
    """A date column as NetSuite shows it with the default date preference: M/D/YYYY."""
    when = _parse_stored(raw.decode())
    return f"{when.month}/{when.day}/{when.year}"


sqlite3.register_converter("NSDATE", _display_date)

# -- transaction.status --------------------------------------------------------------------------
# Oracle, BUILTIN.CF (article_1029114514): "Some fields, such as transaction.status, use different
# SQL expressions to retrieve a value based on the defined context"; `SELECT status FROM
# TRANSACTION` "could return 'B'", `SELECT BUILTIN.CF(status)` a type and letter pair, and "You
# must use this function on queries that use filters with composite key value fields to avoid
# potential result errors" (its syntax example: `WHERE BUILTIN.CF(status) = 'Opprtnty:A'`). So the
# column holds 'CustCred:V': selected, the converter below shows the letter; in a condition it is
# the composite, and `status = 'V'` finds nothing, the strictest of those "result errors" [J].
# Oracle's prose example writes the pair 'CustInv: B', with a space: the switch status_cf_format.


def _status_letter(raw: bytes) -> str:
    return raw.decode().rpartition(":")[2]


sqlite3.register_converter("NSSTATUS", _status_letter)
_COMPOSITE = re.compile(r"([A-Za-z]+):\s*([A-Z])")


def _criteria(value: Any, spaced: bool) -> Any:
    """BUILTIN.CF: a status's type and letter pair ('CustCred:V', or 'CustCred: V'); any other
    value as it is."""
    match = _COMPOSITE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return value
    return f"{match[1]}:{' ' if spaced else ''}{match[2]}"


# -- SuiteQL-isms rewritten for sqlite -------------------------------------------------------------

_LITERALS = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\")")
_REWRITES = (
    (re.compile(r"\btransaction\b", re.IGNORECASE), '"transaction"'),  # a keyword in sqlite
    (re.compile(r"\b(SYSDATE|CURRENT_DATE)\b", re.IGNORECASE), "CURRENT_TIMESTAMP"),
    (re.compile(r"\bFETCH\s+(?:FIRST|NEXT)\s+(\d+)\s+ROWS?\s+ONLY\b", re.IGNORECASE), r"LIMIT \1"),
    (re.compile(r"\bBUILTIN\s*\.\s*CF\s*\(", re.IGNORECASE), "_builtin_cf("),  # sqlite names have no dot
)


def translate(query: str) -> str:
    """Rewrite the SuiteQL-isms sqlite lacks, outside string literals and quoted names."""
    parts = _LITERALS.split(query)
    for i in range(0, len(parts), 2):
        for pattern, replacement in _REWRITES:
            parts[i] = pattern.sub(replacement, parts[i])
    return "".join(parts)


# -- loading an account ----------------------------------------------------------------------------


def _ts(iso: str | None) -> str | None:
    """'2025-01-02T03:04:05.678Z' or '2025-01-02' -> '2025-01-02 03:04:05' (second precision)."""
    if not iso:
        return None
    return iso[:19].replace("T", " ") if len(iso) > 10 else f"{iso} 00:00:00"


def _rid(value: Any) -> int | None:
    if isinstance(value, dict) and value.get("id") is not None and str(value["id"]).isdigit():
        return int(value["id"])
    return None


def _tf(value: Any) -> str:
    return "T" if value is True else "F"


def _total(rec: Record) -> Any:
    b = rec.body
    return b.get("payment") if rec.type == "customerPayment" else (b.get("total") or rec.derived.get("total"))


# Payments and credit memos whose amounts read negative under the switch negative_credit_amounts:
# `foreigntotal` is signed by type in SuiteQL (public queries negate purchase orders' and return
# authorisations' totals), which sign these two have is on no public page [U].
_CREDIT_TYPES = ("customerPayment", "creditMemo")
_NOT_VOIDED = {"creditMemo": "A", "invoice": "A"}  # the letter under void_shows "voided": Open


def _signed_total(acct: AccountData, rec: Record) -> Any:
    """`foreigntotal`: 0 once voided ("Voiding a transaction sets its total and all its line items
    to 0", section_N563543), negative for payments and credit memos under the switch."""
    total = 0.0 if rec.voided else _total(rec)
    if total and acct.negative_credit_amounts and rec.type in _CREDIT_TYPES:
        return -float(total)
    return total


def _transaction_row(acct: AccountData, rec: Record) -> tuple[Any, ...]:
    """A transaction's row. A voided one shows status V and voided 'T', or only one of them (the
    switch void_shows): which columns a void sets is on no public page [U]; the REST status of a
    credit memo has V (real account schema: creditMemo.status enum A, B, V)."""
    b, d = rec.body, rec.derived
    letter = d.get("status", {}).get("id")
    if rec.voided:
        letter = "V" if acct.void_shows != "voided" else _NOT_VOIDED.get(rec.type, letter)
    code = TRANSACTION_CODE[rec.type]
    status = f"{code}:{letter}" if letter else None
    voided = rec.voided and acct.void_shows != "status"
    total = _signed_total(acct, rec)
    remaining = d.get("amountRemaining", d.get("unapplied"))
    entity = _rid(b.get("entity") or b.get("customer"))
    return (
        int(rec.id), b.get("tranId"), code, status, _tf(voided),
        b.get("externalId"), entity, _ts(b.get("tranDate")), total, remaining, _rid(b.get("currency")),
        _rid(b.get("account")), _rid(b.get("createdFrom")), b.get("memo"), _ts(rec.last_modified),
        _ts(rec.date_created), rec.created_by,
    )  # fmt: skip


_MAIN, _ITEM, _TAX, _COGS = ("T", "F", "F"), ("F", "F", "F"), ("F", "T", "F"), ("F", "F", "T")
_COGS_TYPES = ("invoice", "creditMemo")  # the sales documents that post an inventory item's cost


def _lines(acct: AccountData, rec: Record) -> list[tuple[Any, ...]]:
    """A transaction's transactionline rows: (transaction, id, linesequencenumber, item, quantity,
    rate, foreignamount, custcol_nue_line_id, account, memo, isclosed, quantitybilled) + the
    (mainline, taxline, iscogs) flags.

    Every transaction has exactly one main line, and on these types it carries no item
    [netsuitediagnostics.com "SuiteQL: Transaction Line Mainline"; J]. Beside the item lines
    NetSuite keeps tax lines and COGS lines, flagged taxline / iscogs (columns of a real account's
    TransactionLine; Oracle's Records Catalog is in-account only) [J]; which ones a document gets is
    [U], so the sandbox adds them with an item (the switch `tax_and_cogs_lines`, default on): a
    query that counts rows with an item, unfiltered, miscounts here as it would in NetSuite.
    - with SuiteTax, one tax line per tax detail, its item the detail's tax code;
    - without SuiteTax, one tax line (amount 0: legacy tax computed nothing) on a document carrying
      a line of a tax item (an item posting to a liability account, tax.seed_tax_item);
    - two COGS lines (cost and asset) per inventory item line of an invoice or credit memo (cost 0).
    """
    b, rid = rec.body, int(rec.id)
    out: list[tuple[Any, ...]] = [
        (rid, 0, 0, None, None, None, _signed_total(acct, rec), None, _rid(b.get("account")), b.get("memo"))
        + ("F", None, *_MAIN)
    ]
    items = b.get("item", {}).get("items", [])
    tax_items, inventory = [], []
    for seq, line in enumerate(items, start=1):
        item = acct.records.get(str(_rid(line.get("item"))))
        account = _rid(item.body.get("incomeAccount")) if item else None
        out.append(
            (rid, line.get("line", seq), seq, _rid(line.get("item")), line.get("quantity"))
            + (line.get("rate"), 0.0 if rec.voided else line.get("amount"), line.get("custcol_nue_line_id"))
            + (account,)
            + (line.get("description"), _tf(line.get("isClosed")), line.get("quantityBilled"), *_ITEM)
        )
        if item is not None and (gl := acct.chart.get(str(account))) is not None and gl.type == "OthCurrLiab":
            tax_items.append(int(item.id))
        if item is not None and item.type == "inventoryItem" and rec.type in _COGS_TYPES:
            inventory.append(item)
    if not acct.tax_and_cogs_lines:
        return out
    extra: list[tuple[int | None, int | None, Any, tuple[str, ...]]] = []  # item, account, amount, flags
    if tax.suitetax(acct):
        details = b.get("taxDetails", {}).get("items", []) if rec.type in tax.SALES_TYPES else []
        extra += [
            (_rid(d.get("taxCode")), int(tax.TAX_LIABILITY_ACCOUNT), d.get("taxAmount"), _TAX)
            for d in details
        ]
    elif tax_items:
        extra.append((tax_items[0], int(tax.TAX_LIABILITY_ACCOUNT), 0.0, _TAX))
    for item in inventory:
        extra += [(int(item.id), _rid(item.body.get(f)), 0.0, _COGS) for f in ("cogsAccount", "assetAccount")]
    if rec.voided:
        extra = [(item_id, account, 0.0, flags) for item_id, account, _, flags in extra]
    first = max((row[1] for row in out if isinstance(row[1], int)), default=0) + 1
    for n, (item_id, account, amount, flags) in enumerate(extra):
        ids = (first + n, len(items) + 1 + n)  # id, linesequencenumber: after the item lines
        out.append((rid, *ids, item_id, None, None, amount, None, account, None, "F", None, *flags))
    return out


def _link(acct: AccountData, doc: str, applier: str, amount: Decimal) -> tuple[Any, ...]:
    """One application as a line link: the applied document first, the applying one next; its
    amount negative under the switch negative_credit_amounts (the link's sign is [U])."""
    previous, following = acct.records[doc].type, acct.records[applier].type
    codes = (TRANSACTION_CODE[previous], TRANSACTION_CODE[following])
    signed = -float(amount) if acct.negative_credit_amounts else float(amount)
    return (int(doc), codes[0], 0, int(applier), codes[1], 0, "Payment", signed)


def _voided_links(acct: AccountData) -> list[tuple[Any, ...]]:
    """Under the switch void_keeps_links, the links of what a voided payment or credit memo applied:
    a void reopens what the transaction closed (section_N563543), whether NextTransactionLineLink
    keeps its rows is on no public page [U]."""
    if not acct.void_keeps_links:
        return []
    return [
        _link(acct, doc, rec.id, amount)
        for rec in acct.records.values()
        if rec.voided
        for doc, amount in ns_applications(rec.type, rec.body).items()
        if doc in acct.records
    ]


def _load(conn: sqlite3.Connection, acct: AccountData) -> None:
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
    for a in acct.chart.values():
        display = f"{a.number} {a.name}"
        rows["account"].append((int(a.id), a.number, display, a.name, a.type, _tf(a.inactive)))
    subsidiaries = acct.kind.subsidiaries.items()
    rows["subsidiary"] = [
        (int(i), name, int(parent) if parent else None, "F") for i, (name, parent) in subsidiaries
    ]
    base = acct.kind.base_currency
    precise = acct.currency_precision_column == "currencyprecision"
    rows["currency"] = [
        (int(i), c, c, _tf(i == base), "F") + ((acct.kind.places(i),) if precise else ())
        for i, c in acct.kind.currencies.items()
    ]
    rows["salestaxitem"] = [(int(i), name, name, "F") for i, name in acct.kind.tax_codes.items()]
    for table in classifications.TABLES:
        rows[table] = classifications.rows(acct, table)
    for rec in acct.records.values():
        b = rec.body
        stamps = (_ts(rec.last_modified), _ts(rec.date_created))
        if rec.type == "customer":
            rows["customer"].append(
                (
                    int(rec.id),
                    b.get("entityId") or rec.derived.get("entityId"),
                    b.get("companyName"),
                    b.get("firstName"),
                    b.get("lastName"),
                )
                + (_tf(b.get("isPerson")), b.get("externalId"), b.get("email"), _rid(b.get("subsidiary")))
                + (_rid(b.get("currency")), _tf(b.get("isInactive")), *stamps)
            )
        elif rec.type in ITEM_TYPES:
            accounts = [_rid(b.get(f)) for f in ("incomeAccount", "deferredRevenueAccount", "assetAccount")]
            rows["item"].append(
                (int(rec.id), b.get("itemId"), b.get("displayName"), b.get("externalId"), ITEM_CODE[rec.type])
                + (*accounts, _rid(b.get("cogsAccount")), _tf(b.get("isInactive")), *stamps)
            )
        elif rec.type in TRANSACTION_TYPES:
            rows['"transaction"'].append(_transaction_row(acct, rec))
            rows["transactionline"] += _lines(acct, rec)
    for doc, appliers in acct.applied.items():
        rows["nexttransactionlinelink"] += [
            _link(acct, doc, payer, amount) for payer, amount in appliers.items()
        ]
    rows["nexttransactionlinelink"] += _voided_links(acct)
    # Without Multiple Currencies the currency table may not be there at all (kinds.py); without
    # OneWorld there is no subsidiary record to list (section_157607424766).
    refused = not acct.kind.multiple_currencies and acct.currency_table == "refused"
    for name, columns in _TABLES.items():
        if (name == "currency" and refused) or (name == "subsidiary" and not acct.kind.oneworld):
            continue
        precision = ", currencyprecision INTEGER" if precise else ""
        ddl = columns.format(tax_code_column=acct.tax_code_column, precision=precision)
        conn.execute(f"CREATE TABLE {name} ({ddl})")
        if rows[name]:
            marks = ",".join("?" * len(rows[name][0]))
            conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows[name])


def _database(acct: AccountData) -> sqlite3.Connection:
    """The account's database, rebuilt only when its data changed since the last query."""
    cached = acct.sql_cache
    if cached is not None and cached[0] == acct.version:
        return cached[1]
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES, check_same_thread=False)
    for name, fn, nargs in (
        ("TO_DATE", _to_date, -1),
        ("TO_TIMESTAMP", _to_date, -1),
        ("TO_CHAR", _to_char, -1),
    ):
        conn.create_function(name, nargs, fn, deterministic=True)
    conn.create_function("TRUNC", -1, _trunc, deterministic=True)
    conn.create_function("NVL", 2, lambda a, b: b if a is None else a, deterministic=True)
    spaced = acct.status_cf_format == "spaced"
    conn.create_function("_builtin_cf", 1, lambda value: _criteria(value, spaced), deterministic=True)
    _load(conn, acct)
    conn.execute("PRAGMA query_only = ON")
    if cached is not None:
        cached[1].close()
    acct.sql_cache = (acct.version, conn)
    return conn


# -- answering a query -------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value)


def bad_query(detail: str) -> NsError:
    return NsError(
        400, "INVALID_PARAMETER", f"Invalid search query. Detailed unprocessed description follows. {detail}"
    )


def paging(limit: str | None, offset: str | None) -> tuple[int, int]:
    """limit 1..1000 (default 1000); offset a non-negative multiple of limit. A bad one is named in
    o:errorQueryParam (NetSuite's nsError schema)."""
    lim = MAX_LIMIT if limit in (None, "") else _whole(limit, "limit")
    off = 0 if offset in (None, "") else _whole(offset, "offset")
    if not 1 <= lim <= MAX_LIMIT:
        detail = f"The limit must be between 1 and {MAX_LIMIT}."
        raise NsError(400, "INVALID_PARAMETER", detail, query_param="limit")
    if off < 0 or off % lim:
        detail = "The offset must be a multiple of the limit."
        raise NsError(400, "INVALID_PARAMETER", detail, query_param="offset")
    return lim, off


def page_links(url: str, limit: int, offset: int, total: int) -> list[dict[str, str]]:
    """A page's links by Oracle's "Collection Paging" (section_156414087576, whose first-page example
    has next, last and self, each the collection's URL with limit and offset): first and prev after
    the first page, next while more follow, last and self always [J for first, prev and a single
    page's last]. SuiteQL pages follow the same rules ("For information about paging and offset
    values, see Collection Paging", section_157909186990)."""

    def link(rel: str, at: int) -> dict[str, str]:
        return {"rel": rel, "href": f"{url}?limit={limit}&offset={at}"}

    links = [link("first", 0), link("prev", max(offset - limit, 0))] if offset > 0 else []
    if offset + limit < total:
        links.append(link("next", offset + limit))
    return [*links, link("last", max(total - 1, 0) // limit * limit), link("self", offset)]


def _whole(text: str | None, name: str) -> int:
    try:
        return int(text or "")
    except ValueError:
        detail = f"Invalid {name} {text!r}: a whole number is expected."
        raise NsError(400, "INVALID_PARAMETER", detail, query_param=name) from None


def run(acct: AccountData, body: Any, limit: int, offset: int, url: str = PATH) -> dict[str, Any]:
    """One page of a query: {links, count, hasMore, items, offset, totalResults}; `url` is the
    query resource's, as the client addressed it (for the page's links)."""
    # The query goes "in the request body after the body parameter `q`" (section_157909186990), and
    # nothing else: bind parameters (`params`) are SuiteScript's query.runSuiteQL's only
    # (section_157960542026), so a body with any other key is refused, and so is a `?` placeholder.
    if not isinstance(body, dict) or not isinstance(body.get("q"), str) or not body["q"].strip():
        raise NsError(400, "INVALID_PARAMETER", 'The request body must be {"q": "SELECT ..."}.')
    extra = sorted(k for k in body if k != "q")
    if extra:
        raise NsError(400, "INVALID_PARAMETER", f"Unknown request body parameter: {extra[0]}.", extra[0])
    with acct.lock:
        try:
            cursor = _database(acct).execute(translate(body["q"]))
            # "The casing of record type names and field names in SuiteQL query results may not
            # always be consistent and can change" (section_156257796125): the switch
            # result_name_case answers them upper case.
            case = str.upper if acct.result_name_case == "upper" else str.lower
            names = [case(column[0]) for column in cursor.description or ()]
            rows = cursor.fetchmany(MAX_RESULTS)
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            raise bad_query(str(exc)) from exc
    page = rows[offset : offset + limit]
    items = [
        {name: _text(value) for name, value in zip(names, row, strict=True) if value is not None}
        | {"links": []}
        for row in page
    ]
    return {
        "links": page_links(url, limit, offset, len(rows)),
        "count": len(items),
        "hasMore": offset + len(items) < len(rows),
        "items": items,
        "offset": offset,
        "totalResults": len(rows),
    }
