"""The Nue record contracts that producers send.

Field names are the ones upstream systems use. Amounts are Decimals (a float is refused: it
has already lost cents), totals must equal the sum of their lines, ids must be usable inside a
NetSuite externalId. Unknown fields are refused so that a typo is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_TEXT = 4000

# NetSuite externalIds hold letters, digits, '_' and '-' only; the id is embedded in one.
NueId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(min_length=1, max_length=250)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('send amounts as strings or integers (e.g. "19.99"), not binary floats')
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    return value


def _cents(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError("amount has more than 2 decimal places")
    if abs(value) >= Decimal("1e13"):
        raise ValueError("amount is too large")
    return value.quantize(Decimal("0.01"))


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
        # Refuse text NetSuite and PostgreSQL cannot store (NUL, lone surrogates).
        if isinstance(v, str):
            if "\x00" in v:
                raise ValueError("text contains a NUL character")
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("text is not valid Unicode") from exc
        return v


def _money_field(v: Decimal, *, positive: bool = False, non_negative: bool = False) -> Decimal:
    v = _cents(v)
    if positive and v <= 0:
        raise ValueError("must be greater than 0")
    if non_negative and v < 0:
        raise ValueError("must not be negative")
    return v


class Customer(_Record):
    id: NueId
    name: Name
    email: EmailStr | None = None
    phone: Annotated[str, Field(max_length=32, pattern=r"^[0-9+()./ x-]*$")] | None = None
    is_person: bool = False
    first_name: Annotated[str, Field(max_length=32)] | None = None
    last_name: Annotated[str, Field(max_length=32)] | None = None
    currency: Currency | None = None
    # Other currencies the customer transacts in (NetSuite's currency list). nue-ns adds one, as a
    # new version of the customer, when a transaction in a new currency is to be sent.
    currencies: list[Currency] = Field(default_factory=list, max_length=200)
    subsidiary_id: Annotated[str, Field(pattern=r"^[0-9]{1,10}$")] | None = None
    updated_at: dt.datetime | None = None

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
    updated_at: dt.datetime | None = None


class Line(_Record):
    id: NueId
    product_id: NueId
    quantity: Quantity
    unit_price: Money
    amount: Money
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    description: Text | None = None
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
    activated_at: dt.datetime | None = None
    currency: Currency
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    updated_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Order:
        _unique_line_ids(self.lines)
        return self

    @property
    def total(self) -> Decimal:
        return _lines_total(self.lines)


class Invoice(_Record):
    id: NueId
    invoice_number: Annotated[str, Field(min_length=1, max_length=45)]
    customer_id: NueId
    order_id: NueId | None = None
    status: Annotated[str, Field(min_length=1, max_length=40)]
    invoice_date: dt.date
    due_date: dt.date | None = None
    currency: Currency
    total: Money
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    updated_at: dt.datetime | None = None

    _total = field_validator("total")(classmethod(lambda cls, v: _money_field(v)))

    @model_validator(mode="after")
    def _check(self) -> Invoice:
        _check_lines(self.total, self.lines)
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
    payment_date: dt.date
    collected_via: CollectedVia
    reference: Annotated[str, Field(max_length=100)] | None = None
    applications: Annotated[list[Application], Field(min_length=1, max_length=1000)]
    updated_at: dt.datetime | None = None

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
    refund_date: dt.date
    refunded_via: Annotated[str, Field(min_length=1, max_length=40)]
    reference: Annotated[str, Field(max_length=100)] | None = None
    applications: Annotated[list[RefundApplication], Field(min_length=1, max_length=1000)]
    updated_at: dt.datetime | None = None

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
    credit_memo_date: dt.date
    currency: Currency
    total: Money
    lines: Annotated[list[Line], Field(min_length=1, max_length=1000)]
    applications: Annotated[list[Application], Field(max_length=1000)] | None = None
    updated_at: dt.datetime | None = None

    _total = field_validator("total")(classmethod(lambda cls, v: _money_field(v)))

    @model_validator(mode="after")
    def _check(self) -> CreditMemo:
        _check_lines(self.total, self.lines)
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
        where = f"{record_type} #{index}" if index is not None else record_type
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
