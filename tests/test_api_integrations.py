"""Integrations over the HTTP API: created, changed, disabled, rotated and removed; credentials
write-only; every bad value named, nothing half-written."""

from __future__ import annotations

import json

from nue_ns import sample
from nue_ns.context import get_context
from nue_ns.producer import enqueue_many
from nue_ns.secrets import decrypt
from tests.api_support import bearer, key
from tests.oauth_support import keypair


def _body(**over) -> dict:
    return {
        "name": "apac",
        "account_id": "7654321",
        "rate_limit": "10/60s",
        "concurrency": 2,
        "credentials": {"client_id": "cid-apac", "certificate_id": "C1", "private_key": keypair("ec")[0]},
    } | over


def test_integrations_over_the_api(client):
    op, producer = bearer(key("operator")), bearer(key("producer"))
    assert client.post("/v1/integrations", json=_body(), headers=producer).status_code == 403
    r = client.post("/v1/integrations", json=_body(), headers=op)
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["auth_method"] == "oauth2" and view["enabled"] is True and view["concurrency"] == 2
    assert "PRIVATE KEY" not in r.text and "cid-apac" not in r.text  # write-only
    assert client.post("/v1/integrations", json=_body(), headers=op).status_code == 422  # exists

    bad = [
        ({"account_id": "no spaces"}, "account_id"),
        ({"rate_limit": "lots"}, "rate_limit"),
        ({"name": "x", "credentials": {"client_id": "c", "certificate_id": "C"}}, "credentials.private_key"),
        (
            {"name": "x", "credentials": {"auth_method": "tba", "consumer_key": "k"}},
            "credentials.consumer_secret",
        ),
        (
            {"name": "x", "credentials": {"client_id": "c", "certificate_id": "C", "private_key": "junk"}},
            "private_key",
        ),
        ({"name": "x", "surprise": 1}, "surprise"),
    ]
    for over, field in bad:
        r = client.post("/v1/integrations", json=_body(**over), headers=op)
        assert r.status_code == 422, (over, r.text)
        assert any(field in e["field"] for e in r.json()["errors"]), (field, r.json())
    assert [i["name"] for i in client.get("/v1/integrations", headers=op).json()] == ["apac"]

    # Rotation: a second certificate, made active, the first retired.
    patch = {"add_certificate": {"certificate_id": "C2", "private_key": keypair("ec", 1)[0]}}
    r = client.patch("/v1/integrations/apac", json=patch | {"activate_certificate": "C2"}, headers=op)
    assert r.status_code == 200, r.text
    r = client.patch("/v1/integrations/apac", json={"retire_certificate": "C2"}, headers=op)
    assert r.status_code == 422 and "active" in r.text
    r = client.patch(
        "/v1/integrations/apac", json={"retire_certificate": "C1", "rate_limit": "3/1s"}, headers=op
    )
    assert r.json()["auth"]["certificates"] == [
        {"certificate_id": "C2", "active": True, "private_key": "stored encrypted"}
    ]
    assert r.json()["rate_limit"] == "3/1s"
    ctx = get_context()
    assert decrypt(ctx.integration("apac").credentials, ctx.settings).active == "C2"

    # A bad change writes nothing.
    r = client.patch("/v1/integrations/apac", json={"concurrency": 9, "rate_limit": "never"}, headers=op)
    assert r.status_code == 422 and ctx.integration("apac").concurrency == 2

    # Disabled: records stay; removal refused with the count.
    enqueue_many("customer", sample.customers(2), integration="apac", ctx=ctx, dispatch_now=False)
    r = client.patch("/v1/integrations/apac", json={"enabled": False}, headers=op)
    assert r.json()["enabled"] is False
    r = client.delete("/v1/integrations/apac", headers=op)
    assert r.status_code == 409 and "2 record(s)" in r.json()["detail"]
    assert client.delete("/v1/integrations/nope", headers=op).status_code == 404
    client.post("/v1/integrations", json=_body(name="spare"), headers=op)
    assert client.delete("/v1/integrations/spare", headers=op).status_code == 204
    assert "PRIVATE" not in json.dumps(client.get("/v1/integrations", headers=op).json())


def test_integrations_from_the_ui_settings_page(client):
    from tests.test_ui import _csrf, _login

    assert _login(client, key("operator")).status_code == 303
    page = client.get("/ui/integrations/")
    assert page.status_code == 200 and 'id="connect"' in page.text
    form = {
        "csrf": _csrf(page.text),
        "name": "latam",
        "account_id": "5550001",
        "rate_limit": "4/60s",
        "concurrency": "2",
        "auth_method": "oauth2",
        "client_id": "cid-latam",
        "certificate_id": "L1",
        "private_key": keypair("ec")[0],
    }
    bad = client.post("/ui/integrations/", data=form | {"rate_limit": "soon"}, follow_redirects=False)
    assert bad.status_code == 422 and "rate_limit" in bad.text
    assert "BEGIN PRIVATE KEY" not in bad.text and "cid-latam" not in bad.text  # never echoed
    r = client.post("/ui/integrations/", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/integrations/latam?notice=connected"
    settings = client.get("/ui/integrations/latam")
    assert 'id="connection"' in settings.text and "L1" in settings.text
    assert "BEGIN PRIVATE KEY" not in settings.text and "cid-latam" not in settings.text

    csrf = _csrf(settings.text)
    rotate = {
        "csrf": csrf,
        "action": "save",
        "add_certificate_id": "L2",
        "add_private_key": keypair("ec", 1)[0],
    }
    r = client.post("/ui/integrations/latam/connection", data=rotate | {"activate_certificate": "L2"})
    assert r.status_code == 200 and "Connection saved" in r.text
    ctx = get_context()
    assert decrypt(ctx.integration("latam").credentials, ctx.settings).active == "L2"
    r = client.post("/ui/integrations/latam/connection", data={"csrf": csrf, "action": "disable"})
    assert 'id="disabled"' in r.text and ctx.integration("latam").enabled is False
    r = client.post("/ui/integrations/latam/connection", data={"csrf": "forged", "action": "remove"})
    assert r.status_code == 403 and ctx.integration("latam")  # CSRF: nothing removed
    r = client.post("/ui/integrations/latam/connection", data={"csrf": csrf, "action": "remove"})
    assert r.status_code == 200 and "Integration removed" in r.text
