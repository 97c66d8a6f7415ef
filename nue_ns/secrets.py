"""NetSuite credentials at rest: Fernet-encrypted in the hub, never stored in plain text.

The key comes from NUE_NS_SECRET_KEY; without one (a local demo), a key is generated once into
the state folder with owner-only permissions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from nue_ns.config import Settings
from nue_ns.netsuite.auth import Credentials


class SecretsError(RuntimeError):
    pass


def fernet(settings: Settings) -> Fernet:
    if settings.secret_key is not None:
        return Fernet(settings.secret_key.get_secret_value().encode())
    path = Path(settings.state_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def encrypt(credentials: Credentials, settings: Settings) -> bytes:
    plain = json.dumps(
        {
            "consumer_key": credentials.consumer_key,
            "consumer_secret": credentials.consumer_secret,
            "token_id": credentials.token_id,
            "token_secret": credentials.token_secret,
        }
    ).encode()
    return fernet(settings).encrypt(plain)


def decrypt(blob: bytes, settings: Settings) -> Credentials:
    try:
        data = json.loads(fernet(settings).decrypt(blob))
    except InvalidToken:
        raise SecretsError("cannot decrypt the integration's credentials: wrong NUE_NS_SECRET_KEY") from None
    return Credentials(**data)


def from_environment(settings: Settings) -> Credentials:
    """The default integration's credentials, read from NETSUITE_* variables."""
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
