"""NetSuite authentication: token-based (OAuth 1.0a, HMAC-SHA256) and OAuth 2.0 client credentials.

Facts in docs/NETSUITE.md "Authentication". Secrets never appear in a repr or an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """OAuth 2.0 machine-to-machine flow: a PS256 JWT assertion buys a bearer token, cached until
    60 s before it expires and shared by every thread using this object."""

    _EARLY_REFRESH = 60.0
    _ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    def __init__(
        self,
        account_id: str,
        client_id: str,
        certificate_id: str,
        private_key_pem: str | bytes,
        token_url: str | None = None,
        scope: str = "restlets,rest_webservices",
        timeout: float = 30.0,
    ) -> None:
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("private_key_pem: PS256 needs an RSA private key")
        self._key = key
        self.account_id = account_id
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.token_url = token_url or f"{rest_base_url(account_id)}/auth/oauth2/v1/token"
        self.scope = scope
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the cached token is not used

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(account_id={self.account_id!r}, token_url={self.token_url!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.access_token()}"
        return r

    def assertion(self, issued_at: int | None = None) -> str:
        """The signed client assertion (JWT, PS256) for the token request."""
        iat = int(time.time()) if issued_at is None else issued_at
        header = {"alg": "PS256", "typ": "JWT", "kid": self.certificate_id}
        claims: dict[str, str | int] = {"iss": self.client_id, "scope": self.scope, "aud": self.token_url}
        claims |= {"iat": iat, "exp": iat + 3600}
        signing_input = ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims))
        signature = self._key.sign(
            signing_input.encode("ascii"),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
        return f"{signing_input}.{_b64url(signature)}"

    def access_token(self) -> str:
        """A valid bearer token; fetches one (under the lock, so only once) when none is cached."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                token, lifetime = self._fetch()
                self._token = token
                self._refresh_at = time.monotonic() + lifetime - self._EARLY_REFRESH
            return self._token

    def _fetch(self) -> tuple[str, float]:
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
                detail = f"OAuth 2.0 token request rejected: {code or response.status_code}"
                status = response.status_code
                raise NetSuiteError(Kind.AUTH, detail, status=status, code=code, exchange=exchange)
            raise classify_response(response.status_code, response.text, exchange)
        body = _json_or_text(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise transient("OAuth 2.0 token answer has no access_token", exchange)
        return str(token), float(body.get("expires_in") or 3600)
