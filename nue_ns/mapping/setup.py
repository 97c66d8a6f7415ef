"""What an account lacks for an integration's mapping, judged from its profile (pure).

`problems` stop records (validate exits 1 on them; the records that need them wait); `warnings`
name what nue-ns leaves out or what NetSuite may refuse, with what the administrator enables or
creates (docs/NETSUITE_SETUP.md). The mapping itself is run on sample records against the
account's schema, so a field the mapping cannot do without is named exactly as a transfer would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nue_ns import records, sample
from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping import classifications, tax
from nue_ns.mapping.base import MappingIncomplete
from nue_ns.mapping.lines import currency_ids
from nue_ns.refs import Ref

SALES = ("salesOrder", "invoice", "creditMemo")
EXPAND_ACCOUNT_LISTS = (
    'NetSuite offers a non-bank account on payments and refunds only with the "Expand Account Lists" '
    "preference (Setup > Accounting > Accounting Preferences > General): enable it, or use a Bank account"
)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, list[str]]:
        return {"problems": self.problems, "warnings": self.warnings}


def judge(
    config: IntegrationConfig,
    profile: AccountProfile,
    *,
    hub_currencies: Iterable[str] = (),
    customer_subsidiaries: Iterable[str] = (),
) -> Findings:
    """Everything the account lacks for this mapping. `hub_currencies`: the currencies of records
    the hub still has to send; `customer_subsidiaries`: the subsidiaries its customers use."""
    out = Findings()
    _features(config, profile, out)
    _currencies(config, profile, hub_currencies, out)
    _subsidiaries(config, profile, customer_subsidiaries, out)
    _clearing(config, profile, out)
    problems, warnings = classifications.problems(config, profile)
    out.problems += problems
    out.warnings += warnings
    out.warnings += tax.problems(config, profile)  # taxed documents wait; untaxed ones go
    out.problems += dry_run(config, profile)
    return out


def _features(config: IntegrationConfig, profile: AccountProfile, out: Findings) -> None:
    column = config.line_id_field
    lacking = [t for t in SALES if profile.has(t, column, sublist="item") is False]
    if lacking:
        out.warnings.append(
            f"line_id_field: the account has no transaction-line custom field {column} "
            f"({', '.join(lacking)} lines): create it (Customization > Lists, Records & Fields > "
            "Transaction Line Fields, type Free-Form Text, applied to sales items); until then lines "
            "carry no Nue line id"
        )
    if not profile.arm:
        out.warnings.append(
            "Advanced Revenue Management is off: item lines are sent without revRecStartDate/revRecEndDate, "
            "so NetSuite does not recognise revenue over the service period; enable it (Setup > Company > "
            "Enable Features > Accounting > Advanced Revenue Management)"
        )
    items = sorted({t.value for t in config.item_types.values()})
    if any(profile.has(t, "deferredRevenueAccount") is False for t in items):
        out.warnings.append(
            "items have no deferredRevenueAccount in this account: the *_revenue GL accounts are not "
            "sent; enable revenue recognition (Advanced Revenue Management) to use them"
        )


def _currencies(
    config: IntegrationConfig, profile: AccountProfile, hub_currencies: Iterable[str], out: Findings
) -> None:
    known = profile.currencies
    if not profile.currencies_read:  # no currency table: Multiple Currencies off [U]
        taken = (
            f"nue-ns takes currency_ids as its currencies ({', '.join(sorted(config.currency_ids))})"
            if config.currency_ids
            else "set currency_ids to its one currency (`nue-ns integration set NAME --currency-id "
            "USD=1`, its internal id from Lists > Accounting > Currencies); until then records wait"
        )
        out.warnings.append(
            "currencies: the account's currency table could not be read (an account without Multiple "
            f"Currencies, whose REST currency record needs the feature): {taken}"
        )
    else:  # the configured ids are checked against the account's own
        for code, internal_id in sorted(config.currency_ids.items()):
            if code not in known:
                out.problems.append(f"currency_ids.{code}: the account has no currency {code}")
            elif known[code] != internal_id:
                why = f"{internal_id} is not the account's {code} (its id is {known[code]})"
                out.problems.append(f"currency_ids.{code}: {why}")
    effective = currency_ids(config, profile)
    if not effective:
        return  # nothing known to judge by (the warning above says what to set)
    for code in sorted(set(hub_currencies) - set(effective)):
        out.problems.append(
            f"currency {code}: records in the hub are in {code}, which the account lacks "
            f"(it has {', '.join(sorted(known)) or 'none'}): enable the currency in NetSuite"
        )


def _subsidiaries(
    config: IntegrationConfig, profile: AccountProfile, used: Iterable[str], out: Findings
) -> None:
    if not profile.subsidiaries:  # not OneWorld: nothing to choose, nothing sent (mapping/fit.py)
        if config.subsidiary_id or config.item_subsidiaries:
            out.warnings.append(
                "subsidiary_id, item_subsidiaries: the account lists no subsidiaries (not OneWorld): "
                "they are not sent; unset them"
            )
        return
    named = [("subsidiary_id", config.subsidiary_id)] if config.subsidiary_id else []
    named += [(f"item_subsidiaries[{i}]", s) for i, s in enumerate(config.item_subsidiaries)]
    for setting, sub in named:
        if sub not in profile.subsidiaries:
            out.problems.append(f"{setting}: subsidiary {sub} does not exist in the account")
    selling = set(config.item_subsidiaries or ([config.subsidiary_id] if config.subsidiary_id else []))
    used_by_customers = set(used) | ({config.subsidiary_id} if config.subsidiary_id else set())
    missing = sorted(used_by_customers - selling - {None})
    if missing and not config.item_include_children:
        out.problems.append(
            f"item_subsidiaries: customers are in subsidiaries {', '.join(missing)} where items are not "
            f"sold (items: {', '.join(sorted(selling)) or 'no subsidiary'}): list them, or set "
            "item_include_children for their parent"
        )


def _clearing(config: IntegrationConfig, profile: AccountProfile, out: Findings) -> None:
    clearing = config.gl.clearing
    kind = profile.accounts.get(clearing or "")
    if clearing and kind and kind != "Bank":
        out.warnings.append(f"clearing: account {clearing} is of type {kind}: {EXPAND_ACCOUNT_LISTS}")


def dry_run(config: IntegrationConfig, profile: AccountProfile) -> list[str]:
    """Map one sample record of each type against the account's schema; what it refuses."""
    from nue_ns import mapping  # the package imports this module's neighbours

    code = next(iter(sorted(currency_ids(config, profile))), "USD")
    month = sample.month(
        n_customers=2, n_products=3, n_orders=1, n_invoices=2, n_payments=1, n_refunds=1, n_credit_memos=2
    )
    found: list[str] = []
    for record_type, items in month.items():
        for data in items[:3]:
            data = data | ({"currency": code} if "currency" in data else {})
            rec = records.validate(record_type, data)
            resolved: dict[Ref, str] = {r: "1" for r in mapping.requirements(record_type, rec)}
            try:
                mapping.build(record_type, rec, config, resolved, profile)
            except MappingIncomplete as exc:
                found.append(f"{record_type}: {exc}")
    return list(dict.fromkeys(found))
