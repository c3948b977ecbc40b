"""Settings read from the environment, in one place and once (so low-level modules need not
import high-level ones, nor read the environment themselves).

:meth:`Settings.from_env` reads every variable below with pydantic-settings; the CLI calls it
once per command and passes the parts down (``settings.storage`` to :mod:`benchgen.storage`,
``settings.db_retry`` to :mod:`benchgen.db`, ...). A malformed value is a
:class:`SettingsError` (exit 2) naming the variable. Unset or empty variables keep the defaults.

- ``BENCHGEN_CACHE_DIR``: where decomposition results, rebuilt variants and the work
  directories of remote datasets are cached (default ``~/.cache/benchgen``).
- ``BENCHGEN_S3_ENDPOINT_URL``: endpoint of an S3-compatible server (MinIO, Ceph, moto, ...);
  takes precedence over the AWS endpoint variables.
- ``BENCHGEN_S3_CONNECT_TIMEOUT_S`` / ``BENCHGEN_S3_READ_TIMEOUT_S`` (10 s / 60 s): per-request
  timeouts; ``BENCHGEN_S3_OPERATION_TIMEOUT_S`` (300 s): a hard deadline per request.
- ``BENCHGEN_UPLOAD_ATTEMPTS``, ``BENCHGEN_UPLOAD_BASE_DELAY_S``, ``BENCHGEN_UPLOAD_MAX_DELAY_S``:
  the upload retry policy (6 tries, 0.5 s doubling up to 8 s).
- ``BENCHGEN_DB_RETRY_ATTEMPTS``, ``BENCHGEN_DB_RETRY_BASE_DELAY_S``,
  ``BENCHGEN_DB_RETRY_MAX_DELAY_S``: the database retry policy (8 tries, 0.5 s doubling up to 8 s).
- ``BENCHGEN_LEASE_TTL_S`` (60 s): how long a remote dataset's writer lease lives without renewal.

The AWS variables (credentials, region, ``AWS_ENDPOINT_URL``) are read by botocore itself, the
model providers' API keys by LangChain; the agent author's own settings are
:class:`benchgen.agents.settings.AgentSettings` (command-line options, not variables).
A variable that crosses process boundaries on purpose stays a variable: ``BENCHGEN_UNSAFE_NO_ISOLATION``
(the sandbox's opt-out, set by ``--unsafe-no-isolation`` for every worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from benchgen.errors import UsageError
from benchgen.retry import RetryPolicy

PREFIX = "BENCHGEN_"
CACHE_DIR_ENV = "BENCHGEN_CACHE_DIR"
ENDPOINT_ENV = "BENCHGEN_S3_ENDPOINT_URL"

UPLOAD_RETRY = RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=8.0)
"""Uploads: 6 tries, 0.5 s doubling up to 8 s (about 15 s of waiting)."""
DB_RETRY = RetryPolicy(attempts=8, base_delay_s=0.5, max_delay_s=8.0)
"""Database work: 8 tries, 0.5 s doubling up to 8 s (about 40 s of waiting)."""


class SettingsError(UsageError):
    """An environment variable has a value benchgen cannot use."""

    kind = "settings"


class StorageSettings(BaseModel):
    """Connection settings of remote storage."""

    model_config = ConfigDict(frozen=True)

    endpoint_url: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    operation_timeout_s: float = Field(default=300.0, gt=0)
    """Hard deadline of one request (one file of a batch); the request is cancelled when it
    passes. Needed because a PUT to a server that stopped answering can wait forever for
    its ``100 Continue`` despite the read timeout."""

    @classmethod
    def from_env(cls) -> StorageSettings:
        """``Settings.from_env().storage``, for callers that were handed no settings."""
        return Settings.from_env().storage


def _home_cache() -> Path:
    return Path.home() / ".cache" / "benchgen"


class Settings(BaseModel):
    """Everything benchgen reads from the environment. ``Settings()`` is the defaults;
    :meth:`from_env` the defaults overridden by the variables that are set."""

    model_config = ConfigDict(frozen=True)

    cache_dir: Path = Field(default_factory=_home_cache)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    upload_retry: RetryPolicy = UPLOAD_RETRY
    db_retry: RetryPolicy = DB_RETRY
    lease_ttl_s: float = Field(default=60.0, gt=0)
    """A remote dataset's writer lease lifetime: renewed every quarter of it, taken over by
    another writer once it has expired."""

    @classmethod
    def from_env(cls) -> Settings:
        """Read the ``BENCHGEN_*`` variables (see the module docstring); raises :class:`SettingsError`."""
        values: dict[str, Any] = {}
        for name, value in _Variables().model_dump(exclude_none=True).items():
            *parents, leaf = _PLACES[name]
            target = values
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        for name, default in (("upload_retry", UPLOAD_RETRY), ("db_retry", DB_RETRY)):
            if name in values:  # the variables that are set override this policy's own defaults
                values[name] = default.model_dump() | values[name]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = tuple(str(part) for part in error["loc"])
            variable = next((PREFIX + n.upper() for n, place in _PLACES.items() if place == where), where)
            raise SettingsError(f"{variable}: {error['msg']} (got {error.get('input')!r})") from None


_PLACES: dict[str, tuple[str, ...]] = {
    "cache_dir": ("cache_dir",),
    "s3_endpoint_url": ("storage", "endpoint_url"),
    "s3_connect_timeout_s": ("storage", "connect_timeout_s"),
    "s3_read_timeout_s": ("storage", "read_timeout_s"),
    "s3_operation_timeout_s": ("storage", "operation_timeout_s"),
    "upload_attempts": ("upload_retry", "attempts"),
    "upload_base_delay_s": ("upload_retry", "base_delay_s"),
    "upload_max_delay_s": ("upload_retry", "max_delay_s"),
    "db_retry_attempts": ("db_retry", "attempts"),
    "db_retry_base_delay_s": ("db_retry", "base_delay_s"),
    "db_retry_max_delay_s": ("db_retry", "max_delay_s"),
    "lease_ttl_s": ("lease_ttl_s",),
}
"""Each variable (``BENCHGEN_`` + the key, upper case) and the setting it overrides."""


class _Variables(BaseSettings):
    """The raw ``BENCHGEN_*`` variables (validated by :class:`Settings`, so errors name the variable)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore")

    cache_dir: str | None = None
    s3_endpoint_url: str | None = None
    s3_connect_timeout_s: str | None = None
    s3_read_timeout_s: str | None = None
    s3_operation_timeout_s: str | None = None
    upload_attempts: str | None = None
    upload_base_delay_s: str | None = None
    upload_max_delay_s: str | None = None
    db_retry_attempts: str | None = None
    db_retry_base_delay_s: str | None = None
    db_retry_max_delay_s: str | None = None
    lease_ttl_s: str | None = None


def default_cache_dir() -> Path:
    """``$BENCHGEN_CACHE_DIR`` or ``~/.cache/benchgen`` (``Settings.from_env().cache_dir``)."""
    return Settings.from_env().cache_dir
