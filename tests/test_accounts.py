"""GL account validation on plain SuiteQL rows (pure: no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from nue_ns.integration import SANDBOX_GL, GlAccounts, IntegrationConfig, ItemType
from nue_ns.mapping import accounts
from nue_ns.records import ProductType
from nue_ns.sandbox.chart import CHART

NOW = dt.datetime(2025, 3, 31, 12, 0, tzinfo=dt.UTC)


def rows(ids=None):
    """What SuiteQL answers for the sandbox chart: strings, T/F flags."""
    return [
        {
            "id": a.id,
            "acctnumber": a.number,
            "fullname": a.name,
            "accttype": a.type,
            "isinactive": "T" if a.inactive else "F",
        }
        for a in CHART
        if ids is None or a.id in ids
    ]


def config(gl=SANDBOX_GL, **overrides):
    return IntegrationConfig(gl=gl, category_overrides=overrides)


def test_sandbox_mapping_is_valid():
    cfg = config(Enterprise=GlAccounts(subscription_income="12", subscription_revenue="13"))
    verdict = accounts.verdict(cfg, rows(), NOW)
    assert verdict == {
        "valid": True,
        "problems": [],
        "hash": accounts.mapping_hash(cfg),
        "checked_at": "2025-03-31T12:00:00+00:00",
    }


def test_query_names_every_configured_account_once():
    cfg = config(Enterprise=GlAccounts(subscription_income="12", clearing="4"))
    assert accounts.account_ids(cfg) == ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
    assert accounts.query(accounts.account_ids(cfg)) == (
        "SELECT id, acctnumber, fullname, accttype, isinactive FROM account "
        "WHERE id IN (3, 4, 5, 6, 7, 8, 9, 10, 11, 12)"
    )
    assert accounts.account_ids(IntegrationConfig()) == []


def test_missing_inactive_and_mistyped_accounts_are_each_named_with_the_expected_type():
    gl = SANDBOX_GL.model_copy(update={"subscription_income": "15", "entitlement_revenue": "999"})
    cfg = config(gl, Training=GlAccounts(entitlement_income="14", clearing="5"))
    assert accounts.problems(cfg, rows()) == [
        "subscription_income: account 15 (6000 Office Expense) is of type Expense (expected Income)",
        "entitlement_revenue: account 999 does not exist in NetSuite "
        "(expected an active DeferRevenue account)",
        "Training.entitlement_income: account 14 (4900 Old Income (inactive)) is inactive "
        "(expected an active Income account)",
        "Training.clearing: account 5 (4000 Subscription Income) is of type Income "
        "(expected Bank or OthCurrAsset)",
    ]
    assert accounts.verdict(cfg, rows(), NOW)["valid"] is False


def test_one_account_in_two_roles_is_checked_for_each_role():
    gl = SANDBOX_GL.model_copy(update={"clearing": "5"})  # an income account cannot hold payments
    assert accounts.problems(config(gl), rows()) == [
        "clearing: account 5 (4000 Subscription Income) is of type Income (expected Bank or OthCurrAsset)"
    ]


def test_a_bank_account_may_be_the_clearing_account():
    gl = SANDBOX_GL.model_copy(update={"clearing": "1"})
    assert accounts.problems(config(gl), rows()) == []


def test_rows_with_numbers_or_missing_columns_are_read():
    cfg = config(GlAccounts(subscription_income="5"))
    assert accounts.problems(cfg, [{"id": 5, "accttype": "Income"}]) == []
    assert accounts.problems(cfg, [{"id": 5, "accttype": "Expense"}]) == [
        "subscription_income: account 5 is of type Expense (expected Income)"
    ]


def test_verdict_goes_stale_when_accounts_or_overrides_change():
    cfg = config()
    saved = cfg.model_copy(update={"validation": accounts.verdict(cfg, rows(), NOW)})
    assert accounts.current_verdict(saved) == saved.validation
    # Other settings do not touch the GL: the verdict holds.
    assert accounts.current_verdict(saved.model_copy(update={"scheduled_mode": True})) is not None
    changed_gl = saved.model_copy(update={"gl": SANDBOX_GL.model_copy(update={"clearing": "1"})})
    assert accounts.current_verdict(changed_gl) is None
    overridden = saved.model_copy(update={"category_overrides": {"SMB": GlAccounts(asset_income="16")}})
    assert accounts.current_verdict(overridden) is None
    assert accounts.current_verdict(cfg) is None  # never checked


def test_verdict_survives_a_round_trip_through_the_settings_json():
    cfg = config(Enterprise=GlAccounts(subscription_income="12"))
    saved = cfg.model_copy(update={"validation": accounts.verdict(cfg, rows(), NOW)})
    loaded = IntegrationConfig.load(saved.model_dump(mode="json"))
    assert accounts.current_verdict(loaded) == saved.validation


def test_command_line_changes_to_the_mapping():
    from nue_ns.cli import changed_config

    cfg = config(Enterprise=GlAccounts(subscription_income="12"))
    cfg = cfg.model_copy(update={"validation": accounts.verdict(cfg, rows(), NOW)})
    new = changed_config(
        cfg,
        gl=["subscription_income=16", "cogs="],
        overrides=["Enterprise.subscription_income=", "Training.entitlement_income=16"],
        item_types=["asset=nonInventorySaleItem"],
        collection="third_party",
        scheduled=True,
        subsidiary="2",
    )
    assert new.gl.subscription_income == "16" and new.gl.cogs is None and new.gl.clearing == "4"
    assert set(new.category_overrides) == {"Training"}  # an override left empty is dropped
    assert new.category_overrides["Training"].entitlement_income == "16"
    assert new.item_type(ProductType.asset) == ItemType.non_inventory_sale
    assert (new.collection, new.scheduled_mode, new.subsidiary_id) == ("third_party", True, "2")
    assert accounts.current_verdict(new) is None  # the GL changed: the old verdict no longer holds
    same_gl = changed_config(cfg, scheduled=False)
    assert accounts.current_verdict(same_gl) == cfg.validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gl": ["income=5"]}, "--gl income: unknown GL account"),
        ({"gl": ["subscription_income"]}, "expected NAME=VALUE"),
        ({"gl": ["subscription_income=abc"]}, "gl.subscription_income: String should match pattern"),
        ({"overrides": ["subscription_income=5"]}, "expected CATEGORY.ACCOUNT=ID"),
        ({"item_types": ["asset=widgetItem"]}, "item_types.asset"),
        ({"collection": "paypal"}, "collection"),
    ],
)
def test_bad_command_line_changes_are_named(change, message):
    from nue_ns.cli import changed_config

    with pytest.raises(ValueError, match=message):
        changed_config(config(), **change)


def test_a_refused_check_is_an_invalid_verdict_on_this_mapping():
    cfg = config()
    verdict = accounts.unchecked_verdict(cfg, "the GL accounts could not be checked: 403 denied", NOW)
    saved = cfg.model_copy(update={"validation": verdict})
    assert accounts.current_verdict(saved) == verdict and verdict["valid"] is False
    assert verdict["problems"] == ["the GL accounts could not be checked: 403 denied"]
