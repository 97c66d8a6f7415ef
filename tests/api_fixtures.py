"""Fixtures for the API, UI, metrics and audit tests (a pytest plugin tests/conftest.py loads): real
PostgreSQL and Redis (the `env` fixture), the hub with its default integration, a TestClient, a
sandbox NetSuite in its own process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from fastapi.testclient import TestClient

from nue_ns.api import create_app
from nue_ns.config import reset_settings
from nue_ns.context import Context, get_context, reset_context
from nue_ns.demo import demo_env
from nue_ns.hub.integrations import ensure_default, save_config
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.processes import start_sandbox
from tests.api_support import reset_api_tables


@pytest.fixture
def api_env(env) -> Iterator[dict[str, str]]:
    reset_api_tables(env["database_url"])
    yield env


@pytest.fixture
def hub(api_env, monkeypatch) -> Context:
    """The hub with its default integration (NETSUITE_ACCOUNT_ID=TSTDRV1); no NetSuite is called."""
    monkeypatch.setenv("NETSUITE_ACCOUNT_ID", "TSTDRV1")
    reset_settings()
    reset_context()
    ctx = get_context()
    ensure_default(ctx.engine, ctx.settings)
    return ctx


@pytest.fixture
def client(api_env) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="module")
def sandbox_base(tmp_path_factory) -> Iterator[str]:
    child, base = start_sandbox(os.environ.copy(), tmp_path_factory.mktemp("sandbox-logs"))
    yield base
    child.stop()


@pytest.fixture
def netsuite(api_env, sandbox_base, monkeypatch) -> Iterator[Context]:
    """The default integration on the sandbox's demo account, its data wiped, limits roomy."""
    requests.post(f"{sandbox_base}/_sandbox/reset", timeout=10).raise_for_status()
    rest_url = f"{sandbox_base}/services/rest"
    for name, value in demo_env(api_env["database_url"], api_env["redis_url"], rest_url, "1000/1s").items():
        if name.startswith("NETSUITE_"):
            monkeypatch.setenv(name, value)
    reset_settings()
    reset_context()
    ctx = get_context()
    ensure_default(ctx.engine, ctx.settings)
    save_config(ctx.engine, "default", IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"))
    yield ctx
