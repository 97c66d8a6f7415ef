"""The hub UI in a real browser (chromium or Chrome from PATH, headless, driven by Playwright), against the
whole system: sandbox NetSuite, a real Celery worker process, PostgreSQL, Redis and the API under uvicorn.

A finance admin logs in, filters to failed invoices, opens one and reads NetSuite's detail and the
field at fault, fixes the mapping on the integration settings page (NetSuite validates it), retries
all matching and watches them turn Transferred.

Screenshots go to a temporary folder; with NUE_NS_UPDATE_SCREENSHOTS=1 they replace docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from nue_ns.api import create_app
from nue_ns.hub.integrations import save_config
from nue_ns.hub.models import State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.processes import free_port
from tests.api_support import bearer, key
from tests.harness import System

ROOT = Path(__file__).resolve().parent.parent
# Whichever the user has (the Makefile installs Debian's chromium only when none is on PATH).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

# The customers go under a good mapping; then an operator's mistake maps EUR to NetSuite currency 9,
# which the account does not have, and the EUR invoices are refused.
GOOD = IntegrationConfig(
    gl=SANDBOX_GL, subsidiary_id="1", currency_ids={"USD": "1", "EUR": "2", "GBP": "3", "CAD": "4"}
)
BROKEN = GOOD.model_copy(update={"currency_ids": GOOD.currency_ids | {"EUR": "9"}})


@pytest.fixture
def system(api_env, system: System) -> System:
    """The shared system (conftest.py) on a hub whose API tables are emptied too (api_env)."""
    return system


@pytest.fixture
def api_url(system) -> Iterator[str]:
    """The API and UI served by uvicorn in a thread of this process (so it shares the test's env)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(tmp_path) -> Iterator[Page]:
    browser_path = next(filter(None, map(shutil.which, BROWSERS)), None)
    assert browser_path, f"none of {', '.join(BROWSERS)} is on PATH: make test installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    if os.environ.get("NUE_NS_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path


def _enqueue(api_url: str, producer: str, record_type: str, items: list[dict]) -> list[int]:
    r = requests.post(f"{api_url}/v1/records/{record_type}", json=items, headers=bearer(producer), timeout=30)
    assert r.status_code == 202, r.text
    return [rec["id"] for rec in r.json()["records"]]


def _invoice(n: int, currency: str) -> dict:
    lines = [
        {
            "id": f"INV-{n}-L1",
            "product_id": "P-1",
            "quantity": "2",
            "unit_price": "100.00",
            "amount": "200.00",
        },
        {"id": f"INV-{n}-L2", "product_id": "P-2", "quantity": "1", "unit_price": "50.00", "amount": "50.00"},
    ]
    return {"id": f"INV-{n}", "invoice_number": f"2025-{n:04d}", "customer_id": f"C-{n % 2 + 1}",
            "status": "Active", "invoice_date": "2025-03-03", "due_date": "2025-04-02", "currency": currency,
            "total": "250.00", "lines": lines}  # fmt: skip


def test_fix_failed_invoices_in_the_browser(system, api_url, page, shots):
    system.start(rate_limit="20/1s", config=GOOD)
    system.workers(1)
    producer, operator = key("producer", "billing service"), key("operator", "Finance admin")

    # Customers in USD that also transact in EUR (on their NetSuite currency list), and products.
    customers = [
        {"id": f"C-{i}", "name": f"Customer {i} Ltd", "currency": "USD", "currencies": ["EUR"]}
        for i in (1, 2)
    ]
    first = _enqueue(api_url, producer, "customer", customers)
    first += _enqueue(api_url, producer, "product", [
        {"id": "P-1", "sku": "PLAT-Y", "name": "Platform yearly", "product_type": "subscription"},
        {"id": "P-2", "sku": "ONB", "name": "Onboarding", "product_type": "entitlement"},
    ])  # fmt: skip
    system.wait(first, timeout=60, what="customers and products")
    save_config(system.ctx.engine, "default", BROKEN)
    eur = _enqueue(api_url, producer, "invoice", [_invoice(n, "EUR") for n in (1, 2, 3)])
    usd = _enqueue(api_url, producer, "invoice", [_invoice(4, "USD")])
    system.wait(eur, states=[State.FAILED], timeout=90, what="EUR invoices")
    system.wait(usd, timeout=60, what="the USD invoice")

    # Log in with the operator key.
    page.goto(f"{api_url}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.fill("#api_key", "nns_wrong")
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("unknown or revoked")
    page.fill("#api_key", operator)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Records by state")

    # Filter to failed invoices.
    page.select_option("select[name=type]", "invoice")
    page.select_option("form#filters select[name=state]", "failed")
    page.click("form#filters button[type=submit]")
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Invalid Field Value 9 for the following field: currency")
    page.screenshot(path=str(shots / "records-failed-invoices.png"), full_page=True)

    # Open one: NetSuite's own detail and the field at fault.
    rows.first.locator("td:nth-child(4) a").click()
    expect(page.locator("#error-detail")).to_contain_text(
        "You have entered an Invalid Field Value 9 for the following field: currency"
    )
    expect(page.locator("#error-path")).to_have_text("currency")
    expect(page.locator("details.attempt").first).to_contain_text("400")
    page.screenshot(path=str(shots / "record-netsuite-error.png"), full_page=True)

    # Settings: NetSuite's verdict shows beside the field, then the fixed mapping is saved.
    page.click("#netsuite-error a")
    expect(page.locator("h1")).to_contain_text("default")
    page.fill("input[name='gl.subscription_income']", "14")
    page.click("#check")
    expect(page.locator(".fielderror").first).to_contain_text("is inactive")
    page.screenshot(path=str(shots / "settings-validation.png"), full_page=True)
    page.fill("input[name='gl.subscription_income']", "5")
    page.fill("input[aria-label='currency id for EUR']", "2")
    page.click("#save")
    expect(page.locator("p.notice")).to_contain_text("Mapping saved")
    expect(page.locator("input[aria-label='currency id for EUR']")).to_have_value("2")
    page.screenshot(path=str(shots / "integration-settings.png"), full_page=True)

    # Back to the failed invoices; retry all matching and watch them go.
    page.goto(f"{api_url}/ui/?type=invoice&state=failed")
    expect(page.locator("table.records tbody tr")).to_have_count(3)
    page.click("#retry-all")
    expect(page).to_have_url(re.compile(r"/ui/jobs/\d+"))
    expect(page.locator("#job-progress")).to_contain_text("3 of 3 retried", timeout=20_000)
    expect(page.locator("#job-transferred")).to_have_text("3", timeout=60_000)
    page.screenshot(path=str(shots / "retry-job.png"), full_page=True)

    page.goto(f"{api_url}/ui/?type=invoice&state=transferred")
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("NetSuite invoice #")
    page.goto(f"{api_url}/ui/")
    page.screenshot(path=str(shots / "records-dashboard.png"), full_page=True)
    system.wait(eur + usd, timeout=5, what="all invoices")
    assert {r["externalId"] for r in system.ns_records("invoice")} == {
        f"nue-inv-INV-{n}" for n in (1, 2, 3, 4)
    }
