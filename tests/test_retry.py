"""Bounded retries: how many tries, how long the waits, what is retried and what is not."""

from __future__ import annotations

import pytest

from benchgen.retry import RetriesExhausted, RetryPolicy, call_with_retries


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then returns the call count."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=1.0, max_delay_s=5.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_transient_failures_are_retried_with_the_policy_waits() -> None:
    action, waits, notes = Flaky(2, ConnectionError("reset")), list[float](), list[str]()
    policy = RetryPolicy(attempts=4, base_delay_s=0.5, max_delay_s=8.0)
    result = call_with_retries(
        action, "upload", policy, lambda e: isinstance(e, ConnectionError), notes.append, waits.append
    )
    assert result == 3
    assert action.calls == 3
    assert waits == [0.5, 1.0]
    assert notes == [
        "retrying upload in 0.5 s (attempt 1/4 failed: ConnectionError: reset)",
        "retrying upload in 1.0 s (attempt 2/4 failed: ConnectionError: reset)",
    ]


def test_a_non_retryable_error_propagates_at_once() -> None:
    action, waits = Flaky(5, ValueError("bad password")), list[float]()
    with pytest.raises(ValueError, match="bad password"):
        call_with_retries(
            action, "connect", RetryPolicy(), lambda e: isinstance(e, ConnectionError), sleep=waits.append
        )
    assert action.calls == 1
    assert waits == []


def test_exhausted_retries_name_the_call_and_chain_the_last_error() -> None:
    error = TimeoutError("no answer")
    action, waits = Flaky(10, error), list[float]()
    policy = RetryPolicy(attempts=3, base_delay_s=0.0)
    with pytest.raises(RetriesExhausted) as raised:
        call_with_retries(action, "write manifest", policy, lambda e: True, sleep=waits.append)
    assert action.calls == 3
    assert waits == [0.0, 0.0]
    assert raised.value.attempts == 3
    assert raised.value.what == "write manifest"
    assert raised.value.__cause__ is error
    assert str(raised.value) == "write manifest failed after 3 attempts: TimeoutError: no answer"


def test_one_attempt_means_no_retry() -> None:
    action = Flaky(1, ConnectionError("down"))
    with pytest.raises(RetriesExhausted):
        call_with_retries(action, "x", RetryPolicy(attempts=1), lambda e: True, sleep=lambda s: None)
    assert action.calls == 1
