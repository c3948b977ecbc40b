"""The agent author: a LangGraph graph of deepagents agents, Planner → Coder → Reviewer.

::

    START → planner → check_plan ─┬─(plan ok)──→ coder ─(submitted)→ reviewer ─┬─ approve / reject → finish → END
                ↑_____(bad plan)__┘                ↑___(request_changes)_______┘
    any node ─(status set: budget, repeated failure, no plan ...)→ finish

Each role is a ``create_deep_agent`` agent on a filesystem backend rooted at the
session workspace; each graph node runs one agent invocation (the coder's may be nudged
to continue). The coder writes the scenario (``/script.py``) and a reference solution
(``/solution.py``) and submits the pair once simulate() passed on the script and
evaluate_solution() on both; the reviewer sees the scene unsolved and solved. Its innermost middleware, :class:`~benchgen.agents.adapter.ServerAdapter`,
fits every request to what the model's server accepts (plain system prompt, images once,
``tool_choice`` only where supported) and keeps host paths out of tool results. The outer graph's state (:class:`SessionState`) holds a snapshot of the
workspace's text files, counters and usage, and a checkpointer
(``DIR/checkpoints.sqlite``, or PostgreSQL with ``--db``: :mod:`benchgen.checkpoints`) saves it after every node, so a killed session resumes at
the node that was running, with the workspace restored from the last checkpoint. Inner
agent steps are not checkpointed (``checkpointer=False``): a node that was interrupted
runs again from its start; the tokens its answered calls used are kept (the usage log,
:class:`~benchgen.agents.accounting.UsageLog`, is written per call).
"""

from __future__ import annotations

import logging
import uuid
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypedDict

from deepagents import create_deep_agent
from deepagents.middleware.filesystem import FilesystemMiddleware, FsToolName
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from benchgen.agents import prompts
from benchgen.agents.accounting import BudgetMiddleware, Ledger, UsageCallback, UsageLog
from benchgen.agents.adapter import ServerAdapter
from benchgen.agents.capabilities import Capabilities, probe_capabilities
from benchgen.agents.evaluating import Evaluator, default_evaluator
from benchgen.agents.hostpaths import HostPaths
from benchgen.agents.models import make_chat_model, preflight
from benchgen.agents.plan import plan_problems
from benchgen.agents.reviewing import DECISION_TOOL, AgentReview, DecisionBox, review_images, review_message
from benchgen.agents.settings import AgentConfigError, AgentOutcome, AgentSettings, Role, Status
from benchgen.agents.tools import (
    Checker,
    CheckTools,
    default_checker,
    docs_tool,
    journal_tool,
    report_summary,
)
from benchgen.agents.workspace import (
    WRITABLE,
    Workspace,
    WorkspaceGuard,
    permissions_for,
    remove_tree,
    sha256_text,
)
from benchgen.checkpoints import checkpoint_target, has_thread, open_checkpointer
from benchgen.solving import BenchmarkError, EvaluateOptions

logger = logging.getLogger(__name__)

SESSIONS_DIR = ".agent-sessions"
USAGE_LOG = "usage.jsonl"
SYSTEM_PROMPTS: dict[Role, str] = {
    "planner": prompts.PLANNER,
    "coder": prompts.CODER,
    "reviewer": prompts.REVIEWER,
}


class SessionState(TypedDict, total=False):
    """What the checkpointer saves after every node (plain JSON-able values only)."""

    session_id: str
    theme: str | None
    tier: str | None
    files: dict[str, str]
    """Snapshot of plan.md, todo.md, journal.md, script.py and solution.py."""
    plan_attempts: int
    plan_ok: bool
    plan_feedback: str | None
    coder_rounds: int
    coder_turns: int
    review_rounds: int
    review_fixes: list[str]
    submitted_sha: str | None
    submitted_solution_sha: str | None
    report: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    """The submitted solution's evaluation (see :func:`benchgen.agents.evaluating.evaluation_summary`)."""
    review: dict[str, Any] | None
    usage: dict[str, dict[str, Any]]
    elapsed_s: float
    status: Status | None
    reason: str | None


class _NoSubagents(AgentMiddleware[Any, Any, Any]):
    """Takes the ``SubAgentMiddleware`` slot so no ``task`` tool exists: each role works alone,
    and every model call stays under the role's budget and accounting."""

    @property
    def name(self) -> str:
        return "SubAgentMiddleware"


def new_session_id() -> str:
    """A short random session id."""
    return uuid.uuid4().hex[:12]


class SessionRunner:
    """One run of one session: workspace, ledger, agents and the graph's node functions."""

    def __init__(
        self,
        settings: AgentSettings,
        dataset_dir: Path,
        session_id: str,
        checker: Checker,
        capabilities: Capabilities | None = None,
        evaluator: Evaluator = default_evaluator,
    ) -> None:
        self.settings = settings
        self.session_id = session_id
        self.session_dir = dataset_dir / SESSIONS_DIR / session_id
        self.workspace = Workspace.create(self.session_dir / "workspace")
        self.checker = checker
        self.evaluator = evaluator
        self.capabilities = capabilities or Capabilities(settings)
        self.host_paths = HostPaths(self.workspace.root, [self.session_dir / "checks"])
        self.usage_log = UsageLog(self.session_dir / USAGE_LOG)
        self.ledger = Ledger(settings)
        self.decision = DecisionBox()
        self.tools: CheckTools | None = None
        self.agents: dict[Role, Runnable[Any, Any]] = {}
        self.resumed = False

    # -- setup ----------------------------------------------------------------

    def start(self, saved: SessionState) -> None:
        """Ledger from the saved state (turns, active time) and the usage log, then the agents."""
        if not saved:
            self.usage_log.clear()  # a session id that never reached its first checkpoint starts afresh
        self.ledger = Ledger(
            self.settings,
            usage=saved.get("usage"),
            coder_turns=saved.get("coder_turns", 0),
            elapsed_before_s=saved.get("elapsed_s", 0.0),
            log=self.usage_log,
        )
        self.tools = CheckTools(
            self.workspace,
            self.session_dir / "checks",
            self.ledger,
            self.settings.check,
            self.checker,
            self.settings.max_identical_failures,
            evaluator=self.evaluator,
            evaluate_options=EvaluateOptions(
                seeds=self.settings.solution_seeds,
                scales=self.settings.solution_scales,
                check=self.settings.check,
                timeout_s=self.settings.check.timeout_s,
                memory_mb=self.settings.check.memory_mb,
            ),
        )
        models = {
            spec: make_chat_model(spec, self.settings)
            for spec in {self.settings.model, self.settings.reviewer}
        }
        caps: dict[Role, int | None] = {
            "planner": self.settings.max_planner_turns,
            "coder": None,
            "reviewer": self.settings.max_reviewer_turns,
        }
        for role in ("planner", "coder", "reviewer"):
            self.agents[role] = self._agent(role, models[self.settings.model_for(role)], caps[role])

    def role_tools(self, role: Role) -> list[BaseTool]:
        """The tools a role gets besides the file tools (one place to add new ones)."""
        assert self.tools is not None
        tools: dict[Role, list[BaseTool]] = {
            "planner": [docs_tool()],
            "coder": [*self.tools.tools(), docs_tool()],
            "reviewer": [self.decision.tool()],
        }
        return [*tools[role], journal_tool(self.workspace, role)]

    def _agent(self, role: Role, model: Any, cap: int | None) -> Runnable[Any, Any]:
        backend = self.workspace.backend()
        fs_tools: list[FsToolName] = ["ls", "read_file", "glob", "grep"]
        if WRITABLE[role]:
            fs_tools += ["write_file", "edit_file"]
        spec = self.settings.model_for(role)
        adapter = ServerAdapter(
            role,
            spec,
            self.capabilities,
            self.host_paths,
            # Only the reviewer's model was checked for image input (and only it needs images).
            max_images=self.settings.max_images if spec == self.settings.reviewer else 0,
            decision_tool=DECISION_TOOL if role == "reviewer" else None,
            turn_cap=cap if role == "reviewer" else None,
            on_event=self._journal,
        )
        done = (lambda: self.decision.decision is not None) if role == "reviewer" else None
        return create_deep_agent(
            model,
            tools=self.role_tools(role),
            system_prompt=SYSTEM_PROMPTS[role],
            backend=backend,
            permissions=permissions_for(role),
            skills=["/skills/"],
            middleware=[
                FilesystemMiddleware(backend=backend, tools=fs_tools),
                _NoSubagents(),
                WorkspaceGuard(role),
                BudgetMiddleware(role, self.ledger, cap, done),
                adapter,
            ],
            checkpointer=False,
            name=f"benchgen-{role}",
        )

    def build_graph(self, checkpointer: BaseCheckpointSaver[Any]) -> Any:
        """The outer graph, compiled with the checkpointer."""
        graph = StateGraph(SessionState)
        graph.add_node("planner", self.planner)
        graph.add_node("check_plan", self.check_plan)
        graph.add_node("coder", self.coder)
        graph.add_node("reviewer", self.reviewer)
        graph.add_node("finish", self.finish)
        graph.add_edge(START, "planner")
        graph.add_conditional_edges("planner", self._after_planner, ["check_plan", "finish"])
        graph.add_conditional_edges("check_plan", self._after_plan_check, ["planner", "coder", "finish"])
        graph.add_conditional_edges("coder", self._after_coder, ["reviewer", "finish"])
        graph.add_conditional_edges("reviewer", self._after_review, ["coder", "finish"])
        graph.add_edge("finish", END)
        return graph.compile(checkpointer=checkpointer)

    # -- helpers --------------------------------------------------------------

    def _begin(self, state: SessionState) -> None:
        self.workspace.restore(state.get("files", {}))
        if self.resumed:
            self.resumed = False
            self._journal("session resumed from its last checkpoint; the interrupted step starts over")

    def spent(self) -> SessionState:
        """Usage, coder turns and active time so far."""
        return {
            "usage": self.ledger.usage_dict(),
            "coder_turns": self.ledger.coder_turns,
            "elapsed_s": round(self.ledger.elapsed_s(), 3),
        }

    def _end(self, update: dict[str, Any]) -> dict[str, Any]:
        update |= {"files": self.workspace.snapshot(), **self.spent()}
        if self.ledger.stop is not None and not update.get("status"):
            update["status"], update["reason"] = self.ledger.stop
        return update

    def _invoke(self, role: Role, messages: list[AnyMessage]) -> dict[str, Any]:
        config: RunnableConfig = {
            "callbacks": [UsageCallback(role, self.ledger)],
            "run_name": f"benchgen-{role}",
            # The budgets bound the loop; without this the outer graph's small limit would be inherited.
            "recursion_limit": 10_000,
        }
        # Inner agents keep no checkpoints; "exit" stops them inheriting the outer graph's "sync" durability,
        # which LangGraph would otherwise try to honour without a checkpointer.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`durability` has no effect", category=UserWarning)
            result: dict[str, Any] = self.agents[role].invoke(
                {"messages": messages}, config, durability="exit"
            )
        return result

    def _journal(self, entry: str) -> None:
        self.workspace.append_journal("orchestrator", entry)

    def _stopped(self, state: SessionState) -> bool:
        return bool(state.get("status")) or self.ledger.check_session_budgets() is not None

    # -- nodes ----------------------------------------------------------------

    def planner(self, state: SessionState) -> dict[str, Any]:
        """Run the planner once: it writes plan.md and todo.md."""
        self._begin(state)
        attempt = state.get("plan_attempts", 0) + 1
        self._journal(f"planner attempt {attempt} of {self.settings.max_plan_attempts}")
        task = prompts.planner_task(
            state.get("theme"), state.get("tier"), state.get("plan_feedback"), self.settings.check
        )
        self._invoke("planner", [HumanMessage(task)])
        return self._end({"plan_attempts": attempt})

    def check_plan(self, state: SessionState) -> dict[str, Any]:
        """Gate the plan: files exist, parameters have ranges, collisions are addressed."""
        self._begin(state)
        problems = plan_problems(self.workspace.read("plan.md"), self.workspace.read("todo.md"))
        if not problems:
            self._journal("plan check passed")
            return self._end({"plan_ok": True, "plan_feedback": None})
        feedback = "\n".join(f"- {p}" for p in problems)
        self._journal(f"plan check failed:\n{feedback}")
        update: dict[str, Any] = {"plan_ok": False, "plan_feedback": feedback}
        if state.get("plan_attempts", 0) >= self.settings.max_plan_attempts:
            update |= {
                "status": "failed",
                "reason": f"no acceptable plan after {self.settings.max_plan_attempts} attempts: {problems[0]}",
            }
        return self._end(update)

    def coder(self, state: SessionState) -> dict[str, Any]:
        """Run the coder until it submits a script whose simulate() passed, or a budget stops it."""
        self._begin(state)
        assert self.tools is not None
        round_ = state.get("coder_rounds", 0) + 1
        self.ledger.submitted_sha = self.ledger.submitted_solution_sha = None
        self._journal(f"coder round {round_}" + (" (after review)" if state.get("review_fixes") else ""))
        task = prompts.coder_task(
            state.get("theme"), state.get("tier"), round_, state.get("review_fixes"), self.settings.check
        )
        messages: list[AnyMessage] = [HumanMessage(task)]
        nudges = 0
        while True:
            result = self._invoke("coder", messages)
            if self.ledger.submitted_sha is not None or self.ledger.stop is not None:
                break
            if nudges >= self.settings.max_nudges:
                self.ledger.halt(
                    "failed",
                    f"the coder ended its turn {nudges + 1} times without a successful submit_for_review()",
                )
                break
            nudges += 1
            messages = [*result["messages"], HumanMessage(prompts.CODER_NUDGE)]
        sha, solution_sha = self.ledger.submitted_sha, self.ledger.submitted_solution_sha
        update: dict[str, Any] = {
            "coder_rounds": round_,
            "submitted_sha": sha,
            "submitted_solution_sha": solution_sha,
        }
        if sha is not None:
            report = self.tools.cached(sha, "simulate")
            update["report"] = report_summary(report) if report is not None else None
            if solution_sha is not None:
                update["evaluation"] = self.tools.evaluation_state(sha, solution_sha)
        return self._end(update)

    def reviewer(self, state: SessionState) -> dict[str, Any]:
        """Show the reviewer the renders; record its structured decision."""
        self._begin(state)
        round_ = state.get("review_rounds", 0) + 1
        sha = state.get("submitted_sha")
        update: dict[str, Any] = {"review_rounds": round_}
        render_dir = self._ensure_renders(sha, state) if sha else None
        solution_sha = state.get("submitted_solution_sha")
        solved_dir = (
            self._ensure_evaluation(sha, solution_sha, state) if sha and render_dir and solution_sha else None
        )
        if render_dir is None or self.ledger.stop is not None:
            return self._end(update)
        images = review_images(render_dir, self.settings.max_images, solved_dir)
        message = review_message(
            state.get("theme"),
            state.get("tier"),
            self.workspace.read("plan.md") or "",
            state.get("report") or {},
            images,
            round_,
            scrub=self.host_paths.scrub,
            evaluation=state.get("evaluation"),
        )
        self.decision.clear()
        result = self._invoke("reviewer", [message])
        decision = self._decision(result)
        turns = sum(isinstance(m, AIMessage) for m in result["messages"])
        if decision is None and self.ledger.stop is None and turns < self.settings.max_reviewer_turns:
            result = self._invoke("reviewer", [*result["messages"], HumanMessage(prompts.REVIEWER_NUDGE)])
            decision = self._decision(result)
        if decision is None:
            if self.ledger.stop is None:
                turns = sum(isinstance(m, AIMessage) for m in result["messages"])
                update |= {
                    "status": "failed",
                    "reason": f"the reviewer gave no decision in {turns} turns "
                    f"(no {DECISION_TOOL} call, no JSON decision in its answers)",
                }
            return self._end(update)
        update["review"] = decision.model_dump()
        self._journal(_review_entry(decision, round_))
        if decision.decision == "approve":
            update |= {"status": "approved", "reason": f"approved by the reviewer: {decision.summary}"}
        elif decision.decision == "reject":
            update |= {
                "status": "rejected",
                "reason": "rejected by the reviewer: " + "; ".join(decision.reasons),
            }
        elif round_ >= self.settings.max_review_rounds:
            update |= {
                "status": "budget_exhausted",
                "reason": f"review rounds spent ({round_}); last requested fixes: "
                + "; ".join(decision.required_fixes),
            }
        else:
            update |= {
                "review_fixes": decision.required_fixes,
                "submitted_sha": None,
                "submitted_solution_sha": None,
            }
        return self._end(update)

    def _decision(self, result: dict[str, Any]) -> AgentReview | None:
        """The decision the reviewer gave: its submit_review call, else JSON in its last text answer."""
        if self.decision.decision is not None:
            return self.decision.decision
        last = next((m for m in reversed(result["messages"]) if isinstance(m, AIMessage)), None)
        if last is not None and not last.tool_calls and self.decision.take_from_text(last.text):
            self._journal(
                f"the reviewer answered in text; its JSON decision was accepted (no {DECISION_TOOL} call)"
            )
            return self.decision.decision
        return None

    def finish(self, state: SessionState) -> dict[str, Any]:
        """Record the final status in the journal."""
        self._begin(state)
        status, reason = state.get("status"), state.get("reason")
        if not status:
            status, reason = self.ledger.stop or ("failed", "the session ended without a decision")
        self._journal(f"session ended: {status}: {reason}")
        return self._end({"status": status, "reason": reason})

    def _ensure_renders(self, sha: str, state: SessionState) -> Path | None:
        """The submitted version's renders; re-simulated if the workspace lost them (resume)."""
        assert self.tools is not None
        render_dir = self.workspace.render_dir(sha)
        if any((render_dir / "renders").glob("*.png")):
            return render_dir
        text = state.get("files", {}).get("script.py")
        if text is None or sha256_text(text) != sha:
            self.ledger.halt("failed", "the submitted script is missing from the checkpoint")
            return None
        report = self.tools.run_check(text, sha, "simulate")
        if not report.accepted:
            self.ledger.halt(
                "failed", f"re-simulating the submitted script failed: [{report.code}] {report.message[:300]}"
            )
            return None
        return render_dir

    def _ensure_evaluation(self, sha: str, solution_sha: str, state: SessionState) -> Path | None:
        """The submitted solution's evaluation artifacts; re-evaluated if the workspace lost them (resume)."""
        assert self.tools is not None
        solved_dir = self.workspace.evaluation_dir(sha, solution_sha)
        if any((solved_dir / "renders").glob("*.png")):
            return solved_dir
        files = state.get("files", {})
        script, solution = files.get("script.py"), files.get("solution.py")
        if script is None or solution is None or sha256_text(solution) != solution_sha:
            self.ledger.halt("failed", "the submitted solution is missing from the checkpoint")
            return None
        try:
            report = self.tools.run_evaluation(script, sha, solution, solution_sha)
        except BenchmarkError as exc:
            self.ledger.halt("failed", f"re-evaluating the submitted solution failed: {str(exc)[:300]}")
            return None
        if not report.passed:
            self.ledger.halt(
                "failed",
                f"re-evaluating the submitted solution failed: [{report.code}] {report.message[:300]}",
            )
            return None
        return solved_dir

    # -- routing --------------------------------------------------------------

    def _after_planner(self, state: SessionState) -> str:
        return "finish" if self._stopped(state) else "check_plan"

    def _after_plan_check(self, state: SessionState) -> str:
        if self._stopped(state):
            return "finish"
        return "coder" if state.get("plan_ok") else "planner"

    def _after_coder(self, state: SessionState) -> str:
        return "reviewer" if not self._stopped(state) and state.get("submitted_sha") else "finish"

    def _after_review(self, state: SessionState) -> str:
        return "finish" if self._stopped(state) else "coder"

    # -- results --------------------------------------------------------------

    def outcome(self, state: SessionState) -> AgentOutcome:
        """The session's outcome from a (final or interrupted) state."""
        files = state.get("files", {})
        report = state.get("report")
        scene_tier = (report or {}).get("scene", {}).get("tier") if report else None
        return AgentOutcome(
            session_id=self.session_id,
            status=state.get("status") or "failed",
            reason=state.get("reason") or "the session ended without a decision",
            script=files.get("script.py"),
            solution=files.get("solution.py"),
            plan=files.get("plan.md"),
            review=state.get("review"),
            usage=state.get("usage") or self.ledger.usage_dict(),
            journal=files.get("journal.md", ""),
            theme=state.get("theme"),
            tier=state.get("tier") or scene_tier,
            report=report,
            evaluation=state.get("evaluation"),
            counters={
                "plan_attempts": state.get("plan_attempts", 0),
                "coder_rounds": state.get("coder_rounds", 0),
                "coder_turns": state.get("coder_turns", 0),
                "review_rounds": state.get("review_rounds", 0),
            },
            elapsed_s=state.get("elapsed_s", 0.0),
        )

    def cleanup(self) -> None:
        """Remove the session's workspace and check scratch (unless asked to keep them)."""
        if not self.settings.keep_workspace:
            remove_tree(self.session_dir)


def _review_entry(decision: AgentReview, round_: int) -> str:
    lines = [f"review {round_}: {decision.decision}: {decision.summary}"]
    lines += [f"- fix: {fix}" for fix in decision.required_fixes]
    lines += [f"- reason: {reason}" for reason in decision.reasons]
    return "\n".join(lines)


def session_exists(dataset_dir: Path, session_id: str, checkpoints: str | None = None) -> bool:
    """Whether a checkpoint of this session exists (so it can be resumed): in ``checkpoints``
    (``AgentSettings.checkpoints``, a PostgreSQL URL) or else ``dataset_dir/checkpoints.sqlite``."""
    return has_thread(checkpoint_target(dataset_dir, checkpoints), session_id)


def run_agent_session(
    theme: str | None,
    tier: str | None,
    settings: AgentSettings,
    dataset_dir: Path,
    session_id: str | None = None,
    resume: bool = False,
    *,
    checker: Checker | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    capabilities: Capabilities | None = None,
    evaluator: Evaluator | None = None,
) -> AgentOutcome:
    """Run (or resume) one Planner → Coder → Reviewer session and return how it ended.

    Checkpoints go to ``dataset_dir/checkpoints.sqlite``, or the PostgreSQL server of
    ``settings.checkpoints`` (see :func:`benchgen.checkpoints.checkpoint_target`), under
    ``session_id`` (a new id when None); the workspace lives in ``dataset_dir/.agent-sessions/<id>/`` until the
    session ends. ``resume=True`` continues a session from its last checkpoint (theme
    and tier then come from the checkpoint). A model or transport error ends the call
    with status ``failed`` and leaves the checkpoint, so the session can be resumed.
    ``checker`` replaces the trusted check (tests memoize it); default: ``check_script``.
    ``evaluator`` likewise replaces the solution's evaluation; default: ``benchgen.solving.evaluate_solution``.
    ``checkpointer`` replaces that checkpointer (tests pass an in-memory one); the caller owns it.
    ``capabilities`` are the run's (from :func:`~benchgen.agents.capabilities.probe_capabilities`);
    when None, the models are probed before any work (one short call each).

    Raises :class:`AgentConfigError` (or :class:`MissingApiKeyError`) before any work
    when the configuration is unusable (the capability probe included), the session to
    resume does not exist, or a new session would overwrite an existing one.
    """
    preflight(settings)
    if resume and not session_id:
        raise AgentConfigError("resuming needs the session id")
    if capabilities is None:
        capabilities = probe_capabilities(settings)
    session_id = session_id or new_session_id()
    dataset_dir = dataset_dir.resolve()
    opened = (
        nullcontext(checkpointer)
        if checkpointer is not None
        else open_checkpointer(checkpoint_target(dataset_dir, settings.checkpoints))
    )
    with opened as saver:
        runner = SessionRunner(
            settings,
            dataset_dir,
            session_id,
            checker or default_checker,
            capabilities,
            evaluator or default_evaluator,
        )
        graph = runner.build_graph(saver)
        config: RunnableConfig = {"configurable": {"thread_id": session_id}, "recursion_limit": 200}
        snapshot = graph.get_state(config)
        saved = SessionState(**(snapshot.values or {}))
        if resume and not saved:
            raise AgentConfigError(f"no checkpoint for session {session_id!r} in {dataset_dir}")
        if not resume and saved:
            raise AgentConfigError(
                f"session {session_id!r} already exists in {dataset_dir}; resume it instead"
            )
        if resume and not snapshot.next:
            return runner.outcome(saved)
        runner.start(saved)
        runner.resumed = resume
        graph_input: SessionState | None = (
            None if resume else {"session_id": session_id, "theme": theme, "tier": tier}
        )
        try:
            final: SessionState = graph.invoke(graph_input, config, durability="sync")
        except Exception as exc:  # a model/transport error: report it, keep the checkpoint for --resume
            logger.exception("agent session %s stopped by an error", session_id)
            spent = runner.spent()
            # Record what the failed step spent, so budgets and costs stay true after --resume;
            # the step itself is not marked done and runs again on resume.
            try:
                graph.update_state(config, spent)
            except Exception:  # never hide the original error behind a bookkeeping one
                logger.warning("could not record the usage of session %s in its checkpoint", session_id)
            state = SessionState(**(graph.get_state(config).values or {}))
            state |= {
                "status": "failed",
                "reason": f"{type(exc).__name__}: {str(exc).strip()[:500]} (resumable: session {session_id})",
            }
            return runner.outcome(state)
        outcome = runner.outcome(final)
    runner.cleanup()
    return outcome
