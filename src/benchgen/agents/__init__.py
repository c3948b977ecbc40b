"""The agent author: LLM agents (Planner → Coder → Reviewer on deepagents) that write scenario scripts.

Public API, for ``benchgen generate --author agent``::

    settings = AgentSettings(model="anthropic:claude-sonnet-4-5")
    preflight(settings)                       # raises AgentConfigError before any work (no network)
    capabilities = probe_capabilities(settings)  # one short call per model: tools, images; one-line error
    outcome = run_agent_session(
        "levers that lift a ball onto a shelf", None, settings, Path("dataset"), capabilities=capabilities
    )
    if outcome.status == "approved":
        ...  # outcome.script is a candidate for the trusted pipeline

See :mod:`benchgen.agents.graph` for the graph, budgets and resuming.
"""

from benchgen.agents.capabilities import Capabilities, probe_capabilities
from benchgen.agents.graph import SessionState, run_agent_session, session_exists
from benchgen.agents.models import preflight
from benchgen.agents.reviewing import AgentReview
from benchgen.agents.settings import AgentConfigError, AgentOutcome, AgentSettings, MissingApiKeyError
from benchgen.checkpoints import CHECKPOINT_FILE

__all__ = [
    "CHECKPOINT_FILE",
    "AgentConfigError",
    "AgentOutcome",
    "AgentReview",
    "AgentSettings",
    "Capabilities",
    "MissingApiKeyError",
    "SessionState",
    "preflight",
    "probe_capabilities",
    "run_agent_session",
    "session_exists",
]
