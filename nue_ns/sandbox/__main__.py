"""`python -m nue_ns.sandbox --host 127.0.0.1 --port 8900 [--latency-ms MIN MAX]`."""

from __future__ import annotations

import argparse

from nue_ns.sandbox.app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nue_ns.sandbox", description="NetSuite REST emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency-ms", type=float, nargs=2, default=(0.0, 0.0), metavar=("MIN", "MAX"))
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    serve(args.host, args.port, latency=tuple(args.latency_ms), log_level=args.log_level)


if __name__ == "__main__":
    main()
