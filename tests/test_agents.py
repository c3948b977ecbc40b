"""The agent author end to end, against a scripted OpenAI-compatible HTTP server (tests/stub_llm.py).

No LLM is reachable here: every model call goes over real HTTP to the stub, which plays
a scripted sequence of assistant turns (tool calls in OpenAI's wire format, with usage
counts) and records each request. The trusted check is real (sandbox, build123d,
MuJoCo), and so is the evaluation of the coder's reference solution (benchgen.solving:
sandboxed variants and design(view), trusted judging, rollouts); session-wide memos share
their verdicts between tests so that each distinct script version (and script/solution
pair) runs once.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from benchgen.agents import (
    AgentConfigError,
    AgentOutcome,
    AgentSettings,
    MissingApiKeyError,
    preflight,
    run_agent_session,
)
from benchgen.agents.accounting import Ledger
from benchgen.agents.capabilities import Capabilities, probe_capabilities
from benchgen.agents.graph import SESSIONS_DIR
from benchgen.agents.tools import CheckTools
from benchgen.agents.workspace import Workspace, path_problem, sha256_text
from benchgen.check import CheckOptions, check_script
from benchgen.evaluate import EvaluateCode, EvaluationReport, SeedOutcome, summarize
from benchgen.rendering import contact_sheet
from benchgen.solving import EvaluateOptions, evaluate_solution
from benchgen.verdict import CheckMetrics, CheckReport, RejectCode
from records import scene_record
from stub_llm import PROFILES, Reply, ServerProfile, StubLLM, call, message_text, say

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "benchgen" / "examples"
GOOD = (EXAMPLES / "concave_bin.py").read_text()
BIN_LINE = '            Part("bin", bin_part, material="pla"),\n'
BLOCK_LINE = '            Part("block", f.box(pedestal_x - 20, pedestal_x + 20, -20, 20, 0, 40)),\n'
BAD = GOOD.replace(BIN_LINE, BIN_LINE + BLOCK_LINE)  # a block buried in the launch deck's pedestal
RAISES = "from build123d import Box\n\n\ndef build(seed, scale=1.0):\n    return Box(-1, 2, 3)\n"
V1_MARK = "# v1: first submission\n"
V1 = V1_MARK + GOOD
SOLUTION = (EXAMPLES / "concave_bin_solution.py").read_text()
BIN_LOOKUP = 'view.part("bin")'
BROKEN_SOLUTION = SOLUTION.replace(BIN_LOOKUP, 'view.part("basket")')  # a KeyError inside design()

PLAN = """# Concave bin

## Puzzle
A steel ball rolls off a sloped launch deck and stops against the outside of an open bin;
the solver must carry it over a cable trench and drop it inside the bin.

## Tier
spatial: only static parts.

## Objects
- launch_deck: slab on a pedestal, aluminium, fixed. bin: open box, pla, fixed. ball: steel sphere.

## Randomization
- deck_height: 140..190 mm
- tilt_deg: 4..8 degrees
- bin_x: 130..250 mm
- mirrored: odd seeds mirror x, so the start moves across the whole workspace

## Collision avoidance
Deck and bin live in disjoint x slots with at least 60 mm clearance; the ball starts 2 mm
above the deck along its normal, so no draw makes parts overlap.

## Stability
The ball rolls off and rests against the bin wall: settled and not trivial.
"""
TODO = "- [ ] write script.py\n- [ ] validate\n- [ ] simulate\n- [ ] submit\n"


# -- fixtures ---------------------------------------------------------------------------


class MemoChecker:
    """The real check_script, memoized by (script content, simulate) for the whole test session."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.memo: dict[tuple[str, bool], tuple[CheckReport, Path | None]] = {}
        self.real_runs: list[tuple[str, bool]] = []

    def __call__(self, script: Path, options: CheckOptions, out_dir: Path | None) -> CheckReport:
        key = (sha256_text(script.read_text()), options.simulate)
        if key not in self.memo:
            stored = self.store / f"{key[0][:12]}-{int(key[1])}" if out_dir is not None else None
            self.memo[key] = (check_script(script, options, out_dir=stored), stored)
            self.real_runs.append(key)
        report, stored = self.memo[key]
        if out_dir is not None and stored is not None:
            shutil.copytree(stored, out_dir, dirs_exist_ok=True)
        return report.model_copy(deep=True)


@pytest.fixture(scope="session")
def checker(tmp_path_factory: pytest.TempPathFactory) -> MemoChecker:
    return MemoChecker(tmp_path_factory.mktemp("check-memo"))


class MemoEvaluator:
    """The real evaluate_solution, memoized by (script, solution, options) for the whole test session."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.memo: dict[tuple[str, str, str], EvaluationReport] = {}
        self.real_runs: list[tuple[str, str]] = []

    def stored(self, script: str, solution: str) -> Path:
        return self.store / f"{sha256_text(script)[:12]}-{sha256_text(solution)[:12]}"

    def __call__(
        self, script: Path, solution: Path, options: EvaluateOptions, out_dir: Path | None
    ) -> EvaluationReport:
        texts = (script.read_text(), solution.read_text())
        key = (sha256_text(texts[0]), sha256_text(texts[1]), options.model_dump_json())
        stored = self.stored(*texts)
        if key not in self.memo:
            self.memo[key] = evaluate_solution(script, solution, options, stored)
            self.real_runs.append(key[:2])
        if out_dir is not None:
            shutil.copytree(stored, out_dir, dirs_exist_ok=True)
        return self.memo[key].model_copy(deep=True)


@pytest.fixture(scope="session")
def evaluator(tmp_path_factory: pytest.TempPathFactory) -> MemoEvaluator:
    return MemoEvaluator(tmp_path_factory.mktemp("evaluate-memo"))


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stub() -> Iterator[Callable[..., StubLLM]]:
    servers: list[StubLLM] = []

    def start(replies: list[Reply], profile: ServerProfile | None = None) -> StubLLM:
        server = StubLLM(replies, profile).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def settings_for(server: StubLLM, **overrides: Any) -> AgentSettings:
    # Two seeds at scale 1 keep each real evaluation of a reference solution cheap.
    overrides = {"solution_seeds": 2, "solution_scales": False, **overrides}
    return AgentSettings(model="openai:stub-model", base_url=server.base_url, max_retries=0, **overrides)


def planner_replies() -> list[Reply]:
    return [
        call("planner", "read_file", file_path="/skills/scenario-contract/SKILL.md", limit=1000),
        call("planner", "write_file", file_path="/plan.md", content=PLAN),
        call("planner", "write_file", file_path="/todo.md", content=TODO),
        call("planner", "append_journal", entry="Plan: concave bin, mirrored layout for randomization."),
        say("planner", "Plan and todo written."),
    ]


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [message_text(m) for m in body["messages"] if m.get("role") == "tool"]


def image_parts(body: dict[str, Any]) -> list[str]:
    urls = []
    for message in body["messages"]:
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            urls += [p["image_url"]["url"] for p in message["content"] if p.get("type") == "image_url"]
    return urls


def assert_usage_matches(outcome_usage: dict[str, dict[str, Any]], server: StubLLM) -> None:
    for role, (prompt, completion) in server.usage_by_role().items():
        assert outcome_usage[role]["input_tokens"] == prompt, role
        assert outcome_usage[role]["output_tokens"] == completion, role
        assert outcome_usage[role]["model"] == "openai:stub-model"


# -- end to end ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.e2e
def test_end_to_end_plan_fix_simulate_solve_review_approve(
    stub: Callable[..., StubLLM],
    checker: MemoChecker,
    evaluator: MemoEvaluator,
    tmp_path: Path,
    no_keys: None,
) -> None:
    replies = [
        *planner_replies(),
        call("coder", "read_file", file_path="/plan.md"),
        call("coder", "get_docs_for", name="materials"),
        call("coder", "write_file", file_path="/script.py", content=RAISES),
        call("coder", "validate"),
        call("coder", "write_file", file_path="/script.py", content=BAD),
        call("coder", "validate"),
        call("coder", "edit_file", file_path="/script.py", old_string=BLOCK_LINE, new_string=""),
        call("coder", "append_journal", entry="validate: 'block' overlapped the pedestal; removed it."),
        call("coder", "simulate"),
        call("coder", "submit_for_review"),  # refused: no reference solution yet
        call("coder", "get_docs_for", name="SceneView"),
        call("coder", "write_file", file_path="/solution.py", content=BROKEN_SOLUTION),
        call("coder", "evaluate_solution"),
        call("coder", "submit_for_review"),  # refused: the solution failed
        call("coder", "edit_file", file_path="/solution.py", old_string="basket", new_string="bin"),
        call("coder", "evaluate_solution"),
        call("coder", "submit_for_review"),
        call(
            "reviewer",
            "submit_review",
            decision="approve",
            summary="Deck, trench and bin read clearly; the chute carries the ball into the bin.",
            _prompt_tokens=2500,
        ),
    ]
    server = stub(replies)
    settings = settings_for(server, prices={"openai:stub-model": (3.0, 15.0)})
    outcome = run_agent_session(
        "a ball rolls off a deck into a bin",
        "spatial",
        settings,
        tmp_path,
        checker=checker,
        evaluator=evaluator,
    )

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "approved", outcome.reason
    assert outcome.script == GOOD and outcome.plan == PLAN and outcome.solution == SOLUTION
    assert outcome.review is not None and outcome.review["decision"] == "approve"

    # The coder saw the validate failures as readable feedback, then fixed the script. The traceback
    # names /script.py and library modules, never a host path.
    coder_bodies = server.bodies("coder")
    traceback = tool_messages(coder_bodies[4])[-1]
    assert "FAILED [script_error]" in traceback
    assert 'File "/script.py", line 5, in build' in traceback and 'File "build123d/' in traceback
    after_validate = tool_messages(coder_bodies[6])[-1]
    assert "FAILED [intersection]" in after_validate and "'block'" in after_validate
    after_simulate = tool_messages(coder_bodies[9])[-1]
    assert "PASSED" in after_simulate and "/renders/" in after_simulate
    assert "evaluate_solution()" in after_simulate  # the next step is named
    no_solution = tool_messages(coder_bodies[10])[-1]
    assert no_solution.startswith("Refused") and "/solution.py" in no_solution
    assert (
        "SceneView(" in tool_messages(coder_bodies[11])[-1]
        and "goal_zone" in tool_messages(coder_bodies[11])[-1]
    )

    # The failing solution's verdict reached the coder: code, every variant, the traceback in
    # /solution.py and library names (no host path), a hint; submitting it was refused.
    failed = tool_messages(coder_bodies[13])[-1]
    assert "FAILED [script_error]: 0/2 variants solved" in failed
    assert "- seed 0, scale 1: FAILED [script_error]" in failed and "- seed 1, scale 1: FAILED" in failed
    assert 'File "/solution.py", line' in failed and "in design" in failed
    assert "no part 'basket' (parts: launch_deck, bin)" in failed and 'File "benchgen/solution.py"' in failed
    assert "Hint: design(view) raised" in failed and "Fix /solution.py" in failed
    refused = tool_messages(coder_bodies[14])[-1]
    assert refused.startswith("Refused: evaluate_solution() failed") and "[script_error]" in refused
    passed = tool_messages(coder_bodies[16])[-1]
    assert "PASSED: all 2 variants solved." in passed and "- seed 1, scale 1: solved" in passed
    assert re.search(r"Cost: \$\d+\.\d\d a unit .*budget \$15\.00 .*limit 1200 g", passed), passed
    assert (
        "/evaluations/" in passed
        and "rollout_poster.png" in passed
        and "Next: submit_for_review()." in passed
    )

    sent = json.dumps(server.bodies())
    for host in (
        str(tmp_path),
        sys.prefix,
        sysconfig.get_path("purelib"),
        f"{tempfile.gettempdir()}/benchgen",
        str(Path(__file__).resolve().parents[1]),  # the checkout (benchgen's own source files)
        "/sandbox/",
    ):
        assert host not in sent, host
    assert all(isinstance(c, str) for c in system_contents(server))  # plain system prompts

    # The reviewer got five PNGs: the unsolved contact sheet, the solved one (the same views
    # with the reference design), the rollout's last frame, and two unsolved key views.
    first_review = server.bodies("reviewer")[0]
    urls = image_parts(first_review)
    assert len(urls) == 5
    images = []
    for url in urls:
        assert url.startswith("data:image/png;base64,")
        images.append(base64.b64decode(url.split(",", 1)[1]))
        assert images[-1][:8] == b"\x89PNG\r\n\x1a\n"
    artifacts = evaluator.stored(GOOD, SOLUTION)
    assert images[2] == (artifacts / "rollout_poster.png").read_bytes()
    views = sorted((artifacts / "renders").glob("*.png"), key=lambda p: (int(p.stem[1:3]), p.stem))
    solved_sheet = contact_sheet(views, tmp_path / "solved_sheet.png", columns=8)
    assert _pixels(images[1]) == _pixels(solved_sheet.read_bytes())
    assert _pixels(images[0]) != _pixels(images[1])  # the design is visible in the solved views
    review_text = message_text(first_review["messages"][-1])
    assert "Image 1: UNSOLVED" in review_text and "Image 2: SOLVED" in review_text
    assert "Image 3: SOLVED: the last frame of the rollout" in review_text
    assert "Reference solution (/solution.py)" in review_text and '"passed": true' in review_text

    coder_tools = {t["function"]["name"] for t in coder_bodies[0]["tools"]}
    assert {
        "validate",
        "simulate",
        "evaluate_solution",
        "submit_for_review",
        "get_docs_for",
        "write_file",
        "edit_file",
    } <= coder_tools
    assert not coder_tools & {"task", "execute"}  # no subagents, no shell: scripts run only in the sandbox
    reviewer_tools = {t["function"]["name"] for t in first_review["tools"]}
    assert "submit_review" in reviewer_tools and "write_file" not in reviewer_tools

    # Usage per role is exactly what the server reported; cost follows the configured prices.
    assert_usage_matches(outcome.usage, server)
    coder_usage = outcome.usage["coder"]
    assert coder_usage["calls"] == 17
    assert coder_usage["est_cost_usd"] == pytest.approx(
        (coder_usage["input_tokens"] * 3 + coder_usage["output_tokens"] * 15) / 1e6
    )

    assert outcome.evaluation is not None and outcome.evaluation["passed"]
    assert outcome.evaluation["max_unit_cost"] == 15.0 and 0 < outcome.evaluation["cost_usd"] < 15.0
    assert "submitted script" in outcome.journal and "session ended: approved" in outcome.journal
    assert "evaluate_solution of solution" in outcome.journal and "FAILED [script_error]" in outcome.journal
    assert outcome.report is not None and outcome.report["accepted"]
    assert (tmp_path / "checkpoints.sqlite").is_file()
    assert not (tmp_path / SESSIONS_DIR / outcome.session_id).exists()  # the workspace is ephemeral


def _pixels(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


@pytest.mark.slow
@pytest.mark.e2e
def test_reviewer_requests_changes_then_approves(
    stub: Callable[..., StubLLM],
    checker: MemoChecker,
    evaluator: MemoEvaluator,
    tmp_path: Path,
    no_keys: None,
) -> None:
    fix = "Remove the 'v1' header comment."
    replies = [
        *planner_replies(),
        call("coder", "write_file", file_path="/script.py", content=V1),
        call("coder", "write_file", file_path="/solution.py", content=SOLUTION),
        call("coder", "submit_for_review"),  # refused: never simulated
        call("coder", "simulate"),
        call("coder", "evaluate_solution"),
        call("coder", "submit_for_review"),
        call("reviewer", "read_file", file_path="/script.py"),
        call(
            "reviewer",
            "submit_review",
            decision="request_changes",
            summary="Fine scene.",
            required_fixes=[fix],
        ),
        call("coder", "read_file", file_path="/journal.md"),
        call("coder", "edit_file", file_path="/script.py", old_string=V1_MARK, new_string=""),
        call("coder", "simulate"),
        call("coder", "submit_for_review"),  # refused: the solution was evaluated on the old script
        call("coder", "evaluate_solution"),
        call("coder", "submit_for_review"),
        call("reviewer", "submit_review", decision="approve", summary="Clean."),
    ]
    server = stub(replies)
    outcome = run_agent_session(
        "deck and bin", "spatial", settings_for(server), tmp_path, checker=checker, evaluator=evaluator
    )

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "approved", outcome.reason
    assert outcome.script == GOOD and outcome.solution == SOLUTION  # the solution carried over to round 2
    assert outcome.counters["review_rounds"] == 2 and outcome.counters["coder_rounds"] == 2
    coder_bodies = server.bodies("coder")
    assert "Refused" in tool_messages(coder_bodies[3])[-1]
    round_two = message_text([m for m in coder_bodies[6]["messages"] if m["role"] == "user"][0])
    assert "Round 2" in round_two and fix in round_two
    assert "request_changes" in tool_messages(coder_bodies[7])[-1]  # the journal carries the review
    stale = tool_messages(coder_bodies[10])[-1]
    assert stale.startswith("Refused: evaluate_solution() has not run on the current /script.py")
    assert "PASSED" in tool_messages(coder_bodies[11])[-1]
    assert_usage_matches(outcome.usage, server)


@pytest.mark.e2e  # a stub LLM server on loopback
def test_coder_stopped_by_turn_budget(stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None) -> None:
    replies = [
        *planner_replies(),
        call(
            "coder",
            "write_file",
            file_path="/script.py",
            content="def build(seed, scale=1.0):\n    raise NotImplementedError\n",
        ),
        call("coder", "get_docs_for", name="tiers"),
        call("coder", "read_file", file_path="/utils/examples/concave_bin.py"),
        # no more replies: a fourth coder call would hit the exhausted script
    ]
    server = stub(replies)
    outcome = run_agent_session(
        None, None, settings_for(server, max_coder_turns=3), tmp_path, checker=_never_check
    )

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "budget_exhausted"
    assert "coder turn budget" in outcome.reason
    assert len(server.bodies("coder")) == 3 and server.bodies("reviewer") == []
    assert outcome.counters["coder_turns"] == 3
    assert_usage_matches(outcome.usage, server)


@pytest.mark.e2e  # a stub LLM server on loopback
def test_bad_plan_goes_back_to_planner_then_fails(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    vague = "# Idea\nA ball and some levers. It will be great.\n"
    replies = [
        call("planner", "write_file", file_path="/plan.md", content=vague),
        say("planner", "done"),
        call("planner", "write_file", file_path="/plan.md", content=vague * 2),
        say("planner", "done again"),
    ]
    server = stub(replies)
    settings = settings_for(server, max_plan_attempts=2)
    saver = InMemorySaver()  # any LangGraph checkpointer can replace the SQLite file
    outcome = run_agent_session("levers", None, settings, tmp_path, checker=_never_check, checkpointer=saver)
    assert not (tmp_path / "checkpoints.sqlite").exists() and list(saver.list(None))

    assert outcome.status == "failed" and "no acceptable plan after 2 attempts" in outcome.reason
    second_task = message_text([m for m in server.bodies("planner")[2]["messages"] if m["role"] == "user"][0])
    assert (
        "did not pass the plan check" in second_task
        and "numeric range" in second_task
        and "todo.md" in second_task
    )
    assert server.bodies("coder") == []


# -- kill and resume -------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from benchgen.agents import AgentSettings, run_agent_session
    settings = AgentSettings.model_validate_json(sys.argv[1])
    run_agent_session("deck and bin", "spatial", settings, Path(sys.argv[2]), session_id=sys.argv[3])
    """
)


def _checkpointed_nodes(db: Path, session_id: str) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "select count(*) from checkpoints where thread_id = ?", (session_id,)
        ).fetchone()
    return int(count)


@pytest.mark.slow
@pytest.mark.e2e
def test_killed_session_resumes_from_checkpoint(
    stub: Callable[..., StubLLM],
    checker: MemoChecker,
    evaluator: MemoEvaluator,
    tmp_path: Path,
    no_keys: None,
) -> None:
    hang = Reply(role="coder", content="never delivered", delay_s=300)
    answered = [
        call("coder", "get_docs_for", name="tiers", _prompt_tokens=777, _completion_tokens=11),
        call("coder", "read_file", file_path="/plan.md", _prompt_tokens=888, _completion_tokens=22),
    ]
    server = stub([*planner_replies(), *answered, hang])
    settings = settings_for(server)
    session_id = "killme"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, settings.model_dump_json(), str(tmp_path), session_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # The planner's node finished and was checkpointed; two coder calls were answered in the next node.
        server.wait_for("coder", count=3, timeout_s=180)
    except TimeoutError:
        child.kill()
        pytest.fail(f"child never reached the coder: {child.communicate()[1].decode()[-3000:]}")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    planner_calls = len(server.bodies("planner"))
    assert _checkpointed_nodes(tmp_path / "checkpoints.sqlite", session_id) > 0

    server.add(
        call("coder", "write_file", file_path="/script.py", content=GOOD),
        call("coder", "write_file", file_path="/solution.py", content=SOLUTION),
        call("coder", "simulate"),
        call("coder", "evaluate_solution"),
        call("coder", "submit_for_review"),
        call("reviewer", "submit_review", decision="approve", summary="Good."),
    )
    outcome = run_agent_session(
        None,
        None,
        settings,
        tmp_path,
        session_id=session_id,
        resume=True,
        checker=checker,
        evaluator=evaluator,
    )

    assert outcome.status == "approved", outcome.reason
    assert len(server.bodies("planner")) == planner_calls  # the planner did not run again
    assert outcome.plan == PLAN and outcome.theme == "deck and bin"
    resumed = server.bodies("coder")[3]
    assert "Round 1" in message_text([m for m in resumed["messages"] if m["role"] == "user"][0])
    assert outcome.usage["planner"]["calls"] == planner_calls  # usage survived in the checkpoint
    # ... and so did the tokens of the coder calls answered before the kill (logged per call).
    assert outcome.usage["coder"]["calls"] == len(answered) + 5
    assert outcome.solution == SOLUTION
    assert_usage_matches(outcome.usage, server)

    # Finished sessions resume to their outcome without work; unknown ones fail before work.
    again = run_agent_session(
        None, None, settings, tmp_path, session_id=session_id, resume=True, checker=checker
    )
    assert again.status == "approved" and again.solution == SOLUTION
    assert len(server.requests) == len(server.bodies())
    with pytest.raises(AgentConfigError, match="no checkpoint"):
        run_agent_session(None, None, settings, tmp_path, session_id="nope", resume=True)
    with pytest.raises(AgentConfigError, match="already exists"):
        run_agent_session("x", None, settings, tmp_path, session_id=session_id)


# -- confinement -----------------------------------------------------------------------------


@pytest.mark.e2e  # a stub LLM server on loopback
def test_file_tools_cannot_escape_the_workspace(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    dataset = tmp_path / "dataset"
    outside = tmp_path / "outside" / "evil.txt"
    attempts = [
        ("write_file", {"file_path": "../evil.txt", "content": "x"}),
        ("write_file", {"file_path": "/../../evil.txt", "content": "x"}),
        ("write_file", {"file_path": str(outside), "content": "x"}),
        ("write_file", {"file_path": "/skills/scenario-contract/SKILL.md", "content": "x"}),
        ("edit_file", {"file_path": "/utils/README.md", "old_string": "utils", "new_string": "x"}),
        ("write_file", {"file_path": "/journal.md", "content": "erased"}),
        ("read_file", {"file_path": "../../../etc/hostname"}),
        ("ls", {"path": "/.."}),
    ]
    replies = [*planner_replies()] + [call("coder", name, **args) for name, args in attempts]
    server = stub(replies)
    settings = settings_for(server, max_coder_turns=len(attempts), keep_workspace=True)
    outcome = run_agent_session("x", "spatial", settings, dataset, checker=_never_check)

    assert outcome.status == "budget_exhausted"
    coder_bodies = server.bodies("coder")
    results = [tool_messages(body)[-1] for body in coder_bodies[1:]]
    results.append("")  # the last attempt's result is never sent: the budget ended the loop first
    for (name, args), result in zip(attempts[:-1], results, strict=False):
        assert result.startswith(("Refused", "Error")), (name, args, result)
    assert not outside.exists() and not outside.parent.exists()
    assert not (tmp_path / "evil.txt").exists() and not (dataset / "evil.txt").exists()
    workspace = dataset / SESSIONS_DIR / outcome.session_id / "workspace"
    assert not list(workspace.rglob("evil.txt"))
    assert "erased" not in (workspace / "journal.md").read_text()
    assert (workspace / "skills" / "scenario-contract" / "SKILL.md").read_text().startswith("---")


def test_path_rules() -> None:
    assert path_problem("/script.py", "coder", "write_file") is None
    assert path_problem("script.py", "coder", "edit_file") is None
    assert path_problem("/plan.md", "coder", "write_file") is not None
    assert path_problem("/plan.md", "planner", "write_file") is None
    assert path_problem("/script.py", "reviewer", "write_file") is not None
    assert path_problem("../x", "coder", "read_file") is not None
    assert path_problem("~/x", "coder", "read_file") is not None
    assert path_problem("/skills/a/SKILL.md", "coder", "read_file") is None
    assert path_problem("/renders/x/report.json", "coder", "write_file") is not None


def test_workspace_layout_is_read_only_where_it_must_be(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    skills = sorted(p.parent.name for p in (workspace.root / "skills").glob("*/SKILL.md"))
    assert {"scenario-contract", "build123d-idioms", "stability", "randomization"} <= set(skills)
    assert (workspace.root / "utils" / "examples" / "concave_bin.py").read_text() == GOOD
    mode = (workspace.root / "skills" / "stability" / "SKILL.md").stat().st_mode
    assert not mode & 0o222
    backend = workspace.backend()
    with pytest.raises(ValueError, match="traversal"):
        backend.write("/../escape.txt", "x")
    host_path = tmp_path / "escape.txt"
    backend.write(str(host_path), "x")  # an absolute host path is a virtual path under the root
    assert not host_path.exists() and (workspace.root / host_path.relative_to("/")).is_file()
    Workspace.create(workspace.root)  # refreshing over read-only copies works


# -- repeated identical failures ------------------------------------------------------------


def test_repeated_identical_failure_stops_the_session(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    ledger = Ledger(AgentSettings(model="openai:x"))
    runs: list[Path] = []

    def overlapping(script: Path, options: CheckOptions, out_dir: Path | None) -> CheckReport:
        runs.append(script)
        return CheckReport(
            accepted=False, code=RejectCode.INTERSECTION, message="parts 'a' and 'b' overlap by 8.0 mm³"
        )

    tools = CheckTools(workspace, tmp_path / "checks", ledger, CheckOptions(), overlapping, max_identical=3)
    workspace.write("script.py", "v1")
    assert "FAILED [intersection]" in tools.validate()
    assert "cached" in tools.validate() and len(runs) == 1  # unchanged script: no new run, no new strike
    workspace.write("script.py", "v2")
    tools.validate()
    assert ledger.stop is None
    workspace.write("script.py", "v3")
    assert "SESSION STOPPED" in tools.validate()
    assert ledger.stop is not None and ledger.stop.status == "failed"
    assert "3 consecutive script versions" in ledger.stop.reason
    assert "Refused" in tools.submit_for_review()


def test_evaluate_solution_refuses_caches_and_stops_on_repeated_failures(tmp_path: Path) -> None:
    """The tool's bookkeeping (the verdicts themselves are the real evaluator's, tested end to end)."""
    workspace = Workspace.create(tmp_path / "ws")
    ledger = Ledger(AgentSettings(model="openai:x"))
    runs: list[tuple[str, str]] = []
    budget = {"target_quantity": 100, "max_unit_cost": 2.0, "max_weight_g": 500.0}

    def valid(script: Path, options: CheckOptions, out_dir: Path | None) -> CheckReport:
        scene = scene_record(
            {
                "bounds": {"min": [0, 0, 0], "max": [100, 100, 100]},
                "payload": {"label": "ball", "start": [10, 50, 10]},
                "goal_zone": {"min": [80, 40, 0], "max": [100, 60, 20]},
                "constraints": budget,
            }
        )
        return CheckReport(accepted=True, code=None, message="accepted", metrics=CheckMetrics(scene=scene))

    def misses(
        script: Path, solution: Path, options: EvaluateOptions, out_dir: Path | None
    ) -> EvaluationReport:
        runs.append((script.read_text(), solution.read_text()))
        message = "after 10 s the payload is at (1, 2, 3) mm, not resting inside goal zone 'bin'"
        return summarize(
            [
                SeedOutcome(
                    seed=seed,
                    scale=1.0,
                    success=False,
                    code=EvaluateCode.MISSED_GOAL,
                    message=message,
                    cost_usd=1.5,
                    weight_g=300.0,
                )
                for seed in range(2)
            ]
        )

    tools = CheckTools(
        workspace, tmp_path / "checks", ledger, CheckOptions(), valid, max_identical=3, evaluator=misses
    )
    assert "no /script.py" in tools.evaluate_solution()
    workspace.write("script.py", "v1")
    assert "no /solution.py" in tools.evaluate_solution()
    workspace.write("solution.py", "s1")
    assert tools.evaluate_solution().startswith("Refused: run validate()") and runs == []
    tools.validate()
    text = tools.evaluate_solution()
    assert (
        "FAILED [missed_goal]: 0/2 variants solved" in text
        and "- seed 1, scale 1: FAILED [missed_goal]" in text
    )
    assert "budget $2.00 (75% of it)" in text and "weight 300 g, limit 500 g" in text
    assert "cached" in tools.evaluate_solution() and len(runs) == 1  # unchanged pair: no new run
    workspace.write("solution.py", "s2")
    tools.evaluate_solution()
    assert ledger.stop is None and len(runs) == 2
    workspace.write("solution.py", "s3")
    assert "SESSION STOPPED" in tools.evaluate_solution()
    assert ledger.stop is not None and "3 consecutive solution versions" in ledger.stop.reason


def _never_check(script: Path, options: CheckOptions, out_dir: Path | None) -> CheckReport:
    raise AssertionError("this test must not run the checker")


# -- preflight -----------------------------------------------------------------------------


def test_preflight_missing_key_is_one_clear_line(no_keys: None, tmp_path: Path) -> None:
    with pytest.raises(MissingApiKeyError) as info:
        preflight(AgentSettings(model="openai:gpt-4.1"))
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "\n" not in message
    with pytest.raises(MissingApiKeyError, match="ANTHROPIC_API_KEY"):
        preflight(
            AgentSettings(
                model="openai:gpt-4.1",
                base_url="http://127.0.0.1:9/v1",
                reviewer_model="anthropic:claude-sonnet-4-5",
            )
        )
    preflight(
        AgentSettings(model="openai:local-model", base_url="http://127.0.0.1:9/v1")
    )  # local server: no key needed
    with pytest.raises(AgentConfigError, match="provider:model"):
        preflight(AgentSettings(model="gpt-4.1"))
    with pytest.raises(AgentConfigError, match="unknown provider"):
        preflight(AgentSettings(model="nosuch:model"))
    with pytest.raises(MissingApiKeyError):  # before any work: nothing is created
        run_agent_session("x", None, AgentSettings(model="openai:gpt-4.1"), tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_preflight_passes_with_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each role's key is what decides: the same settings pass with both keys and fail without one."""
    settings = AgentSettings(model="openai:gpt-4.1", reviewer_model="google_genai:gemini-2.5-pro")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("GOOGLE_API_KEY", "g-test")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    preflight(settings)
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(MissingApiKeyError, match="GOOGLE_API_KEY"):
        preflight(settings)
    monkeypatch.setenv("GEMINI_API_KEY", "g-test")  # either of the provider's variables will do
    preflight(settings)


@pytest.mark.e2e  # a stub LLM server on loopback
def test_stub_streams_like_openai(stub: Callable[..., StubLLM]) -> None:
    """The SSE path of the stub (used when a client streams) carries tool calls and usage."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.tools import tool

    from benchgen.agents.models import make_chat_model

    @tool
    def validate() -> str:
        """Validate."""
        return "ok"

    server = stub([call("coder", "validate", _prompt_tokens=11, _completion_tokens=7)])
    model = make_chat_model("openai:stub-model", settings_for(server)).bind_tools([validate])
    chunks = list(model.stream([SystemMessage("Role: coder"), HumanMessage("go")]))
    message: Any = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    assert server.bodies()[0]["stream"] is True
    assert message.tool_calls[0]["name"] == "validate"
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] == 11


@pytest.mark.e2e  # a stub LLM server on loopback
def test_token_budget_stops_before_the_next_call(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    server = stub(planner_replies())
    outcome = run_agent_session(
        "x", None, settings_for(server, max_tokens=200), tmp_path, checker=_never_check
    )
    assert outcome.status == "budget_exhausted" and "token budget" in outcome.reason
    assert len(server.bodies("planner")) == 2  # 150 tokens, then 300 >= 200: no third call
    assert server.bodies("coder") == []


@pytest.mark.e2e  # a stub LLM server on loopback
def test_model_error_fails_the_session_but_keeps_it_resumable(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    server = stub(planner_replies()[:2])  # the third planner request gets an HTTP 400
    outcome = run_agent_session(
        "x", None, settings_for(server), tmp_path, session_id="flaky", checker=_never_check
    )
    assert outcome.status == "failed" and "400" in outcome.reason and "resumable" in outcome.reason
    assert outcome.usage["planner"]["calls"] == 2

    # On resume the interrupted node (the planner) starts over; what it spent before is kept.
    server.add(*planner_replies(), call("coder", "get_docs_for", name="tiers"))
    resumed = run_agent_session(
        None, None, settings_for(server, max_coder_turns=1), tmp_path, session_id="flaky", resume=True
    )
    assert server.errors == ["stub script exhausted (request from role 'planner')"]
    assert resumed.status == "budget_exhausted"
    assert "session resumed" in resumed.journal
    assert resumed.usage["planner"]["calls"] == 2 + len(planner_replies())
    assert_usage_matches(resumed.usage, server)


@pytest.mark.slow
@pytest.mark.e2e
def test_agent_author_lands_a_benchmark_in_the_dataset(
    stub: Callable[..., StubLLM],
    checker: MemoChecker,
    evaluator: MemoEvaluator,
    tmp_path: Path,
    no_keys: None,
) -> None:
    """`generate --author agent`: an approved session goes through the same trusted check, review
    and packaging as offline candidates, with the coder's reference solution on the candidate; the
    manifest names the models and the token counts the server reported."""
    import numpy as np

    from benchgen.authors.agent import AgentAuthor
    from benchgen.authors.offline import Candidate
    from benchgen.dataset import open as open_dataset
    from benchgen.generate import GenerateOptions, Generator

    replies = [
        *planner_replies(),
        call("coder", "write_file", file_path="/script.py", content=GOOD),
        call("coder", "validate"),
        call("coder", "write_file", file_path="/solution.py", content=SOLUTION),
        call("coder", "evaluate_solution"),
        call("coder", "simulate"),
        call("coder", "submit_for_review"),
        call("reviewer", "submit_review", decision="approve", summary="Clear scene."),
    ]
    server = stub(replies, ServerProfile(count_tokens=True))  # measured usage: the README's cost figure
    out = tmp_path / "ds"
    options = GenerateOptions(
        out=out, count=1, seed=0, author="agent", theme="ball into a bin", tier="spatial"
    )
    author = AgentAuthor(settings_for(server), out, checker=checker, evaluator=evaluator)
    candidates: list[Candidate] = []

    def recording(rng: np.random.Generator, theme: str | None, tier: str | None) -> Candidate:
        candidates.append(author(rng, theme, tier))
        return candidates[-1]

    summary = Generator(options, author=recording).run()

    assert summary.accepted == 1, summary
    (candidate,) = candidates
    assert candidate.script == GOOD and candidate.solution == SOLUTION
    (bench,) = list(open_dataset(out))
    assert bench.script_path.read_text() == GOOD
    recorded = bench.manifest.author.model_dump()  # the agent adds its provenance as extra fields
    assert recorded["kind"] == "agent" and recorded["family"] == "agent"
    assert set(recorded["models"].values()) == {"openai:stub-model"}
    assert recorded["solution_evaluation"]["passed"] and recorded["solution_evaluation"]["cost_usd"] > 0
    assert_usage_matches(recorded["usage"], server)


# -- model servers as they really behave (issue 13) --------------------------------------------
#
# The reviewer-side cases start from a checkpoint seeded as if the coder had just submitted,
# with small PNG views in the workspace: the review is what they test, not the check, so no
# sandbox runs. Every case ends in a recorded outcome.

REVIEW_SESSION = "review"


def seed_review(dataset: Path, settings: AgentSettings, session_id: str = REVIEW_SESSION) -> None:
    """Checkpoint a session right after the coder's submission of GOOD with SOLUTION: 24 views of the
    scene and 24 of the solved scene plus a rollout poster in its workspace."""
    from PIL import Image

    from benchgen.agents.graph import SessionRunner
    from benchgen.checkpoints import CHECKPOINT_FILE, open_checkpointer

    sha, solution_sha = sha256_text(GOOD), sha256_text(SOLUTION)
    runner = SessionRunner(settings, dataset.resolve(), session_id, _never_check)
    solved = runner.workspace.evaluation_dir(sha, solution_sha)
    for directory, blue in ((runner.workspace.render_dir(sha), 120), (solved, 240)):
        renders = directory / "renders"
        renders.mkdir(parents=True, exist_ok=True)
        for elevation in (15, 35, 60):
            for azimuth in range(0, 360, 45):
                color = (elevation * 4, azimuth // 2, blue)
                Image.new("RGB", (96, 72), color).save(renders / f"e{elevation:02d}_a{azimuth:03d}.png")
    Image.new("RGB", (96, 72), (0, 200, 0)).save(solved / "rollout_poster.png")
    evaluation = {"passed": True, "code": None, "success_rate": 1.0, "cost_usd": 0.4, "max_unit_cost": 15.0}
    with open_checkpointer(dataset.resolve() / CHECKPOINT_FILE) as saver:
        graph = runner.build_graph(saver)
        values = {
            "session_id": session_id,
            "theme": "deck and bin",
            "tier": "spatial",
            "files": {
                "plan.md": PLAN,
                "todo.md": TODO,
                "script.py": GOOD,
                "solution.py": SOLUTION,
                "journal.md": "",
            },
            "plan_attempts": 1,
            "plan_ok": True,
            "coder_rounds": 1,
            "submitted_sha": sha,
            "submitted_solution_sha": solution_sha,
            "report": {"accepted": True, "code": None, "message": ""},
            "evaluation": evaluation,
        }
        graph.update_state({"configurable": {"thread_id": session_id}}, values, as_node="coder")


def review(
    dataset: Path, settings: AgentSettings, session_id: str = REVIEW_SESSION, **kwargs: Any
) -> AgentOutcome:
    return run_agent_session(
        None, None, settings, dataset, session_id=session_id, resume=True, checker=_never_check, **kwargs
    )


def system_contents(server: StubLLM) -> list[Any]:
    return [m["content"] for b in server.bodies() for m in b["messages"] if m["role"] == "system"]


@pytest.mark.e2e  # a stub LLM server on loopback
def test_reviewer_on_a_vllm_like_server_without_tool_choice_and_one_image(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    decide = call("reviewer", "submit_review", decision="approve", summary="Clear scene.")
    look = call("reviewer", "read_file", file_path="/plan.md")
    server = stub([look, decide, look, decide], PROFILES["vllm"])
    settings = settings_for(server, max_images=1)

    # The probe learns that the server refuses tool_choice; the run never sends it again.
    seed_review(tmp_path, settings)
    outcome = review(tmp_path, settings)
    assert outcome.status == "approved", outcome.reason
    assert len(server.refusals) == 1 and "tool_choice" in server.refusals[0]
    first, second = server.bodies("reviewer")
    assert "tool_choice" not in first and "tool_choice" not in second
    # One image, in the first request of the review only: the unsolved and the solved contact
    # sheets stacked (8 × 3 thumbnails each, under a labelled band), so both scenes are seen.
    assert len(image_parts(first)) == 1 and image_parts(second) == []
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(image_parts(first)[0].split(",", 1)[1]))) as stacked:
        assert stacked.size == (8 * 200, 2 * (3 * 150 + 40))
        top, bottom = stacked.getpixel((100, 40 + 75)), stacked.getpixel((100, 490 + 40 + 75))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[2] == 120 and bottom[2] == 240
    review_text = message_text(next(m for m in first["messages"] if m["role"] == "user"))
    assert "Image 1: top half UNSOLVED" in review_text and "bottom half SOLVED" in review_text
    assert "sent only once" in json.dumps(second["messages"])
    assert all(isinstance(c, str) for c in system_contents(server))

    # Without the probe, the first reviewer request finds out: refused once, retried, remembered.
    seed_review(tmp_path / "b", settings)
    capabilities = Capabilities(settings)
    outcome = review(tmp_path / "b", settings, capabilities=capabilities)
    assert outcome.status == "approved", outcome.reason
    assert len(server.refusals) == 2 and server.errors == []
    refused, retried, later = server.bodies("reviewer")[2:]
    assert refused["tool_choice"] == "required" and "tool_choice" not in retried | later
    assert "refused tool_choice" in outcome.journal
    assert not capabilities.tool_choice("openai:stub-model")


@pytest.mark.e2e  # a stub LLM server on loopback
def test_reviewer_that_never_decides_ends_within_its_budget(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    unjustified = call("reviewer", "submit_review", decision="request_changes", summary="Hmm.")
    look = call("reviewer", "read_file", file_path="/script.py")
    server = stub([unjustified, look, say("reviewer", "I would like to look at the journal too.")])
    settings = settings_for(server, max_reviewer_turns=3)
    seed_review(tmp_path, settings)
    outcome = review(tmp_path, settings)

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "failed" and "no decision in 3 turns" in outcome.reason
    bodies = server.bodies("reviewer")
    assert "required_fixes" in tool_messages(bodies[1])[-1]  # an invalid decision is sent back, not taken
    assert len(image_parts(bodies[0])) == 5 and all(image_parts(b) == [] for b in bodies[1:])
    assert all(b["tool_choice"] == "required" for b in bodies)
    last = bodies[-1]  # the last allowed turn offers only the decision tool, with a reminder
    assert [t["function"]["name"] for t in last["tools"]] == ["submit_review"]
    assert "last turn of the review" in message_text(last["messages"][-1])
    assert "session ended: failed" in outcome.journal


@pytest.mark.e2e  # a stub LLM server on loopback
def test_reviewer_answering_in_text_with_json_still_decides(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    fix = "Raise the trench wall to 30 mm."
    written_call = {
        "name": "submit_review",
        "arguments": {"decision": "request_changes", "summary": "Readable.", "required_fixes": [fix]},
    }
    server = stub(
        [
            say("reviewer", "The scene looks fine."),  # neither a call nor JSON: nudged once
            say("reviewer", "Decision:\n```json\n" + json.dumps(written_call) + "\n```"),
        ]
    )
    settings = settings_for(server, max_review_rounds=1)
    seed_review(tmp_path, settings)
    outcome = review(tmp_path, settings)

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "budget_exhausted" and fix in outcome.reason
    assert outcome.review is not None and outcome.review["required_fixes"] == [fix]
    assert "its JSON decision was accepted" in outcome.journal
    assert "submit_review tool" in message_text(server.bodies("reviewer")[1]["messages"][-1])


@pytest.mark.e2e  # a stub LLM server on loopback
def test_images_rejected_by_the_server_fail_clearly(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    server = stub([], PROFILES["vllm"])
    settings = settings_for(server)  # five images per request, the server takes one
    with pytest.raises(AgentConfigError) as info:
        review(tmp_path, settings)
    assert "rejected 5 image(s)" in str(info.value) and "--max-images 1" in str(info.value)
    assert "\n" not in str(info.value)

    seed_review(tmp_path, settings)  # a server that starts refusing mid-run: the session fails, resumable
    outcome = review(tmp_path, settings, capabilities=Capabilities(settings))
    assert outcome.status == "failed" and "--max-images 1" in outcome.reason and "resumable" in outcome.reason


@pytest.mark.e2e  # a stub LLM server on loopback
def test_capability_check_reports_everything_missing_in_one_line(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    from typer.testing import CliRunner

    from benchgen.cli import app

    for name, expected in (
        ("lm-studio", "answered without calling a tool"),
        ("ollama", "rejected 5 image(s)"),
    ):
        with pytest.raises(AgentConfigError, match=re.escape(expected)):
            probe_capabilities(settings_for(stub([], PROFILES[name])))

    unreachable = AgentSettings(model="openai:m", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(AgentConfigError, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        probe_capabilities(unreachable)

    server = stub([], ServerProfile(tool_calls=False, images=False))
    with pytest.raises(AgentConfigError) as info:
        probe_capabilities(settings_for(server, max_images=1))
    message = str(info.value)
    assert "\n" not in message
    assert "answered without calling a tool" in message and "--enable-auto-tool-choice" in message
    assert "rejected 1 image(s)" in message and "vision model" in message
    assert server.bodies("reviewer") == server.bodies("planner") == []

    result = CliRunner().invoke(
        app,
        ["generate", "--author", "agent", "--model", "openai:stub-model", "--base-url", server.base_url]
        + ["--max-images", "1", "--out", str(tmp_path / "ds"), "--count", "1"],
    )
    assert result.exit_code == 2, result.output
    assert "capability check failed" in result.output
    assert not (tmp_path / "ds" / "checkpoints.sqlite").exists()


@pytest.mark.e2e  # a stub LLM server on loopback
def test_coder_with_malformed_arguments_and_text_only_answers_ends_cleanly(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    written = json.dumps({"name": "validate", "arguments": {}})
    replies = [
        *planner_replies(),
        Reply(
            role="coder", tool_calls=[("write_file", '{"file_path": "/script.py", "content": "def build(')]
        ),
        say("coder", f"I will now validate: {written}"),  # a call written as text, never a tool call
        say("coder", written),
        say("coder", written),
    ]
    server = stub(replies)
    outcome = run_agent_session("x", None, settings_for(server), tmp_path, checker=_never_check)

    assert server.errors == [] and server.remaining == 0
    assert outcome.status == "failed" and "without a successful submit_for_review()" in outcome.reason
    after_malformed = server.bodies("coder")[1]
    assert "not valid JSON" in tool_messages(after_malformed)[-1]
    assert "as tool calls, not text" in message_text(server.bodies("coder")[2]["messages"][-1])
    assert outcome.script is None
    assert_usage_matches(outcome.usage, server)


@pytest.mark.e2e  # a stub LLM server on loopback
def test_coder_on_an_8k_context_server_is_summarised_not_refused(
    stub: Callable[..., StubLLM], tmp_path: Path, no_keys: None
) -> None:
    reads = [
        call("coder", "read_file", file_path="/utils/examples/concave_bin.py", limit=400) for _ in range(6)
    ]
    llama_cpp = dataclasses.replace(PROFILES["llama.cpp"], count_tokens=True)  # -c 8192
    server = stub([*planner_replies(), *reads], llama_cpp)
    settings = settings_for(server, context_tokens=8192, max_coder_turns=len(reads))
    outcome = run_agent_session("x", None, settings, tmp_path, checker=_never_check)

    assert server.errors == [] and server.refusals == []
    assert outcome.status == "budget_exhausted" and "coder turn budget" in outcome.reason
    assert server.bodies("summarizer"), "the coder's history was never summarised"
    assert max(r.usage[0] for r in server.answered()) <= 8192
    assert_usage_matches(outcome.usage, server)

    # Without --context-tokens the default (32k) is too large: the server's overflow answer is
    # recovered from by summarising, and the session still ends with its budget.
    server = stub([*planner_replies(), *reads], llama_cpp)
    settings = settings_for(server, max_coder_turns=len(reads))
    outcome = run_agent_session("x", None, settings, tmp_path / "default", checker=_never_check)
    assert server.errors == [] and server.refusals
    assert all("maximum context length is 8192" in r for r in server.refusals)
    assert outcome.status == "budget_exhausted" and "coder turn budget" in outcome.reason
    assert_usage_matches(outcome.usage, server)


def test_context_window_defaults_and_option() -> None:
    from benchgen.agents.models import DEFAULT_CONTEXT_TOKENS, make_chat_model

    local = AgentSettings(model="openai:any-local-model", base_url="http://127.0.0.1:9/v1")
    assert make_chat_model(local.model, local).profile["max_input_tokens"] == DEFAULT_CONTEXT_TOKENS  # type: ignore[index]
    small = local.model_copy(update={"context_tokens": 8192})
    assert make_chat_model(small.model, small).profile["max_input_tokens"] == 8192  # type: ignore[index]


def test_host_paths_are_mapped_to_workspace_and_library_names(tmp_path: Path) -> None:
    import sysconfig

    from benchgen.agents.hostpaths import HostPaths

    workspace = tmp_path / "ds" / ".agent-sessions" / "s" / "workspace"
    checks = workspace.parent / "checks"
    paths = HostPaths(workspace, [checks])
    library = sysconfig.get_path("purelib")
    text = (
        f'File "{tempfile.gettempdir()}/benchgen-check-8oqz/script.py", line 3, in build\n'
        'File "/sandbox/script.py", line 4, in build\n'
        f'File "{library}/build123d/topology/three_d.py", line 1344, in make_box\n'
        f"cached {checks}/script-0123456789ab.py; plan at {workspace}/plan.md;"
        f" python {sys.prefix}/bin/python\n"
        f"dataset {tmp_path}/ds/index.json, home {Path.home()}/x.txt, /home/someone/notes.txt;"
        " 3 mm/s; /renders/ab/e15.png"
    )
    scrubbed = paths.scrub(text)
    assert 'File "/script.py", line 3' in scrubbed and 'File "/script.py", line 4' in scrubbed
    assert 'File "build123d/topology/three_d.py"' in scrubbed
    assert "cached /script.py; plan at /plan.md; python python/bin/python" in scrubbed
    assert "<host>/index.json" in scrubbed and "<host>/notes.txt" in scrubbed
    assert "3 mm/s; /renders/ab/e15.png" in scrubbed
    for host in (str(tmp_path), library, sys.prefix, tempfile.gettempdir() + "/", "/home/someone"):
        assert host not in scrubbed, host


def test_decision_from_text() -> None:
    from benchgen.agents.reviewing import decision_from_text

    assert decision_from_text('{"decision": "approve", "summary": "ok"}') is not None
    arguments = json.dumps({"decision": "reject", "summary": "s", "reasons": ["r"]})
    written = json.dumps({"name": "submit_review", "arguments": arguments})  # arguments as a JSON string
    decided = decision_from_text(f"text {{not json}} then {written}")
    assert decided is not None and decided.decision == "reject"
    assert decision_from_text('{"decision": "request_changes", "summary": "s"}') is None  # fixes missing
    assert decision_from_text("approve, looks great") is None
