"""``benchgen generate``: author candidates, check and review them, publish the accepted ones.

Flow (one RNG stream per candidate, derived from ``--seed`` and the candidate index):

    author → candidate script → [worker: sandboxed check + render review] →
    in candidate order: rejection archive | near-duplicate | publish (manifest last)

Workers run checks in parallel, but results are committed strictly in candidate order
and generation stops at exactly the N-th accepted candidate, so the same ``--seed`` and
options always give the same benchmarks whatever the number of workers. Re-running on
the same output resumes: candidates already accepted or archived are not checked again.

Workers are a local process pool or Ray tasks (:mod:`benchgen.executors`); the output is
a directory or a remote URL (:mod:`benchgen.publishing`); neither changes the results.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from benchgen import __version__, storage
from benchgen.authors import AuthorFailure
from benchgen.authors.offline import Candidate, write_candidate
from benchgen.check import CheckOptions, check_script
from benchgen.dataset import REJECTED_DIR, Manifest, Rejection, content_hash, sha256_bytes
from benchgen.difficulty import score
from benchgen.executors import Executor, ExecutorKind, make_executor
from benchgen.publishing import Publisher, open_writer
from benchgen.review import ReviewDecision, ReviewSettings, contact_sheet, review_scene
from benchgen.similarity import DEFAULT_TOLERANCE, Signature, near_duplicate, signature
from benchgen.verdict import CheckReport

AuthorKind = Literal["offline", "agent"]
AuthorFn = Callable[[np.random.Generator, str | None, str | None], Candidate]
"""An author: (rng, theme, tier) → candidate script. The offline author is the default."""


class GenerateOptions(BaseModel):
    """Options of one ``benchgen generate`` run."""

    out: Path | str = Path("dataset")
    """Dataset directory, or an fsspec URL such as ``s3://bucket/prefix`` (see :mod:`benchgen.storage`)."""
    count: int = Field(default=5, ge=1)
    seed: int = 0
    theme: str | None = None
    tier: Literal["spatial", "kinematic", "mechanism"] | None = None
    workers: int = Field(default=1, ge=1)
    author: AuthorKind = "offline"
    budget_factor: float = Field(default=5.0, gt=0)
    """Stop after ``budget_factor × count`` candidates even if fewer were accepted."""
    dedup_tolerance: float = DEFAULT_TOLERANCE
    check: CheckOptions = Field(default_factory=CheckOptions)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    db_url: str | None = None
    """SQLAlchemy URL of the metadata database (``postgresql://...`` for a server); default
    ``sqlite:///OUT/benchgen.db``, or SQLite in the work directory for a remote ``out``."""
    executor: ExecutorKind = "process"
    """Where checks run: ``process`` (a local pool of ``workers``) or ``ray``."""
    ray_address: str | None = None
    """Ray cluster to join (``ray://host:10001``, ``auto``); none starts a local Ray instance."""
    work_dir: Path | None = None
    """Local work directory of a remote ``out`` (default: under the cache directory, keyed by the URL)."""

    @field_validator("out", mode="before")
    @classmethod
    def _location(cls, value: object) -> object:
        """A URL stays a string; anything else is a local path."""
        if isinstance(value, str) and not storage.is_remote(value):
            return Path(value)
        return value

    @property
    def budget(self) -> int:
        """The maximum number of candidates to try."""
        return max(self.count, int(round(self.budget_factor * self.count)))


class Progress(BaseModel):
    """A snapshot of a run, for progress displays."""

    accepted: int = 0
    target: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    in_flight: int = 0
    candidates: int = 0
    resumed: int = 0
    elapsed_s: float = 0.0
    last: str = ""


class GenerateSummary(BaseModel):
    """The outcome of a run."""

    accepted: int
    target: int
    candidates: int
    resumed: int
    rejected: dict[str, int]
    stopped_because: Literal["count_reached", "budget_spent"]
    out: Path | str
    gallery: str
    seconds: float


class Evaluation(BaseModel):
    """What a worker returns for one candidate: the check report and, if accepted, the review."""

    report: CheckReport
    review: ReviewDecision | None = None


def evaluate_candidate(staged: Path, check: CheckOptions, review: ReviewSettings) -> Evaluation:
    """Worker: check the staged ``script.py`` with artifacts in ``assets/``, then review the renders.

    Runs in a worker process; reads and writes only inside ``staged``.
    """
    import mujoco

    from benchgen.physics import MM

    assets = staged / "assets"
    report = check_script(staged / "script.py", check, out_dir=assets)
    (staged / "report.json").write_text(report.model_dump_json(indent=2))
    if not report.accepted:
        return Evaluation(report=report)
    renders = [assets / r for r in report.artifacts["renders"]]
    contact_sheet(renders, assets / "contact_sheet.png")
    model = mujoco.MjModel.from_xml_path(str(assets / "model.xml"))
    scene = report.metrics["scene"]
    frame = (np.array(scene["bounds"]["min"]) * MM, np.array(scene["bounds"]["max"]) * MM)
    decision = review_scene(model, frame, scene["payload"]["label"], review, check.render)
    return Evaluation(report=report, review=decision)


def candidate_id(index: int, script_sha: str) -> str:
    """Stable name of a candidate: its index in the run and its script hash."""
    return f"c{index:05d}-{script_sha[:10]}"


def benchmark_id(candidate: Candidate, script_sha: str) -> str:
    """Stable benchmark id: family and script hash."""
    return f"{candidate.family}-{script_sha[:12]}"


class _Pending(BaseModel):
    """A candidate waiting for, or holding, its evaluation."""

    model_config = {"arbitrary_types_allowed": True}

    index: int
    candidate: Candidate
    script_sha: str
    staged: Path
    future: Any


class Generator:
    """One generation run over a dataset directory. Use :meth:`run`."""

    def __init__(
        self,
        options: GenerateOptions,
        on_progress: Callable[[Progress], None] | None = None,
        author: AuthorFn = write_candidate,
    ) -> None:
        self.options = options
        self.author = author
        self.on_progress = on_progress
        self.writer: Publisher = open_writer(options.out, options.work_dir, on_event=self._emit)
        self.progress = Progress(target=options.count)
        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.signatures: list[Signature] = []
        self.engine: Any = None

    def _emit(self, last: str | None = None) -> None:
        if last is not None:
            self.progress.last = last
        self.progress.elapsed_s = time.monotonic() - self.started
        if self.on_progress:
            self.on_progress(self.progress.model_copy(deep=True))

    def _reject_count(self, code: str) -> None:
        self.progress.rejected[code] = self.progress.rejected.get(code, 0) + 1

    def run(self) -> GenerateSummary:
        """Generate until ``count`` benchmarks are accepted or the candidate budget is spent."""
        from benchgen import db

        options = self.options
        self.writer.prepare()
        self.engine = db.connect(options.db_url or self.writer.default_db_url(), on_retry=self._emit)
        accepted = {m.script_sha256: m for m in self.writer.manifests()}
        archived = {r.candidate_id: r for r in self.writer.rejections()}
        self.signatures = [Signature.model_validate(m.signature) for m in accepted.values()]
        executor = make_executor(options.executor, options.workers, options.ray_address)
        try:
            self._loop(executor, accepted, archived)
        finally:
            executor.stop()
            self.writer.clear_staging()
        self.writer.rebuild_index()
        gallery = self.writer.write_gallery(self.writer.manifests())
        stopped: Literal["count_reached", "budget_spent"] = (
            "count_reached" if self.progress.accepted >= options.count else "budget_spent"
        )
        self._emit(f"done: {stopped}")
        return GenerateSummary(
            accepted=self.progress.accepted,
            target=options.count,
            candidates=self.progress.candidates,
            resumed=self.progress.resumed,
            rejected=dict(self.progress.rejected),
            stopped_because=stopped,
            out=options.out,
            gallery=gallery,
            seconds=round(time.monotonic() - self.started, 2),
        )

    def _loop(
        self, executor: Executor, accepted: dict[str, Manifest], archived: dict[str, Rejection]
    ) -> None:
        """Keep up to two candidates per worker in flight; commit results in candidate order."""
        options = self.options
        pending: list[_Pending] = []
        index = 0
        while self.progress.accepted < options.count:
            while (
                index < options.budget
                and len(pending) < 2 * options.workers
                and self.progress.accepted < options.count
            ):
                item = self._next_candidate(index, accepted, archived, executor)
                index += 1
                if item is not None:
                    pending.append(item)
            if not pending:
                return
            head = pending.pop(0)
            self.progress.in_flight = len(pending) + 1
            self._emit()
            try:
                evaluation = head.future.result()
            except Exception as exc:  # a crashed checker is recorded, not fatal to the run
                evaluation = None
                error = f"{type(exc).__name__}: {exc}"
            self.progress.in_flight = len(pending)
            if evaluation is None:
                self._archive(head, "check", "checker_error", error)
            else:
                self._commit(head, evaluation)

    def _next_candidate(
        self,
        index: int,
        accepted: dict[str, Manifest],
        archived: dict[str, Rejection],
        executor: Executor,
    ) -> _Pending | None:
        """Author candidate ``index``; skip it if a previous run already decided it."""
        options = self.options
        rng = np.random.default_rng([options.seed, index])
        try:
            candidate = self.author(rng, options.theme, options.tier)
        except AuthorFailure as failure:
            self._author_failed(index, failure, archived)
            return None
        script_sha = sha256_bytes(candidate.script.encode())
        if script_sha in accepted:
            self.progress.candidates += 1
            self.progress.accepted += 1
            self.progress.resumed += 1
            self._emit(f"resumed {accepted[script_sha].id}")
            return None
        name = candidate_id(index, script_sha)
        if name in archived:
            self.progress.candidates += 1
            self.progress.resumed += 1
            self._reject_count(archived[name].code)
            self._emit(f"resumed rejection {name}")
            return None
        staged = self.writer.stage(f"{name}-{self.run_id}")
        (staged / "script.py").write_text(candidate.script)
        self._record_session(name, candidate, "validating")
        future = executor.submit_in_dir(evaluate_candidate, staged, options.check, options.review)
        return _Pending(index=index, candidate=candidate, script_sha=script_sha, staged=staged, future=future)

    def _author_failed(self, index: int, failure: AuthorFailure, archived: dict[str, Rejection]) -> None:
        """The author gave up (e.g. an agent session ran out of budget): archive what it had."""
        script = failure.script or ""
        candidate = Candidate(family="agent", tier=self.options.tier or "spatial", script=script, choices={})
        script_sha = sha256_bytes(script.encode())
        name = candidate_id(index, script_sha)
        if name in archived:
            self.progress.candidates += 1
            self.progress.resumed += 1
            self._reject_count(archived[name].code)
            return
        staged = self.writer.stage(f"{name}-{self.run_id}")
        (staged / "script.py").write_text(script)
        item = _Pending(index=index, candidate=candidate, script_sha=script_sha, staged=staged, future=None)
        self._archive(item, "author", failure.code, failure.message)

    def _record_session(self, name: str, candidate: Candidate, status: str, **extra: Any) -> None:
        from benchgen import db

        db.record_session(
            self.engine,
            on_retry=self._emit,
            dataset=self.writer.location,
            id=f"{self.options.seed}-{name}",
            run_id=self.run_id,
            theme=self.options.theme,
            tier=candidate.tier,
            author=self.options.author,
            status=status,
            **extra,
        )

    def _commit(self, item: _Pending, evaluation: Evaluation) -> None:
        """Decide one evaluated candidate, in candidate order."""
        name = candidate_id(item.index, item.script_sha)
        report = evaluation.report
        if not report.accepted:
            self._archive(item, "check", str(report.code), report.message)
            return
        review = evaluation.review
        assert review is not None
        if not review.approved:
            self._archive(item, "review", "review_rejected", "; ".join(review.reasons))
            return
        scene, bodies = report.metrics["scene"], report.metrics["bodies"]
        sig = signature(scene, bodies)
        if any(near_duplicate(sig, other, self.options.dedup_tolerance) for other in self.signatures):
            self._archive(item, "duplicate", "near_duplicate", "a near-duplicate of an accepted benchmark")
            return
        manifest = self._manifest(item, report, review, sig)
        self.writer.publish(item.staged, manifest)
        self.signatures.append(sig)
        self.progress.candidates += 1
        self.progress.accepted += 1
        self._record_session(
            name, item.candidate, "accepted", validation_logs=[report.message, *review.reasons]
        )
        self._record_asset(manifest, name)
        self._emit(f"accepted {manifest.id}")

    def _archive(self, item: _Pending, stage: str, code: str, message: str) -> None:
        name = candidate_id(item.index, item.script_sha)
        rejection = Rejection(
            candidate_id=name,
            stage=stage,
            code=code,
            message=message,
            family=item.candidate.family,
            candidate={"index": item.index, "seed": self.options.seed, "choices": item.candidate.choices},
            script_sha256=item.script_sha,
        )
        self.writer.archive_rejection(item.staged, rejection)
        self.progress.candidates += 1
        self._reject_count(code)
        self._record_session(name, item.candidate, "rejected", code=code, message=message[:4000])
        self._record_rejection(rejection)
        self._emit(f"rejected {name}: {code}")

    def _record_rejection(self, rejection: Rejection) -> None:
        from benchgen import db

        db.record_rejection(
            self.engine,
            on_retry=self._emit,
            dataset=self.writer.location,
            session_id=f"{self.options.seed}-{rejection.candidate_id}",
            archive_url=storage.url_of(self.writer.location, REJECTED_DIR, rejection.candidate_id),
            **rejection.model_dump(mode="json", exclude={"message"}),
            message=rejection.message[:4000],
        )

    def _manifest(
        self, item: _Pending, report: CheckReport, review: ReviewDecision, sig: Signature
    ) -> Manifest:
        scene, bodies = report.metrics["scene"], report.metrics["bodies"]
        constraints = scene["constraints"]
        options = self.options
        check_options = options.check.model_dump(mode="json", exclude={"cache_dir"})
        return Manifest(
            id=benchmark_id(item.candidate, item.script_sha),
            name=scene["name"],
            tier=scene["tier"],
            theme=options.theme,
            description=scene["description"],
            family=item.candidate.family,
            target_quantity=constraints["target_quantity"],
            max_unit_cost=constraints["max_unit_cost"],
            max_weight_g=constraints["max_weight_g"],
            params=scene["params"],
            seeds=report.seeds,
            scales=report.scales,
            validation={
                k: report.metrics[k]
                for k in ("per_build", "randomization", "collision", "scale_extent_ratios")
            },
            review=review.model_dump(exclude={"views"}),
            difficulty=score(scene, bodies).model_dump(),
            signature=sig.model_dump(),
            author={
                "kind": options.author,
                "family": item.candidate.family,
                "choices": item.candidate.choices,
                **item.candidate.provenance,
            },
            benchgen_version=__version__,
            content_hash=content_hash(item.staged),
            script_sha256=item.script_sha,
            evaluated_with={
                "benchgen_version": __version__,
                "check_options_sha256": sha256_bytes(json.dumps(check_options, sort_keys=True).encode()),
                "isolation": report.metrics.get("isolation"),
            },
            candidate={"index": item.index, "seed": options.seed},
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _record_asset(self, manifest: Manifest, name: str) -> None:
        from benchgen import db

        location = self.writer.location
        db.record_asset(
            self.engine,
            on_retry=self._emit,
            dataset=location,
            id=manifest.id,
            session_id=f"{self.options.seed}-{name}",
            name=manifest.name,
            tier=manifest.tier,
            mjcf_url=storage.url_of(location, manifest.id, "assets", "model.xml"),
            script_url=storage.url_of(location, manifest.id, "script.py"),
            preview_url=storage.url_of(location, manifest.id, "assets", "contact_sheet.png"),
            variants=[{"seed": s, "scale": 1.0} for s in manifest.seeds]
            + [{"seed": 0, "scale": x} for x in (0.5, 2.0)],
            difficulty=manifest.difficulty["score"],
            content_hash=manifest.content_hash,
            candidate_index=manifest.candidate["index"],
        )
