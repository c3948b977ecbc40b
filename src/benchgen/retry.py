"""Bounded retries with exponential backoff, for uploads and database writes.

Remote services fail transiently (a restarted database, an object store that drops
connections for a few seconds); benchgen retries those calls a bounded number of times
and then reports a clear error instead of hanging or silently losing work.

What is never retried is a :class:`ConfigurationError`: a wrong password, an unknown host,
a malformed URL. Such errors are found by one unretried probe before a run starts (a
service that never answered is misconfigured until proven otherwise); only after a
connection has worked once does a failure count as transient.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from benchgen.errors import InfrastructureError, UsageError

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """How often and how patiently to retry one call (the configured ones are in :mod:`benchgen.settings`)."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(default=6, ge=1)
    """Total tries, the first one included."""
    base_delay_s: float = Field(default=0.5, ge=0)
    """Wait before the second try; doubled before each later one."""
    max_delay_s: float = Field(default=8.0, ge=0)
    """Cap of one wait."""

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures (1 = after the first try)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (failed_attempts - 1)))


class ConfigurationError(UsageError):
    """A setting is wrong (credentials, host, port, URL, scheme): retrying cannot help.

    The message is one line that names the setting to fix.
    """


class RetriesExhausted(InfrastructureError, RuntimeError):
    """Every try of a call failed; ``__cause__`` is the last error."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{what} failed after {attempts} attempts: {type(last).__name__}: {last}")
        self.what = what
        self.attempts = attempts


def call_with_retries(
    action: Callable[[], T],
    what: str,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    on_retry: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``; on a retryable error wait and try again, up to ``policy.attempts`` tries.

    A non-retryable error propagates at once; when every try failed, raises
    :class:`RetriesExhausted` chained to the last error. ``on_retry`` hears one line per retry.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not retryable(exc):
                raise
            if attempt == policy.attempts:
                raise RetriesExhausted(what, attempt, exc) from exc
            delay = policy.delay(attempt)
            if on_retry is not None:
                on_retry(
                    f"retrying {what} in {delay:.1f} s (attempt {attempt}/{policy.attempts} failed: "
                    f"{type(exc).__name__}: {str(exc)[:200]})"
                )
            sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises
