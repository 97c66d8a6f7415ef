"""OAuth 2.0 client credentials against the sandbox's token endpoint (real HTTP, in-process state),
and the token shared through real Redis by TokenKeeper: one fetch for many callers, renewal ahead
of expiry, a Redis flush, one refresh after a 401."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
import requests
from cryptography.fernet import Fernet

from nue_ns.config import RateLimit
from nue_ns.governor import Governor
from nue_ns.netsuite.auth import TOKEN_PATH, OAuth2ClientCredentials
from nue_ns.netsuite.client import NetSuiteClient
from nue_ns.netsuite.errors import Kind, NetSuiteError
from nue_ns.sandbox import create_app, default_state
from nue_ns.sandbox.demo import DEMO_ACCOUNT_ID
from nue_ns.tokens import SharedBearer, TokenKeeper, TokenSlotDenied, from_token_endpoint
from tests.oauth_support import keypair, map_certificate, serving

CLIENT = "oauth-test-client"
CERT = "CERT-RSA-1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, object]]:
    app = create_app(default_state())
    with serving(app) as base:
        map_certificate(base, DEMO_ACCOUNT_ID, CLIENT, CERT, keypair("rsa")[1])
        map_certificate(base, DEMO_ACCOUNT_ID, CLIENT, "CERT-EC-1", keypair("ec")[1])
        yield base, app.state.oauth


@pytest.fixture
def base(sandbox) -> str:
    url, oauth = sandbox
    oauth.configure(
        {
            "token_lifetime_s": 3600,
            "clock_skew_s": 300,
            "assertion_error": "invalid_client",
            "revoke_kills_tokens": True,
            "token_requests_use_concurrency": True,
        }
    )
    oauth.expire_tokens()
    oauth.requests.clear()
    return url


def signer(base: str, cert: str = CERT, kind: str = "rsa", **kw) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        DEMO_ACCOUNT_ID,
        kw.pop("client_id", CLIENT),
        cert,
        kw.pop("pem", None) or keypair(kind)[0],
        token_url=f"{base}/services/rest{TOKEN_PATH}",
        **kw,
    )


def rest(base: str, auth) -> NetSuiteClient:
    return NetSuiteClient(DEMO_ACCOUNT_ID, auth, rest_url=f"{base}/services/rest", timeout=10)


def tokens(base: str) -> dict:
    return requests.get(f"{base}/_sandbox/oauth/tokens", params={"client_id": CLIENT}, timeout=5).json()


# ---------------------------------------------------------------- the sandbox's token endpoint


@pytest.mark.parametrize(("cert", "kind", "alg"), [(CERT, "rsa", "PS256"), ("CERT-EC-1", "ec", "ES256")])
def test_a_signed_assertion_buys_an_hour_long_bearer_token(base, cert, kind, alg):
    auth = signer(base, cert, kind)
    assert auth.algorithm == alg
    token, lifetime = auth.fetch()
    assert lifetime == 3600
    limits, _ = rest(base, auth).governance_limits()  # the bearer token opens the REST API
    assert "accountConcurrencyLimit" in limits
    assert tokens(base)["issued"] >= 1 and token not in str(tokens(base))


def test_unknown_or_expired_bearer_tokens_get_invalid_login(base, sandbox):
    auth = signer(base)
    token, _ = auth.fetch()
    r = requests.get(
        f"{base}/services/rest/system/v1/governanceLimits",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=5,
    )
    assert r.status_code == 401 and r.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    sandbox[1].configure({"token_lifetime_s": 1})
    short, lifetime = auth.fetch()
    assert lifetime == 1
    time.sleep(1.1)
    r = requests.get(
        f"{base}/services/rest/system/v1/governanceLimits",
        headers={"Authorization": f"Bearer {short}"},
        timeout=5,
    )
    assert r.status_code == 401


def test_a_bad_signature_is_refused_with_netsuites_error(base):
    forged = signer(base, pem=keypair("rsa", seq=1)[0])  # a key the mapped certificate does not hold
    with pytest.raises(NetSuiteError) as caught:
        forged.fetch()
    err = caught.value
    assert err.kind is Kind.AUTH and err.status == 401 and err.code == "invalid_client"
    assert err.exchange.response_body == {"error": "invalid_client"}
    assert err.exchange.request_body["client_assertion"] == "<redacted>"
    assert tokens(base)["log"][-1]["reason"].startswith("signature not valid")


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_request"])
def test_every_plausible_refusal_is_an_auth_error(base, sandbox, error):
    sandbox[1].configure({"assertion_error": error})
    with pytest.raises(NetSuiteError) as caught:
        signer(base, client_id="nobody").fetch()
    assert caught.value.kind is Kind.AUTH and caught.value.status == 400 and caught.value.code == error


def test_clock_skew_at_the_edge(base, sandbox):
    sandbox[1].configure({"clock_skew_s": 60})
    ahead_ok = signer(base, clock=lambda: time.time() + 55)
    assert ahead_ok.fetch()[0]
    too_far = signer(base, clock=lambda: time.time() + 65)
    with pytest.raises(NetSuiteError) as caught:
        too_far.fetch()
    assert caught.value.kind is Kind.AUTH
    assert "clock skew" in tokens(base)["log"][-1]["reason"]
    assert "clock" in str(caught.value)  # the operator is told what to check


def test_claims_are_checked(base):
    auth = signer(base)
    good = auth.assertion()
    claims = {"aud": f"{base}/elsewhere", "exp": int(time.time()) + 3600}
    import jwt

    for override in ({"aud": claims["aud"]}, {"exp": int(time.time()) + 3600}, {"scope": "everything"}):
        payload = jwt.decode(good, options={"verify_signature": False}) | override
        bad = jwt.encode(payload, auth._key, algorithm="PS256", headers={"kid": CERT, "typ": "JWT"})
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": bad,
        }
        r = requests.post(auth.token_url, data=form, timeout=5)
        assert r.status_code in (400, 401), override
        assert set(r.json()) == {"error"}
    r = requests.post(auth.token_url, data={"grant_type": "password"}, timeout=5)
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}
    r = requests.post(auth.token_url, data={**form, "client_assertion": good, "grant_type": "x"}, timeout=5)
    assert r.json() == {"error": "unsupported_grant_type"}


def test_a_revoked_certificate_buys_no_token_and_its_tokens_die(base):
    map_certificate(base, DEMO_ACCOUNT_ID, CLIENT, "CERT-REVOKE", keypair("rsa", seq=2)[1])
    auth = signer(base, "CERT-REVOKE", pem=keypair("rsa", seq=2)[0])
    client = rest(base, auth)
    client.governance_limits()
    assert requests.post(
        f"{base}/_sandbox/oauth/revoke", json={"certificate_id": "CERT-REVOKE"}, timeout=5
    ).ok
    with pytest.raises(NetSuiteError) as caught:
        client.governance_limits()  # the cached token died with its certificate
    assert caught.value.status == 401
    with pytest.raises(NetSuiteError, match="invalid_client"):
        auth.fetch()
    assert tokens(base)["log"][-1]["reason"] == "the certificate is revoked"


def test_certificates_netsuite_would_not_accept_are_refused(base):
    r = requests.post(
        f"{base}/_sandbox/oauth/certificates",
        json={
            "account_id": DEMO_ACCOUNT_ID,
            "client_id": CLIENT,
            "certificate_id": "SHORT",
            "certificate": keypair("rsa2048")[1],
        },
        timeout=5,
    )
    assert r.status_code == 400 and "3072 or 4096" in r.json()["error"]
    with pytest.raises(ValueError, match="3072 or 4096"):
        signer(base, pem=keypair("rsa2048")[0])


# ---------------------------------------------------------------- one token shared through Redis


@pytest.fixture
def shared(env, base) -> Iterator:
    r = redis.Redis.from_url(env["redis_url"])
    fernet = Fernet(Fernet.generate_key())
    governor = Governor(r, "OAUTHTEST", RateLimit.parse("100/1s"), 5)

    def keeper(auth: OAuth2ClientCredentials | None = None, refresh_ahead: float = 300.0) -> TokenKeeper:
        auth = auth or signer(base)
        return TokenKeeper(r, "nue_ns:oauth:test", auth.fetch, governor, fernet, refresh_ahead=refresh_ahead)

    yield r, keeper


def test_many_threads_and_keepers_fetch_one_token(shared, base):
    r, keeper = shared
    keepers = [keeper() for _ in range(4)]  # as if four processes
    barrier = threading.Barrier(12)
    got: list[str] = []

    def call(k: TokenKeeper) -> None:
        barrier.wait()
        got.append(k.ensure(5.0))

    threads = [threading.Thread(target=call, args=(keepers[i % 4],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 12 and len(set(got)) == 1
    assert tokens(base)["issued"] == 1
    raw = b"".join(v for k in r.scan_iter("nue_ns:oauth:*") if (v := r.get(k)) is not None)
    assert got[0].encode() not in raw  # encrypted at rest in Redis


def test_renewed_ahead_of_expiry_once_per_lifetime(shared, base, sandbox):
    sandbox[1].configure({"token_lifetime_s": 3})  # renewed at 2.4 s: a fifth of its life ahead
    _, keeper = shared
    keepers = [keeper() for _ in range(3)]
    stop = time.monotonic() + 7.5
    seen: set[str] = set()

    def hammer(k: TokenKeeper) -> None:
        while time.monotonic() < stop:
            seen.add(k.ensure(2.0))
            time.sleep(0.01)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in keepers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    issued = [e["t"] for e in tokens(base)["log"] if e["status"] == 200]
    assert len(issued) == len(seen) == 4  # at 0, 2.4, 4.8 and 7.2 s
    gaps = [b - a for a, b in zip(issued, issued[1:], strict=False)]
    assert all(2.3 <= g <= 2.9 for g in gaps), gaps


def test_a_redis_flush_means_one_new_token(shared, base):
    r, keeper = shared
    k1, k2 = keeper(), keeper()
    first = k1.ensure(5.0)
    assert k2.ensure(5.0) == first
    r.flushdb()
    second = k2.ensure(5.0)
    assert second != first and k1.ensure(5.0) == second
    assert tokens(base)["issued"] == 2


def test_a_401_means_one_refresh_then_a_pause(shared, base):
    _, keeper = shared
    k = keeper()
    bearer = SharedBearer(k, 5.0)
    client = rest(base, bearer)
    client.governance_limits()
    first = k.current().token
    requests.post(f"{base}/_sandbox/oauth/expire", json={}, timeout=5)  # NetSuite forgets it early
    with pytest.raises(NetSuiteError):
        client.governance_limits()
    assert bearer.unauthorized() is True  # drop it: one new token
    assert bearer.unauthorized() is True  # another worker with the same failed token: no pause
    client.governance_limits()
    assert k.current().token != first and k.current().after_401
    requests.post(f"{base}/_sandbox/oauth/expire", json={}, timeout=5)
    with pytest.raises(NetSuiteError):
        client.governance_limits()
    assert bearer.unauthorized() is False  # the new token failed too: pause, no third token now
    assert tokens(base)["issued"] == 2
    assert k.current() is None  # after the pause one new token is tried, again "after a 401"
    client.governance_limits()
    assert k.current().after_401 and tokens(base)["issued"] == 3


def test_a_refused_token_request_is_told_apart_from_a_refused_call(base):
    with pytest.raises(NetSuiteError) as refused:
        signer(base, client_id="nobody").fetch()
    assert from_token_endpoint(refused.value)
    client = rest(base, signer(base))
    client.governance_limits()
    requests.post(f"{base}/_sandbox/oauth/expire", json={}, timeout=5)
    with pytest.raises(NetSuiteError) as call:
        client.governance_limits()
    assert call.value.status == 401 and not from_token_endpoint(call.value)


def test_a_paused_account_asks_for_no_token(shared, base):
    r, keeper = shared
    k = keeper()
    k.governor.pause(30, "test")
    with pytest.raises(TokenSlotDenied) as caught:
        k.ensure(0.5)
    assert caught.value.denied.reason == "paused"
    assert tokens(base)["requests"] == 0
