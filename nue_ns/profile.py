"""Reading one integration's account profile from NetSuite, keeping it in the hub, and the gate
that reads it before the first transfer.

A read is a handful of governed calls (each logged in the attempt log, each under the account's
rate and concurrency limits):
1. the metadata catalog for every record type the integration writes, as OpenAPI 3.0
   (`GET /record/v1/metadata-catalog?select=...`, `Accept: application/swagger+json`,
   section_1545126526): which body and sublist fields the account has, custom fields included;
2. SuiteQL `currency`: ISO 4217 code (`symbol`) → internal id and decimal places
   (`currencyprecision`), active currencies only (asked again without the precision column where
   it is refused; an account whose table cannot be read, Multiple Currencies off, has its one
   currency configured: `currency_ids`);
3. SuiteQL `subsidiary`: the subsidiaries (an account without OneWorld has none to list);
4. SuiteQL `account` for the GL accounts the mapping names: their types (clearing-account check);
5. where SuiteTax is on, SuiteQL `salestaxitem`: tax code name → internal id;
6. for each classification the mapping sets (department_id, class_id, location_id), its row in
   SuiteQL `department`, `classification` or `location` (exists and active: `validate` checks it).
The profile keeps how many calls the read cost (`calls`) and when it was made (`read_at`).

When it is read: `nue-ns integration discover` (and the settings page's button, the API route),
after a mapping is saved, by the first transfer of an integration that has none (one worker reads,
the others wait a moment), and again when NetSuite answers that a field the profile listed does
not exist (the account changed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import LockError
from sqlalchemy import Engine

from nue_ns import currencies, dispatch, gateway
from nue_ns.account_profile import AccountProfile, record_schema
from nue_ns.context import Connection, Context
from nue_ns.gateway import NoCallSlot
from nue_ns.hub import prerequisites, transfers
from nue_ns.hub.integrations import save_profile, save_validation
from nue_ns.hub.models import Record, utcnow
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping import accounts, classifications, setup
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.refs import Ref

log = logging.getLogger(__name__)

# The NetSuite record types nue-ns writes besides the items (which the mapping's item types name).
WRITTEN_TYPES = ("customer", "salesOrder", "invoice", "creditMemo", "customerPayment", "customerRefund")

# SuiteQL columns per the Records Catalog: currency.symbol holds the ISO 4217 code (USD, EUR).
# currencyprecision: the decimal places of the currency's amounts, 0 or 2 (Currency Decimal
# Precision, section_N1397831; `currencyprecision` is the record's field id, section_N3201267, REST's
# currencyPrecision). That SuiteQL names its column so is [U]: an account that refuses the column is
# read without it, and its amounts are held to `account_profile.fallback_places`.
CURRENCY_QUERY = "SELECT id, symbol, isinactive, currencyprecision FROM currency"
CURRENCY_QUERY_WITHOUT_PRECISION = "SELECT id, symbol, isinactive FROM currency"
SUBSIDIARY_QUERY = "SELECT id, name, isinactive FROM subsidiary"
# With SuiteTax the tax codes are salesTaxItem records (article_0814121722). Oracle names no SuiteQL
# column for them: `name` is the ODBC (NetSuite.com) tax_items column, while SuiteQL runs on
# NetSuite2.com, where public SuiteQL code reads the code as `itemid` (as `item` names its items);
# the real account's REST salesTaxItem has neither [U: docs/NETSUITE.md]. A refusal of this one
# query leaves the account without tax codes (each taxed record then names its missing code,
# mapping/tax.py) instead of failing the whole profile.
TAX_CODE_QUERY = "SELECT id, itemid, isinactive FROM salestaxitem"
TAX_CODE_QUERY_BY_NAME = "SELECT id, name AS itemid, isinactive FROM salestaxitem"  # ODBC's column


PAGE = 1000  # rows per SuiteQL page (NetSuite's most)


def record_types(config: IntegrationConfig) -> list[str]:
    items = sorted({t.value for t in config.item_types.values()})
    return [WRITTEN_TYPES[0], *items, *WRITTEN_TYPES[1:]]


# -- the governed calls (nue_ns/gateway.py) --------------------------------------------------------


# A read asks nothing of NetSuite but an answer: one that failed transiently (5xx, a timeout, a lost
# answer) is asked again at once, each time a governed call, up to this many times in all, instead of
# the whole profile failing and being read again from its first call (all five had to succeed in one
# go: with a third of the calls faulted, as in the chaos suite, one read in eight did).
READ_TRIES = 3
_T = TypeVar("_T")


def _again(ask: Callable[[], _T]) -> tuple[_T, int]:
    """`ask()`, asked again on a transient failure (READ_TRIES); returns its answer and the calls."""
    for n in range(1, READ_TRIES + 1):
        try:
            return ask(), n
        except NetSuiteError as err:
            if err.kind is not Kind.TRANSIENT or n == READ_TRIES:
                raise
    raise AssertionError("unreachable")


def _rows(ctx: Context, conn: Connection, query: str, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of a SuiteQL query, page by page; returns (rows, calls made)."""
    rows: list[dict[str, Any]] = []
    offset, calls = 0, 0
    while True:
        page, n = _again(
            partial(gateway.suiteql, ctx, conn, query, limit=PAGE, offset=offset, outcome="profile",
                    keep_rows=False, **kw)
        )  # fmt: skip
        calls += n
        rows += page.get("items") or []
        if not page.get("hasMore"):
            return rows, calls
        # By the limit, not the page's length: the offset must stay a multiple of the limit
        # (docs/NETSUITE.md "SuiteQL"), whatever a page held.
        offset += PAGE


def _active(row: dict[str, Any]) -> bool:
    return str(row.get("isinactive", "F")).upper() not in ("T", "TRUE")


def _places(row: dict[str, Any]) -> int | None:
    """A currency row's precision: SuiteQL answers values as text ("0", "2"); a missing or odd
    one is None (the currency then takes the fallback)."""
    try:
        places = int(str(row.get("currencyprecision")))
    except ValueError:
        return None
    return places if 0 <= places <= 8 else None


def read(
    ctx: Context, integration_id: int, *, record: Record | None = None, max_wait: float | None = None
) -> AccountProfile:
    """Read the account's profile with governed calls. Raises NoCallSlot or NetSuiteError. The GL
    accounts the mapping names are judged on the way (validation's verdict, stored unless the
    mapping changed meanwhile)."""
    conn = ctx.connection(integration_id)
    kw: dict[str, Any] = {
        "record": record,
        "max_wait": ctx.settings.governor_max_wait if max_wait is None else max_wait,
    }
    types = record_types(conn.config)

    def catalog() -> tuple[dict[str, Any], Exchange]:
        doc, exchange = conn.client.metadata(types)
        # The document is large: the attempt log keeps what it held, not all of it.
        exchange.response_body = {"schemas": len(doc.get("components", {}).get("schemas", {}))}
        return doc, exchange

    url = f"{conn.client.base_url}/record/v1/metadata-catalog?select={','.join(types)}"
    doc, calls = _again(partial(gateway.call, ctx, conn, "GET", url, None, catalog, outcome="profile", **kw))
    profile = AccountProfile(records={t: s for t in types if (s := record_schema(doc, t)) is not None})
    try:
        rows, n = _rows(ctx, conn, CURRENCY_QUERY, **kw)
    except NetSuiteError as err:  # no currencyprecision column [U]: the currencies without it
        if err.kind is not Kind.NEEDS_PERSON:
            raise
        log.warning("integration %s: currency precision not read (%s)", integration_id, err)
        try:
            rows, n = _rows(ctx, conn, CURRENCY_QUERY_WITHOUT_PRECISION, **kw)
        except NetSuiteError as again:  # no currency table: Multiple Currencies off [U]
            if again.kind is not Kind.NEEDS_PERSON:
                raise
            log.warning("integration %s: currencies not read (%s)", integration_id, again)
            rows, n, profile.currencies_read = [], 1, False
        n += 1
    calls += n
    active = [r for r in rows if _active(r) and r.get("symbol")]
    profile.currencies = {str(r["symbol"]).upper(): str(r["id"]) for r in active}
    profile.currency_precision = {
        str(r["symbol"]).upper(): places for r in active if (places := _places(r)) is not None
    }
    try:
        rows, n = _rows(ctx, conn, SUBSIDIARY_QUERY, **kw)
        profile.subsidiaries = {str(r["id"]): str(r.get("name") or "") for r in rows if _active(r)}
    except NetSuiteError as err:  # no OneWorld: the table is not there [U how NetSuite words it]
        if err.kind is not Kind.NEEDS_PERSON:
            raise
        n = 1
    calls += n
    ids = accounts.account_ids(conn.config)
    if ids:  # the GL check's own query: its verdict is stored with the profile (one call, not two)
        rows, n = _rows(ctx, conn, accounts.query(ids), **kw)
        calls += n
        profile.accounts = {str(r["id"]): str(r.get("accttype") or "") for r in rows if _active(r)}
        verdict = accounts.verdict(conn.config, rows, utcnow())
        save_validation(ctx.engine, integration_id, conn.integration.settings, verdict)
    if profile.suitetax:
        rows = []
        for query in (TAX_CODE_QUERY, TAX_CODE_QUERY_BY_NAME):
            try:
                rows, n = _rows(ctx, conn, query, **kw)
            except NetSuiteError as err:
                if err.kind is not Kind.NEEDS_PERSON:
                    raise
                log.warning("integration %s: tax codes not read by %r (%s)", integration_id, query, err)
                calls += 1
                continue
            calls += n
            break
        profile.tax_codes = {str(r["itemid"]): str(r["id"]) for r in rows if _active(r) and r.get("itemid")}
    for segment, internal_id in classifications.configured(conn.config):
        try:
            rows, n = _rows(ctx, conn, classifications.query(segment, internal_id), **kw)
        except NetSuiteError as err:  # the feature off (no such table) or the role may not view it [U]
            if err.kind is not Kind.NEEDS_PERSON:
                raise
            log.warning("integration %s: %s not read (%s)", integration_id, segment.plural, err)
            calls += 1
            continue
        calls += n
        profile.classifications[segment.table] = {
            str(r["id"]): str(r.get("name") or "") for r in rows if _active(r)
        }
    profile.calls = calls
    profile.read_at = utcnow()
    return profile


# -- keeping it in the hub ------------------------------------------------------------------------


def save(engine: Engine, integration_id: int, profile: AccountProfile | None) -> int:
    """Store the profile (None forgets it, so the next transfer reads it again); workers pick it
    up with the integration (updated_at). Records waiting for the mapping or the account are
    woken to try again under it; returns how many."""
    save_profile(engine, integration_id, profile)
    return prerequisites.wake_mapping(engine, integration_id) if profile is not None else 0


def discover(ctx: Context, integration_id: int, *, max_wait: float) -> AccountProfile:
    """Read and store the profile now (CLI, API, settings page, a saved mapping)."""
    profile = read(ctx, integration_id, max_wait=max_wait)
    if save(ctx.engine, integration_id, profile):
        dispatch.dispatch(ctx, integration_id)  # the records it released go now
    return profile


def load(data: dict[str, Any] | None) -> AccountProfile | None:
    return AccountProfile.model_validate(data) if data else None


# -- the gate in sync -------------------------------------------------------------------------------


def gate(ctx: Context, conn: Connection, rec: Record) -> str | None:
    """None when the integration has a profile (read now if it had none) and `rec` fits the account;
    else the outcome ('deferred', 'waiting' or 'failed') `rec` was left in. Like validation.gate:
    one worker per integration reads, the others come back in a moment. A NetSuiteError other than
    one that needs a person (which parks the record as waiting for the mapping) is raised for sync
    to handle. A record enqueued before the profile was read, with amounts finer than its currency's
    precision in the account, needs a person before anything is sent (currencies.too_precise: the
    rule enqueue applies once the profile is known)."""
    account = conn.profile
    if account is None:
        held = _read_first(ctx, conn, rec)
        if isinstance(held, str):
            return held
        account = held
    reason = currencies.too_precise(rec.record_type, rec.payload, account, conn.integration.account_id)
    if reason is None:
        return None
    transfers.fail(ctx.engine, rec, reason)
    return "failed"


def _read_first(ctx: Context, conn: Connection, rec: Record) -> AccountProfile | str:
    """The profile, read now by this worker; or the outcome `rec` was left in meanwhile."""
    s = ctx.settings
    lock = ctx.redis.lock(
        f"nue_ns:profile:{rec.integration_id}", timeout=6 * (s.netsuite_timeout + s.governor_max_wait) + 10
    )
    # Not blocking: a read is several calls, seconds at NetSuite's pace, and a worker waiting for it
    # would hold its slot that long (at 1,000 new accounts, 2 s per queued record: half the run's
    # worker time). The record comes back after a read's few calls; by then the read has spent the
    # account's tokens, and dispatch holds its records until they free (hub/dispatching.py).
    if not lock.acquire(blocking=False):
        transfers.defer(
            ctx.engine, rec.id, 3.0, "waiting while another worker reads the NetSuite account profile"
        )
        return "deferred"
    try:
        stored = load(ctx.integration(rec.integration_id).profile)
        if stored is not None:  # another worker just read it
            return stored
        try:
            profile = read(ctx, rec.integration_id, record=rec)
        except NoCallSlot as exc:
            reason = f"waiting for a NetSuite call slot to read the account profile ({exc.denied.reason})"
            transfers.defer(ctx.engine, rec.id, exc.denied.retry_after, reason)
            return "deferred"
        except NetSuiteError as err:
            if err.kind is Kind.NEEDS_PERSON:  # e.g. the role may not read the metadata catalog
                reason = (
                    "waiting for the integration mapping: the NetSuite account profile could not be "
                    f"read: {err}"
                )
                transfers.wait_for(ctx.engine, rec, [Ref("mapping", str(rec.integration_id))], reason)
                return "waiting"
            raise  # throttled, refused login, transient: the record's side as for a write (sync)
        save(ctx.engine, rec.integration_id, profile)
        log.info("integration %s: account profile read with %d calls", conn.integration.name, profile.calls)
        return profile
    finally:
        try:
            lock.release()
        except LockError:
            pass


# NetSuite's answer to a field the account does not have (strict property-name validation):
# INVALID_CONTENT naming the field in o:errorPath. The detail's wording is UNVERIFIED.
_UNKNOWN_FIELD = re.compile(r"(?i)invalid field name|unknown (property|field)|does not exist")


def unknown_field(err: NetSuiteError) -> str | None:
    """The field NetSuite says the account does not have, if that is what `err` says."""
    if err.code != "INVALID_CONTENT" or not err.path or not _UNKNOWN_FIELD.search(err.detail or ""):
        return None
    return err.path


def refresh_once(ctx: Context, conn: Connection, rec: Record, field: str) -> bool:
    """NetSuite refused a field the profile listed: the account changed. Forget the profile so the
    next transfer reads it again, once per record; True when the record should try again, False
    when it already did (then it fails with NetSuite's reason)."""
    key = f"nue_ns:profile-refresh:{rec.integration_id}:{rec.id}"
    if not ctx.redis.set(key, field, nx=True, ex=24 * 3600):
        return False
    if conn.profile is not None and ctx.integration(rec.integration_id).profile is not None:
        stored = load(ctx.integration(rec.integration_id).profile)
        if stored is not None and stored.read_at == conn.profile.read_at:  # not re-read meanwhile
            save(ctx.engine, rec.integration_id, None)
    transfers.defer(
        ctx.engine, rec.id, 0.0, f"NetSuite does not know the field {field}: re-reading the account profile"
    )
    return True


def findings(
    ctx: Context, integration_id: int, config: IntegrationConfig, *, refresh: bool, max_wait: float
) -> tuple[AccountProfile, setup.Findings]:
    """What the account lacks for `config`: judged on the stored profile, or on one read now
    (`refresh`, or none stored yet). Raises NoCallSlot or NetSuiteError when a read fails."""
    stored = None if refresh else load(ctx.integration(integration_id).profile)
    account = stored or discover(ctx, integration_id, max_wait=max_wait)
    found = setup.judge(
        config,
        account,
        hub_currencies=prerequisites.open_currencies(ctx.engine, integration_id),
        customer_subsidiaries=prerequisites.customer_subsidiaries(ctx.engine, integration_id),
    )
    return account, found


def forget(ctx: Context, integration_id: int) -> None:
    """A saved mapping changes what the profile covers (record types, GL accounts): the next
    transfer, or `discover`, reads it again."""
    save(ctx.engine, integration_id, None)
