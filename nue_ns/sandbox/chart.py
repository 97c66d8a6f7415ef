"""Reference data every sandbox account starts with: chart of accounts, subsidiary, currencies.

The chart is the table in notes/COMMON.md; the default integration mapping uses these internal ids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GlAccount:
    id: str
    number: str
    name: str
    type: str  # NetSuite accttype: Bank, AcctRec, OthCurrAsset, Income, DeferRevenue, COGS, ...
    inactive: bool = False

    def as_record(self) -> dict[str, object]:
        """The account as the record API shows it (`GET /record/v1/account/{id}`)."""
        return {
            "acctNumber": self.number,
            "acctName": self.name,
            "acctType": {"id": self.type, "refName": self.type},
            "accountSearchDisplayName": f"{self.number} {self.name}",
            "fullName": self.name,
            "isInactive": self.inactive,
        }


CHART: tuple[GlAccount, ...] = (
    GlAccount("1", "1000", "Operating Checking", "Bank"),
    GlAccount("2", "1100", "Accounts Receivable", "AcctRec"),
    GlAccount("3", "1200", "Inventory Asset", "OthCurrAsset"),
    GlAccount("4", "1050", "Nue Clearing", "OthCurrAsset"),
    GlAccount("5", "4000", "Subscription Income", "Income"),
    GlAccount("6", "4100", "Entitlement Income", "Income"),
    GlAccount("7", "4200", "Asset Income", "Income"),
    GlAccount("8", "2500", "Deferred Subscription Revenue", "DeferRevenue"),
    GlAccount("9", "2510", "Deferred Entitlement Revenue", "DeferRevenue"),
    GlAccount("10", "2520", "Deferred Asset Revenue", "DeferRevenue"),
    GlAccount("11", "5000", "Cost of Goods Sold", "COGS"),
    GlAccount("12", "4010", "Subscription Income - Enterprise", "Income"),
    GlAccount("13", "2501", "Deferred Subscription Revenue - Enterprise", "DeferRevenue"),
    GlAccount("14", "4900", "Old Income (inactive)", "Income", inactive=True),
    GlAccount("15", "6000", "Office Expense", "Expense"),
    GlAccount("16", "4300", "Training Income", "Income"),
    GlAccount("17", "2530", "Deferred Training Revenue", "DeferRevenue"),
    GlAccount("18", "2200", "Sales Tax Payable", "OthCurrLiab"),
    GlAccount("19", "1110", "Accounts Receivable - Subscriptions", "AcctRec"),  # a second A/R account
)

SUBSIDIARIES: dict[str, str] = {"1": "Parent Company"}
CURRENCIES: dict[str, str] = {"1": "USD", "2": "EUR", "3": "GBP", "4": "CAD"}
