"""An integration's mapping configuration: item types, GL accounts, collection scenario, mode.

Stored as JSON in `integrations.settings`; this model is the one place that says what is allowed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nue_ns.records import ProductType, RecordType, clean_text

AccountId = Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]


class ItemType(StrEnum):
    non_inventory_sale = "nonInventorySaleItem"
    service_sale = "serviceSaleItem"
    inventory = "inventoryItem"


class Collection(StrEnum):
    """Where payments are collected (the tutorial's four use cases); the other three are Nue's."""

    netsuite = "netsuite"
    stripe = "stripe"
    nue_payment_link = "nue_payment_link"
    third_party = "third_party"


class InvoiceLink(StrEnum):
    """How an invoice of an order reaches NetSuite (README "Linking documents")."""

    transform = "transform"  # made from its sales order: the order shows billed
    standalone = "standalone"  # upserted on its own; the order's lines are closed when it is sent


class GlAccounts(BaseModel):
    """NetSuite internal ids of the GL accounts; any may be left unset (then it is not configured)."""

    model_config = ConfigDict(extra="forbid")

    subscription_income: AccountId | None = None
    subscription_revenue: AccountId | None = None
    entitlement_income: AccountId | None = None
    entitlement_revenue: AccountId | None = None
    asset_income: AccountId | None = None
    asset_revenue: AccountId | None = None
    clearing: AccountId | None = None
    inventory_asset: AccountId | None = None  # inventory items' asset account
    cogs: AccountId | None = None  # inventory items' cost of goods sold account
    # The account of the tax item (tax_item_id) in an account without SuiteTax: a liability.
    tax_liability: AccountId | None = None
    # The A/R account of invoices, credit memos, and the payments and refunds applied to them (one
    # for all, so a payment finds its invoices); unset, NetSuite takes the account's default.
    receivables: AccountId | None = None


# What type each GL account must have in NetSuite (account.accttype).
EXPECTED_TYPES: dict[str, tuple[str, ...]] = {
    "subscription_income": ("Income",),
    "entitlement_income": ("Income",),
    "asset_income": ("Income",),
    "subscription_revenue": ("DeferRevenue",),
    "entitlement_revenue": ("DeferRevenue",),
    "asset_revenue": ("DeferRevenue",),
    "clearing": ("Bank", "OthCurrAsset"),
    "inventory_asset": ("OthCurrAsset", "FixedAsset", "OthAsset"),
    "cogs": ("COGS",),
    "tax_liability": ("OthCurrLiab",),  # tax collected is owed, never revenue
    "receivables": ("AcctRec",),
}
# GL accounts of a whole document, never of a line: not in category_overrides.
DOCUMENT_ACCOUNTS = ("receivables",)

# Nue record types that become NetSuite transactions with a number (tranId) of their own.
TranType = Literal["order", "invoice", "credit_memo", "payment", "refund"]


def _default_item_types() -> dict[ProductType, ItemType]:
    return {
        ProductType.subscription: ItemType.non_inventory_sale,
        ProductType.entitlement: ItemType.service_sale,
        ProductType.asset: ItemType.inventory,
    }


# The custom fields of each Nue record type's NetSuite record: a customer's are entity fields
# (custentity...), an item's item fields (custitem...), a transaction's body fields (custbody...).
CUSTOM_FIELD_PREFIX: dict[str, str] = {"customer": "custentity", "product": "custitem"} | dict.fromkeys(
    ("order", "invoice", "payment", "refund", "credit_memo"), "custbody"
)
# Item lines of the documents that have them take transaction line fields, keyed `item.custcol...`.
LINE_KEY = "item."  # a key naming a field of every item line
LINE_FIELD_PREFIX = LINE_KEY + "custcol"
LINE_FIELD_TYPES = ("order", "invoice", "credit_memo")
CustomFieldId = Annotated[str, Field(pattern=r"^(cust(entity|item|body)|item\.custcol)[a-z0-9_]{1,90}$")]


class ListValue(BaseModel):
    """A list or record field's value: the internal id of the entry."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(pattern=r"^-?[0-9]{1,12}$")]


FieldValue = StrictBool | StrictInt | StrictFloat | Annotated[str, Field(max_length=4000)] | ListValue


def _texts_clean(value: Any, path: str) -> None:
    """Every text (keys too) under `value` kept to records.clean_text, the one rule for text: a NUL,
    for one, cannot be stored and would otherwise fail only at the database, naming nothing."""
    if isinstance(value, str):
        try:
            clean_text(value)
        except ValueError as exc:
            raise ValueError(f"{path or '(mapping)'}: {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _texts_clean(key, f"{path}.{key!s:.60}".lstrip("."))
            _texts_clean(item, f"{path}.{key!s:.60}".lstrip("."))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _texts_clean(item, f"{path}[{i}]")


# Settings nue-ns writes from NetSuite's answers (a GL check's verdict, a batch refusal): their
# text is NetSuite's, kept as it came (safe_text bounds it where it is shown).
_WRITTEN_BY_NUE_NS = frozenset({"validation", "batches_unsupported"})


class IntegrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _clean_texts(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in _WRITTEN_BY_NUE_NS:  # what people set
            _texts_clean(value, info.field_name or "")
        return value

    scheduled_mode: bool = False
    # Scheduled mode sends up to 100 records of one type per NetSuite call (nue_ns/batches.py).
    batches: bool = True
    # Set when the account answered that it cannot take batch requests: one call per record since.
    batches_unsupported: dict[str, Any] | None = None
    item_types: dict[ProductType, ItemType] = Field(default_factory=_default_item_types)
    gl: GlAccounts = Field(default_factory=GlAccounts)
    category_overrides: dict[Annotated[str, Field(min_length=1, max_length=80)], GlAccounts] = Field(
        default_factory=dict
    )
    collection: Collection = Collection.stripe
    invoice_link: InvoiceLink = InvoiceLink.transform
    # UNVERIFIED: the sales-order line checkbox that keeps a closed line from making an ARM revenue
    # element (no Oracle page names one); set on every line nue-ns closes, never when unset.
    order_line_no_revenue_field: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")] | None = None
    subsidiary_id: AccountId | None = None  # needed in OneWorld accounts
    # Items are sold in these subsidiaries (else only in subsidiary_id), and in their children
    # with item_include_children; list every subsidiary the integration's customers use.
    item_subsidiaries: list[AccountId] = Field(default_factory=list)
    item_include_children: bool = False
    # Currency internal ids come from the account profile by ISO code; set one here only to
    # override the profile (validate checks it against the account).
    currency_ids: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], AccountId] = Field(default_factory=dict)
    # Script id of the transaction-line custom column that holds the Nue line id (sent where the
    # account has it; docs/NETSUITE_SETUP.md).
    line_id_field: Annotated[str, Field(pattern=r"^custcol[a-z0-9_]{1,60}$")] = "custcol_nue_line_id"
    # Tax. With SuiteTax (the account profile shows tax details) Nue's tax goes as the document's
    # tax details, each line's tax code looked up by name (tax_code_default where Nue gives none).
    # Without SuiteTax it goes as lines of this item, whose account is gl.tax_liability.
    tax_item_id: AccountId | None = None
    tax_code_default: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    # Accounts with Advanced Taxes refuse items without a tax schedule.
    tax_schedule_id: AccountId | None = None
    # Classifications (internal ids) put on every transaction's header and item lines, sent where
    # the account's record has the field (mapping/classifications.py): needed where the account
    # makes them mandatory (Accounting Preferences > General, "Make Departments Mandatory" ...).
    department_id: AccountId | None = None
    class_id: AccountId | None = None
    location_id: AccountId | None = None
    # Numbering. NetSuite numbers transactions itself; a number sent as tranId is kept only for the
    # types whose "Allow Override" is checked in the account (Setup > Company > Auto-Generated
    # Numbers). Elsewhere the Nue number goes to `number_field` (a custom body field's script id)
    # or else to memo.
    tran_id_override: set[TranType] = Field(default_factory=set)
    number_field: Annotated[str, Field(pattern=r"^custbody[a-z0-9_]{1,90}$")] | None = None
    # Values for custom fields the account requires (or the finance team wants) on every record of a
    # type: {"invoice": {"custbody_region": {"id": "3"}, "item.custcol_stream": {"id": "2"}}} (an
    # `item.` field on every item line); sent in the field's type where the account profile knows it
    # (mapping/field_values.py, docs/NETSUITE_SETUP.md "Mandatory custom fields").
    field_values: dict[RecordType, dict[CustomFieldId, FieldValue]] = Field(default_factory=dict)
    # Where this integration's inbound events go (else NUE_NS_WEBHOOK_URL).
    webhook_url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)] | None = None
    # The last check of the GL accounts against NetSuite (nue_ns/validation.py writes it).
    validation: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _document_accounts_not_per_category(self) -> IntegrationConfig:
        for category, override in self.category_overrides.items():
            for name in DOCUMENT_ACCOUNTS:
                if getattr(override, name) is not None:
                    raise ValueError(
                        f"category_overrides.{category}.{name}: the {name} account is the whole "
                        "document's, not a product category's; set it in gl"
                    )
        return self

    @model_validator(mode="after")
    def _field_values_fit(self) -> IntegrationConfig:
        """Each field of the right family for its record type, and none nue-ns fills itself."""
        for record_type, values in self.field_values.items():
            prefix = CUSTOM_FIELD_PREFIX[record_type]
            for name in values:
                if name.startswith(LINE_FIELD_PREFIX):
                    if record_type not in LINE_FIELD_TYPES:
                        raise ValueError(
                            f"field_values.{record_type}.{name}: only {', '.join(LINE_FIELD_TYPES)} "
                            "have item lines"
                        )
                    if name.removeprefix(LINE_KEY) == self.line_id_field:
                        raise ValueError(
                            f"field_values.{record_type}.{name}: it is line_id_field, which nue-ns fills "
                            "with the Nue line id"
                        )
                    continue
                if not name.startswith(prefix):
                    raise ValueError(
                        f"field_values.{record_type}.{name}: the custom fields of {record_type} records "
                        f"are {prefix}... fields in NetSuite"
                    )
                if name == self.number_field:
                    raise ValueError(
                        f"field_values.{record_type}.{name}: it is number_field, which nue-ns fills "
                        "with the Nue number"
                    )
        return self

    def account(self, name: str, category: str | None = None) -> str | None:
        """The GL account `name`, with the product category's override if it sets one."""
        override = self.category_overrides.get(category) if category else None
        value = getattr(override, name, None) if override else None
        return value or getattr(self.gl, name)

    def item_type(self, product_type: ProductType) -> ItemType:
        return self.item_types.get(product_type, _default_item_types()[product_type])

    @classmethod
    def load(cls, settings: dict | None) -> IntegrationConfig:
        return cls.model_validate(settings or {})


# Currency ids of the sandbox's `full` account kind (nue_ns/sandbox/kinds.py), for tests that map
# without reading an account profile; a real integration takes its account's ids from the profile.
SANDBOX_CURRENCIES = {"USD": "1", "EUR": "2", "GBP": "3", "CAD": "4"}

# The demo and the tests run against the sandbox's chart of accounts (nue_ns/sandbox/chart.py).
SANDBOX_GL = GlAccounts(
    subscription_income="5",
    subscription_revenue="8",
    entitlement_income="6",
    entitlement_revenue="9",
    asset_income="7",
    asset_revenue="10",
    clearing="4",
    inventory_asset="3",
    cogs="11",
)
