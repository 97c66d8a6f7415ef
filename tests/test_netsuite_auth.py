"""TBA signing against Oracle's published vector and oauthlib; OAuth 2.0 against a local token server."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from nue_ns.netsuite.auth import (
    Credentials,
    OAuth2ClientCredentials,
    parse_oauth_header,
    realm_for,
    rest_base_url,
    tba_auth,
    tba_signature,
)
from nue_ns.netsuite.errors import Kind, NetSuiteError

# Oracle's published TBA test vector (docs/NETSUITE.md, section_1534941088).
ORACLE = Credentials(
    consumer_key="ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4",
    consumer_secret="d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5",
    token_id="2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc",
    token_secret="c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295",
)
ORACLE_URL = "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40"
ORACLE_NONCE = "fjaLirsIcCGVZWzBX0pg"
ORACLE_TIMESTAMP = "1508242306"
ORACLE_SIGNATURE = "B5OIWznZ2YP0OB7VrJrGkYsTh+8H+5T9Hag+o92q0zY="


def oauthlib_header(creds: Credentials, realm: str, method: str, url: str, nonce: str, timestamp: str) -> str:
    client = Client(
        creds.consumer_key,
        client_secret=creds.consumer_secret,
        resource_owner_key=creds.token_id,
        resource_owner_secret=creds.token_secret,
        signature_method=SIGNATURE_HMAC_SHA256,
        realm=realm,
        nonce=nonce,
        timestamp=timestamp,
    )
    _, headers, _ = client.sign(url, method)
    return headers["Authorization"]


# -- credentials, realm, host ----------------------------------------------------------------


def test_credentials_repr_redacts_all_four_values() -> None:
    for text in (repr(ORACLE), str(ORACLE), f"{ORACLE}", repr([ORACLE])):
        for secret in (ORACLE.consumer_key, ORACLE.consumer_secret, ORACLE.token_id, ORACLE.token_secret):
            assert secret not in text
    assert repr(ORACLE).count("<redacted>") == 4
    with pytest.raises(AttributeError):
        ORACLE.token_secret = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("account", "realm", "base"),
    [
        ("1234567-sb1", "1234567_SB1", "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"),
        ("1234567_SB1", "1234567_SB1", "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"),
        ("tstdrv123", "TSTDRV123", "https://tstdrv123.suitetalk.api.netsuite.com/services/rest"),
        ("123456", "123456", "https://123456.suitetalk.api.netsuite.com/services/rest"),
    ],
)
def test_realm_and_rest_host(account: str, realm: str, base: str) -> None:
    assert realm_for(account) == realm
    assert rest_base_url(account) == base


def test_rest_base_url_override_wins_without_trailing_slash() -> None:
    assert (
        rest_base_url("123", "http://127.0.0.1:8080/services/rest/") == "http://127.0.0.1:8080/services/rest"
    )


# -- TBA signature -----------------------------------------------------------------------------


def test_oauthlib_reproduces_oracle_vector() -> None:
    header = oauthlib_header(ORACLE, "123456", "GET", ORACLE_URL, ORACLE_NONCE, ORACLE_TIMESTAMP)
    assert parse_oauth_header(header)["oauth_signature"] == ORACLE_SIGNATURE


def test_tba_signature_reproduces_oracle_vector() -> None:
    params = {
        "oauth_consumer_key": ORACLE.consumer_key,
        "oauth_token": ORACLE.token_id,
        "oauth_nonce": ORACLE_NONCE,
        "oauth_timestamp": ORACLE_TIMESTAMP,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_version": "1.0",
        "realm": "123456",  # not signed
    }
    assert (
        tba_signature("GET", ORACLE_URL, params, ORACLE.consumer_secret, ORACLE.token_secret)
        == ORACLE_SIGNATURE
    )
    assert tba_signature("GET", ORACLE_URL, params, ORACLE.consumer_secret, "wrong") != ORACLE_SIGNATURE
    assert (
        tba_signature("PUT", ORACLE_URL, params, ORACLE.consumer_secret, ORACLE.token_secret)
        != ORACLE_SIGNATURE
    )


def test_tba_auth_signs_oracle_vector_in_header() -> None:
    auth = tba_auth(ORACLE, "123456")
    auth.client.nonce = ORACLE_NONCE  # type: ignore[attr-defined]
    auth.client.timestamp = ORACLE_TIMESTAMP  # type: ignore[attr-defined]
    prepared = requests.Request("GET", ORACLE_URL, auth=auth).prepare()
    header = prepared.headers["Authorization"].decode()  # requests-oauthlib sets it as bytes
    params = parse_oauth_header(header)
    assert header.startswith('OAuth realm="123456"')
    assert params["oauth_signature_method"] == "HMAC-SHA256"
    assert params["oauth_consumer_key"] == ORACLE.consumer_key
    assert params["oauth_token"] == ORACLE.token_id
    assert params["oauth_signature"] == ORACLE_SIGNATURE
    assert ORACLE.consumer_secret not in header and ORACLE.token_secret not in header


def test_tba_auth_uses_upper_case_realm_and_signs_query_not_json_body() -> None:
    auth = tba_auth(ORACLE, "1234567-sb1")
    url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/invoice/eid:nue-inv-7?replace=item,apply"
    prepared = requests.Request("PUT", url, json={"memo": "a=b&c"}, auth=auth).prepare()
    params = parse_oauth_header(prepared.headers["Authorization"])
    assert params["realm"] == "1234567_SB1"
    expected = tba_signature("PUT", prepared.url, params, ORACLE.consumer_secret, ORACLE.token_secret)
    assert params["oauth_signature"] == expected
    without_query = tba_signature(
        "PUT", url.split("?")[0], params, ORACLE.consumer_secret, ORACLE.token_secret
    )
    assert params["oauth_signature"] != without_query


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    host=st.sampled_from(["123456.suitetalk.api.netsuite.com", "127.0.0.1:8080", "LocalHost:443", "[::1]:9"]),
    scheme=st.sampled_from(["http", "https"]),
    segments=st.lists(st.from_regex(r"[A-Za-z0-9_:-]{1,12}", fullmatch=True), min_size=1, max_size=4),
    query=st.lists(st.tuples(_text.filter(bool), _text), max_size=5),
    plus_for_space=st.booleans(),
    secrets=st.tuples(_text, _text),
    nonce=st.from_regex(r"[A-Za-z0-9]{8,32}", fullmatch=True),
    timestamp=st.integers(1_000_000_000, 2_000_000_000),
)
def test_tba_signature_agrees_with_oauthlib(
    method: str,
    host: str,
    scheme: str,
    segments: list[str],
    query: list[tuple[str, str]],
    plus_for_space: bool,
    secrets: tuple[str, str],
    nonce: str,
    timestamp: int,
) -> None:
    creds = Credentials("ck", secrets[0], "tok", secrets[1])
    url = f"{scheme}://{host}/services/rest/" + "/".join(segments)
    if query:
        url += "?" + (urlencode(query) if plus_for_space else urlencode(query, quote_via=quote))
    header = oauthlib_header(creds, "REALM", method, url, nonce, str(timestamp))
    params = parse_oauth_header(header)
    assert (
        tba_signature(method, url, params, creds.consumer_secret, creds.token_secret)
        == params["oauth_signature"]
    )


# -- Authorization header parsing ------------------------------------------------------------------


def test_parse_oauth_header_percent_decodes() -> None:
    header = 'OAuth realm="123_SB1", oauth_token="a%2Bb", oauth_signature="x%2By%3D" ,oauth_version="1.0"'
    assert parse_oauth_header(header) == {
        "realm": "123_SB1",
        "oauth_token": "a+b",
        "oauth_signature": "x+y=",
        "oauth_version": "1.0",
    }
    assert parse_oauth_header('oauth oauth_nonce="n"') == {"oauth_nonce": "n"}


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "OAuth", 'OAuth realm="x" oauth_token="y"', "OAuth realm=x", 'OAuth realm="x", junk'],
)
def test_parse_oauth_header_rejects_malformed(header: str) -> None:
    with pytest.raises(ValueError):
        parse_oauth_header(header)


# -- OAuth 2.0 client credentials ------------------------------------------------------------------

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class TokenServer(ThreadingHTTPServer):
    """A NetSuite token endpoint that verifies the PS256 assertion with the certificate's public key."""

    daemon_threads = True

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.public_key = public_key
        self.expires_in: object = "3600"  # NetSuite sends it as a string
        self.delay = 0.0
        self.reject: tuple[int, dict[str, str]] | None = None
        self.assertions: list[tuple[dict, dict]] = []
        self.forms: list[dict[str, list[str]]] = []
        self.seen_authorization: list[str | None] = []
        self.issued = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer

    def log_message(self, *args: object) -> None:
        pass

    def _send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.server.forms.append(form)
        time.sleep(self.server.delay)
        if self.server.reject:
            return self._send_json(*self.server.reject)
        head, claims, sig = form["client_assertion"][0].split(".")
        try:
            self.server.public_key.verify(
                _unb64(sig),
                f"{head}.{claims}".encode(),
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return self._send_json(400, {"error": "invalid_grant"})
        self.server.assertions.append((json.loads(_unb64(head)), json.loads(_unb64(claims))))
        with self.server.lock:
            self.server.issued += 1
            token = f"token-{self.server.issued}"
        self._send_json(
            200, {"access_token": token, "expires_in": self.server.expires_in, "token_type": "bearer"}
        )

    def do_GET(self) -> None:
        self.server.seen_authorization.append(self.headers.get("Authorization"))
        self._send_json(200, {})


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)  # NetSuite: 3072 or 4096


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def token_server(rsa_key: rsa.RSAPrivateKey) -> Iterator[TokenServer]:
    server = TokenServer(rsa_key.public_key())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _m2m(server: TokenServer, key: rsa.RSAPrivateKey) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        "TSTDRV1234567", "client-id-1", "cert-kid-1", _pem(key), token_url=server.url + TOKEN_PATH
    )


def test_oauth2_posts_verifiable_assertion_and_sends_bearer(
    token_server: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = _m2m(token_server, rsa_key)
    before = int(time.time())
    assert requests.get(token_server.url + "/resource", auth=auth, timeout=5).status_code == 200
    assert token_server.seen_authorization == ["Bearer token-1"]
    form = token_server.forms[0]
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_assertion_type"] == [ASSERTION_TYPE]
    header, claims = token_server.assertions[0]
    assert header == {"alg": "PS256", "typ": "JWT", "kid": "cert-kid-1"}
    assert claims["iss"] == "client-id-1"
    assert claims["scope"] == "rest_webservices"
    assert claims["aud"] == token_server.url + TOKEN_PATH
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 300  # under the 60 minutes section_162790605110 allows
    assert len(claims["jti"]) == 32


def test_oauth2_caches_token_until_a_minute_before_expiry(
    token_server: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = _m2m(token_server, rsa_key)
    for _ in range(3):
        requests.get(token_server.url + "/resource", auth=auth, timeout=5)
    assert token_server.issued == 1
    assert set(token_server.seen_authorization) == {"Bearer token-1"}

    token_server.expires_in = 60  # already inside the one-minute margin: never reused
    fresh = _m2m(token_server, rsa_key)
    requests.get(token_server.url + "/resource", auth=fresh, timeout=5)
    requests.get(token_server.url + "/resource", auth=fresh, timeout=5)
    assert token_server.seen_authorization[-2:] == ["Bearer token-2", "Bearer token-3"]


def test_oauth2_fetches_once_for_concurrent_threads(
    token_server: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    token_server.delay = 0.3  # every thread arrives while the first fetch is in flight
    auth = _m2m(token_server, rsa_key)
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        barrier.wait()
        tokens.append(auth.access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert tokens == ["token-1"] * 8
    assert len(token_server.forms) == 1


def test_oauth2_rejected_assertion_is_auth_error_without_secrets(
    token_server: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    auth = _m2m(token_server, other_key)  # signed with a key the certificate does not hold
    with pytest.raises(NetSuiteError) as caught:
        requests.get(token_server.url + "/resource", auth=auth, timeout=5)
    error = caught.value
    assert error.kind is Kind.AUTH and error.status == 400 and error.code == "invalid_grant"
    assert token_server.seen_authorization == []  # the resource was never called
    assertion = token_server.forms[0]["client_assertion"][0]
    assert error.exchange is not None and error.exchange.request_body["client_assertion"] == "<redacted>"
    for text in (str(error), repr(error), repr(error.exchange), repr(auth)):
        assert assertion not in text and "PRIVATE KEY" not in text


def test_oauth2_server_failure_is_classified(token_server: TokenServer, rsa_key: rsa.RSAPrivateKey) -> None:
    token_server.reject = (503, {"title": "Service Unavailable"})
    with pytest.raises(NetSuiteError) as caught:
        _m2m(token_server, rsa_key).access_token()
    assert caught.value.kind is Kind.TRANSIENT and caught.value.status == 503


def test_oauth2_unreachable_token_endpoint_is_transient(rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    auth = OAuth2ClientCredentials(
        "1", "c", "k", _pem(rsa_key), token_url=f"http://127.0.0.1:{port}{TOKEN_PATH}"
    )
    with pytest.raises(NetSuiteError) as caught:
        auth.access_token()
    assert caught.value.kind is Kind.TRANSIENT and "connection" in str(caught.value)


def test_oauth2_default_token_url_and_key_checks(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = OAuth2ClientCredentials("1234567_SB1", "client", "kid", _pem(rsa_key).encode())
    assert (
        auth.token_url == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    )
    assert "PRIVATE" not in repr(auth)
    es256 = OAuth2ClientCredentials("1", "client", "kid", _pem(ec.generate_private_key(ec.SECP256R1())))
    assert es256.algorithm == "ES256"
    es512 = OAuth2ClientCredentials("1", "client", "kid", _pem(ec.generate_private_key(ec.SECP521R1())))
    assert es512.algorithm == "ES512"
    with pytest.raises(ValueError, match="EC key must have 256, 384 or 521 bits"):
        OAuth2ClientCredentials("1", "client", "kid", _pem(ec.generate_private_key(ec.SECP224R1())))
    with pytest.raises(ValueError, match="RSA key must have 3072 or 4096 bits"):
        OAuth2ClientCredentials("1", "client", "kid", _pem(rsa.generate_private_key(65537, 2048)))
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        OAuth2ClientCredentials("1", "client", "kid", "-----BEGIN NOTHING-----")
