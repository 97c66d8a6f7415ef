"""NetSuite REST emulator ("sandbox") for the demo, the end-to-end tests and the benchmarks.

`python -m nue_ns.sandbox --host 127.0.0.1 --port 8900`, or `serve(...)`, or `create_app(state)`
to mount it in-process. Behaviour follows docs/NETSUITE.md; see app.py for the endpoints.
"""

from nue_ns.sandbox.app import create_app, default_state, serve
from nue_ns.sandbox.demo import (
    DEMO_ACCOUNT_ID,
    DEMO_CONSUMER_KEY,
    DEMO_CONSUMER_SECRET,
    DEMO_TOKEN_ID,
    DEMO_TOKEN_SECRET,
)
from nue_ns.sandbox.state import SandboxState

__all__ = [
    "DEMO_ACCOUNT_ID",
    "DEMO_CONSUMER_KEY",
    "DEMO_CONSUMER_SECRET",
    "DEMO_TOKEN_ID",
    "DEMO_TOKEN_SECRET",
    "SandboxState",
    "create_app",
    "default_state",
    "serve",
]
