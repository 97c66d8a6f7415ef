"""`nue-ns`: one command for operators (typer + rich)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

app = typer.Typer(no_args_is_help=True, help="Keep Nue billing and NetSuite's general ledger in step.")
hub_app = typer.Typer(no_args_is_help=True, help="The Transaction Hub: status, listings, retries.")
integration_app = typer.Typer(no_args_is_help=True, help="Integrations: NetSuite connection and mapping.")
app.add_typer(hub_app, name="hub")
app.add_typer(integration_app, name="integration")

# Markup off: everything printed may hold data (NetSuite's error details, webhook replies, names),
# and data is never read as rich markup ("[/x]" would crash, "[link=...]" would become a link).
# Styles are given as arguments (see _error), never inside the text.
# Control characters (a terminal escape in a NetSuite detail) are shown escaped, not run, and
# ":name:" is not made an emoji.


class _DataConsole(Console):
    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(_visible(text), **kwargs)


def _visible(text: str) -> str:
    from nue_ns.safe_text import clip

    return clip(text, len(text) + 100) or ""


console = _DataConsole(markup=False, highlight=False, emoji=False)
err = _DataConsole(stderr=True, markup=False, highlight=False, emoji=False)


def _error(message: str, label: str = "error:", style: str = "red", **kwargs: Any) -> None:
    # Never wrapped at the terminal's width: an error stays one line per line, as it was written.
    kwargs.setdefault("soft_wrap", True)
    err.print(Text.assemble((label, style), " ", _visible(message)), **kwargs)


def _ctx():
    from nue_ns.context import get_context
    from nue_ns.hub.engines import migrate
    from nue_ns.hub.integrations import ensure_default

    ctx = get_context()
    migrate(ctx.database_url)
    ensure_default(ctx.engine, ctx.settings)
    return ctx


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def read_records_file(path: Path) -> tuple[list[Any], list[int] | None]:
    """The records of a JSON object, a JSON array, or JSON lines; for JSON lines also each record's
    line number (1-based), so that errors point at the line."""
    try:
        text = path.read_text(encoding="utf-8") if str(path) != "-" else sys.stdin.read()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, not a file") from None
    except PermissionError:
        raise ValueError(f"{path}: not allowed to read it (permission denied)") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{path}: the file is empty")
    from nue_ns.strict_json import BadJson, loads  # duplicate keys and deep nesting refused

    try:
        data = loads(stripped)
        return (data if isinstance(data, list) else [data]), None
    except BadJson as whole:
        if not whole.syntax:
            raise ValueError(f"{path}: {whole}") from None
        items, lines = [], []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(loads(line))
                    lines.append(n)
                except BadJson as exc:
                    if not items and exc.syntax:
                        raise ValueError(f"{path}: not JSON ({whole.reason})") from None
                    raise ValueError(f"{path}: line {n}: {exc}") from None
        return items, lines


def _refusal(exc: Any, lines: list[int] | None) -> str:
    """An InvalidBatch for a person: records counted from 1, and the line of each in a JSON-lines file."""
    shown = []
    for problem in exc.problems[:20]:
        where = problem.record_type
        if problem.index is not None:
            where += f" #{problem.index + 1}"
            if lines is not None and problem.index < len(lines):
                where += f" (line {lines[problem.index]})"
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in problem.errors[:10])
        shown.append(f"  {where}: {reasons}")
    if len(exc.problems) > 20:
        shown.append(f"  ... and {len(exc.problems) - 20} more")
    return f"{len(exc.problems)} invalid record(s), nothing stored:\n" + "\n".join(shown)


@app.command()
def enqueue(
    record_type: str = typer.Argument(..., help="customer|product|order|invoice|payment|refund|credit_memo"),
    file: Path = typer.Argument(..., help="JSON object, JSON array or JSON lines ('-' for stdin)"),
    integration: str = typer.Option("default", "--integration", "-i"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate records and make them durable in the hub (all or nothing)."""
    from nue_ns.producer import InvalidBatch, enqueue_many
    from nue_ns.records import CONTRACTS

    if record_type not in CONTRACTS and not as_json:  # --json: refused per record below, field "type"
        _error(f"unknown record type {record_type!r}; one of: {', '.join(CONTRACTS)}", "refused:")
        raise typer.Exit(1)
    try:
        items, lines = read_records_file(file)
    except (OSError, ValueError) as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    ctx = _ctx()
    try:
        accepted = enqueue_many(record_type, items, integration=integration, ctx=ctx)
    except InvalidBatch as exc:
        if as_json:
            _print_json({"accepted": 0, "errors": exc.as_json()})
        else:
            _error(_refusal(exc, lines), "refused:")
        raise typer.Exit(1) from None
    except LookupError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    new = sum(a.created for a in accepted)
    if as_json:
        _print_json({"accepted": len(accepted), "new": new, "ids": [a.id for a in accepted]})
    else:
        console.print(
            f"accepted {len(accepted)} {record_type} record(s) ({new} new, "
            f"{len(accepted) - new} already in the hub)"
        )


@hub_app.command("status")
def hub_status(
    integration: str = typer.Option(None, "--integration", "-i"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts per state per record type."""
    from nue_ns.hub.queries import status

    counts = status(_ctx().engine, integration)
    if as_json:
        _print_json(counts)
        return
    from nue_ns.tables import status_table

    console.print(status_table(counts))


@hub_app.command("list")
def hub_list(
    state: str = typer.Option(
        None, "--state", "-s", help="e.g. failed, pending, transferred, 'Not Transferred'"
    ),
    record_type: str = typer.Option(None, "--type", "-t"),
    integration: str = typer.Option(None, "--integration", "-i"),
    error_code: str = typer.Option(None, "--error-code"),
    nue_id: str = typer.Option(None, "--nue-id"),
    limit: int = typer.Option(50, "--limit"),
    after: int = typer.Option(None, "--after", help="cursor: list records with a larger id"),
    as_json: bool = typer.Option(False, "--json"),
    inbound: bool = typer.Option(False, "--inbound", help="inbound events (NetSuite -> Nue) instead"),
) -> None:
    """Records with their state, reason and NetSuite error."""
    from nue_ns.hub.queries import Filter, list_records, record_view

    if inbound:
        return inbound_list(state, None, integration, limit, after, as_json)
    try:
        rows = list_records(
            _ctx().engine,
            Filter(
                state=state,
                record_type=record_type,
                integration=integration,
                error_code=error_code,
                nue_id=nue_id,
                limit=limit,
                after_id=after,
            ),
        )
    except ValueError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    views = [record_view(r) for r in rows]
    if as_json:
        _print_json(views)
        return
    table = Table(title=f"{len(views)} record(s)")
    for col in ("id", "type", "nue id", "status", "NetSuite", "reason / error"):
        table.add_column(col, overflow="fold")
    for v in views:
        ns = f"{v['netsuite']['type']} {v['netsuite']['internal_id']}" if v["netsuite"] else ""
        error = v["error"]
        detail = v["reason"] or ""
        if error and v["state"] != "transferred":
            path = f" [field {error['path']}]" if error["path"] else ""
            detail = f"{error['status'] or ''} {error['code'] or ''}: {error['detail']}{path}".strip()
        table.add_row(str(v["id"]), v["type"], v["nue_id"], v["status"], ns, detail)
    console.print(table)


@hub_app.command("show")
def hub_show(record_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One record with its payload and every attempt."""
    from nue_ns.hub.queries import attempt_view, get_record, record_batch, record_view

    found = get_record(_ctx().engine, record_id)
    if found is None:
        _error(f"no record {record_id}")
        raise typer.Exit(2)
    rec, attempts = found
    batch = record_batch(_ctx().engine, rec)
    view = record_view(rec) | {
        "payload": rec.payload,
        "batch": batch,
        "attempts_log": [attempt_view(a) for a in attempts],
    }
    _print_json(view) if as_json else console.print_json(json.dumps(view, default=str))


@hub_app.command("batches")
def hub_batches(
    integration: str = typer.Option(None, "--integration", "-i"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """NetSuite batches (up to 100 records per call, scheduled mode): job, progress, outcomes."""
    from nue_ns.hub import batch_store
    from nue_ns.hub.queries import batch_view

    ctx = _ctx()
    integ_id = ctx.integration(integration).id if integration else None
    views = [batch_view(b) for b in batch_store.listing(ctx.engine, integ_id, limit)]
    if as_json:
        _print_json(views)
        return
    table = Table(title=f"{len(views)} batch(es)")
    for col in (
        "id",
        "type",
        "state",
        "job",
        "records",
        "ok",
        "failed",
        "again",
        "submits",
        "polls",
        "detail",
    ):
        table.add_column(col, overflow="fold")
    for v in views:
        table.add_row(
            str(v["id"]), f"{v['record_type']} ({v['ns_type']})", v["progress"] or v["state"],
            v["job_id"] or "",
            str(v["records"]), str(v["succeeded"]), str(v["failed"]), str(v["retried"]), str(v["submits"]),
            str(v["polls"]), v["detail"] or "",
        )  # fmt: skip
    console.print(table)


@hub_app.command("retry")
def hub_retry(
    record_ids: list[int] = typer.Argument(None, help="record ids"),
    all_failed: bool = typer.Option(False, "--all-failed", help="every record that needs a person"),
    integration: str = typer.Option(None, "--integration", "-i"),
) -> None:
    """Send records again now (and dispatch them)."""
    from nue_ns import services

    if not record_ids and not all_failed:
        _error("give record ids or --all-failed")
        raise typer.Exit(2)
    ctx = _ctx()
    integ_id = ctx.integration(integration).id if integration else None
    done = services.retry(ctx, record_ids or None, all_failed=all_failed, integration_id=integ_id)
    console.print(f"{len(done.ids)} record(s) set to retry; {done.dispatched} dispatched now")


@hub_app.command("sweep")
def hub_sweep(
    batch: bool = typer.Option(False, "--batch", help="also release scheduled-mode batches"),
) -> None:
    """Run the sweeps once now (what beat does on its schedule)."""
    from nue_ns import services

    ctx = _ctx()
    if batch:
        services.batch_sweep(ctx)
    recovered = services.recover_leases(ctx)
    swept = services.retry_sweep(ctx)
    console.print(
        f"recovered {len(recovered)}, woke {swept['woken']}, dispatched {swept['dispatched']}, "
        f"resent {swept['resent']}, batch tasks {swept['batch_tasks']}"
    )


@integration_app.command("show")
def integration_show(
    name: str = typer.Argument("default"), as_json: bool = typer.Option(True, "--json")
) -> None:
    """An integration's connection (never its secrets) and mapping."""
    from nue_ns.hub.integrations import public_view

    try:
        view = public_view(_ctx().integration(name))
    except LookupError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    _print_json(view)


def _read_secret(path: Path | None, option: str) -> str | None:
    """A secret from a file ("-": standard input), never from the command line (shell history, ps)."""
    if path is None:
        return None
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"{option} {path}: empty")
    return text.strip() if "PRIVATE KEY" not in text else text


def credentials_from_options(
    auth: str | None,
    *,
    client_id: str | None = None,
    certificate_id: str | None = None,
    private_key_file: Path | None = None,
    private_key_env: str | None = None,
    scope: str | None = None,
    consumer_key: str | None = None,
    consumer_secret_file: Path | None = None,
    token_id: str | None = None,
    token_secret_file: Path | None = None,
) -> Any:
    """New credentials from the command line, or None when none are given."""
    from nue_ns.netsuite.auth import DEFAULT_SCOPE, Certificate, Credentials, OAuth2Credentials

    tba_given = any((consumer_key, consumer_secret_file, token_id, token_secret_file))
    oauth_given = any((client_id, certificate_id, private_key_file, private_key_env))
    if auth is None and not (tba_given or oauth_given):
        return None
    method = auth or ("tba" if tba_given and not oauth_given else "oauth2")
    if method not in ("oauth2", "tba"):
        raise ValueError(f"--auth {method!r}: expected oauth2 or tba")
    if method == "tba":
        if oauth_given:
            raise ValueError(
                "--client-id/--certificate-id/--private-key-*: OAuth 2.0 options, but --auth is tba"
            )
        missing = [
            name
            for name, value in (
                ("--consumer-key", consumer_key),
                ("--consumer-secret-file", consumer_secret_file),
                ("--token-id", token_id),
                ("--token-secret-file", token_secret_file),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"token-based authentication needs {', '.join(missing)}")
        return Credentials(
            consumer_key or "",
            _read_secret(consumer_secret_file, "--consumer-secret-file") or "",
            token_id or "",
            _read_secret(token_secret_file, "--token-secret-file") or "",
        )
    if tba_given:
        raise ValueError("--consumer-*/--token-*: token-based authentication options, but --auth is oauth2")
    missing = [n for n, v in (("--client-id", client_id), ("--certificate-id", certificate_id)) if not v]
    if not (private_key_file or private_key_env):
        missing.append("--private-key-file or --private-key-env")
    if missing:
        raise ValueError(f"OAuth 2.0 needs {', '.join(missing)}")
    cert = Certificate(
        certificate_id or "",
        private_key_pem=_read_secret(private_key_file, "--private-key-file"),
        private_key_env=None if private_key_file else private_key_env,
    )
    return OAuth2Credentials(client_id or "", (cert,), cert.certificate_id, scope or DEFAULT_SCOPE)


_AUTH_HELP = "oauth2 (OAuth 2.0 client credentials, the default) or tba (token-based, none new from 2027.1)"


@integration_app.command("create")
def integration_create(
    name: str = typer.Argument(..., help="a name of your choice, e.g. emea"),
    account_id: str = typer.Option(
        ..., "--account-id", help="NetSuite account id, e.g. 1234567 or 1234567_SB1"
    ),
    rest_url: str = typer.Option(
        None, "--rest-url", help="REST base override, e.g. https://<host>/services/rest"
    ),
    auth: str = typer.Option(None, "--auth", help=_AUTH_HELP),
    client_id: str = typer.Option(None, "--client-id", help="OAuth 2.0: the integration record's client ID"),
    certificate_id: str = typer.Option(
        None, "--certificate-id", help="OAuth 2.0: id NetSuite gave the certificate"
    ),
    private_key_file: Path = typer.Option(
        None, "--private-key-file", help="OAuth 2.0: PEM key, stored encrypted"
    ),
    private_key_env: str = typer.Option(
        None, "--private-key-env", help="OAuth 2.0: env variable holding the PEM"
    ),
    scope: str = typer.Option(None, "--scope", help="OAuth 2.0 scope (default rest_webservices)"),
    consumer_key: str = typer.Option(None, "--consumer-key", help="TBA consumer key"),
    consumer_secret_file: Path = typer.Option(
        None, "--consumer-secret-file", help="TBA: file with the secret"
    ),
    token_id: str = typer.Option(None, "--token-id", help="TBA token id"),
    token_secret_file: Path = typer.Option(
        None, "--token-secret-file", help="TBA: file with the token secret"
    ),
    rate_limit: str = typer.Option("5/60s", "--rate-limit", help="calls per period, e.g. 5/60s"),
    concurrency: int = typer.Option(5, "--concurrency", help="concurrent NetSuite calls"),
    webhook_url: str = typer.Option(None, "--webhook-url", help="where this integration's inbound events go"),
    disabled: bool = typer.Option(False, "--disabled", help="create it disabled (nothing is sent)"),
) -> None:
    """Connect a NetSuite account. Credentials are stored encrypted and never shown back."""
    from nue_ns.hub.integrations import create_integration, public_view

    ctx = _ctx()
    try:
        creds = credentials_from_options(
            auth or "oauth2",
            client_id=client_id,
            certificate_id=certificate_id,
            private_key_file=private_key_file,
            private_key_env=private_key_env,
            scope=scope,
            consumer_key=consumer_key,
            consumer_secret_file=consumer_secret_file,
            token_id=token_id,
            token_secret_file=token_secret_file,
        )
        integ = create_integration(
            ctx.engine,
            ctx.settings,
            name,
            account_id=account_id,
            credentials=creds,
            rest_url=rest_url,
            rate_limit=rate_limit,
            concurrency=concurrency,
            webhook_url=webhook_url,
            enabled=not disabled,
        )
    except (ValueError, OSError) as exc:
        err.print(f"error: {exc}; nothing saved", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    if integ.auth_method == "tba":
        err.print("note: NetSuite creates no new TBA integrations from 2027.1; prefer --auth oauth2")
    err.print(f"next: map its GL accounts with `nue-ns integration set {name} --gl ...`", markup=False)
    _print_json(public_view(ctx.integration(name)))


@integration_app.command("list")
def integration_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every integration: account, auth method, limits, enabled (never a secret)."""
    from nue_ns.hub.integrations import list_integrations, public_view

    views = [public_view(i) for i in list_integrations(_ctx().engine)]
    if as_json:
        _print_json(views)
        return
    table = Table("name", "account", "auth", "enabled", "rate limit", "concurrency", "REST URL")
    for v in views:
        table.add_row(
            v["name"],
            v["account_id"],
            v["auth_method"],
            "yes" if v["enabled"] else "no",
            v["rate_limit"],
            str(v["concurrency"]),
            v["rest_url"] or "",
        )
    console.print(table)


def _switch(name: str, enabled: bool) -> None:
    from nue_ns import dispatch
    from nue_ns.hub.integrations import change_integration, held

    ctx = _ctx()
    try:
        integ = change_integration(ctx.engine, ctx.settings, name, enabled=enabled)
        _, still_open, _ = held(ctx.engine, name)
    except LookupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if enabled:
        console.print(f"integration {name!r} enabled; {still_open} open record(s) go now")
        dispatch.dispatch(ctx, integ.id)
    else:
        console.print(
            f"integration {name!r} disabled: its {still_open} open record(s) stay in the hub and nothing "
            f"is sent until `nue-ns integration enable {name}`",
            markup=False,
        )


@integration_app.command("disable")
def integration_disable(name: str = typer.Argument(...)) -> None:
    """Stop sending for an integration; its records stay in the hub."""
    _switch(name, False)


@integration_app.command("enable")
def integration_enable(name: str = typer.Argument(...)) -> None:
    """Send again for a disabled integration."""
    _switch(name, True)


@integration_app.command("remove")
def integration_remove(name: str = typer.Argument(...)) -> None:
    """Remove an integration; refused while the hub holds any of its records."""
    from nue_ns.hub.integrations import IntegrationInUse, remove_integration

    ctx = _ctx()
    try:
        remove_integration(ctx.engine, name)
    except IntegrationInUse as exc:
        err.print(f"refused: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except LookupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"integration {name!r} removed")


def _change_connection(ctx: Any, name: str, options: dict[str, Any]) -> bool:
    """Apply `integration set`'s connection and credential options; False when none were given."""
    from nue_ns.hub.integrations import change_integration, rotate_certificates
    from nue_ns.netsuite.auth import Certificate

    conn = {k: options[k] for k in ("account_id", "rest_url", "rate_limit", "concurrency", "webhook_url")}
    cred_opts = {
        k: options[k]
        for k in (
            "client_id",
            "private_key_file",
            "private_key_env",
            "scope",
            "consumer_key",
            "consumer_secret_file",
            "token_id",
            "token_secret_file",
        )
    }
    add, activate, retire = (
        options["add_certificate"],
        options["activate_certificate"],
        options["retire_certificate"],
    )
    if add:  # a second certificate beside the first (key rotation)
        key_file, key_env = cred_opts.pop("private_key_file"), cred_opts.pop("private_key_env")
        if not (key_file or key_env):
            raise ValueError("--add-certificate needs --private-key-file or --private-key-env")
        pem = _read_secret(key_file, "--private-key-file")
        cert = Certificate(add, private_key_pem=pem, private_key_env=None if key_file else key_env)
    creds = credentials_from_options(options["auth"], certificate_id=options["certificate_id"], **cred_opts)
    if not (any(v is not None for v in conn.values()) or creds or add or activate or retire):
        return False
    change_integration(ctx.engine, ctx.settings, name, credentials=creds, **conn)
    if add or activate or retire:
        rotate_certificates(
            ctx.engine, ctx.settings, name, add=cert if add else None, activate=activate, retire=retire
        )
    return True


# Seconds `integration set|validate` waits for a NetSuite call slot (workers may hold the rest).
_CLI_MAX_WAIT = 120.0


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} {value!r}: expected NAME=VALUE")
        out.append((key.strip(), val.strip()))
    return out


def changed_config(
    current: Any,
    *,
    gl: list[str] | None = None,
    overrides: list[str] | None = None,
    item_types: list[str] | None = None,
    collection: str | None = None,
    scheduled: bool | None = None,
    subsidiary: str | None = None,
    invoice_link: str | None = None,
    classifications: dict[str, str | None] | None = None,
    field_values: list[str] | None = None,
    currency_ids: list[str] | None = None,
) -> Any:
    """`current` with the command line's changes; an empty VALUE unsets an account.
    `classifications`: {setting (department_id, class_id, location_id): internal id, "" unsets}.
    `field_values`: TYPE.FIELD=VALUE, VALUE read as JSON where it is (3, true, {"id": "3"}), else
    as text; an empty VALUE unsets the field."""
    from pydantic import ValidationError

    from nue_ns.integration import GlAccounts, IntegrationConfig

    roles = list(GlAccounts.model_fields)
    data = current.model_dump(mode="json")
    for role, value in _pairs(gl, "--gl"):
        if role not in roles:
            raise ValueError(f"--gl {role}: unknown GL account; expected one of {', '.join(roles)}")
        data["gl"][role] = value or None
    for key, value in _pairs(overrides, "--override"):
        category, _, role = key.rpartition(".")
        if not category or role not in roles:
            raise ValueError(
                f"--override {key}: expected CATEGORY.ACCOUNT=ID, ACCOUNT one of {', '.join(roles)}"
            )
        override = data["category_overrides"].setdefault(category, {})
        override[role] = value or None
        if not any(override.values()):
            del data["category_overrides"][category]
    for product_type, item_type in _pairs(item_types, "--item-type"):
        data["item_types"][product_type] = item_type
    if collection is not None:
        data["collection"] = collection
    if invoice_link is not None:
        data["invoice_link"] = invoice_link
    if scheduled is not None:
        data["scheduled_mode"] = scheduled
    if subsidiary is not None:
        data["subsidiary_id"] = subsidiary or None
    for setting, value in (classifications or {}).items():
        if value is not None:
            data[setting] = value or None
    for code, internal_id in _pairs(currency_ids, "--currency-id"):
        if internal_id:
            data["currency_ids"][code.upper()] = internal_id
        else:
            data["currency_ids"].pop(code.upper(), None)
    for key, value in _pairs(field_values, "--field-value"):
        record_type, _, name = key.partition(".")
        if not record_type or not name:
            raise ValueError(
                f"--field-value {key}: expected TYPE.FIELD=VALUE, e.g. invoice.custbody_region=3"
            )
        values = data["field_values"].setdefault(record_type, {})
        if value:
            values[name] = _json_or_text(value)
        else:
            values.pop(name, None)
            if not values:
                del data["field_values"][record_type]
    try:
        return IntegrationConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        ]
        raise ValueError("; ".join(problems)) from None


def _json_or_text(value: str) -> Any:
    """A command-line value as JSON where it is one (3, 2.5, true, {"id": "3"}), else the text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _check_accounts(ctx: Any, integration_id: int, config: Any) -> dict:
    """The verdict on `config`'s GL accounts from NetSuite; exits 2 when NetSuite gives none."""
    from nue_ns.gateway import NoCallSlot
    from nue_ns.netsuite.errors import NetSuiteError
    from nue_ns.validation import check

    try:
        return check(ctx, integration_id, config, max_wait=_CLI_MAX_WAIT)
    except (NoCallSlot, NetSuiteError) as exc:
        raise RuntimeError(f"could not check the GL accounts in NetSuite: {exc}") from None


def _print_problems(verdict: dict) -> None:
    for problem in verdict["problems"]:
        err.print(f"  ✗ {problem}", soft_wrap=True)


def _release_waiting(ctx: Any, integration_id: int) -> int:
    """Records that waited for the mapping go now."""
    from nue_ns import dispatch
    from nue_ns.hub import prerequisites

    woken = prerequisites.wake_mapping(ctx.engine, integration_id)
    if woken:
        dispatch.dispatch(ctx, integration_id)
    return woken


@integration_app.command("set")
def integration_set(
    name: str = typer.Argument("default"),
    gl: list[str] = typer.Option(
        None, "--gl", help="ACCOUNT=ID, e.g. subscription_income=5 (empty ID unsets)"
    ),
    override: list[str] = typer.Option(
        None, "--override", help="CATEGORY.ACCOUNT=ID, e.g. Enterprise.subscription_income=12"
    ),
    item_type: list[str] = typer.Option(
        None, "--item-type", help="PRODUCT_TYPE=ITEM_TYPE, e.g. asset=inventoryItem"
    ),
    collection: str = typer.Option(None, "--collection", help="netsuite|stripe|nue_payment_link|third_party"),
    scheduled: bool = typer.Option(None, "--scheduled/--realtime", help="scheduled mode on or off"),
    subsidiary: str = typer.Option(None, "--subsidiary", help="NetSuite subsidiary id (empty unsets)"),
    department: str = typer.Option(
        None, "--department", help="department id on every transaction (empty unsets)"
    ),
    class_: str = typer.Option(None, "--class", help="class id on every transaction (empty unsets)"),
    location: str = typer.Option(None, "--location", help="location id on every transaction (empty unsets)"),
    invoice_link: str = typer.Option(
        None, "--invoice-link", help="transform|standalone: how an invoice of an order reaches NetSuite"
    ),
    currency_id: list[str] = typer.Option(
        None,
        "--currency-id",
        help="CODE=ID: a currency's internal id, overriding the account profile; "
        "an account without Multiple Currencies names its one currency so (empty ID unsets)",
    ),
    field_value: list[str] = typer.Option(
        None,
        "--field-value",
        help="TYPE.FIELD=VALUE, a custom field on every record of a type, e.g. "
        "invoice.custbody_region=3 or customer.custentity_vip=true (empty VALUE unsets)",
    ),
    force: bool = typer.Option(
        False, "--force", help="save even if NetSuite rejects or cannot check the accounts"
    ),
    account_id: str = typer.Option(None, "--account-id", help="NetSuite account id"),
    rest_url: str = typer.Option(None, "--rest-url", help="REST base override (empty unsets)"),
    rate_limit: str = typer.Option(None, "--rate-limit", help="calls per period, e.g. 5/60s"),
    concurrency: int = typer.Option(None, "--concurrency", help="concurrent NetSuite calls"),
    webhook_url: str = typer.Option(None, "--webhook-url", help="inbound events' webhook (empty unsets)"),
    auth: str = typer.Option(None, "--auth", help=_AUTH_HELP + "; replaces the credentials"),
    client_id: str = typer.Option(None, "--client-id", help="OAuth 2.0 client ID"),
    certificate_id: str = typer.Option(None, "--certificate-id", help="OAuth 2.0 certificate id"),
    private_key_file: Path = typer.Option(None, "--private-key-file", help="OAuth 2.0 PEM key file"),
    private_key_env: str = typer.Option(None, "--private-key-env", help="env variable holding the PEM"),
    scope: str = typer.Option(None, "--scope", help="OAuth 2.0 scope"),
    consumer_key: str = typer.Option(None, "--consumer-key", help="TBA consumer key"),
    consumer_secret_file: Path = typer.Option(None, "--consumer-secret-file", help="TBA secret file"),
    token_id: str = typer.Option(None, "--token-id", help="TBA token id"),
    token_secret_file: Path = typer.Option(None, "--token-secret-file", help="TBA token secret file"),
    add_certificate: str = typer.Option(None, "--add-certificate", help="rotation: a new certificate id"),
    activate_certificate: str = typer.Option(None, "--activate-certificate", help="sign with this one"),
    retire_certificate: str = typer.Option(None, "--retire-certificate", help="drop a non-active one"),
) -> None:
    """Change an integration: its connection, credentials and limits, and its mapping (the GL accounts
    are checked in NetSuite before the mapping is saved)."""
    from nue_ns.hub.integrations import config_of, public_view, save_config
    from nue_ns.mapping.accounts import current_verdict
    from nue_ns.netsuite.segments import SEGMENTS  # department, class, location, in that order

    ctx = _ctx()
    segments = {s.setting: v for s, v in zip(SEGMENTS, (department, class_, location), strict=True)}
    mapping_given = any(
        v not in (None, [])
        for v in (
            gl,
            override,
            item_type,
            collection,
            scheduled,
            subsidiary,
            field_value,
            currency_id,
            *segments.values(),
        )
    )
    try:
        ctx.integration(name)
        connection_changed = _change_connection(ctx, name, locals())
    except (LookupError, ValueError, OSError) as exc:
        err.print(f"error: {exc}; nothing saved", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if connection_changed and not mapping_given:
        _print_json(public_view(ctx.integration(name)))
        return
    try:
        integ = ctx.integration(name)
        config = changed_config(
            config_of(integ),
            gl=gl,
            overrides=override,
            item_types=item_type,
            collection=collection,
            scheduled=scheduled,
            subsidiary=subsidiary,
            invoice_link=invoice_link,
            classifications=segments,
            field_values=field_value,
            currency_ids=currency_id,
        )
    except (LookupError, ValueError) as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    verdict = current_verdict(config)
    if verdict is None:
        try:
            verdict = _check_accounts(ctx, integ.id, config)
        except RuntimeError as exc:
            if not force:
                _error(f"{exc}; nothing saved (--force saves it unchecked)", soft_wrap=True)
                raise typer.Exit(2) from None
            _error(f"{exc}; saved unchecked: workers check it first", "warning:", "yellow", soft_wrap=True)
    if verdict is not None and not verdict["valid"]:
        _error(f"for integration {name!r}:", "GL accounts rejected")
        _print_problems(verdict)
        if not force:
            err.print(
                "nothing saved (--force saves it; records that need these accounts will wait)", soft_wrap=True
            )
            raise typer.Exit(1)
    save_config(ctx.engine, name, config.model_copy(update={"validation": verdict}))
    from nue_ns import profile

    profile.forget(ctx, integ.id)  # the next transfer (or `discover`) reads it for the new mapping
    woken = _release_waiting(ctx, integ.id) if verdict is not None and verdict["valid"] else 0
    _print_json(public_view(ctx.integration(name)) | {"records_released": woken})


def _account_findings(ctx: Any, integration_id: int, config: Any, refresh: bool) -> Any:
    """What the NetSuite account lacks for the mapping (its profile read if none is stored)."""
    from nue_ns import profile
    from nue_ns.gateway import NoCallSlot
    from nue_ns.netsuite.errors import NetSuiteError

    try:
        return profile.findings(ctx, integration_id, config, refresh=refresh, max_wait=_CLI_MAX_WAIT)[1]
    except (NoCallSlot, NetSuiteError) as exc:
        raise RuntimeError(f"could not read the NetSuite account profile: {exc}") from None


@integration_app.command("validate")
def integration_validate(
    name: str = typer.Argument("default"),
    as_json: bool = typer.Option(False, "--json"),
    refresh: bool = typer.Option(False, "--refresh", help="read the account profile again first"),
) -> None:
    """Check the mapping against the NetSuite account before anything is sent: every GL account
    exists, is active and has the right type, and the account has the features, custom fields,
    currencies and subsidiaries the mapping needs (its profile)."""
    from nue_ns.hub.integrations import config_of, save_validation

    ctx = _ctx()
    try:
        integ = ctx.integration(name)
        config = config_of(integ)
        verdict = _check_accounts(ctx, integ.id, config)
        found = _account_findings(ctx, integ.id, config, refresh)
    except (LookupError, RuntimeError) as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    save_validation(ctx.engine, integ.id, integ.settings, verdict)
    valid = verdict["valid"] and not found.problems
    woken = _release_waiting(ctx, integ.id) if valid else 0
    if as_json:
        _print_json(verdict | {"account": found.as_json(), "records_released": woken})
    else:
        if verdict["valid"]:
            console.print(f"GL accounts of integration {name!r} are valid")
        else:
            _error(f"for integration {name!r}:", "GL accounts rejected")
            _print_problems(verdict)
        if found.problems:
            _error(f"what integration {name!r} needs:", "the NetSuite account lacks")
            _print_problems({"problems": found.problems})
        for warning in found.warnings:
            err.print(f"  ! {warning}", soft_wrap=True)
        if valid:
            console.print(f"{woken} waiting record(s) released")
    if not valid:
        raise typer.Exit(1)


@integration_app.command("discover")
def integration_discover(name: str = typer.Argument("default")) -> None:
    """Read the NetSuite account's profile again (record schemas, currencies, subsidiaries, GL
    account types, tax codes) with governed calls, store it, and show it."""
    from nue_ns import profile
    from nue_ns.account_profile import summary
    from nue_ns.gateway import NoCallSlot
    from nue_ns.netsuite.errors import NetSuiteError

    ctx = _ctx()
    try:
        integ = ctx.integration(name)
        read = profile.discover(ctx, integ.id, max_wait=_CLI_MAX_WAIT)
    except LookupError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    except (NoCallSlot, NetSuiteError) as exc:
        _error(f"could not read the NetSuite account profile: {exc}")
        raise typer.Exit(2) from None
    _print_json(summary(read.model_dump(mode="json")))


@app.command()
def worker(
    concurrency: int = typer.Option(8, "--concurrency", "-c"),
    pool: str = typer.Option("threads", "--pool", help="threads (default: calls are I/O bound) or prefork"),
    loglevel: str = typer.Option("INFO", "--loglevel"),
    queues: str = typer.Option("nue_ns,nue_ns.sweeps", "--queues", "-Q"),
    hostname: str = typer.Option(None, "--hostname", "-n"),
) -> None:
    """Run a Celery worker."""
    from nue_ns.config import get_settings
    from nue_ns.context import reset_context
    from nue_ns.hub.engines import size_pool

    # A connection per thread (each keeps one from record to record), and two for the worker's own.
    wanted = get_settings().db_pool_size or concurrency + 2
    if pool == "threads" and wanted < concurrency + 2:
        # A thread keeps its hub connection through a transfer and may need a second one for a read
        # inside its claim: fewer than threads + 2 lets every connection be held by a thread waiting
        # for another (measured: transfers stalled 30 s each, 3.4% of the limits used).
        _error(f"NUE_NS_DB_POOL_SIZE={wanted} is below the worker's threads + 2 ({concurrency + 2}): "
               "raise it (and PostgreSQL's max_connections) or lower --concurrency")  # fmt: skip
        raise typer.Exit(2)
    size_pool(wanted)
    reset_context()
    _ctx()
    from nue_ns.tasks import app as celery_app

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--queues={queues}",  # "-Q=x" would name the queue "=x"
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


@app.command()
def beat(loglevel: str = typer.Option("INFO", "--loglevel")) -> None:
    """Run celery beat: batch sweep, retry sweep, lease recovery."""
    _ctx()
    from nue_ns.tasks import app as celery_app

    celery_app.start(["beat", f"--loglevel={loglevel}"])


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8900, "--port"),
    kind: str | None = typer.Option(
        None, "--kind", help="account kind, as NUE_NS_SANDBOX_KIND (README: configuration)"
    ),
) -> None:
    """Serve the NetSuite REST emulator."""
    import os

    from nue_ns.sandbox.app import serve
    from nue_ns.sandbox.kinds import KIND_ENV
    from nue_ns.sandbox.kinds import kind as account_kind

    if kind:
        account_kind(kind)  # refuse an unknown kind before serving
        os.environ[KIND_ENV] = kind
    serve(host, port)


@app.command()
def migrate() -> None:
    """Create or upgrade the hub schema."""
    _ctx()
    console.print("hub schema is up to date")


@app.command()
def demo(
    customers: int = typer.Option(20, "--customers"),
    products: int = typer.Option(12, "--products"),
    rate_limit: str = typer.Option("5/5s", "--rate-limit", help="time-scaled so the demo takes a minute"),
    workers: int = typer.Option(2, "--workers"),
) -> None:
    """Sandbox NetSuite + worker + beat + a sample batch, ending with a hub summary."""
    from nue_ns.demo import run_demo

    raise typer.Exit(run_demo(customers=customers, products=products, rate_limit=rate_limit, workers=workers))


# ---------------------------------------------------------------- inbound (NetSuite -> Nue)

inbound_app = typer.Typer(no_args_is_help=True, help="NetSuite -> Nue: payments and voided credit memos.")
app.add_typer(inbound_app, name="inbound")


def _inbound_views(**filters: Any) -> list[dict]:
    from nue_ns.hub.events import list_events
    from nue_ns.inbound import inbound_view

    return [inbound_view(e) for e in list_events(_ctx().engine, **filters)]


def _print_inbound(views: list[dict], as_json: bool) -> None:
    if as_json:
        _print_json(views)
        return
    table = Table(title=f"{len(views)} inbound event(s)")
    for col in ("id", "kind", "NetSuite", "seq", "status", "attempts", "what", "last error"):
        table.add_column(col, overflow="fold")
    for v in views:
        ns = f"{v['netsuite']['type']} {v['netsuite']['internal_id']}"
        error = v["last_error"] if v["state"] != "delivered" else ""
        row = (str(v["id"]), v["kind"], ns, str(v["sequence"]), v["status"], str(v["attempts"]), v["summary"])
        table.add_row(*row, error or "")
    console.print(table)


@inbound_app.command("poll")
def inbound_poll(
    integration: str = typer.Option(None, "--integration", "-i", help="default: every integration"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read NetSuite's changes since the watermark into hub events now (what beat does)."""
    from nue_ns.inbound import poll, poll_all

    ctx = _ctx()
    try:
        results = [poll(ctx, ctx.integration(integration).id)] if integration else poll_all(ctx)
    except LookupError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    if as_json:
        _print_json([r.as_json() for r in results])
        return
    for r in results:
        line = f"{r.integration}: {r.created} new event(s) from {r.changes} change(s)"
        line += f", {r.queries} SuiteQL call(s)"
        line += f"; stopped: {r.stopped}" if r.stopped else ""
        console.print(line + ("; more to read" if r.more else ""))


@inbound_app.command("deliver")
def inbound_deliver(as_json: bool = typer.Option(False, "--json")) -> None:
    """Send due inbound events to the webhook now."""
    from nue_ns.webhook import deliver_due

    report = deliver_due(_ctx()).as_json()
    _print_json(report) if as_json else console.print(", ".join(f"{k} {v}" for k, v in report.items()))


@inbound_app.command("list")
def inbound_list(
    state: str = typer.Option(None, "--state", "-s", help="pending, delivered or failed"),
    kind: str = typer.Option(None, "--kind", help="payment_received, payment_voided or credit_memo_voided"),
    integration: str = typer.Option(None, "--integration", "-i"),
    limit: int = typer.Option(50, "--limit"),
    after: int = typer.Option(None, "--after", help="cursor: list events with a larger id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Inbound events with their delivery state."""
    try:
        views = _inbound_views(state=state, kind=kind, integration=integration, limit=limit, after_id=after)
    except ValueError as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    _print_inbound(views, as_json)


@inbound_app.command("retry")
def inbound_retry(
    event_ids: list[int] = typer.Argument(None, help="event ids"),
    all_failed: bool = typer.Option(False, "--all-failed", help="every event the receiver refused"),
) -> None:
    """Deliver events again now."""
    from nue_ns.hub.events import retry_events
    from nue_ns.webhook import deliver_due

    if not event_ids and not all_failed:
        _error("give event ids or --all-failed")
        raise typer.Exit(2)
    ctx = _ctx()
    ids = retry_events(ctx.engine, event_ids or None, all_failed=all_failed)
    report = deliver_due(ctx)
    console.print(f"{len(ids)} event(s) set to retry; {report.delivered} delivered now")


# ---------------------------------------------------------------- API, audit, API keys

apikey_app = typer.Typer(no_args_is_help=True, help="API keys for the HTTP API and the hub UI.")
app.add_typer(apikey_app, name="apikey")


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    loglevel: str = typer.Option("INFO", "--loglevel"),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs), the hub UI (/ui), /metrics and /health."""
    import uvicorn

    from nue_ns.api import create_app
    from nue_ns.logging import configure

    _ctx()
    configure(loglevel)
    uvicorn.run(create_app(), host=host, port=port, log_config=None, proxy_headers=True)


@hub_app.command("verify")
def hub_verify(
    integration: str = typer.Option("default", "--integration", "-i"),
    since: str = typer.Option(None, "--since", help="only records transferred since (ISO date or time)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Cross-check Transferred records against NetSuite (batched, governed SuiteQL by externalId).

    Exits 1 when a record is missing in NetSuite or differs (amount, customer, lines)."""
    import datetime as dt

    from rich.progress import Progress

    from nue_ns.audit import AuditError, verify

    try:
        when = dt.datetime.fromisoformat(since) if since else None
    except ValueError:
        _error(f"--since {since!r}: expected an ISO date or time such as 2025-01-31")
        raise typer.Exit(2) from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    ctx = _ctx()
    try:
        with Progress(console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("checking in NetSuite", total=None)
            report = verify(
                ctx,
                integration,
                when,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (LookupError, AuditError) as exc:
        _error(f"{exc}")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(report.as_json())
    else:
        console.print(f"{report.checked} record(s) checked with {report.queries} SuiteQL call(s)")
        findings = report.missing + report.differing
        if findings:
            table = Table(title=f"{len(report.missing)} missing, {len(report.differing)} different")
            for col in ("id", "type", "nue id", "externalId", "problem", "details"):
                table.add_column(col, overflow="fold")
            for f in findings:
                table.add_row(
                    str(f.record_id), f.record_type, f.nue_id, f.external_id, f.problem, "; ".join(f.details)
                )
            console.print(table)
        else:
            console.print("NetSuite agrees with the hub", style="green")
    raise typer.Exit(0 if report.ok else 1)


@apikey_app.command("create")
def apikey_create(
    role: str = typer.Option(..., "--role", help="producer (enqueue only) or operator (everything)"),
    name: str = typer.Option(..., "--name", help="who or what uses it"),
    integrations: list[str] = typer.Option(
        None, "--integration", "-i", help="a producer key serves only these integrations (repeat it)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an API key. It is shown once; the hub keeps only its hash."""
    from nue_ns.hub.api_keys import create_key

    try:
        key, row = create_key(_ctx().engine, name, role, integrations or None)
    except ValueError as exc:
        _error(f"{exc} (role: producer or operator)")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(
            {"id": row.id, "name": row.name, "role": row.role, "integrations": row.integrations, "key": key}
        )
    else:
        console.print(f"API key {row.id} ({row.role}) for {row.name}; store it now, it is not shown again:")
        sys.stdout.write(key + "\n")


@apikey_app.command("list")
def apikey_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Keys by id, name, role and use (never the keys themselves)."""
    from nue_ns.hub.api_keys import list_keys

    rows = [
        {"id": k.id, "name": k.name, "role": k.role, "prefix": k.prefix, "created_at": k.created_at,
         "last_used_at": k.last_used_at, "revoked_at": k.revoked_at}
        for k in list_keys(_ctx().engine)
    ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} API key(s)")
    for col in ("id", "name", "role", "starts with", "last used", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["role"],
            r["prefix"] + "…",
            str(r["last_used_at"] or ""),
            str(r["revoked_at"] or ""),
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: int) -> None:
    """Revoke a key at once (UI sessions made with it end too)."""
    from nue_ns.hub.api_keys import revoke

    if not revoke(_ctx().engine, key_id):
        _error(f"no live API key {key_id}")
        raise typer.Exit(2)
    console.print(f"API key {key_id} revoked")


if __name__ == "__main__":
    app()
