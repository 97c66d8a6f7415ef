"""NetSuite authentication: token-based (OAuth 1.0a, HMAC-SHA256) and OAuth 2.0 client credentials.

Facts in docs/NETSUITE.md "Authentication". Secrets never appear in a repr or an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from requests_oauthlib import OAuth1

from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError, classify_response, transient

_REDACTED = "<redacted>"


@dataclass(frozen=True, repr=False)
class Credentials:
    """The four TBA values of one integration + access token."""

    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={_REDACTED}" for name in self.__dataclass_fields__)
        return f"Credentials({fields})"


def realm_for(account_id: str) -> str:
    """OAuth realm: upper case with '_' ("1234567-sb1" -> "1234567_SB1"); a lower-case realm fails login."""
    return account_id.strip().upper().replace("-", "_")


def rest_base_url(account_id: str, override: str | None = None) -> str:
    """REST services base: the override (Company Information's host) or the host derived from the id."""
    if override:
        return override.rstrip("/")
    host = account_id.strip().lower().replace("_", "-")
    return f"https://{host}.suitetalk.api.netsuite.com/services/rest"


def tba_auth(credentials: Credentials, account_id: str) -> requests.auth.AuthBase:
    """requests auth that signs each request with TBA (OAuth 1.0a HMAC-SHA256) in the Authorization header.

    Send JSON bodies with `json=`: requests-oauthlib then leaves the body out of the signature.
    """
    auth: requests.auth.AuthBase = OAuth1(  # requests-oauthlib has no type hints
        credentials.consumer_key,
        client_secret=credentials.consumer_secret,
        resource_owner_key=credentials.token_id,
        resource_owner_secret=credentials.token_secret,
        realm=realm_for(account_id),
        signature_method=SIGNATURE_HMAC_SHA256,
        signature_type=SIGNATURE_TYPE_AUTH_HEADER,
    )
    return auth


def _enc(value: str) -> str:
    """RFC 5849 section 3.6 percent-encoding: only unreserved characters stay as they are."""
    return quote(value, safe="~")


def _base_string_uri(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def tba_signature(
    method: str, url: str, oauth_params: Mapping[str, str], consumer_secret: str, token_secret: str
) -> str:
    """OAuth 1.0a HMAC-SHA256 signature (base64) of a request, as NetSuite computes it.

    `url` is the request URL as sent (its query-string parameters are signed); `oauth_params` are the
    decoded Authorization header parameters (`realm` and `oauth_signature` are ignored). The body is
    never signed: NetSuite bodies are JSON. Used to sign in tests and to verify in the sandbox.
    """
    params = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    params += [(k, v) for k, v in oauth_params.items() if k not in ("realm", "oauth_signature")]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))
    base_string = "&".join((_enc(method.upper()), _enc(_base_string_uri(url)), _enc(normalized)))
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


def parse_oauth_header(value: str | bytes) -> dict[str, str]:
    """Parameters of an `Authorization: OAuth k="v", ...` header, percent-decoded. ValueError if malformed.

    Accepts bytes too: requests-oauthlib puts the header on a PreparedRequest as bytes.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise ValueError("not an OAuth Authorization header")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _HEADER_PARAM.match(rest, pos)
        if not m:
            raise ValueError(f"malformed OAuth header near position {pos}")
        params[m.group(1)] = unquote(m.group(2))
        pos = m.end()
    if not params:
        raise ValueError("OAuth header has no parameters")
    return params


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


# OAuth 2.0 client credentials (machine to machine), Oracle section_162730264820 and children.
# The assertion's header alg: PS256/384/512 or ES256/384/512; kid = the certificate id given when the
# certificate was mapped (section_162790605110).
SIGNING_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# A certificate's key: RSA 3072 or 4096 bits, EC 256, 384 or 521 bits (subsect_162755332391).
RSA_KEY_BITS = (3072, 4096)
EC_ALGORITHM = {256: "ES256", 384: "ES384", 521: "ES512"}
# scope: restlets, rest_webservices, suite_analytics, comma-separated (section_162790605110).
DEFAULT_SCOPE = "rest_webservices"
# exp "must be less than 60 minutes greater than" iat (section_162790605110); the assertion is used
# at once, so a short life keeps a leaked one nearly worthless.
ASSERTION_LIFETIME_S = 300
TOKEN_PATH = "/auth/oauth2/v1/token"  # under /services/rest (section_162755359851)


def load_private_key(pem: str | bytes, field: str = "private_key") -> Any:
    """The private key of a PEM, checked against what NetSuite accepts for a certificate."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{field}: not an unencrypted PEM private key") from None
    signing_algorithm(key, field)
    return key


def signing_algorithm(key: Any, field: str = "private_key") -> str:
    """PS256 for an RSA key, ES256/384/512 for an EC key of 256/384/521 bits; ValueError otherwise."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size not in RSA_KEY_BITS:
            raise ValueError(f"{field}: an RSA key must have 3072 or 4096 bits (it has {key.key_size})")
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = EC_ALGORITHM.get(key.curve.key_size)
        if alg is None:
            raise ValueError(
                f"{field}: an EC key must have 256, 384 or 521 bits (it has {key.curve.key_size})"
            )
        return alg
    raise ValueError(f"{field}: NetSuite accepts RSA (PS256) or EC (ES256/384/512) keys only")


@dataclass(frozen=True, repr=False)
class Certificate:
    """One certificate mapped in NetSuite: its id and where its private key is (stored or an env var)."""

    certificate_id: str
    private_key_pem: str | None = None  # kept Fernet-encrypted in the hub
    private_key_env: str | None = None  # or the name of an environment variable holding the PEM

    def __repr__(self) -> str:
        source = f"env {self.private_key_env}" if self.private_key_env else "stored"
        return f"Certificate({self.certificate_id!r}, key {source})"

    def pem(self, environ: Mapping[str, str] | None = None) -> str:
        if self.private_key_pem:
            return self.private_key_pem
        env = os.environ if environ is None else environ
        value = env.get(self.private_key_env or "", "")
        if not value.strip():
            raise ValueError(
                f"certificate {self.certificate_id}: environment variable {self.private_key_env} is not set"
            )
        return value


@dataclass(frozen=True, repr=False)
class OAuth2Credentials:
    """An integration's OAuth 2.0 client: client id and its certificates, one of them active."""

    client_id: str
    certificates: tuple[Certificate, ...]
    active: str
    scope: str = DEFAULT_SCOPE

    def __repr__(self) -> str:
        certs = list(self.certificates)
        return f"OAuth2Credentials(client_id=<redacted>, certificates={certs}, active={self.active!r})"

    def certificate(self) -> Certificate:
        for cert in self.certificates:
            if cert.certificate_id == self.active:
                return cert
        raise ValueError(f"active certificate {self.active!r} is not among the integration's certificates")

    def public(self) -> dict[str, Any]:
        """What may be shown: ids and key sources, never a key or the client id."""
        return {
            "certificates": [
                {
                    "certificate_id": c.certificate_id,
                    "active": c.certificate_id == self.active,
                    "private_key": f"env {c.private_key_env}" if c.private_key_env else "stored encrypted",
                }
                for c in self.certificates
            ],
            "scope": self.scope,
        }


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """OAuth 2.0 machine-to-machine flow: a signed JWT assertion buys a bearer token, cached until
    60 s before it expires and shared by every thread using this object (context.py shares one
    token across processes and hosts instead, see nue_ns/tokens.py)."""

    _EARLY_REFRESH = 60.0
    _ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    def __init__(
        self,
        account_id: str,
        client_id: str,
        certificate_id: str,
        private_key_pem: str | bytes,
        token_url: str | None = None,
        scope: str = DEFAULT_SCOPE,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_private_key(private_key_pem)
        self.algorithm = signing_algorithm(self._key)
        self.account_id = account_id
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.token_url = token_url or f"{rest_base_url(account_id)}{TOKEN_PATH}"
        self.scope = scope
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the cached token is not used

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(account_id={self.account_id!r}, token_url={self.token_url!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.access_token()}"
        return r

    def assertion(self, issued_at: int | None = None) -> str:
        """The signed client assertion (JWT) for the token request (section_162790605110)."""
        iat = int(self.clock()) if issued_at is None else issued_at
        claims: dict[str, str | int] = {"iss": self.client_id, "scope": self.scope, "aud": self.token_url}
        claims |= {"iat": iat, "exp": iat + ASSERTION_LIFETIME_S, "jti": uuid.uuid4().hex}
        headers = {"typ": "JWT", "kid": self.certificate_id}
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def access_token(self) -> str:
        """A valid bearer token; fetches one (under the lock, so only once) when none is cached."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                token, lifetime = self.fetch()
                self._token = token
                self._refresh_at = time.monotonic() + lifetime - self._EARLY_REFRESH
            return self._token

    def fetch(self) -> tuple[str, float]:
        """One token request: (access token, seconds it lives). NetSuiteError when refused."""
        form = {"grant_type": "client_credentials", "client_assertion_type": self._ASSERTION_TYPE}
        exchange = Exchange("POST", self.token_url, request_body={**form, "client_assertion": _REDACTED})
        started = time.perf_counter()
        try:
            response = requests.post(
                self.token_url, data={**form, "client_assertion": self.assertion()}, timeout=self.timeout
            )
        except requests.Timeout as exc:
            path = urlsplit(self.token_url).path
            raise transient(f"timeout on OAuth 2.0 token request POST {path}", exchange) from exc
        except requests.ConnectionError as exc:
            path = urlsplit(self.token_url).path
            raise transient(f"connection failed on OAuth 2.0 token request POST {path}", exchange) from exc
        finally:
            exchange.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        exchange.status = response.status_code
        if not response.ok:
            exchange.response_body = _json_or_text(response)
            if response.status_code in (400, 401, 403):  # invalid_client / invalid_grant: wrong setup
                body = exchange.response_body if isinstance(exchange.response_body, dict) else {}
                code = body.get("error")
                detail = (
                    f"OAuth 2.0 token request rejected: {code or response.status_code} (check the client id, "
                    "the certificate id and its mapping or revocation, the private key, this host's clock)"
                )
                status = response.status_code
                raise NetSuiteError(Kind.AUTH, detail, status=status, code=code, exchange=exchange)
            raise classify_response(response.status_code, response.text, exchange)
        body = _json_or_text(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise transient("OAuth 2.0 token answer has no access_token", exchange)
        return str(token), float(body.get("expires_in") or 3600)
