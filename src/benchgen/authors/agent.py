"""The agent author as a candidate source for ``benchgen generate --author agent``.

Each call runs one Planner → Coder → Reviewer session (see :mod:`benchgen.agents`). The
session id derives from the run's RNG stream for that candidate, so re-running the same
command resumes an interrupted session from its checkpoint instead of starting over. An
approved session yields a :class:`Candidate` (its script and the reference solution the
coder got to pass) that then goes through the same trusted check, solvability gate,
render review, dedup and packaging as an offline one; any other ending raises
:class:`AuthorFailure`, which the pipeline archives as a rejection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchgen.agents import AgentOutcome, AgentSettings, run_agent_session, session_exists
from benchgen.agents.capabilities import Capabilities, probe_capabilities
from benchgen.agents.evaluating import Evaluator
from benchgen.agents.tools import Checker
from benchgen.authors import AuthorFailure
from benchgen.authors.offline import Candidate


class AgentAuthor:
    """Runs one agent session per candidate against ``dataset_dir``'s checkpoint store."""

    def __init__(
        self,
        settings: AgentSettings,
        dataset_dir: Path,
        resume_session: str | None = None,
        checker: Checker | None = None,
        capabilities: Capabilities | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.settings = settings
        self.dataset_dir = dataset_dir
        self.resume_session = resume_session
        self.checker = checker
        """The agents' validate/simulate check; None is the real ``check_script`` (tests may memoize it)."""
        self.evaluator = evaluator
        """The agents' evaluate_solution(); None is the real ``evaluate_solution`` (tests may memoize it)."""
        self.capabilities = capabilities
        """What the model servers accept, shared by every session of the run (probed on first use if None)."""

    def session_id(self, rng: np.random.Generator) -> str:
        """A stable id for the candidate whose RNG stream this is."""
        return f"agent-{int(rng.integers(0, 2**62)):016x}"

    def __call__(self, rng: np.random.Generator, theme: str | None, tier: str | None) -> Candidate:
        session_id = self.resume_session or self.session_id(rng)
        self.resume_session = None  # an explicit --resume applies to the first candidate only
        resume = session_exists(self.dataset_dir, session_id, self.settings.checkpoints)
        if self.capabilities is None:
            self.capabilities = probe_capabilities(self.settings)
        outcome = run_agent_session(
            theme,
            tier,
            self.settings,
            self.dataset_dir,
            session_id,
            resume=resume,
            checker=self.checker,
            capabilities=self.capabilities,
            evaluator=self.evaluator,
        )
        if outcome.status != "approved" or not outcome.script:
            raise AuthorFailure(f"agent_{outcome.status}", outcome.reason, outcome.script)
        return Candidate(
            family="agent",
            tier=outcome.tier or tier or "spatial",
            script=outcome.script,
            solution=outcome.solution,
            choices={"session_id": outcome.session_id},
            provenance=provenance(outcome, self.capabilities),
        )


def provenance(outcome: AgentOutcome, capabilities: Capabilities | None = None) -> dict[str, object]:
    """What the manifest records about an agent-made script: session, models, tokens, cost, and
    what the run learned about the model servers (e.g. which refused ``tool_choice``)."""
    recorded: dict[str, object] = {
        "session_id": outcome.session_id,
        "models": {role: usage.get("model") for role, usage in outcome.usage.items()},
        "usage": outcome.usage,
        "review": outcome.review,
        "solution_evaluation": outcome.evaluation,
        "counters": outcome.counters,
    }
    if capabilities is not None:
        recorded["servers"] = capabilities.summary()
    return recorded
