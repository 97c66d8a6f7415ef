"""The integration settings page: mode, item types, GL mapping with per-category overrides,
collection scenario, currencies; and the connection (account, REST URL, auth method and write-only
credentials, limits, webhook, certificate rotation, disable, remove), also on the list page to
connect a new NetSuite account. "Check in NetSuite" shows NetSuite's verdict beside each field
without saving; "Save" checks the same way and saves only a mapping NetSuite accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from nue_ns import dispatch
from nue_ns.api import connection, settings
from nue_ns.api.auth import UiSession, check_csrf, ui_session
from nue_ns.api.common import Problem, throttling
from nue_ns.api.templating import render
from nue_ns.context import get_context
from nue_ns.hub.integrations import list_integrations, public_view
from nue_ns.hub.models import Integration
from nue_ns.integration import Collection, GlAccounts, IntegrationConfig, ItemType
from nue_ns.netsuite.segments import SEGMENTS
from nue_ns.records import ProductType

router = APIRouter(prefix="/ui/integrations", include_in_schema=False)

GL_FIELDS = list(GlAccounts.model_fields)
GL_LABELS = {
    "subscription_income": "Subscription income",
    "subscription_revenue": "Subscription revenue (deferred)",
    "entitlement_income": "Entitlement income",
    "entitlement_revenue": "Entitlement revenue (deferred)",
    "asset_income": "Asset income",
    "asset_revenue": "Asset revenue (deferred)",
    "clearing": "Nue clearing account",
    "inventory_asset": "Inventory asset",
    "cogs": "Cost of goods sold",
}
ITEM_LABELS = {
    ItemType.non_inventory_sale: "Non-inventory for sale",
    ItemType.service_sale: "Service for sale",
    ItemType.inventory: "Inventory item",
}
COLLECTION_LABELS = {
    Collection.netsuite: "Collect in NetSuite (payments flow from NetSuite to Nue)",
    Collection.stripe: "Collect on Stripe (payments post to the clearing account)",
    Collection.nue_payment_link: "Collect with Nue payment links (clearing account)",
    Collection.third_party: "Collect with a third-party processor (clearing account)",
}
BLANK_ROWS = 3


@dataclass
class SettingsForm:
    """The page's fields, from a saved config or from what the operator just submitted."""

    scheduled_mode: bool = False
    item_types: dict[str, str] = field(default_factory=dict)
    gl: dict[str, str] = field(default_factory=dict)
    overrides: list[tuple[str, str, str]] = field(default_factory=list)  # category, GL field, account id
    collection: str = Collection.stripe.value
    subsidiary_id: str = ""
    currencies: list[tuple[str, str]] = field(default_factory=list)  # code, NetSuite currency id
    # department_id, class_id, location_id: internal ids put on every transaction ("" unsets)
    classifications: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: IntegrationConfig) -> SettingsForm:
        overrides = [
            (category, role, value)
            for category, accounts in sorted(config.category_overrides.items())
            for role, value in accounts.model_dump().items()
            if value
        ]
        return cls(
            scheduled_mode=config.scheduled_mode,
            item_types={pt.value: config.item_type(pt).value for pt in ProductType},
            gl={k: v or "" for k, v in config.gl.model_dump().items()},
            overrides=overrides,
            collection=config.collection.value,
            subsidiary_id=config.subsidiary_id or "",
            currencies=sorted(config.currency_ids.items()),
            classifications={s.setting: getattr(config, s.setting) or "" for s in SEGMENTS},
        )

    @classmethod
    def parse(cls, form: FormData) -> SettingsForm:
        def text(name: str) -> str:
            return str(form.get(name, "")).strip()

        def rows(prefix: str, parts: tuple[str, ...], keys: tuple[str, ...]) -> list[tuple[str, ...]]:
            """Rows where one of `keys` is filled in (a select always has a value, so it doesn't count)."""
            count = int(text(f"{prefix}_rows")) if text(f"{prefix}_rows").isdigit() else 0
            found = [{p: text(f"{prefix}.{i}.{p}") for p in parts} for i in range(min(count, 500))]
            return [tuple(r[p] for p in parts) for r in found if any(r[k] for k in keys)]

        return cls(
            scheduled_mode=form.get("scheduled_mode") == "on",
            item_types={pt.value: text(f"item_type.{pt.value}") for pt in ProductType},
            gl={name: text(f"gl.{name}") for name in GL_FIELDS},
            overrides=rows("override", ("category", "role", "account"), ("category", "account")),
            collection=text("collection"),
            subsidiary_id=text("subsidiary_id"),
            currencies=rows("currency", ("code", "id"), ("code", "id")),
            classifications={s.setting: text(s.setting) for s in SEGMENTS},
        )

    def config_data(self, current: IntegrationConfig) -> dict[str, Any]:
        """As IntegrationConfig input; fields the page does not show keep their saved values."""
        overrides: dict[str, dict[str, str]] = {}
        for category, role, account in self.overrides:
            overrides.setdefault(category, {})[role] = account
        return (
            current.model_dump(mode="json", exclude={"validation"})
            | {
                "scheduled_mode": self.scheduled_mode,
                "item_types": self.item_types,
                "gl": {k: v or None for k, v in self.gl.items()},
                "category_overrides": overrides,
                "collection": self.collection,
                "subsidiary_id": self.subsidiary_id or None,
                "currency_ids": dict(self.currencies),
            }
            | {setting: value or None for setting, value in self.classifications.items()}
        )


def _field_key(name: str) -> str:
    """Where a message shows: pydantic paths and validation settings both map to a form field."""
    if name.startswith("category_overrides."):
        return "override." + name.removeprefix("category_overrides.")
    if name in GL_FIELDS:
        return f"gl.{name}"
    if "." in name and name.rsplit(".", 1)[1] in GL_FIELDS and not name.startswith("gl."):
        return f"override.{name}"
    return name


def _messages(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        out.setdefault(_field_key(str(e.get("field", ""))), []).append(str(e.get("reason", "")))
    return out


def _integration(name: str) -> Integration:
    try:
        return get_context().integration(name)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None


def _page(
    request: Request,
    session: UiSession,
    integ: Integration,
    form: SettingsForm,
    status_code: int = 200,
    errors: list[dict[str, Any]] | None = None,
    verdict: dict[str, Any] | None = None,
    problem: str | None = None,
) -> Response:
    saved = IntegrationConfig.load(integ.settings)
    return render(
        request,
        "settings.html",
        session,
        status_code,
        integration=public_view(integ),
        form=form,
        blank_rows=BLANK_ROWS,
        gl_fields=GL_FIELDS,
        gl_labels=GL_LABELS,
        segments=SEGMENTS,
        product_types=[pt.value for pt in ProductType],
        item_labels={k.value: v for k, v in ITEM_LABELS.items()},
        collections={k.value: v for k, v in COLLECTION_LABELS.items()},
        messages=_messages(errors or []),
        errors=errors or [],
        verdict=verdict,
        saved_verdict=saved.validation,
        problem=problem,
        throttling=throttling(get_context().engine).get(integ.name),
        account=settings.account_findings(get_context(), integ, saved),
    )


@router.get("/", response_class=HTMLResponse)
def integrations_page(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    views = [public_view(i) for i in list_integrations(get_context().engine)]
    return render(request, "integrations.html", session, integrations=views, messages={}, errors=[])


_CREDENTIAL_FIELDS = (
    "client_id",
    "certificate_id",
    "private_key",
    "private_key_env",
    "consumer_key",
    "consumer_secret",
    "token_id",
    "token_secret",
)


def connection_input(form: FormData, new: bool) -> dict[str, Any]:
    """The connection form as API input: blank credential fields change nothing (write-only)."""

    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    data: dict[str, Any] = {k: text(k) for k in ("account_id", "rest_url", "rate_limit", "webhook_url")}
    for k in ("account_id", "rate_limit"):
        if not data[k]:
            data[k] = None
    if new:
        data = {k: v for k, v in data.items() if v} | {"name": text("name")}
    concurrency = text("concurrency")
    if concurrency:
        data["concurrency"] = int(concurrency) if concurrency.isdigit() else concurrency
    creds = {k: str(form.get(k, "")) for k in _CREDENTIAL_FIELDS if text(k)}
    if creds or text("auth_method") or new:
        data["credentials"] = creds | ({"auth_method": text("auth_method")} if text("auth_method") else {})
    if not new:
        if text("add_certificate_id"):
            add = {"certificate_id": text("add_certificate_id")}
            if text("add_private_key"):
                add["private_key"] = str(form.get("add_private_key"))
            if text("add_private_key_env"):
                add["private_key_env"] = text("add_private_key_env")
            data["add_certificate"] = add
        for k in ("activate_certificate", "retire_certificate"):
            if text(k):
                data[k] = text(k)
    return data


@router.post("/", response_class=HTMLResponse)
async def connect(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    """Connect a NetSuite account from the integrations page."""
    form = await request.form()
    check_csrf(session, str(form.get("csrf", "")))
    data = connection_input(form, new=True)
    try:
        integ = connection.create(get_context(), connection.parse(connection.IntegrationIn, data))
    except Problem as exc:
        views = [public_view(i) for i in list_integrations(get_context().engine)]
        shown = {k: v for k, v in data.items() if k != "credentials"}  # never echo a secret
        return render(
            request,
            "integrations.html",
            session,
            exc.status,
            integrations=views,
            submitted=shown,
            problem=exc.detail,
            errors=exc.errors,
            messages=_messages(exc.errors),
        )
    return RedirectResponse(f"/ui/integrations/{quote(integ.name)}?notice=connected", status_code=303)


@router.post("/{name}/connection", response_class=HTMLResponse)
async def connection_submit(
    request: Request, name: str, session: UiSession = Depends(ui_session)
) -> Response:
    form = await request.form()
    check_csrf(session, str(form.get("csrf", "")))
    integ = _integration(name)
    ctx = get_context()
    action = str(form.get("action", "save"))
    try:
        if action == "remove":
            connection.remove(ctx, name)
            return RedirectResponse("/ui/integrations/?notice=removed", status_code=303)
        if action in ("disable", "enable"):
            body = connection.ConnectionIn(enabled=action == "enable")
            notice = f"{action}d"
        else:
            body = connection.parse(connection.ConnectionIn, connection_input(form, new=False))
            notice = "connection-saved"
        connection.change(ctx, name, body)
    except Problem as exc:
        form_now = SettingsForm.of(IntegrationConfig.load(integ.settings))
        return _page(
            request, session, _integration(name), form_now, exc.status, exc.errors, problem=exc.detail
        )
    if action == "enable":
        dispatch.dispatch(ctx, integ.id)
    return RedirectResponse(f"/ui/integrations/{quote(name)}?notice={notice}", status_code=303)


@router.get("/{name}", response_class=HTMLResponse)
def settings_page(request: Request, name: str, session: UiSession = Depends(ui_session)) -> Response:
    integ = _integration(name)
    return _page(request, session, integ, SettingsForm.of(IntegrationConfig.load(integ.settings)))


@router.post("/{name}/discover", response_class=HTMLResponse)
async def settings_discover(
    request: Request, name: str, session: UiSession = Depends(ui_session)
) -> Response:
    """The "Read the account again" button: the profile is read now (governed calls)."""
    form = await request.form()
    check_csrf(session, str(form.get("csrf", "")))
    integ = _integration(name)
    try:
        settings.discover(get_context(), integ)
    except Problem as exc:
        config = IntegrationConfig.load(integ.settings)
        return _page(request, session, integ, SettingsForm.of(config), exc.status, problem=exc.detail)
    return RedirectResponse(f"/ui/integrations/{quote(name)}?notice=profile-read", status_code=303)


@router.post("/{name}", response_class=HTMLResponse)
async def settings_submit(request: Request, name: str, session: UiSession = Depends(ui_session)) -> Response:
    form = await request.form()
    check_csrf(session, str(form.get("csrf", "")))
    integ = _integration(name)
    submitted = SettingsForm.parse(form)
    ctx = get_context()
    try:
        config = settings.parse_config(submitted.config_data(IntegrationConfig.load(integ.settings)))
        if form.get("action") == "save":
            settings.save(ctx, integ, config)
            return RedirectResponse(f"/ui/integrations/{quote(name)}?notice=saved", status_code=303)
        verdict = settings.check(ctx, integ, config)
    except Problem as exc:
        return _page(request, session, integ, submitted, exc.status, exc.errors, problem=exc.detail)
    errors = settings.problems_by_setting(verdict)
    return _page(request, session, integ, submitted, 200, errors, verdict=verdict)
