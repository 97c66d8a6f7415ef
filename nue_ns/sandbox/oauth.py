"""NetSuite's OAuth 2.0 client credentials (machine-to-machine) flow, as the sandbox emulates it.

Token endpoint: POST /services/rest/auth/oauth2/v1/token with grant_type=client_credentials,
client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion = a
JWT signed with the private key of a certificate mapped to the integration (section_162755359851).
The JWT: header typ JWT, alg PS256/384/512 or ES256/384/512, kid = certificate id; payload iss =
client id, scope (restlets, rest_webservices, suite_analytics, comma-separated), aud = the token
URL, iat, exp less than 60 minutes after iat (section_162790605110). The answer: access_token,
expires_in 3600, token_type bearer; a REST call then sends `Authorization: Bearer <token>` and an
expired, revoked or unknown token gets 401 (subsect_158521885412). Certificates: RSA 3072/4096 or EC
256/384/521 bits, x.509, at most 5 active per integration record; a revoked one can't be used
again (subsect_162755332391, section_162686838198). Error bodies are {"error": "<value>"}
(subsect_158521832417).

UNVERIFIED, behind switches (POST /_sandbox/oauth/config), the product works under each:
- `assertion_error`: which error a bad assertion gets. RFC 7523 section 3.2 says invalid_client
  (401); Oracle documents no value for this flow. "invalid_client" (default) | "invalid_grant" |
  "invalid_request" (both 400).
- `clock_skew_s`: how far iat may lie ahead of / exp behind NetSuite's clock (Oracle is silent; 300).
- `revoke_kills_tokens`: whether tokens issued with a certificate die when it is revoked (default
  true: the stricter reading).
- `token_requests_use_concurrency`: whether a token request takes one of the account's concurrent
  request slots (default true: the stricter reading).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
SCOPES = ("restlets", "rest_webservices", "suite_analytics")
MAX_ASSERTION_LIFETIME_S = 3600  # exp - iat must stay below this
MAX_ACTIVE_CERTIFICATES = 5
TOKEN_LIFETIME_S = 3600
ERRORS = {"invalid_client": 401, "invalid_grant": 400, "invalid_request": 400}


class OAuthRefused(Exception):
    """A refused token request: NetSuite's error value, its HTTP status, and (for the audit) why."""

    def __init__(self, error: str, status: int, reason: str) -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.error, self.status, self.reason = error, status, reason


@dataclass
class MappedCertificate:
    certificate_id: str
    public_key: Any
    not_after: dt.datetime
    revoked: bool = False


@dataclass
class OAuthClient:
    realm: str
    client_id: str
    certificates: dict[str, MappedCertificate] = field(default_factory=dict)


@dataclass(frozen=True)
class Issued:
    realm: str
    client_id: str
    certificate_id: str
    scope: tuple[str, ...]
    issued_at: float
    expires_at: float


def _check_key(key: Any) -> None:
    """subsect_162755332391: RSA 3072 or 4096 bits, EC 256, 384 or 521 bits."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size not in (3072, 4096):
            raise ValueError(f"the RSA key must have 3072 or 4096 bits, not {key.key_size}")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size not in (256, 384, 521):
            raise ValueError(f"the EC key must have 256, 384 or 521 bits, not {key.curve.key_size}")
    else:
        raise ValueError("the certificate must hold an RSA or EC public key")


class OAuthState:
    """Mapped certificates, issued tokens and every token request of the sandbox's accounts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, OAuthClient] = {}
        self.tokens: dict[str, Issued] = {}
        self.requests: list[dict[str, Any]] = []
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self.clock_skew_s = 300.0
        self.assertion_error = "invalid_client"
        self.revoke_kills_tokens = True
        self.token_requests_use_concurrency = True

    # -- setup (what an administrator does on the OAuth 2.0 Client Credentials (M2M) Setup page) --

    def map_certificate(self, realm: str, client_id: str, certificate_id: str, certificate_pem: str) -> None:
        try:
            cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        except ValueError:
            raise ValueError("certificate: not an x.509 certificate in PEM format") from None
        key = cert.public_key()
        _check_key(key)
        not_after = min(cert.not_valid_after_utc, cert.not_valid_before_utc + dt.timedelta(days=730))
        with self.lock:
            client = self.clients.setdefault(client_id, OAuthClient(realm, client_id))
            if client.realm != realm:
                raise ValueError(f"client {client_id} belongs to account {client.realm}")
            if any(certificate_id in c.certificates for c in self.clients.values()):
                raise ValueError(f"certificate id {certificate_id} is mapped already")
            now = dt.datetime.now(dt.UTC)
            active = [c for c in client.certificates.values() if not c.revoked and c.not_after > now]
            if len(active) >= MAX_ACTIVE_CERTIFICATES:
                raise ValueError(
                    f"at most {MAX_ACTIVE_CERTIFICATES} active certificates per integration record"
                )
            client.certificates[certificate_id] = MappedCertificate(certificate_id, key, not_after)

    def revoke(self, certificate_id: str) -> None:
        with self.lock:
            for client in self.clients.values():
                cert = client.certificates.get(certificate_id)
                if cert is not None:
                    cert.revoked = True
                    if self.revoke_kills_tokens:
                        dead = [t for t, i in self.tokens.items() if i.certificate_id == certificate_id]
                        for token in dead:
                            del self.tokens[token]
                    return
        raise LookupError(f"no certificate {certificate_id}")

    def expire_tokens(self, realm: str | None = None) -> int:
        """Test control: every issued token (of one account) expires now."""
        with self.lock:
            dead = [t for t, i in self.tokens.items() if realm is None or i.realm == realm]
            for token in dead:
                del self.tokens[token]
            return len(dead)

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if "token_lifetime_s" in data:
                lifetime = float(data["token_lifetime_s"])
                if not 1 <= lifetime <= TOKEN_LIFETIME_S:
                    raise ValueError("token_lifetime_s: between 1 and 3600")
                self.token_lifetime_s = lifetime
            if "clock_skew_s" in data:
                self.clock_skew_s = max(0.0, float(data["clock_skew_s"]))
            if "assertion_error" in data:
                if data["assertion_error"] not in ERRORS:
                    raise ValueError(f"assertion_error: one of {', '.join(ERRORS)}")
                self.assertion_error = data["assertion_error"]
            for name in ("revoke_kills_tokens", "token_requests_use_concurrency"):
                if name in data:
                    setattr(self, name, bool(data[name]))
            return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "token_lifetime_s": self.token_lifetime_s,
            "clock_skew_s": self.clock_skew_s,
            "assertion_error": self.assertion_error,
            "revoke_kills_tokens": self.revoke_kills_tokens,
            "token_requests_use_concurrency": self.token_requests_use_concurrency,
        }

    def client_realm(self, form: dict[str, str]) -> str | None:
        """The account a token request is for (NetSuite knows it from the host; the sandbox, serving
        every account on one host, from the assertion's iss)."""
        try:
            iss = jwt.decode(form.get("client_assertion", ""), options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return None
        client = self.clients.get(iss) if isinstance(iss, str) else None
        return client.realm if client else None

    # -- the token endpoint ---------------------------------------------------------------------

    def token_request(self, form: dict[str, str], token_url: str) -> dict[str, Any]:
        """The access token answer; OAuthRefused with NetSuite's error otherwise. Logged either way."""
        entry: dict[str, Any] = {"t": time.time(), "client_id": None, "certificate_id": None, "account": None}
        try:
            issued, token = self._issue(form, token_url, entry)
        except OAuthRefused as refused:
            entry |= {"status": refused.status, "error": refused.error, "reason": refused.reason}
            with self.lock:
                self.requests.append(entry)
            raise
        entry |= {
            "status": 200,
            "error": None,
            "reason": None,
            "expires_at": issued.expires_at,
            "token": token,
        }
        with self.lock:
            self.tokens[token] = issued
            self.requests.append(entry)
        lifetime = round(issued.expires_at - issued.issued_at)
        return {"access_token": token, "expires_in": lifetime, "token_type": "bearer"}

    def _bad(self, reason: str) -> OAuthRefused:
        return OAuthRefused(self.assertion_error, ERRORS[self.assertion_error], reason)

    def _issue(self, form: dict[str, str], token_url: str, entry: dict[str, Any]) -> tuple[Issued, str]:
        for name in ("grant_type", "client_assertion_type", "client_assertion"):
            if not form.get(name):
                raise OAuthRefused("invalid_request", 400, f"{name} is missing")
        if form["grant_type"] != GRANT_TYPE:
            raise OAuthRefused("unsupported_grant_type", 400, f"grant_type {form['grant_type']!r}")
        if form["client_assertion_type"] != ASSERTION_TYPE:
            raise OAuthRefused("invalid_request", 400, "client_assertion_type is not jwt-bearer")
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OAuthRefused("invalid_request", 400, "client_assertion is not a JWT") from None
        if header.get("typ") != "JWT" or header.get("alg") not in ALGORITHMS:
            raise self._bad(f"header typ {header.get('typ')!r} / alg {header.get('alg')!r} not accepted")
        kid, iss = header.get("kid"), claims.get("iss")
        entry |= {"client_id": iss, "certificate_id": kid}
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise self._bad("iss is no known client id")
        entry["account"] = client.realm
        cert = client.certificates.get(kid) if isinstance(kid, str) else None
        if cert is None:
            raise self._bad("kid is no certificate mapped to this client")
        if cert.revoked:
            raise self._bad("the certificate is revoked")
        if cert.not_after <= dt.datetime.now(dt.UTC):
            raise self._bad("the certificate has expired")
        try:
            jwt.decode(
                assertion,
                cert.public_key,
                algorithms=[header["alg"]],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise self._bad(f"signature not valid ({type(exc).__name__})") from None
        aud = claims.get("aud")
        if (aud if isinstance(aud, str) else None) != token_url and not (
            isinstance(aud, list) and token_url in aud
        ):
            raise self._bad(f"aud {aud!r} is not the token endpoint {token_url}")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise self._bad("iat and exp must be whole seconds")
        if not 0 < exp - iat < MAX_ASSERTION_LIFETIME_S:
            raise self._bad(f"exp - iat is {exp - iat} s; it must be less than 60 minutes")
        now = time.time()
        if iat > now + self.clock_skew_s:
            raise self._bad(f"iat lies {iat - now:.0f} s in the future (clock skew)")
        if exp < now - self.clock_skew_s:
            raise self._bad("the assertion has expired")
        scope = claims.get("scope")
        scopes = tuple(s.strip() for s in scope.split(",")) if isinstance(scope, str) else scope
        if not isinstance(scopes, (list, tuple)) or not scopes or any(s not in SCOPES for s in scopes):
            raise OAuthRefused("invalid_scope", 400, f"scope {scope!r}")
        issued = Issued(
            client.realm,
            client.client_id,
            cert.certificate_id,
            tuple(scopes),
            now,
            now + self.token_lifetime_s,
        )
        return issued, secrets.token_urlsafe(48)

    # -- REST calls -----------------------------------------------------------------------------

    def authenticate(self, token: str) -> str | None:
        """The realm a bearer token is valid for, if it is valid now for REST web services."""
        with self.lock:
            issued = self.tokens.get(token)
            if issued is None:
                return None
            if time.time() >= issued.expires_at:
                del self.tokens[token]
                return None
        return issued.realm if "rest_webservices" in issued.scope else None

    def stats(
        self, realm: str | None = None, client_id: str | None = None, reveal: bool = False
    ) -> dict[str, Any]:
        """Token requests; `reveal` adds the issued tokens themselves (for the tests' secret scans)."""
        with self.lock:
            rows = [
                r if reveal else {k: v for k, v in r.items() if k != "token"}
                for r in self.requests
                if (realm is None or r["account"] == realm)
                and (client_id is None or r["client_id"] == client_id)
            ]
        issued = [r for r in rows if r["status"] == 200]
        return {"requests": len(rows), "issued": len(issued), "refused": len(rows) - len(issued), "log": rows}
