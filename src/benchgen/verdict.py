"""The closed set of rejection codes and the report ``benchgen check`` produces."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class RejectCode(StrEnum):
    """Why a scenario script was rejected. The set is closed: tools downstream switch on it."""

    SCRIPT_ERROR = "script_error"
    CONTRACT_ERROR = "contract_error"
    TIMEOUT = "timeout"
    RESOURCE_LIMIT = "resource_limit"
    SANDBOX_VIOLATION = "sandbox_violation"
    INVALID_GEOMETRY = "invalid_geometry"
    INTERSECTION = "intersection"
    OUT_OF_BOUNDS = "out_of_bounds"
    ZONE_CONFLICT = "zone_conflict"
    UNSTABLE = "unstable"
    NOT_SETTLED = "not_settled"
    TRIVIAL = "trivial"
    NONDETERMINISTIC = "nondeterministic"
    INSUFFICIENT_RANDOMIZATION = "insufficient_randomization"
    UNSOLVED = "unsolved"
    """The reference solution does not solve every checked variant."""
    OVER_BUDGET = "over_budget"
    """The reference solution solves it only over the cost or weight budget."""


class CheckFailure(Exception):
    """Raised by a check stage when the scenario fails; carries the code and a precise message."""

    def __init__(self, code: RejectCode, message: str, detail: str | None = None) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.detail = detail


class CheckReport(BaseModel):
    """The verdict on one script, exactly what ``benchgen check --json`` prints."""

    accepted: bool
    code: RejectCode | None
    message: str
    seeds: list[int] = Field(default_factory=list)
    scales: list[float] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, Any] = Field(default_factory=dict)


class Deadline:
    """A time budget for the trusted stages, on the checker's own monotonic clock.

    Stages call :meth:`check` between units of work (a body, a pair, a batch of steps);
    once the budget is spent the check ends with ``resource_limit`` instead of hanging.
    ``seconds=None`` means no budget.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def check(self, stage: str) -> None:
        """Raise ``resource_limit`` if the budget is spent; ``stage`` names the work in the message."""
        if self.seconds is not None and time.monotonic() - self.started > self.seconds:
            raise CheckFailure(
                RejectCode.RESOURCE_LIMIT,
                f"the trusted checks exceeded their {self.seconds:g} s budget ({stage})",
            )
