"""Token accounting per role and the budgets that end a session.

One :class:`Ledger` per session run holds the usage the providers reported (through a
LangChain callback on every chat-model call, summarization included), the coder's turn
count, the active wall-clock time and the first stop signal. :class:`BudgetMiddleware`
consults it before every model call and ends the agent's loop when a budget is spent,
the session was stopped, the coder has submitted or the reviewer has decided.

Every answered call is also appended to a :class:`UsageLog` (a JSON-lines file in the
session directory, flushed and fsynced per call), because checkpoints are written only
between graph nodes: after a kill -9 in the middle of a node, the log still holds the
tokens of every call the provider answered, and the resumed session starts from it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from langchain.agents.middleware import AgentMiddleware, hook_config
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langgraph.runtime import Runtime

from benchgen.agents.settings import ROLES, AgentSettings, Role, RoleUsage, Status


class StopSignal(NamedTuple):
    """Why the session ends early."""

    status: Status
    reason: str


class UsageLog:
    """Append-only record of answered model calls: one JSON line per call, on disk as it happens.

    A line is ``{"role", "calls", "input_tokens", "output_tokens", "provider_model"}``; a
    call has ``calls`` = 1, a baseline line (usage carried over from a checkpoint written
    before the log existed) carries totals. A line cut short by a kill is ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: dict[str, Any]) -> None:
        """Write one line and force it to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[dict[str, Any]]:
        """The complete lines written so far."""
        if not self.path.is_file():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the last line of a killed process
            if isinstance(entry, dict) and entry.get("role") in ROLES:
                found.append(entry)
        return found

    def clear(self) -> None:
        """Forget everything (a new session under an id that was never checkpointed)."""
        self.path.unlink(missing_ok=True)


class Ledger:
    """Usage, counters, elapsed time and the stop signal of one session run (thread-safe)."""

    def __init__(
        self,
        settings: AgentSettings,
        usage: dict[str, dict[str, Any]] | None = None,
        coder_turns: int = 0,
        elapsed_before_s: float = 0.0,
        log: UsageLog | None = None,
    ) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.log = log
        self.usage: dict[str, RoleUsage] = {}
        for role in ROLES:
            saved = (usage or {}).get(role)
            self.usage[role] = (
                RoleUsage.model_validate(saved) if saved else RoleUsage(model=settings.model_for(role))
            )
        if log is not None:
            self._sync_log(log)
        self.coder_turns = coder_turns
        self._elapsed_before_s = elapsed_before_s
        self._started = time.monotonic()
        self.stop: StopSignal | None = None
        self.submitted_sha: str | None = None
        self.submitted_solution_sha: str | None = None
        """The solution submitted with ``submitted_sha`` (evaluate_solution() passed on the pair)."""

    def _sync_log(self, log: UsageLog) -> None:
        """Take usage from the log (it has every answered call); seed it from the checkpoint if empty."""
        entries = log.entries()
        if not entries:
            for role, entry in self.usage.items():
                if entry.calls or entry.input_tokens or entry.output_tokens:
                    log.append(
                        self._line(
                            role, entry.calls, entry.input_tokens, entry.output_tokens, entry.provider_model
                        )
                    )
            return
        self.usage = {role: RoleUsage(model=self.settings.model_for(role)) for role in ROLES}
        for line in entries:
            self._add(
                line["role"],
                int(line["calls"]),
                int(line["input_tokens"]),
                int(line["output_tokens"]),
                line.get("provider_model"),
            )

    @staticmethod
    def _line(
        role: str, calls: int, input_tokens: int, output_tokens: int, provider_model: str | None
    ) -> dict[str, Any]:
        return {
            "role": role,
            "calls": calls,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "provider_model": provider_model,
        }

    def _add(
        self, role: Role, calls: int, input_tokens: int, output_tokens: int, provider_model: str | None
    ) -> None:
        entry = self.usage[role]
        entry.calls += calls
        entry.input_tokens += input_tokens
        entry.output_tokens += output_tokens
        if provider_model and provider_model != entry.model.partition(":")[2]:
            entry.provider_model = provider_model
        entry.est_cost_usd = self._cost(entry)

    def record(self, role: Role, input_tokens: int, output_tokens: int, provider_model: str | None) -> None:
        """Add one model call's usage (and write it to the usage log first)."""
        with self._lock:
            if self.log is not None:
                self.log.append(self._line(role, 1, input_tokens, output_tokens, provider_model))
            self._add(role, 1, input_tokens, output_tokens, provider_model)

    def _cost(self, entry: RoleUsage) -> float | None:
        prices = self.settings.prices
        keys = (entry.model, entry.model.partition(":")[2], entry.provider_model)
        price = next((prices[k] for k in keys if k and k in prices), None)
        if price is None:
            return None
        return round((entry.input_tokens * price[0] + entry.output_tokens * price[1]) / 1_000_000, 6)

    def total_tokens(self) -> int:
        with self._lock:
            return sum(u.input_tokens + u.output_tokens for u in self.usage.values())

    def elapsed_s(self) -> float:
        """Active seconds of the session, earlier runs (before a resume) included."""
        return self._elapsed_before_s + time.monotonic() - self._started

    def halt(self, status: Status, reason: str) -> None:
        """Stop the session; the first signal wins."""
        with self._lock:
            if self.stop is None:
                self.stop = StopSignal(status, reason)

    def check_session_budgets(self) -> StopSignal | None:
        """Halt on a spent token or time budget; return the stop signal, if any."""
        tokens = self.total_tokens()
        if tokens >= self.settings.max_tokens:
            self.halt(
                "budget_exhausted", f"token budget spent: {tokens} of {self.settings.max_tokens} tokens"
            )
        elapsed = self.elapsed_s()
        if elapsed >= self.settings.max_seconds:
            self.halt(
                "budget_exhausted", f"time budget spent: {elapsed:.0f} s of {self.settings.max_seconds:.0f} s"
            )
        return self.stop

    def allow_model_call(self, role: Role, calls_this_run: int, cap: int | None) -> bool:
        """Whether ``role`` may call its model now; counts the coder's turn when it may."""
        if self.check_session_budgets() is not None:
            return False
        if role == "coder":
            if self.submitted_sha is not None:
                return False
            with self._lock:
                if self.coder_turns >= self.settings.max_coder_turns:
                    spent = True
                else:
                    spent = False
                    self.coder_turns += 1
            if spent:
                self.halt(
                    "budget_exhausted",
                    f"coder turn budget spent: {self.settings.max_coder_turns} model calls without an accepted submission",
                )
                return False
        return cap is None or calls_this_run < cap

    def usage_dict(self) -> dict[str, dict[str, Any]]:
        """Per role: model, provider_model, calls, tokens and estimated cost (JSON-ready)."""
        with self._lock:
            return {role: entry.model_dump() for role, entry in self.usage.items()}


class UsageCallback(BaseCallbackHandler):
    """Feeds every chat-model call's ``usage_metadata`` into the ledger under one role."""

    def __init__(self, role: Role, ledger: Ledger) -> None:
        super().__init__()
        self.role = role
        self.ledger = ledger

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                if not isinstance(generation, ChatGeneration) or not isinstance(
                    generation.message, AIMessage
                ):
                    continue
                usage: dict[str, Any] = dict(generation.message.usage_metadata or {})
                model = generation.message.response_metadata.get(
                    "model_name"
                ) or generation.message.response_metadata.get("model")
                self.ledger.record(
                    self.role, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), model
                )


class BudgetMiddleware(AgentMiddleware[Any, Any, Any]):
    """Ends the agent loop (before the next model call) when the ledger says so.

    ``cap`` bounds the model calls of one agent invocation (planner attempt, review); the
    coder's session-wide turn budget and the token/time budgets live in the ledger.
    """

    def __init__(
        self, role: Role, ledger: Ledger, cap: int | None = None, done: Callable[[], bool] | None = None
    ) -> None:
        super().__init__()
        self.role = role
        self.ledger = ledger
        self.cap = cap
        self.done = done
        """True when the role's work is finished (the reviewer has decided): no further model call."""

    @property
    def name(self) -> str:
        return f"BudgetMiddleware[{self.role}]"

    @hook_config(can_jump_to=["end"])
    def before_model(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        calls = sum(isinstance(m, AIMessage) for m in state.get("messages", []))
        if self.done is not None and self.done():
            return {"jump_to": "end"}
        if self.ledger.allow_model_call(self.role, calls, self.cap):
            return None
        return {"jump_to": "end"}
