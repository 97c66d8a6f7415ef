"""The HTTP API (for producers and operators) and the Transaction Hub web UI."""

from nue_ns.api.app import create_app

__all__ = ["create_app"]
