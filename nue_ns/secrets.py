"""NetSuite credentials at rest: Fernet-encrypted in the hub, never stored in plain text.

The key comes from NUE_NS_SECRET_KEY; without one (a local demo), a key is generated once into
the state folder with owner-only permissions.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from nue_ns.config import Settings
from nue_ns.netsuite.auth import Certificate, Credentials, OAuth2Credentials


class SecretsError(RuntimeError):
    pass


def fernet(settings: Settings) -> Fernet:
    if settings.secret_key is not None:
        return Fernet(settings.secret_key.get_secret_value().encode())
    path = Path(settings.state_dir) / "secret.key"
    if not path.exists():
        # Written aside, then linked into place: of processes racing here one key wins, and
        # nobody reads a half-written file.
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".secret.key.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return Fernet(path.read_bytes().strip())


AnyCredentials = Credentials | OAuth2Credentials


def encrypt(credentials: AnyCredentials, settings: Settings) -> bytes:
    return fernet(settings).encrypt(json.dumps(_plain(credentials)).encode())


def _plain(credentials: AnyCredentials) -> dict[str, Any]:
    if isinstance(credentials, OAuth2Credentials):
        certs = [{k: v for k, v in vars(c).items() if v is not None} for c in credentials.certificates]
        return {
            "method": "oauth2",
            "client_id": credentials.client_id,
            "certificates": certs,
            "active": credentials.active,
            "scope": credentials.scope,
        }
    return {
        "method": "tba",
        "consumer_key": credentials.consumer_key,
        "consumer_secret": credentials.consumer_secret,
        "token_id": credentials.token_id,
        "token_secret": credentials.token_secret,
    }


def decrypt(blob: bytes, settings: Settings) -> AnyCredentials:
    try:
        data = json.loads(fernet(settings).decrypt(blob))
    except InvalidToken:
        raise SecretsError("cannot decrypt the integration's credentials: wrong NUE_NS_SECRET_KEY") from None
    if data.pop("method", "tba") == "oauth2":  # blobs written before OAuth 2.0 carry no method: TBA
        certs = tuple(Certificate(**c) for c in data.pop("certificates"))
        return OAuth2Credentials(certificates=certs, **data)
    return Credentials(**data)


def from_environment(settings: Settings) -> AnyCredentials:
    """The default integration's credentials, read from NETSUITE_* variables (auth method:
    NETSUITE_AUTH_METHOD, else OAuth 2.0 when NETSUITE_CLIENT_ID is set, else TBA)."""
    if settings.netsuite_auth_method_resolved == "oauth2":
        return _oauth2_from_environment(settings)
    parts = {
        "consumer_key": settings.netsuite_consumer_key,
        "consumer_secret": settings.netsuite_consumer_secret,
        "token_id": settings.netsuite_token_id,
        "token_secret": settings.netsuite_token_secret,
    }
    missing = [f"NETSUITE_{k.upper()}" for k, v in parts.items() if v is None]
    if missing:
        raise SecretsError(f"missing NetSuite credentials: {', '.join(missing)}")
    return Credentials(**{k: v.get_secret_value() for k, v in parts.items()})


def _oauth2_from_environment(settings: Settings) -> OAuth2Credentials:
    missing = [
        name
        for name, value in (
            ("NETSUITE_CLIENT_ID", settings.netsuite_client_id),
            ("NETSUITE_CERTIFICATE_ID", settings.netsuite_certificate_id),
        )
        if not value
    ]
    pem = settings.netsuite_private_key.get_secret_value() if settings.netsuite_private_key else None
    if not pem and settings.netsuite_private_key_file:
        try:
            pem = Path(settings.netsuite_private_key_file).read_text()
        except OSError as exc:
            raise SecretsError(f"NETSUITE_PRIVATE_KEY_FILE: cannot read it ({exc.strerror})") from None
    if not pem:
        missing.append("NETSUITE_PRIVATE_KEY or NETSUITE_PRIVATE_KEY_FILE")
    if missing:
        raise SecretsError(f"missing NetSuite OAuth 2.0 credentials: {', '.join(missing)}")
    cert_id = settings.netsuite_certificate_id or ""
    return OAuth2Credentials(
        client_id=settings.netsuite_client_id.get_secret_value(),
        certificates=(Certificate(cert_id, private_key_pem=pem),),
        active=cert_id,
        scope=settings.netsuite_oauth_scope,
    )
