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
    """Trust authentication (the fault tests stop and start this server)."""
    pg_password_url: str
    """A role that must give its password (scram-sha-256), in its own database."""
    pg_bin: str
    pg_port: str
    s3_endpoint: str
    s3_pid: int
    s3_auth_endpoint: str
    """A second S3 server that enforces signatures and IAM policies."""
    s3_auth_admin: tuple[str, str]
    """Access key and secret of an administrator of that server."""

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Services:
        return cls(
            pg_url=env["BENCHGEN_TEST_PG_URL"],
            pg_password_url=env["BENCHGEN_TEST_PG_PASSWORD_URL"],
            pg_bin=env["BENCHGEN_TEST_PG_BIN"],
            pg_port=env["BENCHGEN_TEST_PG_PORT"],
            s3_endpoint=env["BENCHGEN_TEST_S3_ENDPOINT"],
            s3_pid=int(env["BENCHGEN_TEST_S3_PID"]),
            s3_auth_endpoint=env["BENCHGEN_TEST_S3_AUTH_ENDPOINT"],
            s3_auth_admin=(env["BENCHGEN_TEST_S3_AUTH_ADMIN_KEY"], env["BENCHGEN_TEST_S3_AUTH_ADMIN_SECRET"]),
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


def _extras_ready(env: dict[str, str]) -> bool:
    """The password role and the IAM-enforcing S3 server are described and the server runs."""
    if "BENCHGEN_TEST_PG_PASSWORD_URL" not in env:
        return False
    try:
        os.kill(int(env.get("BENCHGEN_TEST_S3_AUTH_PID", "0")), 0)
    except (OSError, ValueError):
        return False
    return True


def running_services() -> Services | None:
    """The services described by ``.ci/services.env``, if they answer. Services started by
    an older ``services.sh`` lack the password role and the IAM-enforcing S3 server:
    ``services.sh start`` adds them to the running ones (restarting nothing)."""
    env = read_env_file()
    if not env or "BENCHGEN_TEST_S3_PID" not in env:
        return None
    if not _extras_ready(env):
        if subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, timeout=60).returncode:
            return None  # not running: the caller starts (and later stops) everything
        run_script("start")
        env = read_env_file()
    try:
        services = Services.from_env(env)
    except KeyError:
        return None
    return services if services.alive() else None
