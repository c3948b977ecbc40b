"""Settings, outcome and errors of an agent authoring session (the package's boundary types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from benchgen.check import CheckOptions
from benchgen.errors import UsageError

Role = Literal["planner", "coder", "reviewer"]
ROLES: tuple[Role, ...] = ("planner", "coder", "reviewer")
Status = Literal["approved", "rejected", "budget_exhausted", "failed"]


class AgentConfigError(UsageError, ValueError):
    """The agent author cannot start: bad model string, missing package or API key, unknown session."""


class MissingApiKeyError(AgentConfigError):
    """A model's provider needs an API key that no environment variable provides."""


class AgentSettings(BaseModel):
    """Models, budgets and prices of an agent authoring session.

    Models are LangChain ``provider:model`` strings (``anthropic:claude-sonnet-4-5``,
    ``openai:gpt-4.1``, ``google_genai:gemini-2.5-pro``, ``ollama:qwen3:32b``). The planner
    and the coder use ``model``; the reviewer uses ``reviewer_model`` (default: ``model``)
    and must accept images. ``base_url`` points every ``openai:`` and ``ollama:`` model at
    an OpenAI-compatible / Ollama server (no API key is then required).
    """

    model: str
    reviewer_model: str | None = None
    base_url: str | None = None

    max_coder_turns: int = Field(default=60, ge=1)
    """Model calls the coder may make over the whole session (all review rounds)."""
    max_review_rounds: int = Field(default=3, ge=1)
    """Reviews per session; a ``request_changes`` on the last one exhausts the budget."""
    max_plan_attempts: int = Field(default=3, ge=1)
    """Planner runs before a plan that keeps failing the plan check fails the session."""
    max_planner_turns: int = Field(default=20, ge=1)
    """Model calls per planner attempt."""
    max_reviewer_turns: int = Field(default=8, ge=1)
    """Model calls per review (reading files, then the decision)."""
    max_tokens: int = Field(default=3_000_000, ge=1)
    """Input + output tokens of all roles together."""
    max_seconds: float = Field(default=3600.0, gt=0)
    """Active wall-clock time of the session (time between a kill and a resume does not count)."""
    max_identical_failures: int = Field(default=3, ge=2)
    """Stop (``failed``) when this many consecutive *different* versions of script.py fail
    the check with the same code and message: the coder is not making progress."""
    max_nudges: int = Field(default=2, ge=0)
    """Times the coder is told to continue after ending its turn without submitting."""

    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """USD per million (input, output) tokens, keyed by ``provider:model`` or the bare model name."""

    check: CheckOptions = Field(default_factory=CheckOptions)
    """Options of the trusted check behind ``validate()`` and ``simulate()`` (and of the
    evaluation behind ``evaluate_solution()``: geometry, physics, sandbox limits)."""
    solution_seeds: int = Field(default=4, ge=1)
    """Seeds ``evaluate_solution()`` scores the reference solution on, at scale 1 (an
    interactive loop: the dataset's solvability gate later runs every checked seed)."""
    solution_scales: bool = True
    """``evaluate_solution()`` also scores seeds 0 and 1 at scales 0.5 and 2, as the check builds them."""
    request_timeout_s: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    """Retries of a failed model request (rate limits, connection errors)."""
    temperature: float | None = None
    tool_choice: bool = True
    """Ask the reviewer's server to force a tool call (``tool_choice``). A server that refuses it
    is detected (HTTP 400 naming ``tool_choice``) and it is dropped for the rest of the run;
    False never sends it."""
    max_images: int = Field(default=5, ge=1, le=5)
    """Images per reviewer request: 1 = the contact sheet only, up to 5 (plus four key views)."""
    context_tokens: int | None = Field(default=None, ge=2048)
    """Context window of the models (tokens); drives summarisation and trimming. None: the
    model's LangChain profile, else ``DEFAULT_CONTEXT_TOKENS`` (models behind --base-url have no profile)."""
    keep_workspace: bool = False
    """Keep ``DIR/.agent-sessions/ID/`` after the session ends (for debugging)."""
    checkpoints: str | None = None
    """Where sessions are checkpointed: a PostgreSQL URL (``generate --db postgresql://...``) keeps
    them in that server; None (or any other URL) in ``DIR/checkpoints.sqlite`` beside the dataset
    (see :func:`benchgen.checkpoints.checkpoint_target`)."""

    @property
    def reviewer(self) -> str:
        """The reviewer's model string."""
        return self.reviewer_model or self.model

    def model_for(self, role: Role) -> str:
        """The model string a role runs on."""
        return self.reviewer if role == "reviewer" else self.model


class RoleUsage(BaseModel):
    """Token usage of one role, as the provider reported it (LangChain ``usage_metadata``)."""

    model: str
    provider_model: str | None = None
    """The model name the provider reported in its responses, when it differs from ``model``."""
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    est_cost_usd: float | None = None
    """Estimated cost, or None when no price is configured for the model."""


class AgentOutcome(BaseModel):
    """How an agent authoring session ended, with everything it produced.

    Only ``approved`` outcomes are benchmark candidates; ``script``, ``solution`` and
    ``plan`` are the last versions in every case (useful for debugging a failed session).
    """

    session_id: str
    status: Status
    reason: str
    script: str | None = None
    solution: str | None = None
    """The reference ``solution.py`` (for ``approved``: the one evaluate_solution() passed on with the script)."""
    plan: str | None = None
    review: dict[str, Any] | None = None
    """The last reviewer decision (``AgentReview`` as a dict), if any."""
    usage: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per role: model, provider_model, calls, input_tokens, output_tokens, est_cost_usd."""
    journal: str = ""
    theme: str | None = None
    tier: str | None = None
    report: dict[str, Any] | None = None
    """The trusted check report of the last simulated script, if any."""
    evaluation: dict[str, Any] | None = None
    """The evaluation of the submitted solution (verdict, variants, cost against budget), if any."""
    counters: dict[str, int] = Field(default_factory=dict)
    """plan_attempts, coder_turns, review_rounds."""
    elapsed_s: float = 0.0
