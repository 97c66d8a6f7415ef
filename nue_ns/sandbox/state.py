"""The sandbox's NetSuite: accounts, their records and the rules NetSuite applies when writing them.

Every change goes through one function per mutation (`create`, `upsert`, `update`, `delete` for the
REST API; `record_user_payment`, `void_transaction` for what a NetSuite user does in the UI), each
under the account's lock, so HTTP handlers, tests and later "user action" endpoints share one path.
Behaviour follows docs/NETSUITE.md: externalIds unique per record group, sublist lines
added unless `replace` names the sublist, `{"id": ...}` references checked, totals and open
balances kept as payments and credits apply.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from nue_ns.sandbox import (
    autoapply,
    classifications,
    field_types,
    kinds,
    mandatory_fields,
    numbering,
    periods,
    tax,
    values,
)
from nue_ns.sandbox.account_schema import derived_document
from nue_ns.sandbox.chart import CHART, GlAccount
from nue_ns.sandbox.kinds import AccountKind, default_kind
from nue_ns.sandbox.malformed import MALFORMED_KINDS

# -- record types ------------------------------------------------------------------------------

ITEM_TYPES = ("nonInventorySaleItem", "serviceSaleItem", "inventoryItem")
SALES_TYPES = ("salesOrder", "invoice", "creditMemo")  # transactions with item lines
TRANSACTION_TYPES = (*SALES_TYPES, "customerPayment", "customerRefund", "deposit")
# externalIds are unique per group, not per type [section_N3436356].
GROUP = {"customer": "entity", **dict.fromkeys(ITEM_TYPES, "item")}
GROUP |= dict.fromkeys(TRANSACTION_TYPES, "transaction")
WRITABLE_TYPES = frozenset(GROUP)
READ_ONLY_TYPES = frozenset({"account", "subsidiary", "currency"})

# SuiteQL `transaction.type` / `item.itemtype` codes.
TRANSACTION_CODE = {
    "salesOrder": "SalesOrd",
    "invoice": "CustInvc",
    "creditMemo": "CustCred",
    "customerPayment": "CustPymt",
    "customerRefund": "CustRfnd",
    "deposit": "Deposit",
}
ITEM_CODE = {"nonInventorySaleItem": "NonInvtPart", "serviceSaleItem": "Service", "inventoryItem": "InvtPart"}
_TRAN_PREFIX = {"salesOrder": "SO", "invoice": "INV", "creditMemo": "CM"}
_TRAN_PREFIX |= {"customerPayment": "PYMT", "customerRefund": "RFND", "deposit": "DEP"}

# -- field names ---------------------------------------------------------------------------------
# Which body and sublist-line fields a record type has comes from the account's schema (kinds.py):
# the real account's metadata-catalog document, hand-written types in its form, and what the
# account's features add. Strict validation refuses every other name, as NetSuite does.

# Fields the server computes or owns: accepted by name, their values never taken from a request.
_SERVER_FIELDS = frozenset(
    "id refName links lastModifiedDate createdDate dateCreated total subtotal amountPaid amountRemaining "
    "amountRemainingTotalBox status applied unapplied balance taxTotal".split()
)
_SERVER_FIELDS_BY_TYPE = {"customerRefund": _SERVER_FIELDS - {"total"}}

# Which record an `apply` line's doc may be, by the applying type.
APPLY_DOC_TYPES = {
    "customerPayment": ("invoice",),
    "creditMemo": ("invoice",),
    "customerRefund": ("customerPayment", "creditMemo"),
}
CREATED_FROM_TYPES = {"invoice": ("salesOrder",), "creditMemo": ("invoice",), "salesOrder": ()}

_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_CENT = Decimal("0.01")


# -- errors ------------------------------------------------------------------------------------

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_TYPES = {
    400: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
    401: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    403: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.4",
    404: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
    405: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6",
    429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
    500: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
    503: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4",
}
INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked. CONCURRENCY_LIMIT_EXCEEDED"
_ACCESS = "Error while accessing a resource. "


class NsError(Exception):
    """A NetSuite error answer: status + one o:errorDetails entry. Where the error is: `path` in the
    request body (o:errorPath), `header` (o:errorHeader) or `query_param` (o:errorQueryParam), the
    fields of NetSuite's nsError schema and of "Error Handling in REST Web Services"
    (section_156570709583)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        path: str | None = None,
        *,
        header: str | None = None,
        query_param: str | None = None,
    ) -> None:
        where = path or header or query_param
        super().__init__(f"{status} {code}: {detail}" + (f" ({where})" if where else ""))
        self.status, self.code, self.detail, self.path = status, code, detail, path
        self.header, self.query_param = header, query_param

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"detail": self.detail, "o:errorCode": self.code}
        for key, value in (
            ("o:errorPath", self.path),
            ("o:errorHeader", self.header),
            ("o:errorQueryParam", self.query_param),
        ):
            if value:
                item[key] = value
        title = _TITLES.get(self.status, "Error")
        return {"type": _TYPES.get(self.status, _TYPES[400]), "title": title, "status": self.status} | {
            "o:errorDetails": [item]
        }


def invalid_login() -> NsError:
    return NsError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def concurrency_exceeded() -> NsError:
    return NsError(429, "USER_ERROR", CONCURRENCY_DETAIL)


def not_found() -> NsError:
    detail = "The record instance does not exist. Provide a valid record instance ID."
    return NsError(404, "NONEXISTENT_ID", detail)


def invalid_value(value: Any, path: str) -> NsError:
    if isinstance(value, dict) and "id" in value:
        shown = value["id"]
    else:
        shown = value if isinstance(value, str) else json.dumps(value)
    name = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
    detail = f"{_ACCESS}You have entered an Invalid Field Value {shown} for the following field: {name}"
    return NsError(400, "INVALID_CONTENT", detail, path)


def user_error(detail: str, path: str | None = None) -> NsError:
    return business_error("USER_ERROR", detail, path)


def business_error(code: str, detail: str, path: str | None = None) -> NsError:
    """A 400 for a business rule, under `code`, worded as NetSuite words REST errors."""
    return NsError(400, code, _ACCESS + detail, path)


def missing_values(*labels: str) -> NsError:
    return user_error(f"Please enter value(s) for: {', '.join(labels)}.")


# -- records and accounts ----------------------------------------------------------------------


def now_iso() -> str:
    """NetSuite's timestamp form for record fields: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Record:
    type: str
    id: str
    body: dict[str, Any]  # the fields the client (or user) set, sublists as {"items": [...]}
    created_by: str  # "integration" (REST API) or "user" (NetSuite UI)
    date_created: str
    last_modified: str
    derived: dict[str, Any] = field(default_factory=dict)  # total, amountRemaining, status, ...
    voided: bool = False
    auto_number: str | None = None  # a customer's number where the account numbered it (numbering.py)

    @property
    def external_id(self) -> str | None:
        return self.body.get("externalId")

    def view(self) -> dict[str, Any]:
        """The record as `GET /record/v1/{type}/{id}` shows it (without links)."""
        created = "dateCreated" if GROUP[self.type] in ("entity", "item") else "createdDate"
        return {"id": self.id, **copy.deepcopy(self.body), **copy.deepcopy(self.derived)} | {
            "lastModifiedDate": self.last_modified,
            created: self.date_created,
        }


@dataclass(eq=False)
class AccountData:
    """One NetSuite account (keyed by its realm): credentials, governance settings and data."""

    realm: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    token_id: str = field(repr=False)
    token_secret: str = field(repr=False)
    concurrency_limit: int = 5
    latency_ms: tuple[float, float] | None = None  # None: the sandbox-wide latency
    chart: dict[str, GlAccount] = field(default_factory=lambda: {a.id: a for a in CHART}, repr=False)
    records: dict[str, Record] = field(default_factory=dict, repr=False)
    by_eid: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)  # (group, eid) -> id
    # doc id -> {applying record id -> amount}: payments/credit memos on invoices, refunds on both.
    applied: dict[str, dict[str, Decimal]] = field(default_factory=dict, repr=False)
    deposited: dict[str, str] = field(default_factory=dict, repr=False)  # payment id -> deposit id
    next_id: int = 101
    version: int = 0  # bumped on every change (SuiteQL caches its database per version)
    in_flight: int = 0
    max_in_flight: int = 0
    nonces: set[str] = field(default_factory=set, repr=False)
    nonce_times: deque[tuple[float, str]] = field(default_factory=deque, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    sql_cache: Any = field(default=None, repr=False)
    kind: AccountKind = field(default_factory=default_kind, repr=False)  # schema, currencies, subsidiaries
    tax: tax.TaxSettings = field(default_factory=tax.TaxSettings)
    # Numbering (sandbox/numbering.py): the types whose "Allow Override" is on, and whether a
    # tranId sent for another type is refused (True) or ignored (False).
    tran_id_override: frozenset[str] = frozenset()
    tran_id_refused: bool = False
    # Customers numbered by the account (Auto-Generated Numbers, off unless an administrator turns
    # it on), the next number, and the o:errorCode of a taken Customer ID (sandbox/numbering.py).
    customer_auto_numbering: bool = False
    next_customer_number: int = 1
    duplicate_customer_id_code: str = "UNIQUE_CUST_ID_REQD"
    # Whether a payment sent without autoApply is auto-applied (sandbox/autoapply.py).
    auto_apply_default: bool = False
    # Where Oracle is silent (sandbox/switches.py): a metadata-catalog `select` naming a type the
    # account lacks is refused (False) or left out of the answer (True); an item without a
    # subsidiary list is sold in the parent subsidiary only (False) or in every one (True).
    catalog_ignores_unknown_types: bool = False
    items_everywhere_without_list: bool = False
    # Replacing the lines of a billed order, or of an invoice billed from one: "refuse" or "allow"
    # (sandbox/transforms.py check_replace; Oracle is silent).
    linked_line_replace: str = "refuse"
    # A payment sent without undepFunds goes to Undeposited Funds (True), its `account` unused, or to
    # its `account` (False): Oracle is silent (sandbox/switches.py; docs/NETSUITE.md "Payments").
    undep_funds_default: bool = True
    # SuiteQL salestaxitem's tax code column: "itemid" or "name" (sandbox/suiteql.py; Oracle is silent).
    tax_code_column: str = "itemid"
    # SuiteQL transactionline holds NetSuite's tax and COGS lines beside the item lines (True) or
    # not (False): which a document gets is on no public page (sandbox/suiteql.py _lines).
    tax_and_cogs_lines: bool = True
    # How SuiteQL shows what a user voided and how it names result columns (sandbox/suiteql.py;
    # docs/NETSUITE.md "Inbound SuiteQL"): a voided transaction's status letter V and voided 'T'
    # ("both"), the letter only ("status") or the flag only ("voided"); BUILTIN.CF(status) as
    # 'CustCred:V' ("compact") or 'CustCred: V' ("spaced", Oracle's own example); the application
    # links of a voided payment dropped (False) or kept (True); payment and credit memo amounts
    # positive (False) or negative (True); result column names lower or upper case.
    void_shows: str = "both"
    status_cf_format: str = "compact"
    void_keeps_links: bool = False
    negative_credit_amounts: bool = False
    result_name_case: str = "lower"
    # Accounting Preferences > "Void Transactions Using Reversing Journals": with it on, a user can
    # void neither credit memos nor customer payments (bridgehead_N1469460).
    reversing_journal_voids: bool = False
    # The account's departments, classes and locations ({table: {id: (name, inactive)}}), and the
    # Accounting Preferences that make each mandatory (sandbox/classifications.py; off by default).
    classifications: dict[str, dict[str, tuple[str, bool]]] = field(
        default_factory=classifications.seeded, repr=False
    )
    departments_mandatory: bool = field(default=False, repr=False)
    classes_mandatory: bool = field(default=False, repr=False)
    locations_mandatory: bool = field(default=False, repr=False)
    # Custom fields the account makes mandatory: {record type: {field: label}} (mandatory_fields.py).
    mandatory_fields: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    # Closed and A/R-locked accounting periods, and where a transaction dated in one posts (periods.py).
    periods: periods.PeriodSettings = field(default_factory=periods.PeriodSettings)
    # Currency precision (docs/NETSUITE.md "Currency precision"): SuiteQL's currency table has the
    # column currencyprecision ("currencyprecision") or none ("none"); an amount finer than its
    # currency's precision is refused ("refuse") or rounded to it ("round"). Oracle says neither.
    currency_precision_column: str = "currencyprecision"
    excess_decimals: str = "refuse"
    # Without Multiple Currencies (kind single-currency): SuiteQL's currency table refuses the query
    # ("refused") or lists the base currency alone ("base_only"); Oracle says neither (kinds.py).
    currency_table: str = "refused"

    def clear_data(self) -> None:
        with self.lock:
            self.records.clear()
            self.by_eid.clear()
            self.applied.clear()
            self.deposited.clear()
            self.version += 1  # next_id keeps counting: NetSuite never reuses an internal id
            self.max_in_flight = self.in_flight

    def find(self, ns_type: str, ref: str) -> Record:
        """A record by internal id or `eid:X`; 404 when it is not of this type."""
        if ref.startswith("eid:"):
            rid = self.by_eid.get((GROUP.get(ns_type, ""), ref[4:]))
        else:
            rid = ref
        rec = self.records.get(rid or "")
        if rec is None or rec.type != ns_type:
            raise not_found()
        return rec

    def use_nonce(self, nonce: str, now: float, window: float) -> bool:
        """Remember a nonce for `window` seconds; False when it was already used (a replay)."""
        with self.lock:
            while self.nonce_times and self.nonce_times[0][0] < now - window:
                self.nonces.discard(self.nonce_times.popleft()[1])
            if nonce in self.nonces:
                return False
            self.nonces.add(nonce)
            self.nonce_times.append((now, nonce))
            return True


# -- small value helpers -----------------------------------------------------------------------


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


_num = values.num


_ref_id = values.ref_id


_lines = values.lines


def _applications(rec_type: str, body: dict[str, Any]) -> dict[str, Decimal]:
    """{doc id: amount} this record applies (apply lines with apply true)."""
    if rec_type not in APPLY_DOC_TYPES:
        return {}
    out: dict[str, Decimal] = {}
    for line in _lines(body, "apply"):
        doc = _ref_id(line.get("doc"))
        if doc and line.get("apply", True) is not False:
            out[doc] = out.get(doc, Decimal(0)) + _num(line.get("amount"))
    return out


# -- request body checks -------------------------------------------------------------------------


def unknown_fields(kind: AccountKind, ns_type: str, body: dict[str, Any]) -> list[str]:
    """JSON paths of field names the record type does not have in this account's schema."""
    unknown = []
    fields, sublists = kind.fields(ns_type), kind.sublists(ns_type)
    for name, value in body.items():
        if name not in fields:
            unknown.append(name)
        elif name in sublists and isinstance(value, dict):
            allowed = sublists[name]
            for i, line in enumerate(value.get("items") or []):
                if isinstance(line, dict):
                    unknown += [f"{name}.items[{i}].{k}" for k in line if k not in allowed]
    return unknown


def drop_fields(body: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The body without the given JSON paths (`name`, `sublist.items[2].name`, deeper too): what
    NetSuite ignores of a request when it only warns."""
    out = copy.deepcopy(body)
    for path in sorted(paths, key=_path_tokens, reverse=True):  # later list items first
        tokens = _path_tokens(path)
        node: Any = out
        for token in tokens[:-1]:
            node = node[token]
        if isinstance(node, list):
            node.pop(tokens[-1])
        else:
            node.pop(tokens[-1], None)
    return out


def _path_tokens(path: str) -> list[Any]:
    return [int(t[1:-1]) if t.startswith("[") else t for t in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


def _check_values(kind: AccountKind, ns_type: str, body: dict[str, Any], strict: bool) -> list[str]:
    """Each value of the type its field's schema gives it (field_types.py); the paths of the values
    ignored when `strict` is off, else the first bad one refused (400 INVALID_CONTENT naming it)."""
    bad = field_types.invalid_values(kind.schemas, ns_type, body)
    eid = body.get("externalId")  # letters, digits, _ and - (section_156334828635)
    if eid is not None and isinstance(eid, str) and not _EXTERNAL_ID.match(eid):
        bad.append(("externalId", eid))
    if bad and strict:
        raise invalid_value(*bad[0][::-1])
    return [path for path, _ in bad]


# salesOrder.orderStatus: "A" Pending Approval, "B" Pending Fulfillment (section_159795516182).
ORDER_APPROVAL = {"A": "Pending Approval", "B": "Pending Fulfillment"}


def order_approval(value: Any) -> str | None:
    """The letter of an orderStatus as sent: the bare letter of Oracle's example ("B",
    section_159795516182) or the object the REST API Browser types it as ({"id": "B"}); None when
    it is neither."""
    letter = value.get("id") if isinstance(value, dict) else value
    return letter if isinstance(letter, str) and letter in ORDER_APPROVAL else None


# -- merging a request into a record ---------------------------------------------------------------


def _line_key(sublist: str, line: dict[str, Any]) -> str | None:
    """Key that matches a request line to an existing line (OpenAPI x-ns-sublistkey)."""
    if sublist == "item":
        return str(line["line"]) if line.get("line") is not None else None
    if sublist == "apply":  # x-ns-sublistkey (doc, line); a document's own line is 0 (article_0224093711)
        doc = _ref_id(line.get("doc"))
        return f"{doc}:{line.get('line') if line.get('line') is not None else 0}" if doc else None
    if sublist == "payment":
        return str(line["id"]) if line.get("id") is not None else None
    if sublist == "currencyList":  # customer-currencyListElement: x-ns-sublistkey currency
        return _ref_id(line.get("currency"))
    if sublist == "subsidiary":  # an item's subsidiaries (nsResourceCollection): one line per id
        return _ref_id(line)
    return None  # other, cashBack: not keyed, always appended


def _merge_line(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _merge_sublist(
    sublist: str, old: list[dict[str, Any]], new: list[dict[str, Any]], replace: bool
) -> list[dict[str, Any]]:
    """Keyed lines update their match, the others are ADDED [section_1545295601]; `replace` swaps all."""
    lines = [] if replace else [dict(line) for line in old]
    next_line = max((int(line.get("line", 0)) for line in old), default=0) + 1
    for req in new:
        key = _line_key(sublist, req)
        match = next((i for i, line in enumerate(lines) if key and _line_key(sublist, line) == key), None)
        if match is not None:
            lines[match] = _merge_line(lines[match], req)
            continue
        line = {k: v for k, v in req.items() if v is not None}
        if sublist == "item":
            line["line"] = next_line  # a fresh line id, never reused
            next_line += 1
        lines.append(line)
    return lines


def _merge(
    kind: AccountKind, ns_type: str, old: dict[str, Any], request: dict[str, Any], replace: frozenset[str]
) -> dict[str, Any]:
    """Body fields merge (null clears); sublists per `_merge_sublist`."""
    server = _SERVER_FIELDS_BY_TYPE.get(ns_type, _SERVER_FIELDS)
    merged = copy.deepcopy(old)
    sublists = kind.sublists(ns_type)
    for name, value in request.items():
        if name in server:
            continue
        if name in sublists:
            new_lines = value.get("items", []) if isinstance(value, dict) else []
            lines = _merge_sublist(name, _lines(old, name), new_lines, value is None or name in replace)
            merged[name] = {"items": lines}
        elif value is None:
            merged.pop(name, None)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


# -- validation of a merged record ---------------------------------------------------------------


class _Checker:
    """Reference and business-rule checks of one record about to be stored."""

    def __init__(self, acct: AccountData, ns_type: str, rid: str | None, body: dict[str, Any]) -> None:
        self.acct, self.type, self.rid, self.body = acct, ns_type, rid, body

    def ref(self, path: str, value: Any) -> str:
        rid = _ref_id(value)
        if rid is None:
            raise invalid_value(value, path)
        return rid

    def gl(self, path: str, value: Any, types: tuple[str, ...]) -> None:
        acct = self.acct.chart.get(self.ref(path, value))
        if acct is None or acct.inactive or acct.type not in types:
            raise invalid_value(value, path)

    def record(self, path: str, value: Any, types: tuple[str, ...]) -> Record:
        rec = self.acct.records.get(self.ref(path, value))
        if rec is None or rec.type not in types or rec.voided or rec.body.get("isInactive") is True:
            raise invalid_value(value, path)
        return rec

    def optional(self, name: str, check: Any, *args: Any) -> None:
        if self.body.get(name) is not None:
            check(name, self.body[name], *args)

    def subsidiary(self, path: str, value: Any) -> None:
        refs = value.get("items") if isinstance(value, dict) and "items" in value else [value]
        for i, ref in enumerate(refs or []):
            where = f"{path}.items[{i}]" if isinstance(value, dict) and "items" in value else path
            if self.ref(where, ref) not in self.acct.kind.subsidiaries:
                raise invalid_value(ref, where)

    def currency(self, path: str, value: Any) -> None:
        if self.ref(path, value) not in self.acct.kind.currencies:
            raise invalid_value(value, path)

    def unique_name(self, name: str, types: tuple[str, ...], message: str) -> None:
        value = self.body.get(name)
        if value is None:
            return
        for rec in self.acct.records.values():
            if rec.id != self.rid and rec.type in types and rec.body.get(name) == value:
                raise user_error(message)

    # per record kind ------------------------------------------------------------------------

    def customer(self) -> None:
        b = self.body
        if b.get("isPerson") is True:
            if not (b.get("firstName") or b.get("lastName")):
                raise missing_values("Last Name")
        elif not b.get("companyName"):
            raise missing_values("Company Name")
        # One company otherwise: no subsidiary to name (the subsidiary record needs OneWorld, or the
        # hidden Subsidiaries feature: section_157607424766).
        if self.acct.kind.oneworld:
            if b.get("subsidiary") is None:
                raise missing_values("Primary Subsidiary")
            self.subsidiary("subsidiary", b["subsidiary"])
        self.optional("currency", self.currency)
        for i, line in enumerate(_lines(b, "currencyList")):
            self.currency(f"currencyList.items[{i}].currency", line.get("currency"))
        numbering.check_customer_id(self.acct, self.rid, b)
        self.fixed_once_transacting()

    def fixed_once_transacting(self) -> None:
        """A customer's primary subsidiary and currency stay once it has transactions: "Once a
        transaction has posted for the entity or job, you are not able to change the subsidiary"
        (customer and CustomerSubsidiaryRelationship `subsidiary`, Oracle's Records and SOAP
        Schema Browsers); "This customer's currency cannot be changed after transactions for this
        customer have been saved" (Records Browser, customer `currency`). Any transaction counts,
        an unposted sales order too (the stricter reading). The error's code and words are [U]."""
        old = self.acct.records.get(self.rid or "")
        if old is None or not _has_transactions(self.acct, old.id):
            return
        base = self.acct.kind.base_currency
        for name, label, default in (
            ("subsidiary", "primary subsidiary", None),
            ("currency", "currency", base),
        ):
            before = _ref_id(old.body.get(name)) or default
            after = _ref_id(self.body.get(name)) or default
            if after != before:
                raise user_error(f"You cannot change the {label} of a customer that has transactions.", name)

    def item(self) -> None:
        b = self.body
        required = ["itemId", "incomeAccount"]
        if self.type == "inventoryItem":
            required += ["assetAccount", "cogsAccount"]
        labels = {"itemId": "Item Name/Number", "incomeAccount": "Income Account"}
        labels |= {"assetAccount": "Asset Account", "cogsAccount": "COGS Account"}
        missing = [labels[n] for n in required if b.get(n) in (None, "")]
        if missing:
            raise missing_values(*missing)
        self.optional("subsidiary", self.subsidiary)
        self.optional("incomeAccount", self.gl, ("Income", "OthIncome"))
        self.optional("deferredRevenueAccount", self.gl, ("DeferRevenue",))
        self.optional("assetAccount", self.gl, ("OthCurrAsset", "FixedAsset", "OthAsset"))
        self.optional("cogsAccount", self.gl, ("COGS",))
        message = "The item name you have chosen is already used. Go back, change the name and resubmit."
        self.unique_name("itemId", ITEM_TYPES, message)

    def sales(self) -> None:
        b = self.body
        if b.get("entity") is None:
            raise missing_values("Customer")
        self.record("entity", b["entity"], ("customer",))
        self.common_transaction()
        self.optional("account", self.gl, ("AcctRec",))
        allowed = CREATED_FROM_TYPES[self.type]
        self.optional("createdFrom", self.record, allowed)
        lines = _lines(b, "item")
        if not lines:
            raise user_error("You must enter at least one line item for this transaction.")
        for i, line in enumerate(lines):
            path = f"item.items[{i}].item"
            if line.get("item") is None:
                raise missing_values("Item")
            item = self.record(path, line["item"], ITEM_TYPES)
            if not _available(self.acct, item, self.transaction_subsidiary()):
                raise invalid_value(line["item"], path)
        if self.type == "creditMemo":  # applies up to its total, SuiteTax's tax included
            self.apply_lines(_sales_total(self.acct, self.type, self.body))

    def payment(self) -> None:
        b = self.body
        missing = [
            label
            for name, label in (("customer", "Customer"), ("payment", "Payment Amount"))
            if b.get(name) is None
        ]
        if missing:
            raise missing_values(*missing)
        self.record("customer", b["customer"], ("customer",))
        self.common_transaction()
        if _undeposited(b, self.acct.undep_funds_default):
            if b.get("account") is not None:
                self.gl("account", b["account"], ("Bank", "OthCurrAsset"))
        elif b.get("account") is None:
            raise missing_values("Account")
        else:
            self.gl("account", b["account"], ("Bank", "OthCurrAsset"))
        self.optional("arAcct", self.gl, ("AcctRec",))
        amount = _num(b["payment"])
        if amount <= 0:
            raise invalid_value(b["payment"], "payment")
        if autoapply.wanted(self.acct, b):
            b["apply"] = {"items": autoapply.apply_lines(self.open_invoices(), amount)}
        self.apply_lines(amount)

    def open_invoices(self) -> list[tuple[str, str, Decimal]]:
        """(tranDate, id, open amount) of this customer's open invoices, for Auto Apply."""
        customer = _ref_id(self.body.get("customer"))
        previous = _applications(self.type, self.acct.records[self.rid].body) if self.rid else {}
        return [
            (
                str(r.body.get("tranDate", "")),
                r.id,
                _open_amount(self.acct, r) + previous.get(r.id, Decimal(0)),
            )
            for r in self.acct.records.values()
            if r.type == "invoice" and not r.voided and _ref_id(r.body.get("entity")) == customer
        ]

    def refund(self) -> None:
        b = self.body
        missing = [
            label for name, label in (("customer", "Customer"), ("account", "Account")) if b.get(name) is None
        ]
        if missing:
            raise missing_values(*missing)
        self.record("customer", b["customer"], ("customer",))
        self.common_transaction()
        self.gl("account", b["account"], ("Bank", "OthCurrAsset"))
        limit = _num(b["total"]) if b.get("total") is not None else None
        self.apply_lines(limit)

    def deposit(self) -> None:
        b = self.body
        if b.get("account") is None:
            raise missing_values("Account")
        self.gl("account", b["account"], ("Bank",))
        self.common_transaction()
        for i, line in enumerate(_lines(b, "payment")):
            path = f"payment.items[{i}].id"
            pay = self.record(path, {"id": line.get("id")}, ("customerPayment",))
            other = self.acct.deposited.get(pay.id)
            if line.get("deposit", True) and (
                not _undeposited(pay.body, self.acct.undep_funds_default) or other not in (None, self.rid)
            ):
                raise invalid_value(line.get("id"), path)
        for sublist in ("other", "cashBack"):
            for i, line in enumerate(_lines(b, sublist)):
                self.gl(f"{sublist}.items[{i}].account", line.get("account"), _ANY_POSTING)
        if not any(_lines(b, s) for s in ("payment", "other", "cashBack")):
            raise user_error("You must enter at least one line item for this transaction.")

    def common_transaction(self) -> None:
        self.optional("subsidiary", self.subsidiary)
        self.optional("currency", self.currency)
        customer = self.customer_record()
        if customer is not None and self.body.get("currency") is not None:
            # A customer transacts in its primary currency and those on its currency list.
            # UNVERIFIED wording; the rule: Oracle "Multiple Currencies and Customers" (Multiple
            # Currencies per Customer): a transaction's currency list shows the customer's currencies.
            if _ref_id(self.body["currency"]) not in _customer_currencies(self.acct, customer):
                raise invalid_value(self.body["currency"], "currency")

    def customer_record(self) -> Record | None:
        return self.acct.records.get(_ref_id(self.body.get("customer") or self.body.get("entity")) or "")

    def transaction_currency(self) -> str:
        return transaction_currency(self.acct, self.body)

    def transaction_subsidiary(self) -> str:
        own = _ref_id(self.body.get("subsidiary"))
        customer = self.customer_record()
        return own or (_ref_id(customer.body.get("subsidiary")) if customer else None) or "1"

    def apply_lines(self, limit: Decimal | None) -> None:
        """Apply docs exist, belong to the customer, and neither they nor the applier are over-applied."""
        customer = _ref_id(self.body.get("customer") or self.body.get("entity"))
        previous = _applications(self.type, self.acct.records[self.rid].body) if self.rid else {}
        total = Decimal(0)
        for i, line in enumerate(_lines(self.body, "apply")):
            if line.get("apply", True) is False:
                continue
            path = f"apply.items[{i}]"
            doc = self.record(f"{path}.doc", line.get("doc"), APPLY_DOC_TYPES[self.type])
            if _ref_id(doc.body.get("entity") or doc.body.get("customer")) != customer:
                raise invalid_value(line.get("doc"), f"{path}.doc")
            # Only documents in the applying record's currency are on its apply sublist [J, third-
            # party docs; docs/NETSUITE.md "Payments"]: another currency's document is not there.
            if _ref_id(doc.body.get("currency")) != self.transaction_currency():
                raise invalid_value(line.get("doc"), f"{path}.doc")
            # Nor are another A/R account's documents [J: NetSuite's form lists them by A/R account;
            # mapping/receivables.py]: a payment's arAcct, a credit memo's account. A refund's
            # schema here has no A/R field, so refunds are not held to it [U].
            ar_field = _AR_FIELD.get(self.type)
            if ar_field and _ar_account(self.body, ar_field) != _ar_account(doc.body, "account"):
                raise invalid_value(line.get("doc"), f"{path}.doc")
            available = _open_amount(self.acct, doc) + previous.get(doc.id, Decimal(0))
            if line.get("amount") is None:
                room = available if limit is None else min(available, limit - total)
                line["amount"] = float(_money(max(room, Decimal(0))))
            amount = _num(line["amount"])
            if amount <= 0 or amount > available:
                raise invalid_value(line["amount"], f"{path}.amount")
            total += amount
        # Refunds already drawn on this payment or credit memo reduce what it can still apply.
        drawn = sum(self.acct.applied.get(self.rid or "", {}).values(), Decimal(0))
        if limit is not None and total > limit - drawn:
            raise user_error("The total amount applied exceeds the amount available to apply.", "apply")

    def precision(self) -> None:
        """An amount finer than the currency's precision (0 or 2 places, section_N1397831) is
        refused, or rounded to it: which NetSuite does is on no Oracle page (switch excess_decimals,
        docs/NETSUITE.md "Currency precision"). Unit prices (`rate`) are not amounts."""
        places = self.acct.kind.places(self.transaction_currency())
        step = Decimal(1).scaleb(-places)
        for path, holder, name in _money_fields(self.body):
            value = holder[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue  # not a number: _check_values' to judge
            amount = _num(value)
            if amount == amount.quantize(step):
                continue
            if self.acct.excess_decimals == "refuse":
                raise invalid_value(value, path)
            holder[name] = float(amount.quantize(step, rounding=ROUND_HALF_UP))

    def run(self) -> None:
        mandatory_fields.check(self.acct, self.type, self.body)
        tax.check(self.acct, self.type, self.body)
        if self.type in TRANSACTION_TYPES:
            classifications.check(self.acct, self.type, self.body)
            self.precision()
        kind = GROUP[self.type]
        if kind == "entity":
            self.customer()
        elif kind == "item":
            self.item()
        elif self.type in SALES_TYPES:
            self.sales()
        else:
            {"customerPayment": self.payment, "customerRefund": self.refund, "deposit": self.deposit}[
                self.type
            ]()


_ANY_POSTING = ("Bank", "AcctRec", "OthCurrAsset", "FixedAsset", "OthAsset", "Income", "OthIncome", "Expense")
_ANY_POSTING += ("OthExpense", "COGS", "DeferRevenue", "OthCurrLiab", "LongTermLiab", "Equity", "AcctPay")


# The field naming an applying document's A/R account; a document without one posts to the
# account's default A/R account (the chart's first AcctRec, "2").
_AR_FIELD = {"customerPayment": "arAcct", "creditMemo": "account"}
_DEFAULT_AR = "2"


def _ar_account(body: dict[str, Any], field: str) -> str:
    return _ref_id(body.get(field)) or _DEFAULT_AR


def transaction_currency(acct: AccountData, body: dict[str, Any]) -> str:
    """The currency a transaction will have: its own, else its customer's primary one."""
    own = _ref_id(body.get("currency"))
    customer = acct.records.get(_ref_id(body.get("customer") or body.get("entity")) or "")
    return own or (_ref_id(customer.body.get("currency")) if customer else None) or acct.kind.base_currency


# A transaction's amounts in its currency: body fields, and line fields per sublist (not `rate`).
_MONEY_BODY = ("payment", "total")
_MONEY_LINES = {"item": ("amount",), "taxDetails": ("taxAmount", "taxBasis"), "apply": ("amount",)}
_MONEY_LINES |= {"other": ("amount",), "cashBack": ("amount",)}


def _money_fields(body: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(path, the dict holding it, its key) of each amount `body` sends."""
    out = [(name, body, name) for name in _MONEY_BODY if body.get(name) is not None]
    for sublist, names in _MONEY_LINES.items():
        for i, line in enumerate(_lines(body, sublist)):
            out += [(f"{sublist}.items[{i}].{n}", line, n) for n in names if line.get(n) is not None]
    return out


def _has_transactions(acct: AccountData, customer_id: str) -> bool:
    return any(
        rec.type in TRANSACTION_TYPES
        and _ref_id(rec.body.get("entity") or rec.body.get("customer")) == customer_id
        for rec in acct.records.values()
    )


def _customer_currencies(acct: AccountData, customer: Record) -> set[str]:
    primary = _ref_id(customer.body.get("currency")) or acct.kind.base_currency
    return {primary} | {
        c for line in _lines(customer.body, "currencyList") if (c := _ref_id(line.get("currency")))
    }


def _available(acct: AccountData, item: Record, subsidiary: str) -> bool:
    """An item is sold in the subsidiaries on its list, and their children where includeChildren
    is set (the item record's Subsidiary / Include Children fields, as on `account` in the real
    schema). An item without a list is sold in the parent subsidiary only, or everywhere [U: a
    switch]."""
    if not acct.kind.oneworld:  # one company, no subsidiary record (section_157607424766): no limit
        return True
    listed = {s for line in _lines(item.body, "subsidiary") if (s := _ref_id(line))}
    if not listed and acct.items_everywhere_without_list:
        return True
    listed = listed or {"1"}
    if subsidiary in listed:
        return True
    if item.body.get("includeChildren") is True:
        parent = acct.kind.subsidiaries.get(subsidiary, ("", None))[1]
        while parent is not None:
            if parent in listed:
                return True
            parent = acct.kind.subsidiaries.get(parent, ("", None))[1]
    return False


def _undeposited(body: dict[str, Any], default: bool = True) -> bool:
    """undepFunds as a {"id": "T"} reference, the type NetSuite's REST browser gives it
    (docs/NETSUITE.md "Payments"; a boolean is refused by `_Checker.payment`). Left out, the
    account's default: on (Undeposited Funds, even with an `account`) unless the switch
    undep_funds_default is false [U: Oracle is silent on what an `account` does then]."""
    value = body.get("undepFunds")
    if value is None:
        return default
    if isinstance(value, dict):
        value = value.get("id")
    return value == "T"


def _line_amount(line: dict[str, Any], places: int = 2) -> Decimal:
    """A line's amount: as sent, or quantity x rate in the currency's precision (Oracle's example:
    ten units in yen come to ¥115,408, not ¥115,408.10, section_N1397831)."""
    step = Decimal(1).scaleb(-places)
    if line.get("amount") is not None:
        return _num(line["amount"]).quantize(step, rounding=ROUND_HALF_UP)
    quantity = _num(line["quantity"]) if line.get("quantity") is not None else Decimal(1)
    return (quantity * _num(line.get("rate"))).quantize(step, rounding=ROUND_HALF_UP)


# -- derived values: totals, open balances, statuses ----------------------------------------------

_STATUS_NAMES = {
    "invoice": {"A": "Open", "B": "Paid In Full"},
    "creditMemo": {"A": "Open", "B": "Fully Applied", "V": "Voided"},
    "customerPayment": {"B": "Not Deposited", "C": "Deposited"},
}


def _status(ns_type: str, letter: str) -> dict[str, str]:
    return {"id": letter, "refName": _STATUS_NAMES[ns_type][letter]}


def _open_amount(acct: AccountData, rec: Record) -> Decimal:
    """What is still open on a document: invoice due, credit memo or payment unapplied."""
    if rec.voided:
        return Decimal(0)
    key = "amountRemaining" if rec.type == "invoice" else "unapplied"
    return _num(rec.derived.get(key))


def _fill_defaults(acct: AccountData, rec: Record, created: bool) -> None:
    """Fields NetSuite fills in when a record is created without them."""
    b = rec.body
    if rec.type == "customer":  # its Customer ID: sent, numbered, or the name it follows
        numbering.fill_customer_id(acct, rec, created)
    if rec.type not in TRANSACTION_TYPES:
        return
    b.setdefault("tranDate", datetime.now(UTC).date().isoformat())
    b.setdefault("tranId", f"{_TRAN_PREFIX[rec.type]}{rec.id}")
    customer = acct.records.get(_ref_id(b.get("entity") or b.get("customer")) or "")
    if customer is not None:
        b.setdefault("subsidiary", copy.deepcopy(customer.body.get("subsidiary") or {"id": "1"}))
        base = {"id": acct.kind.base_currency}
        b.setdefault("currency", copy.deepcopy(customer.body.get("currency") or base))
    if rec.type in ("invoice", "creditMemo", "salesOrder"):
        b.setdefault("account", {"id": _DEFAULT_AR})
    if rec.type == "salesOrder":  # created without one: Pending Approval (section_159795516182)
        letter = order_approval(b.get("orderStatus")) or "A"
        b["orderStatus"] = {"id": letter, "refName": ORDER_APPROVAL[letter]}
    if rec.type == "customerPayment":
        b.setdefault("arAcct", {"id": "2"})
        on = acct.undep_funds_default  # as a GET shows it: the account's default, fixed at creation
        b.setdefault("undepFunds", {"id": "T" if on else "F", "refName": "Yes" if on else "No"})


def _derive_sales(acct: AccountData, ns_type: str, body: dict[str, Any], derived: dict[str, Any]) -> None:
    """A sales record's line amounts and `total`: its item lines, plus its tax with SuiteTax (tax
    details and their total; "Tax Details on Transactions in SuiteTax", section_4283867856:
    Subtotal + Tax Total = Total)."""
    places = acct.kind.places(transaction_currency(acct, body))
    for line in _lines(body, "item"):
        line["amount"] = float(_line_amount(line, places))
    derived["total"] = float(sum((_num(line["amount"]) for line in _lines(body, "item")), Decimal(0)))
    tax.derive(acct, ns_type, body, derived, places)


def _sales_total(acct: AccountData, ns_type: str, body: dict[str, Any]) -> Decimal:
    """The `total` a sales body will report once stored (worked out on a copy). A credit memo
    applies up to it: its amount remaining is its total, tax included, less what it applied."""
    derived: dict[str, Any] = {}
    _derive_sales(acct, ns_type, copy.deepcopy(body), derived)
    return _num(derived["total"])


def _derive_own(acct: AccountData, rec: Record) -> None:
    """Totals of a record from its own lines (before balances are recomputed)."""
    b, d = rec.body, rec.derived
    if rec.type in SALES_TYPES:
        _derive_sales(acct, rec.type, b, d)
        if rec.type == "salesOrder":  # its billing by invoices made from it (sandbox/transforms.py)
            d["status"] = _transforms().order_status(acct, rec)
    elif rec.type == "customerPayment":
        d["total"] = float(_money(_num(b.get("payment"))))
    elif rec.type == "customerRefund" and b.get("total") is None:
        b["total"] = float(sum(_applications(rec.type, b).values(), Decimal(0)))
    elif rec.type == "deposit":
        payments = [acct.records[pid] for pid in _deposited_ids(b) if pid in acct.records]
        total = sum((_num(pay.body.get("payment")) for pay in payments), Decimal(0))
        total += sum((_num(line.get("amount")) for line in _lines(b, "other")), Decimal(0))
        total -= sum((_num(line.get("amount")) for line in _lines(b, "cashBack")), Decimal(0))
        d["total"] = float(_money(total))


def _deposited_ids(body: dict[str, Any]) -> list[str]:
    return [str(line["id"]) for line in _lines(body, "payment") if line.get("deposit", True)]


def _refresh_balance(acct: AccountData, rec: Record) -> None:
    """amountRemaining/applied/unapplied/status from the application index."""
    d = rec.derived
    received = sum(acct.applied.get(rec.id, {}).values(), Decimal(0))  # applied TO this record
    given = sum(_applications(rec.type, rec.body).values(), Decimal(0)) if not rec.voided else Decimal(0)
    total = _num(d.get("total"))
    if rec.type == "invoice":
        remaining = _money(total - received)
        d |= {"amountPaid": float(_money(received)), "amountRemaining": float(remaining)}
        d["status"] = _status("invoice", "B" if remaining <= 0 and total > 0 else "A")
    elif rec.type == "creditMemo":
        unapplied = _money(total - given - received) if not rec.voided else Decimal(0)
        d |= {
            "applied": float(_money(given)),
            "unapplied": float(unapplied),
            "amountRemaining": float(unapplied),
        }
        letter = "V" if rec.voided else ("B" if unapplied <= 0 and total > 0 else "A")
        d["status"] = _status("creditMemo", letter)
    elif rec.type == "customerPayment":
        unapplied = _money(total - given - received) if not rec.voided else Decimal(0)
        d |= {"applied": float(_money(given)), "unapplied": float(unapplied)}
        deposited = rec.id in acct.deposited or not _undeposited(rec.body, acct.undep_funds_default)
        d["status"] = _status("customerPayment", "C" if deposited else "B")


def _reindex(acct: AccountData, rec: Record, old_body: dict[str, Any] | None) -> None:
    """Update the application/deposit indexes for `rec` and refresh every balance it touches."""
    old_docs = set(_applications(rec.type, old_body or {}))
    for doc in old_docs:
        acct.applied.get(doc, {}).pop(rec.id, None)
    new_apps = {} if rec.voided else _applications(rec.type, rec.body)
    for doc, amount in new_apps.items():
        acct.applied.setdefault(doc, {})[rec.id] = amount
    touched = old_docs | set(new_apps) | {rec.id}
    if rec.type == "deposit":
        for pay_id, dep_id in list(acct.deposited.items()):
            if dep_id == rec.id:
                del acct.deposited[pay_id]
                touched.add(pay_id)
        for pay_id in [] if rec.voided else _deposited_ids(rec.body):
            acct.deposited[pay_id] = rec.id
            touched.add(pay_id)
    for rid in touched:
        if rid in acct.records:
            _refresh_balance(acct, acct.records[rid])


# -- mutations (one function each) -------------------------------------------------------------


@dataclass(frozen=True)
class WriteOutcome:
    record: Record
    created: bool
    ignored_fields: tuple[str, ...] = ()  # unknown names dropped (no strict name validation)
    ignored_values: tuple[str, ...] = ()  # paths of values of the wrong type dropped (no strict values)


def _unknown_field(ns_type: str, path: str) -> NsError:
    name = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
    detail = f"{_ACCESS}Invalid field name: the field '{name}' does not exist on record type {ns_type}."
    return NsError(400, "INVALID_CONTENT", detail, path)


NAME_VALIDATION = "X-NetSuite-PropertyNameValidation"
VALUE_VALIDATION = "X-NetSuite-PropertyValueValidation"


def header_choice(headers: Any, name: str) -> str:
    """A request header NetSuite's OpenAPI document declares with an enum (e.g. Error, Warning,
    Ignore), its default when absent; any other value is refused with 400 INVALID_PARAMETER
    naming the header in o:errorHeader. Enums and defaults: the document's header parameters
    (schema/account-2025-09.json "headers", derived by scripts/derive_netsuite_schema.py)."""
    spec = derived_document()["headers"][name]
    value = headers.get(name.lower())
    if value is None:
        return str(spec["default"])
    if value not in spec["enum"]:
        expected = ", ".join(spec["enum"])
        detail = f"Invalid {name} value '{value}': expected one of {expected}."
        raise NsError(400, "INVALID_PARAMETER", detail, header=name)
    return str(value)


def strict_names(headers: Any) -> bool:
    """Whether unknown field names are refused: X-NetSuite-PropertyNameValidation Error (default
    Warning: they are ignored, with a warning header)."""
    return header_choice(headers, NAME_VALIDATION) == "Error"


def strict_values(headers: Any) -> bool:
    """Whether a value of the wrong type is refused: X-NetSuite-PropertyValueValidation Error, the
    default. What Warning and Ignore do is on no Oracle page [U]: the sandbox ignores such a value,
    as it does an unknown name, and says so in the X-NetSuite-PropertyValidation header."""
    return header_choice(headers, VALUE_VALIDATION) == "Error"


def _prepare(
    acct: AccountData, ns_type: str, body: Any, strict: bool, strict_values: bool = True
) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """The request to merge, the unknown names and the bad values it ignored."""
    if ns_type not in WRITABLE_TYPES:
        raise NsError(405, "INVALID_REQUEST", f"Record type '{ns_type}' cannot be written.")
    if not isinstance(body, dict):
        raise NsError(400, "INVALID_REQUEST", "Invalid request body: a JSON object is expected.")
    unknown = unknown_fields(acct.kind, ns_type, body)
    if unknown and strict:
        raise _unknown_field(ns_type, unknown[0])
    body = drop_fields(body, unknown) if unknown else body
    bad = _check_values(acct.kind, ns_type, body, strict_values)
    body = drop_fields(body, bad) if bad else body
    return body, tuple(unknown), tuple(bad)


def _store(
    acct: AccountData,
    ns_type: str,
    existing: Record | None,
    request: dict[str, Any],
    replace: frozenset[str],
    by: str,
    external_id: str | None = None,
) -> Record:
    """Merge, validate and commit one write; nothing changes when a check fails."""
    old_body = existing.body if existing else {}
    _transforms().check_replace(acct, existing, replace)
    body = _merge(acct.kind, ns_type, old_body, request, replace)
    numbering.settle(acct, ns_type, old_body, request, body)
    if external_id is not None:
        body["externalId"] = external_id
    group = GROUP[ns_type]
    eid = body.get("externalId")
    if eid is not None:
        owner = acct.by_eid.get((group, eid))
        if owner is not None and (existing is None or owner != existing.id):
            raise user_error("A record with this external ID already exists.", "externalId")
    rid = existing.id if existing else str(acct.next_id)
    _Checker(acct, ns_type, existing.id if existing else None, body).run()
    period = periods.settle(acct, ns_type, existing, body)  # refused in a closed period (periods.py)
    stamp = now_iso()
    if existing is None:
        acct.next_id += 1
        rec = Record(ns_type, rid, body, by, stamp, stamp)
        acct.records[rid] = rec
    else:
        rec = existing
        old_eid = rec.external_id
        if old_eid is not None and old_eid != eid:
            acct.by_eid.pop((group, old_eid), None)
        rec.body, rec.last_modified = body, stamp
    if eid is not None:
        acct.by_eid[(group, eid)] = rid
    _fill_defaults(acct, rec, existing is None)
    if period is not None:
        rec.derived["postingPeriod"] = period
    _derive_own(acct, rec)
    _reindex(acct, rec, old_body if existing else None)
    for order in _transforms().linked_invoices(acct, rec):
        _transforms().refresh_order(acct, order)
    acct.version += 1
    return rec


def _transforms() -> Any:
    """The transforms module (it builds on this one, so it is imported when first needed)."""
    from nue_ns.sandbox import transforms

    return transforms


def create(
    acct: AccountData,
    ns_type: str,
    body: Any,
    *,
    strict: bool = False,
    strict_values: bool = True,
    by: str = "integration",
) -> WriteOutcome:
    """`POST /{type}`: always a new record (not idempotent)."""
    with acct.lock:
        request, ignored, bad = _prepare(acct, ns_type, body, strict, strict_values)
        return WriteOutcome(_store(acct, ns_type, None, request, frozenset(), by), True, ignored, bad)


def upsert(
    acct: AccountData,
    ns_type: str,
    external_id: str,
    body: Any,
    *,
    replace: frozenset[str] = frozenset(),
    strict: bool = False,
    strict_values: bool = True,
    by: str = "integration",
) -> WriteOutcome:
    """`PUT /{type}/eid:{externalId}`: create, or update the record of this type holding the eid."""
    with acct.lock:
        if not _EXTERNAL_ID.match(external_id):
            raise invalid_value(external_id, "externalId")
        request, ignored, bad = _prepare(acct, ns_type, body, strict, strict_values)
        owner = acct.by_eid.get((GROUP[ns_type], external_id))
        existing = acct.records.get(owner) if owner else None
        if existing is not None and existing.type != ns_type:
            raise user_error("A record with this external ID already exists.", "externalId")
        rec = _store(acct, ns_type, existing, request, replace, by, external_id)
        return WriteOutcome(rec, existing is None, ignored, bad)


def update(
    acct: AccountData,
    ns_type: str,
    ref: str,
    body: Any,
    *,
    replace: frozenset[str] = frozenset(),
    strict: bool = False,
    strict_values: bool = True,
    by: str = "integration",
) -> WriteOutcome:
    """`PATCH /{type}/{id}`: omitted fields unchanged, null clears, sublists as in upsert."""
    with acct.lock:
        request, ignored, bad = _prepare(acct, ns_type, body, strict, strict_values)
        existing = acct.find(ns_type, ref)
        return WriteOutcome(_store(acct, ns_type, existing, request, replace, by), False, ignored, bad)


def _references(rec: Record) -> set[str]:
    b = rec.body
    refs = {_ref_id(b.get(name)) for name in ("entity", "customer", "createdFrom")}
    refs |= {_ref_id(line.get("item")) for line in _lines(b, "item")}
    refs |= {_ref_id(line.get("doc")) for line in _lines(b, "apply")}
    refs |= {str(line.get("id")) for line in _lines(b, "payment")}
    return {r for r in refs if r}


def delete(acct: AccountData, ns_type: str, ref: str) -> Record:
    """`DELETE /{type}/{id}`: refused while another record depends on it."""
    with acct.lock:
        if ns_type not in WRITABLE_TYPES:
            raise NsError(405, "INVALID_REQUEST", f"Record type '{ns_type}' cannot be deleted.")
        rec = acct.find(ns_type, ref)
        if any(rec.id in _references(other) for other in acct.records.values() if other is not rec):
            raise user_error("This record cannot be deleted because it has dependent records.")
        del acct.records[rec.id]
        if rec.external_id is not None:
            acct.by_eid.pop((GROUP[ns_type], rec.external_id), None)
        acct.applied.pop(rec.id, None)
        rec.voided = True  # drops its applications from the index
        _reindex(acct, rec, rec.body)
        acct.version += 1
        return rec


def read(acct: AccountData, ns_type: str, ref: str) -> dict[str, Any]:
    """A record as `GET` shows it; account/subsidiary/currency come from the reference data."""
    with acct.lock:
        if ns_type == "account" and ref in acct.chart:
            return {"id": ref, **acct.chart[ref].as_record()}
        if ns_type == "subsidiary" and ref in acct.kind.subsidiaries:
            name, parent = acct.kind.subsidiaries[ref]
            sub = {"id": ref, "name": name, "isInactive": False}
            return sub | ({"parent": {"id": parent}} if parent else {})
        if ns_type == "currency" and ref in acct.kind.currencies:
            code = acct.kind.currencies[ref]
            view = {"id": ref, "symbol": code, "name": code, "isInactive": False}
            return view | {"currencyPrecision": acct.kind.places(ref)}  # the real schema's field
        if ns_type in READ_ONLY_TYPES:
            raise not_found()
        return acct.find(ns_type, ref).view()


def list_ids(acct: AccountData, ns_type: str) -> list[str]:
    with acct.lock:
        if ns_type == "account":
            return list(acct.chart)
        if ns_type == "subsidiary":
            return list(acct.kind.subsidiaries)
        if ns_type == "currency":
            return list(acct.kind.currencies)
        return [rec.id for rec in acct.records.values() if rec.type == ns_type]


# -- what a NetSuite user does in the UI -----------------------------------------------------------


def record_user_payment(
    acct: AccountData,
    invoice_id: str,
    amount: float | None = None,
    *,
    deposit_account: str = "1",
    tran_date: str | None = None,
    memo: str | None = None,
) -> Record:
    """A user records a customer payment against an invoice in NetSuite (createdBy "user")."""
    with acct.lock:
        invoice = acct.find("invoice", invoice_id)
        value = _open_amount(acct, invoice) if amount is None else _money(Decimal(str(amount)))
        return user_payment(
            acct, [(invoice.id, value)], deposit_account=deposit_account, tran_date=tran_date, memo=memo
        )


def user_payment(
    acct: AccountData,
    applications: list[tuple[str, Any]],
    amount: Any = None,
    *,
    customer: str | None = None,
    deposit_account: str = "1",
    tran_date: str | None = None,
    memo: str | None = None,
    last_modified: str | None = None,
) -> Record:
    """A user records one customer payment applied to invoices (ids or `eid:X`) in NetSuite.

    An application's amount None pays what is open; the payment's amount defaults to the sum applied.
    `last_modified` stamps the payment as a transaction committed late would be (tests and demos).
    """
    stamp = _stamp(last_modified)
    with acct.lock:
        lines = []
        for invoice_ref, value in applications:
            invoice = acct.find("invoice", str(invoice_ref))
            paid = _open_amount(acct, invoice) if value is None else _money(Decimal(str(value)))
            lines.append({"doc": {"id": invoice.id}, "apply": True, "amount": float(paid)})
        if customer is None and lines:
            customer = _ref_id(acct.records[lines[0]["doc"]["id"]].body.get("entity"))
        elif customer is not None:
            customer = acct.find("customer", customer).id
        applied = sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
        total = applied if amount is None else Decimal(str(amount))
        body: dict[str, Any] = {
            "customer": {"id": customer},
            "payment": float(_money(total)),
            "account": {"id": deposit_account},
            "undepFunds": {"id": "F"},  # deposited to `deposit_account`, as the user chose
            "apply": {"items": lines},
        }
        if tran_date:
            body["tranDate"] = tran_date
        if memo:
            body["memo"] = memo
        rec = _store(acct, "customerPayment", None, body, frozenset(), "user")
        if stamp:
            rec.last_modified = stamp
            acct.version += 1
        return rec


# What a user can void (section_4483109897, N/transaction's transaction.Type: CREDIT_MEMO and
# CUSTOMER_PAYMENT take a "Direct Void").
VOIDABLE_TYPES = ("creditMemo", "customerPayment")


def void_transaction(
    acct: AccountData, ns_type: str, ref: str, *, last_modified: str | None = None
) -> Record:
    """A user voids a credit memo or a customer payment: a direct void, "Voiding a transaction sets
    its total and all its line items to 0" (section_N563543; SuiteQL shows that, sandbox/suiteql.py)
    and reopens what it applied to (its applications released). With "Void Transactions Using
    Reversing Journals" on, neither type can be voided: the preference makes a reversing journal
    only for bill payments, payroll liability payments, customer refunds, tax payments and tax
    liability checks, and then "you can no longer void ... credit memo" (bridgehead_N1469460);
    customer payments are in neither list, and with the preference a direct-void type errors
    (section_4483109897), so the sandbox refuses both."""
    stamp = _stamp(last_modified)
    if ns_type not in VOIDABLE_TYPES:
        raise ValueError(f"type: one of {', '.join(VOIDABLE_TYPES)} is expected")
    with acct.lock:
        rec = acct.find(ns_type, ref)
        if acct.reversing_journal_voids:
            raise ValueError(
                f"A {ns_type} cannot be voided while the accounting preference Void Transactions Using "
                "Reversing Journals is on."
            )
        if rec.voided:
            return rec
        rec.voided = True
        rec.last_modified = stamp or now_iso()
        _reindex(acct, rec, rec.body)
        acct.version += 1
        return rec


def _stamp(last_modified: str | None) -> str | None:
    """A lastModifiedDate override (ISO 8601 with a zone) in NetSuite's form: for several changes in
    one second, or a transaction that commits late with an earlier stamp."""
    if last_modified is None:
        return None
    when = datetime.fromisoformat(last_modified.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("lastModifiedDate needs a time zone, e.g. 2030-01-01T10:00:00Z")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the sandbox: accounts, injected faults, call log ------------------------------------------------

FAULT_KINDS = (
    frozenset({"429", "500", "503", "timeout", "lost_after_commit", "locked", "invalid_login"})
    | MALFORMED_KINDS
)  # answers no NetSuite should give, that the client must survive


def realm_of(account_id: str) -> str:
    """NetSuite's realm form of an account id: upper case, '_' for '-' ("1234567-sb1" -> "1234567_SB1")."""
    return account_id.strip().upper().replace("-", "_")


@dataclass(eq=False)
class Fault:
    """An injected failure for matching calls: `count` times (None: no limit), each with `probability`."""

    id: int
    kind: str
    account: str | None = None
    method: str | None = None
    type: str | None = None
    count: int | None = None
    probability: float = 1.0
    delay_s: float = 5.0
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def matches(self, realm: str, method: str, ns_type: str | None) -> bool:
        return (
            self.account in (None, realm)
            and self.method in (None, method.upper())
            and self.type in (None, ns_type)
        )

    def describe(self) -> dict[str, Any]:
        keys = ("id", "kind", "account", "method", "type", "count", "probability", "delay_s")
        return {key: getattr(self, key) for key in keys}


class SandboxState:
    """Everything the sandbox holds; safe to use from the event loop and from other threads."""

    def __init__(self, latency_ms: tuple[float, float] = (0.0, 0.0)) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, AccountData] = {}
        self.latency_ms = latency_ms
        self.rng = random.Random(0)  # latency draws: repeatable runs
        self.faults: list[Fault] = []
        self._fault_ids = 0
        self.log: list[dict[str, Any]] = []

    # accounts ---------------------------------------------------------------------------------

    def register_account(
        self,
        account_id: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        concurrency_limit: int = 5,
        kind: str | None = None,
    ) -> AccountData:
        """Add an account, or change the credentials and limit of a known one (its data stays);
        `kind` (kinds.py) sets its schema and reference data, else NUE_NS_SANDBOX_KIND's kind."""
        if not account_id or concurrency_limit < 1:
            raise ValueError("account_id is required and concurrency_limit must be at least 1")
        realm = realm_of(account_id)
        with self.lock:
            acct = self.accounts.get(realm)
            if acct is None:
                acct = AccountData(realm, consumer_key, consumer_secret, token_id, token_secret)
                self.accounts[realm] = acct
            acct.consumer_key, acct.consumer_secret = consumer_key, consumer_secret
            acct.token_id, acct.token_secret = token_id, token_secret
            acct.concurrency_limit = concurrency_limit
            if kind is not None:
                acct.kind = kinds.kind(kind)
                acct.version += 1
            return acct

    def account(self, realm: str) -> AccountData | None:
        """The account whose realm is exactly `realm` (a lower-case realm matches nothing)."""
        return self.accounts.get(realm)

    def reset(self) -> None:
        """Forget records, the call log and faults; accounts and their settings stay."""
        with self.lock:
            for acct in self.accounts.values():
                acct.clear_data()
            self.log.clear()
            self.faults.clear()
            self.rng.seed(0)

    # faults -------------------------------------------------------------------------------------

    def add_fault(
        self,
        kind: str,
        *,
        account: str | None = None,
        method: str | None = None,
        type: str | None = None,
        count: int | None = None,
        probability: float | None = None,
        delay_s: float | None = None,
        seed: int = 0,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        if count is not None and count < 1 or probability is not None and not 0 < probability <= 1:
            raise ValueError("count must be >= 1 and probability in (0, 1]")
        with self.lock:
            self._fault_ids += 1
            fault = Fault(
                self._fault_ids,
                kind,
                realm_of(account) if account else None,
                method.upper() if method else None,
                type,
                count,
                1.0 if probability is None else probability,
                5.0 if delay_s is None else delay_s,
                random.Random(seed),
            )
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> int:
        with self.lock:
            cleared = len(self.faults)
            self.faults.clear()
            return cleared

    def take_fault(self, realm: str, method: str, ns_type: str | None) -> Fault | None:
        """The first matching fault that fires for this call (uses up one of its count)."""
        with self.lock:
            for fault in self.faults:
                if not fault.matches(realm, method, ns_type):
                    continue
                if fault.probability < 1.0 and fault.rng.random() >= fault.probability:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                return fault
            return None

    def latency_s(self, acct: AccountData) -> float:
        low, high = acct.latency_ms or self.latency_ms
        with self.lock:
            return self.rng.uniform(low, high) / 1000.0 if high > 0 else 0.0

    # call log -----------------------------------------------------------------------------------

    def log_call(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["seq"] = len(self.log) + 1
            self.log.append(entry)

    def calls(self, account: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        realm = realm_of(account) if account else None
        with self.lock:
            tail = self.log[since:] if since >= 0 else self.log
            return [dict(e) for e in tail if realm is None or e["account"] == realm]

    def stats(
        self, account: str | None = None, period: float = 60.0, limit: int | None = None
    ) -> dict[str, Any]:
        """Call counts, the busiest `period`-second window and duplicate externalIds (must be none)."""
        calls = self.calls(account)
        starts = sorted(e["t_start"] for e in calls)
        busiest, over, lo = 0, 0, 0
        for hi, t in enumerate(starts):  # windows ending at each call
            while t - starts[lo] >= period:
                lo += 1
            busiest = max(busiest, hi - lo + 1)
        if limit is not None:
            hi = 0
            for lo, t in enumerate(starts):  # windows starting at each call
                while hi < len(starts) and starts[hi] - t < period:
                    hi += 1
                over += hi - lo > limit
        with self.lock:
            realm = realm_of(account) if account else None
            accts = [a for r, a in self.accounts.items() if realm in (None, r)]
            max_in_flight = max((a.max_in_flight for a in accts), default=0)
            seen: dict[tuple[str, str, str], int] = {}
            for acct in accts:
                with acct.lock:
                    for rec in acct.records.values():
                        if rec.external_id is not None:
                            key = (acct.realm, GROUP[rec.type], rec.external_id)
                            seen[key] = seen.get(key, 0) + 1
        by_status: dict[str, int] = {}
        for e in calls:
            by_status[str(e["status"])] = by_status.get(str(e["status"]), 0) + 1
        writes = [
            e for e in calls if e["method"] in ("PUT", "POST", "PATCH", "DELETE") and e["type"] != "suiteql"
        ]
        by_eid: dict[str, int] = {}
        for e in writes:
            if e["external_id"]:
                by_eid[e["external_id"]] = by_eid.get(e["external_id"], 0) + 1
        return {
            "calls": len(calls),
            "writes": len(writes),
            "writes_by_external_id": by_eid,  # write attempts per eid (retries show up here)
            "by_status": by_status,
            "duplicates": sorted(eid for (_, _, eid), n in seen.items() if n > 1),
            "max_in_flight": max_in_flight,
            "period": period,
            "busiest_window_calls": busiest,
            "limit": limit,
            "windows_over_limit": over if limit is not None else None,
        }
