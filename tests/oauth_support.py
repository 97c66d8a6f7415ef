"""OAuth 2.0 test material: keys and self-signed x.509 certificates as NetSuite accepts them
(subsect_162755332391), and mapping one in the sandbox."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from nue_ns.processes import free_port


def keypair(kind: str = "rsa", seq: int = 0) -> tuple[str, str]:
    """(private key PEM, certificate PEM); kind rsa (3072 bits, PS256), ec (P-256, ES256), ec384,
    rsa2048 (too short for NetSuite). `seq` gives distinct keys of one kind."""
    return _keypair(kind, seq)


@cache
def _keypair(kind: str, seq: int) -> tuple[str, str]:
    if kind.startswith("rsa"):
        bits = int(kind[3:] or 3072)
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        key = ec.generate_private_key(ec.SECP384R1() if kind == "ec384" else ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nue-ns test {kind} {seq}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def map_certificate(base: str, account_id: str, client_id: str, certificate_id: str, cert_pem: str) -> None:
    r = requests.post(
        f"{base}/_sandbox/oauth/certificates",
        json={
            "account_id": account_id,
            "client_id": client_id,
            "certificate_id": certificate_id,
            "certificate": cert_pem,
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app on a local port in a thread (the in-process state stays reachable)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


DEMO_CLIENT = "nue-ns-demo-client"
DEMO_CERT = "DEMO-CERT-1"


def oauth2_env(work_dir, certificate_id: str = DEMO_CERT, kind: str = "rsa") -> dict[str, str]:
    """NETSUITE_* variables that make the default integration use OAuth 2.0 (key in a file)."""
    key_file = work_dir / f"{certificate_id}.pem"
    key_file.write_text(keypair(kind)[0])
    key_file.chmod(0o600)
    return {
        "NETSUITE_AUTH_METHOD": "oauth2",
        "NETSUITE_CLIENT_ID": DEMO_CLIENT,
        "NETSUITE_CERTIFICATE_ID": certificate_id,
        "NETSUITE_PRIVATE_KEY_FILE": str(key_file),
    }


def token_log(base: str, client_id: str = DEMO_CLIENT) -> list[dict]:
    r = requests.get(f"{base}/_sandbox/oauth/tokens", params={"client_id": client_id}, timeout=10)
    r.raise_for_status()
    return r.json()["log"]


def assert_one_token_per_lifetime(log: list[dict], lifetime: float, duration: float) -> list[float]:
    """Each token was asked for once its predecessor was due for renewal (a fifth of its life
    ahead), never twice at once; returns the issue times."""
    issued = [e["t"] for e in log if e["status"] == 200]
    assert issued, "no token was issued"
    gaps = [b - a for a, b in zip(issued, issued[1:], strict=False)]
    assert all(g >= lifetime * 0.8 - 0.3 for g in gaps), gaps
    assert len(issued) <= duration / (lifetime * 0.8) + 1, (len(issued), duration)
    return issued


def oauth_secrets(base: str, private_key_pem: str, client_id: str = DEMO_CLIENT) -> dict[str, str]:
    """What must appear nowhere the system writes: the private key's body and every access token
    the sandbox issued."""
    r = requests.get(
        f"{base}/_sandbox/oauth/tokens", params={"client_id": client_id, "reveal": "1"}, timeout=10
    )
    r.raise_for_status()
    tokens = [e["token"] for e in r.json()["log"] if e["status"] == 200]
    assert tokens, "no access token was issued"
    body = "".join(line for line in private_key_pem.splitlines() if not line.startswith("-----"))
    return {"private key": body} | {f"access token {n}": t for n, t in enumerate(tokens, 1)}


def secret_leaks(where: str, blob: str, secrets: dict[str, str]) -> list[str]:
    """Which secret (or a 20-character piece of one: a truncated copy leaks too) the text holds;
    PEM line breaks, real or escaped, do not hide a key."""
    flat = blob.replace("\\n", "").replace("\n", "").replace("\\r", "").replace("\r", "")
    found = []
    for name, secret in secrets.items():
        pieces = {secret[i : i + 20] for i in range(len(secret) - 19)}
        if any(p in blob or p in flat for p in pieces):
            found.append(f"{name} in {where}")
    return found
