"""Token accounting per role and the budgets that end a session.

One :class:`Ledger` per session run holds the usage the providers reported (through a
LangChain callback on every chat-model call, summarization included), the coder's turn
count, the active wall-clock time and the first stop signal. :class:`BudgetMiddleware`
consults it before every model call and ends the agent's loop when a budget is spent,
the session was stopped, or the coder has submitted.
"""

from __future__ import annotations

import threading
import time
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


class Ledger:
    """Usage, counters, elapsed time and the stop signal of one session run (thread-safe)."""

    def __init__(
        self,
        settings: AgentSettings,
        usage: dict[str, dict[str, Any]] | None = None,
        coder_turns: int = 0,
        elapsed_before_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.usage: dict[str, RoleUsage] = {}
        for role in ROLES:
            saved = (usage or {}).get(role)
            self.usage[role] = (
                RoleUsage.model_validate(saved) if saved else RoleUsage(model=settings.model_for(role))
            )
        self.coder_turns = coder_turns
        self._elapsed_before_s = elapsed_before_s
        self._started = time.monotonic()
        self.stop: StopSignal | None = None
        self.submitted_sha: str | None = None

    def record(self, role: Role, input_tokens: int, output_tokens: int, provider_model: str | None) -> None:
        """Add one model call's usage."""
        with self._lock:
            entry = self.usage[role]
            entry.calls += 1
            entry.input_tokens += input_tokens
            entry.output_tokens += output_tokens
            if provider_model and provider_model != entry.model.partition(":")[2]:
                entry.provider_model = provider_model
            entry.est_cost_usd = self._cost(entry)

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

    def __init__(self, role: Role, ledger: Ledger, cap: int | None = None) -> None:
        super().__init__()
        self.role = role
        self.ledger = ledger
        self.cap = cap

    @property
    def name(self) -> str:
        return f"BudgetMiddleware[{self.role}]"

    @hook_config(can_jump_to=["end"])
    def before_model(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        calls = sum(isinstance(m, AIMessage) for m in state.get("messages", []))
        if self.ledger.allow_model_call(self.role, calls, self.cap):
            return None
        return {"jump_to": "end"}
