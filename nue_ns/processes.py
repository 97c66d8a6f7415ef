"""Starting the system's processes (sandbox, workers, beat) for the demo and the tests.

Each child is a real OS process running the real entry point, with its environment spelled out,
so what the tests exercise is what an operator runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (a Celery worker's pool children too)."""
        if self.alive:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> None:
        self.kill(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()


def nue_ns_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "nue_ns.cli", *args]


def start_sandbox(env: dict[str, str], log_dir: Path, port: int | None = None) -> tuple[Child, str]:
    port = port or free_port()
    child = Child(f"sandbox-{port}", nue_ns_argv("sandbox", "--port", str(port)), env, log_dir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not child.alive:
            raise RuntimeError(f"sandbox exited; see {child.log_path}")
        try:
            if requests.get(f"{base}/_sandbox/health", timeout=1).ok:
                return child, base
        except requests.RequestException:
            time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"sandbox did not start within 30 s; see {child.log_path}")


def start_worker(
    env: dict[str, str], log_dir: Path, name: str, concurrency: int = 4, pool: str = "threads"
) -> Child:
    return Child(
        name,
        nue_ns_argv(
            "worker",
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "INFO",
        ),
        env,
        log_dir,
    )


def start_beat(env: dict[str, str], log_dir: Path, name: str = "beat") -> Child:
    return Child(name, nue_ns_argv("beat", "--loglevel", "INFO"), env, log_dir)
