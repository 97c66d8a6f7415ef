"""The Nue record contracts that producers send.

Field names are the ones upstream systems use. Amounts are Decimals (a float is refused: it
has already lost cents), totals must equal the sum of their lines, ids must be usable inside a
NetSuite externalId. Unknown fields are refused so that a typo is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Collection
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

MAX_TEXT = 4000

# NetSuite externalIds hold letters, digits, '_' and '-' only; the id is embedded in one.
NueId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(min_length=1, max_length=250)]

# Dates NetSuite and the ledger can mean: a year 0001 or 9999 is a typo or an attack, never a
# posting. NetSuite documents no range of its own (UNVERIFIED); this window is ours.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
# How far ahead of our clock a producer's `updated_at` may be. A later one would make every real
# correction after it "stale" (see hub.intake.accept), so it is refused.
CLOCK_SKEW = dt.timedelta(days=1)


def _in_window(value: dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not DATE_MIN <= day <= DATE_MAX:
        raise ValueError(f"must be between {DATE_MIN} and {DATE_MAX}")
    return value


def _not_ahead(value: dt.datetime) -> dt.datetime:
    _in_window(value)
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if aware > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
        raise ValueError(
            "is in the future (more than 1 day ahead of the hub's clock): it would make every "
            "later correction of this record look stale"
        )
    return value


Date = Annotated[dt.date, AfterValidator(_in_window)]
DateTime = Annotated[dt.datetime, AfterValidator(_in_window)]
UpdatedAt = Annotated[dt.datetime, AfterValidator(_not_ahead)]

# ISO 4217 active codes (2024). An account profile read from NetSuite (its currency records) can
# narrow this: `known_currency` is the one place that decides.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG ZWL""".split()
)


def currency_problem(code: str, accepted: Collection[str] | None = None) -> str | None:
    """The one currency rule: why `code` cannot be sent, or None. `accepted` narrows it to what the
    integration (its currency map, or the currencies read from its NetSuite account) holds."""
    if code not in ISO_4217:
        return f"{code} is not an ISO 4217 currency code"
    if accepted is not None and code not in accepted:
        return f"{code} is not one of the integration's currencies ({', '.join(sorted(accepted))})"
    return None


def known_currency(code: str) -> str:
    if problem := currency_problem(code):
        raise ValueError(problem)
    return code


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(known_currency)]


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('send amounts as strings or integers (e.g. "19.99"), not binary floats')
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    return value


# Every Nue amount is held to cents; unit prices have their own step (PRICE_STEP).
MONEY_PLACES = 2
_CENT = Decimal(1).scaleb(-MONEY_PLACES)


def _cents(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if value.as_tuple().exponent < -MONEY_PLACES and value != value.quantize(_CENT):
        raise ValueError(f"amount has more than {MONEY_PLACES} decimal places")
    if abs(value) >= Decimal("1e13"):
        raise ValueError("amount is too large")
    return value.quantize(_CENT)


def _price(value: Decimal) -> Decimal:
    """A unit price: up to 8 decimal places (usage pricing such as $0.0015 a unit)."""
    if not value.is_finite():
        raise ValueError("unit price must be a finite number")
    if value != value.quantize(PRICE_STEP):
        raise ValueError("unit price has more than 8 decimal places")
    if len(value.normalize().as_tuple().digits) > 15:  # NetSuite's rate is a double
        raise ValueError("unit price has more than 15 significant digits")
    if abs(value) >= Decimal("1e13"):
        raise ValueError("unit price is too large")
    return value


# Line amounts, tax and totals are in cents; unit prices may carry up to 8 decimals. NetSuite gets
# Nue's amount as the line amount and the unit price as the rate, as given: amount is never
# recomputed from quantity x rate (docs/NETSUITE_SETUP.md "Rates and rounding").
PRICE_STEP = Decimal("0.00000001")
Money = Annotated[Decimal, BeforeValidator(_no_float)]
Quantity = Annotated[Decimal, BeforeValidator(_no_float), Field(gt=0, le=Decimal("1e9"))]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else v


# Characters nobody can see: format controls (zero-width, bidi embeddings and isolates, BOM),
# separators and a few "blank" letters. Bidi controls reorder what a reader sees (Trojan Source),
# control characters corrupt logs and terminals; a value made only of invisibles looks empty.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180e")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in _BLANK_LETTERS or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Zl", "Zp")


# The characters clean_text refuses anywhere, found by one regex search: every control character
# (Unicode category Cc: U+0000-U+001F and U+007F-U+009F) but tab, newline and carriage return,
# and the bidi controls.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(sorted(_BIDI)) + "]")


def clean_text(v: str) -> str:
    """The one rule for every text field: no NUL or other control characters (tab and newline
    aside), no bidi controls, valid Unicode, and not made only of invisible characters."""
    if v.isascii() and v.isprintable():
        return v  # no control character, and only a space can be invisible (then all are: allowed)
    if "\x00" in v:
        raise ValueError("text contains a NUL character")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode") from exc
    if bad := _FORBIDDEN.search(v):  # the first one, as a reader meets it
        ch = bad.group()
        if ch in _BIDI:
            raise ValueError(f"text contains a bidirectional control character (U+{ord(ch):04X})")
        raise ValueError(f"text contains a control character (U+{ord(ch):04X})")
    if v and all(_invisible(ch) for ch in v) and not v.isspace():
        raise ValueError("text is made only of invisible characters")
    return v


def _money_field(v: Decimal, *, positive: bool = False, non_negative: bool = False) -> Decimal:
    v = _cents(v)
    if positive and v <= 0:
        raise ValueError("must be greater than 0")
    if non_negative and v < 0:
        raise ValueError("must not be negative")
    return v


# A plain address (dot-atom ASCII local part, ASCII domain): its domain, checked once by
# email-validator through pydantic (the rule EmailStr applies), is remembered; a whole address
# costs that library about 60 us, most of it on the domain, which few customers do not share.
_PLAIN_EMAIL = re.compile(r"([A-Za-z0-9_!#$%&'*+/=?^`{|}~.-]{1,64})@([A-Za-z0-9.-]{1,253})")


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The domain as email-validator normalises it, or None: refused, or not plain ASCII after."""
    try:
        normal = validate_email("x@" + domain)[1].rpartition("@")[2]
    except PydanticCustomError:
        return None
    return normal if normal.isascii() else None


def email_address(value: str) -> str:
    """EmailStr's answer for `value` (the same address, or the same error): a plain address
    whose domain is known takes the fast way; any other goes through the full check."""
    plain = _PLAIN_EMAIL.fullmatch(value)
    local = plain[1] if plain and len(value) <= 254 else None
    # email-validator lower-cases the RFC 2142 mailbox names (postmaster, ...): left to it.
    if plain and local and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES and DOT_ATOM_TEXT.match(local):
        domain = _email_domain(plain[2])
        if domain is not None:
            return f"{local}@{domain}"
    return validate_email(value)[1]


class Email(EmailStr):
    """EmailStr (the same rule, error and schema), checked faster: see email_address."""

    @classmethod
    def _validate(cls, input_value: str, /) -> str:
        return email_address(input_value)


class Customer(_Record):
    id: NueId
    name: Name
    email: Email | None = None
    phone: Annotated[str, Field(max_length=32, pattern=r"^[0-9+()./ x-]*$")] | None = None
    is_person: bool = False
    first_name: Annotated[str, Field(max_length=32)] | None = None
    last_name: Annotated[str, Field(max_length=32)] | None = None
    currency: Currency | None = None
    # Other currencies the customer transacts in (NetSuite's currency list). nue-ns adds one, as a
    # new version of the customer, when a transaction in a new currency is to be sent.
    currencies: list[Currency] = Field(default_factory=list, max_length=200)
    subsidiary_id: Annotated[str, Field(pattern=r"^[0-9]{1,10}$")] | None = None
    updated_at: UpdatedAt | None = None

    @model_validator(mode="after")
    def _person_names(self) -> Customer:
        if self.is_person and not (self.first_name and self.last_name):
            raise ValueError("first_name and last_name are required when is_person is true")
        return self


class ProductType(StrEnum):
    subscription = "subscription"
    entitlement = "entitlement"
    asset = "asset"


class Product(_Record):
    id: NueId
    sku: Annotated[str, Field(min_length=1, max_length=60)]
    name: Name
    product_type: ProductType
    category: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    active: bool = True
    updated_at: UpdatedAt | None = None


class Line(_Record):
    id: NueId
    product_id: NueId
    quantity: Quantity
    unit_price: Money
    amount: Money
    start_date: Date | None = None
    end_date: Date | None = None
    description: Text | None = None
    # On an invoice line: the line of the invoice's order that it bills (NetSuite's `orderLine`).
    order_line_id: NueId | None = None
    # Tax Nue charged on this line (in cents), with its rate in percent and tax code name where
    # Nue has them; a line without tax_amount is untaxed.
    tax_amount: Money | None = None
    tax_rate: Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, le=100, decimal_places=6)] | None = (
        None
    )
    tax_code: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @field_validator("amount")
    @classmethod
    def _money(cls, v: Decimal) -> Decimal:
        return _money_field(v)

    @field_validator("unit_price")
    @classmethod
    def _unit_price(cls, v: Decimal) -> Decimal:
        return _price(v)

    @field_validator("tax_amount")
    @classmethod
    def _tax(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else _money_field(v)

    @model_validator(mode="after")
    def _tax_needs_amount(self) -> Line:
        if self.tax_amount is None and (self.tax_rate is not None or self.tax_code is not None):
            raise ValueError("tax_rate and tax_code need tax_amount (the tax Nue charged on the line)")
        return self

    @property
    def tax(self) -> Decimal:
        return self.tax_amount if self.tax_amount is not None else Decimal("0.00")

    @property
    def gross(self) -> Decimal:
        """What the line adds to the document total: its amount plus its tax."""
        return self.amount + self.tax

    @model_validator(mode="after")
    def _dates(self) -> Line:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


def _lines_total(lines: list[Line]) -> Decimal:
    """The document total: every line's amount and tax."""
    return sum((line.gross for line in lines), Decimal("0.00"))


def _unique_line_ids(lines: list[Line]) -> None:
    ids = [line.id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("line ids must be unique within the document")


def _no_order_lines(lines: list[Line]) -> None:
    if any(line.order_line_id for line in lines):
        raise ValueError("lines: order_line_id is for invoice lines that bill an order's line")


def _check_lines(total: Decimal, lines: list[Line]) -> None:
    """A document's lines have unique ids and, with their tax, add up to its total."""
    _unique_line_ids(lines)
    if total != _lines_total(lines):
        raise ValueError(f"total {total} does not equal the sum of lines and their tax {_lines_total(lines)}")


class Order(_Record):
    id: NueId
    order_number: Annotated[str, Field(min_length=1, max_length=45)]
    customer_id: NueId
    status: Annotated[str, Field(min_length=1, max_length=40)]
    activated_at: DateTime | None = None
    currency: Currency
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    updated_at: UpdatedAt | None = None

    @model_validator(mode="after")
    def _check(self) -> Order:
        _unique_line_ids(self.lines)
        _no_order_lines(self.lines)
        if self.total < 0:
            raise ValueError(f"lines total {self.total} is negative: {_NEGATIVE_DOCUMENT}")
        return self

    @property
    def total(self) -> Decimal:
        return _lines_total(self.lines)


# Discount lines may be negative; a document may not. A credit is a credit memo.
_NEGATIVE_DOCUMENT = "a credit is sent as a credit memo; only its discount lines may be negative"


class Invoice(_Record):
    id: NueId
    invoice_number: Annotated[str, Field(min_length=1, max_length=45)]
    customer_id: NueId
    order_id: NueId | None = None
    status: Annotated[str, Field(min_length=1, max_length=40)]
    invoice_date: Date
    due_date: Date | None = None
    currency: Currency
    total: Money
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    # The order's lines this invoice does not bill that a later Nue invoice will: they stay open
    # in NetSuite. Every other order line this invoice does not bill is closed.
    order_lines_billed_later: Annotated[list[NueId], Field(max_length=1000)] | None = None
    updated_at: UpdatedAt | None = None

    @field_validator("total")
    @classmethod
    def _total(cls, v: Decimal) -> Decimal:
        # Zero is allowed: a fully discounted invoice is a real document.
        if _money_field(v) < 0:
            raise ValueError(f"must not be negative: {_NEGATIVE_DOCUMENT}")
        return _money_field(v)

    @model_validator(mode="after")
    def _check(self) -> Invoice:
        _check_lines(self.total, self.lines)
        billed = [line.order_line_id for line in self.lines if line.order_line_id]
        if (billed or self.order_lines_billed_later) and not self.order_id:
            raise ValueError("order_id is required when lines name order_line_id or order_lines_billed_later")
        if len(set(billed)) != len(billed):
            raise ValueError("lines: an order line may be billed by one line of the invoice only")
        if set(billed) & set(self.order_lines_billed_later or ()):
            raise ValueError("order_lines_billed_later names an order line this invoice bills")
        if self.due_date and self.due_date < self.invoice_date:
            raise ValueError("due_date is before invoice_date")
        return self


class Application(_Record):
    invoice_id: NueId
    amount: Money

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: Decimal) -> Decimal:
        return _money_field(v, positive=True)


class CollectedVia(StrEnum):
    stripe = "stripe"
    nue_payment_link = "nue_payment_link"
    third_party = "third_party"


class Payment(_Record):
    id: NueId
    customer_id: NueId
    amount: Money
    currency: Currency
    payment_date: Date
    collected_via: CollectedVia
    reference: Annotated[str, Field(max_length=100)] | None = None
    applications: Annotated[list[Application], Field(min_length=1, max_length=1000)]
    updated_at: UpdatedAt | None = None

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: Decimal) -> Decimal:
        return _money_field(v, positive=True)

    @model_validator(mode="after")
    def _check(self) -> Payment:
        applied = sum((a.amount for a in self.applications), Decimal("0.00"))
        if applied > self.amount:
            raise ValueError(f"applications total {applied} exceeds the payment amount {self.amount}")
        ids = [a.invoice_id for a in self.applications]
        if len(set(ids)) != len(ids):
            raise ValueError("an invoice may be applied only once per payment")
        return self


class RefundApplication(_Record):
    payment_id: NueId | None = None
    credit_memo_id: NueId | None = None
    amount: Money

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: Decimal) -> Decimal:
        return _money_field(v, positive=True)

    @model_validator(mode="after")
    def _one_source(self) -> RefundApplication:
        if bool(self.payment_id) == bool(self.credit_memo_id):
            raise ValueError("give exactly one of payment_id or credit_memo_id")
        return self


class Refund(_Record):
    id: NueId
    customer_id: NueId
    amount: Money
    currency: Currency
    refund_date: Date
    refunded_via: Annotated[str, Field(min_length=1, max_length=40)]
    reference: Annotated[str, Field(max_length=100)] | None = None
    applications: Annotated[list[RefundApplication], Field(min_length=1, max_length=1000)]
    updated_at: UpdatedAt | None = None

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: Decimal) -> Decimal:
        return _money_field(v, positive=True)

    @model_validator(mode="after")
    def _check(self) -> Refund:
        applied = sum((a.amount for a in self.applications), Decimal("0.00"))
        if applied != self.amount:
            raise ValueError(f"applications total {applied} does not equal the refund amount {self.amount}")
        return self


class CreditMemo(_Record):
    id: NueId
    credit_memo_number: Annotated[str, Field(min_length=1, max_length=45)]
    customer_id: NueId
    invoice_id: NueId | None = None
    status: Annotated[str, Field(min_length=1, max_length=40)]
    credit_memo_date: Date
    currency: Currency
    total: Money
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    applications: Annotated[list[Application], Field(max_length=1000)] | None = None
    updated_at: UpdatedAt | None = None

    @field_validator("total")
    @classmethod
    def _total(cls, v: Decimal) -> Decimal:
        # A credit memo of zero credits nothing; a negative one would be an invoice.
        return _money_field(v, positive=True)

    @model_validator(mode="after")
    def _check(self) -> CreditMemo:
        _check_lines(self.total, self.lines)
        _no_order_lines(self.lines)
        applied = sum((a.amount for a in self.applications or []), Decimal("0.00"))
        if applied > self.total:
            raise ValueError(f"applications total {applied} exceeds the credit memo total {self.total}")
        return self


RecordType = Literal["customer", "product", "order", "invoice", "payment", "refund", "credit_memo"]

CONTRACTS: dict[str, type[_Record]] = {
    "customer": Customer,
    "product": Product,
    "order": Order,
    "invoice": Invoice,
    "payment": Payment,
    "refund": Refund,
    "credit_memo": CreditMemo,
}

# Prerequisite order: what a batch sends first.
TYPE_ORDER: dict[str, int] = {t: i for i, t in enumerate(CONTRACTS)}


class InvalidRecord(ValueError):
    """A record refused at the door; `errors` lists each field and reason."""

    def __init__(self, record_type: str, errors: list[dict[str, str]], index: int | None = None):
        self.record_type = record_type
        self.errors = errors
        self.index = index
        where = f"{record_type} #{index + 1}" if index is not None else record_type  # people count from 1
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:10])
        super().__init__(f"invalid {where}: {reasons}")


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(record)"


_PATTERN_REASONS = {
    r"^[A-Za-z0-9_-]+$": "may hold only letters, digits, '_' and '-' (it becomes a NetSuite externalId)",
    r"^[A-Z]{3}$": "must be a 3-letter upper-case ISO currency code such as USD",
}


def _reason(err: dict[str, Any]) -> str:
    if err["type"] == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern", "")
        return _PATTERN_REASONS.get(pattern, f"has characters that are not allowed ({pattern})")
    return err["msg"].removeprefix("Value error, ")


def validate(record_type: str, data: Any, index: int | None = None) -> _Record:
    """Validate one record; raise InvalidRecord naming every bad field."""
    contract = CONTRACTS.get(record_type)
    if contract is None:
        raise InvalidRecord(
            str(record_type)[:40],
            [{"field": "type", "reason": f"unknown record type; expected one of {', '.join(CONTRACTS)}"}],
            index,
        )
    if not isinstance(data, dict):
        raise InvalidRecord(record_type, [{"field": "(record)", "reason": "must be a JSON object"}], index)
    try:
        return contract.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            field, reason = _field_path(err["loc"]), _reason(err)
            # A rule across fields ("total ... does not equal the sum of lines") names its field first.
            first = reason.split(maxsplit=1)[0] if reason else ""
            if not err["loc"] and first in contract.model_fields:
                field = first
            errors.append({"field": field, "reason": reason})
        raise InvalidRecord(record_type, errors, index) from None
