"""Access to the real services of the scale tests (PostgreSQL and an S3 server on loopback).

``scripts/services.sh start`` runs them and writes their connection info to
``.ci/services.env``; ``scripts/test.sh`` does that before pytest. Under CI (``CI=true``)
missing services are a failure; locally the fixture starts them (and stops them after).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "services.sh"
ENV_FILE = ROOT / ".ci" / "services.env"


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """The ``export KEY='value'`` lines of the services file."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            key, _, raw = line[len("export ") :].partition("=")
            values[key] = shlex.split(raw)[0] if raw else ""
    return values


@dataclass(frozen=True)
class Services:
    """Connection info and fault controls of the running services."""

    pg_url: str
    pg_bin: str
    pg_port: str
    s3_endpoint: str
    s3_pid: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Services:
        return cls(
            pg_url=env["BENCHGEN_TEST_PG_URL"],
            pg_bin=env["BENCHGEN_TEST_PG_BIN"],
            pg_port=env["BENCHGEN_TEST_PG_PORT"],
            s3_endpoint=env["BENCHGEN_TEST_S3_ENDPOINT"],
            s3_pid=int(env["BENCHGEN_TEST_S3_PID"]),
        )

    def alive(self) -> bool:
        ready = subprocess.run(
            [f"{self.pg_bin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", self.pg_port], timeout=30
        )
        try:
            os.kill(self.s3_pid, 0)
        except OSError:
            return False
        return ready.returncode == 0

    def pg_stop(self) -> None:
        run_script("pg-stop")

    def pg_start(self) -> None:
        run_script("pg-start")

    def pause_s3(self) -> None:
        """Freeze the S3 server: connections are accepted by the kernel, never answered."""
        os.kill(self.s3_pid, signal.SIGSTOP)

    def resume_s3(self) -> None:
        os.kill(self.s3_pid, signal.SIGCONT)


def run_script(*args: str) -> None:
    subprocess.run(["bash", str(SCRIPT), *args], check=True, timeout=600)


def running_services() -> Services | None:
    """The services described by ``.ci/services.env``, if they answer."""
    env = read_env_file()
    if not env:
        return None
    services = Services.from_env(env)
    return services if services.alive() else None
