"""`python -m bench` runs every benchmark; `python -m bench NAME [NAME ...]` runs the named ones.

Each prints its results as Markdown tables (the form docs/BENCHMARKS.md records them in).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from bench.report import load, machine

BENCHES = (
    "calls_per_record",
    "governor",
    "fairness",
    "scale",
    "ingestion",
    "sweep",
    "overhead",
    "burst",
    "batches",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHES))
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    logging.basicConfig(level=logging.WARNING)
    print(machine())
    for name in args.names or BENCHES:
        started = time.monotonic()
        print(f"## {name}\n\n{load()}\n", flush=True)
        module = importlib.import_module(f"bench.{name}")
        for table in module.run():
            print(table.markdown(), flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
