"""An account's switches for behaviours Oracle leaves open or settings an account may have: the
SuiteTax engine's rate, Advanced Taxes' tax schedules, Allow Override per transaction type and
what happens to a tranId without it, customers' auto-numbering and the code of a taken Customer
ID, Auto Apply by default, replacing linked lines, the SuiteQL tax code column and whether
transactionline holds tax and COGS lines, where a payment without undepFunds goes, how SuiteQL
shows a void, a status's criteria value, payment and credit memo signs and result column names,
whether voids go by reversing journal, the Accounting Preferences that make departments,
classes or locations mandatory, the custom fields the account makes mandatory, closed or
A/R-locked accounting periods, what a currency's precision does to a finer amount and whether
SuiteQL shows it, and whether the currency table answers without Multiple Currencies (POST
/_sandbox/switches, the one control route for them; batch behaviours are /_sandbox/async's).
Features (SuiteTax, ARM, ...) come with the account's kind (kinds.py)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from nue_ns.sandbox import classifications, mandatory_fields, periods, tax
from nue_ns.sandbox.numbering import CUSTOMER_ID_CODES, TRANSACTION_TYPES

_BOOLS = {"tax_schedule_required": "tax", "tran_id_refused": None, "auto_apply_default": None}
_BOOLS |= {"catalog_ignores_unknown_types": None, "items_everywhere_without_list": None}
_BOOLS |= {"undep_funds_default": None, "tax_and_cogs_lines": None, "customer_auto_numbering": None}
_BOOLS |= {"void_keeps_links": None, "negative_credit_amounts": None, "reversing_journal_voids": None}
_BOOLS |= dict.fromkeys(classifications.SWITCHES)  # Make Departments / Classes / Locations Mandatory
_CHOICES = {"linked_line_replace": ("refuse", "allow"), "tax_code_column": ("itemid", "name")}
_CHOICES |= {"duplicate_customer_id_code": CUSTOMER_ID_CODES}
_CHOICES |= {"void_shows": ("both", "status", "voided"), "status_cf_format": ("compact", "spaced")}
_CHOICES |= {"result_name_case": ("lower", "upper")}
# Currency precision (state.AccountData; docs/NETSUITE.md "Currency precision"):
_CHOICES |= {
    "excess_decimals": ("refuse", "round"),
    "currency_precision_column": ("currencyprecision", "none"),
    "currency_table": ("refused", "base_only"),  # without Multiple Currencies (kinds.py)
}


def describe(acct: Any) -> dict[str, Any]:
    return (
        {
            "kind": acct.kind.name,
            "suitetax": tax.suitetax(acct),
            "engine_rate": str(tax.engine_rate(acct)),
            "tax_codes": dict(acct.kind.tax_codes),
            "tax_schedule_required": acct.tax.tax_schedule_required,
            "tran_id_override": sorted(acct.tran_id_override),
            "tran_id_refused": acct.tran_id_refused,
            "customer_auto_numbering": acct.customer_auto_numbering,
            "duplicate_customer_id_code": acct.duplicate_customer_id_code,
            "auto_apply_default": acct.auto_apply_default,
            "catalog_ignores_unknown_types": acct.catalog_ignores_unknown_types,
            "items_everywhere_without_list": acct.items_everywhere_without_list,
            "linked_line_replace": acct.linked_line_replace,
            "tax_code_column": acct.tax_code_column,
            "undep_funds_default": acct.undep_funds_default,
            "tax_and_cogs_lines": acct.tax_and_cogs_lines,
            "void_shows": acct.void_shows,
            "status_cf_format": acct.status_cf_format,
            "void_keeps_links": acct.void_keeps_links,
            "negative_credit_amounts": acct.negative_credit_amounts,
            "result_name_case": acct.result_name_case,
            "reversing_journal_voids": acct.reversing_journal_voids,
            "excess_decimals": acct.excess_decimals,
            "currency_precision_column": acct.currency_precision_column,
            "currency_table": acct.currency_table,
        }
        | classifications.describe(acct)
        | mandatory_fields.describe(acct)
        | periods.describe(acct)
    )


def apply(acct: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Set the switches `data` names (ValueError naming a bad one); the account's switches after.
    `seed_tax_item: true` also creates the tax item of an account without SuiteTax."""
    with acct.lock:
        for name, owner in _BOOLS.items():
            if name in data:
                if not isinstance(data[name], bool):
                    raise ValueError(f"{name} must be true or false")
                setattr(acct.tax if owner else acct, name, data[name])
                acct.version += 1  # SuiteQL's tables follow some switches: rebuilt on the next query
        for name, choices in _CHOICES.items():
            if name in data:
                if data[name] not in choices:
                    raise ValueError(f"{name} must be one of {', '.join(choices)}")
                setattr(acct, name, data[name])
                acct.version += 1  # SuiteQL's tables follow some switches: rebuilt on the next query
        if "engine_rate" in data:
            try:
                acct.tax.engine_rate = Decimal(str(data["engine_rate"]))
            except InvalidOperation as exc:
                raise ValueError("engine_rate must be a number (percent)") from exc
        if "tran_id_override" in data:
            types = data["tran_id_override"]
            if not isinstance(types, list) or any(t not in TRANSACTION_TYPES for t in types):
                raise ValueError(f"tran_id_override must list types among {', '.join(TRANSACTION_TYPES)}")
            acct.tran_id_override = frozenset(types)
        periods.apply(acct, data)  # closed_periods, ar_locked_periods, closed_period_posting
        mandatory_fields.apply(acct, data)
        out = describe(acct)
        if data.get("seed_tax_item") is True:
            out["tax_item_id"] = tax.seed_tax_item(acct)
        return out
