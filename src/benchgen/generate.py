"""``benchgen generate``: author candidates, check and review them, publish the accepted ones.

Flow (one RNG stream per candidate, derived from ``--seed`` and the candidate index):

    author → candidate script → [worker: sandboxed check + render review] →
    in candidate order: rejection archive | near-duplicate | publish (manifest last)

Workers run checks in parallel and are kept busy: while the oldest candidate is still
being checked, later ones are authored and submitted (up to a window of
:data:`LOOKAHEAD_PER_WORKER` × workers candidates), but results are committed strictly in
candidate order and generation stops at exactly the N-th accepted candidate, so the same
``--seed`` and options always give the same benchmarks whatever the number of workers.
Candidates checked past the N-th acceptance are discarded and their sessions marked
``abandoned``.

A run starts by checking its configuration with unretried probes (the store, the database;
a wrong setting is a one-line :class:`~benchgen.retry.ConfigurationError`), takes the
dataset's lease (one writer per dataset), finishes what an interrupted run left, and reads
the index once: candidates already decided are skipped without authoring them again, and
the database is reconciled with the store (missing rows backfilled). Publishing costs O(1)
per benchmark; the index is compacted and the gallery written when the run ends.

Workers are a local process pool or Ray tasks (:mod:`benchgen.executors`); the output is
a directory or a remote URL (:mod:`benchgen.publishing`); neither changes the results.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from benchgen import __version__, storage
from benchgen.authors import AuthorFailure, AuthorKind
from benchgen.authors.offline import Candidate, solvable_families, write_candidate
from benchgen.balance import FamilyPlan
from benchgen.check import CheckOptions, check_script
from benchgen.dataset import (
    GALLERY_FILE,
    REJECTED_DIR,
    AuthorRecord,
    CandidateRef,
    EvaluatedWith,
    Manifest,
    RejectedCandidate,
    Rejection,
    SolutionSummary,
    Validation,
    content_hash,
    sha256_bytes,
)
from benchgen.difficulty import score
from benchgen.executors import Executor, ExecutorKind, Task, WorkerSettings, make_executor
from benchgen.publishing import Publisher, open_writer
from benchgen.rendering import contact_sheet
from benchgen.retry import call_with_retries
from benchgen.review import ReviewDecision, ReviewSettings, review_scene
from benchgen.settings import Settings
from benchgen.similarity import DEFAULT_TOLERANCE, Signature, near_duplicate, signature
from benchgen.verdict import CheckReport, RejectCode, ReviewVerdict

LOOKAHEAD_PER_WORKER = 4
"""How far past the oldest undecided candidate the run authors and checks, per worker: enough
to keep every worker busy behind one slow check, little enough to bound discarded work."""

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
    families: list[str] | None = None
    """The offline author's families by name (default: all that match ``theme`` and ``tier``)."""
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

    @property
    def run_key(self) -> str:
        """What, besides the seed and the index, decides a candidate's script: recorded with
        every decision so a resumed run with the same key skips decided candidates without
        authoring them again."""
        key: dict[str, Any] = {"author": self.author, "theme": self.theme, "tier": self.tier}
        if self.families is not None:
            key["families"] = sorted(self.families)
        return sha256_bytes(json.dumps(key, sort_keys=True).encode())[:16]


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


def evaluate_candidate(
    staged: Path, check: CheckOptions, review: ReviewSettings, worker: WorkerSettings | None = None
) -> Evaluation:
    """Worker: check the staged ``script.py`` with artifacts in ``assets/``, then review the renders.

    Runs in a worker process (possibly on another node); reads and writes only inside
    ``staged``. ``worker`` carries the driver's settings: they are applied for the duration
    of the call, and the decomposition cache is the one they name for this node.
    """
    if worker is None:
        return _evaluate(staged, check, review)
    with worker.applied():
        return _evaluate(staged, check.model_copy(update={"cache_dir": worker.cache_path()}), review)


def _evaluate(staged: Path, check: CheckOptions, review: ReviewSettings) -> Evaluation:
    """The stages of :func:`evaluate_candidate`, cheapest first; each may end it with a verdict."""
    import mujoco

    from benchgen.physics import MM

    assets = staged / "assets"
    solution = staged / "solution.py"
    if not solution.is_file():  # the solvability gate cannot pass without a reference
        report = CheckReport(
            accepted=False, code=RejectCode.UNSOLVED, message="the author wrote no reference solution.py"
        )
        (staged / "report.json").write_text(report.model_dump_json(indent=2))
        return Evaluation(report=report)
    report = check_script(staged / "script.py", check, out_dir=assets, solution=solution)
    (staged / "report.json").write_text(report.model_dump_json(indent=2))
    if not report.accepted:
        return Evaluation(report=report)
    renders = [assets / r for r in report.artifacts["renders"]]
    contact_sheet(renders, assets / "contact_sheet.png")
    model = mujoco.MjModel.from_xml_path(str(assets / "model.xml"))
    scene, _ = report.metrics.checked_scene()
    frame = (np.array(scene.bounds.min) * MM, np.array(scene.bounds.max) * MM)
    decision = review_scene(model, frame, scene.payload.label, review, check.render)
    return Evaluation(report=report, review=decision)


def candidate_id(index: int, script_sha: str) -> str:
    """Stable name of a candidate: its index in the run and its script hash."""
    return f"c{index:05d}-{script_sha[:10]}"


def benchmark_id(candidate: Candidate, script_sha: str) -> str:
    """Stable benchmark id: family and script hash."""
    return f"{candidate.family}-{script_sha[:12]}"


@dataclass
class _Slot:
    """One candidate between authoring and its commit, in candidate order."""

    index: int
    candidate: Candidate | None = None
    script_sha: str = ""
    staged: Path | None = None
    task: Task | None = None
    resumed: tuple[str, str] | None = None
    """Decided by an earlier run: ("accepted", id) or ("rejected", code)."""
    failure: AuthorFailure | None = None

    @property
    def name(self) -> str:
        return candidate_id(self.index, self.script_sha)

    def ready(self) -> bool:
        """True when it can be committed without waiting."""
        return self.task is None or self.task.done()


@dataclass
class _Known:
    """What the dataset already holds, read once from its index when a run starts."""

    accepted_by_sha: dict[str, str] = field(default_factory=dict)
    decided: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Candidate index → its decision, for this seed and run key."""
    archived: dict[str, str] = field(default_factory=dict)
    """Candidate id → rejection code."""
    signatures: dict[str, list[Signature]] = field(default_factory=dict)
    """Accepted signatures by structure (only equal structures can be near-duplicates)."""
    benchmarks: int = 0
    rejections: int = 0
    family_of: dict[str, str] = field(default_factory=dict)
    """Accepted benchmark id → its family."""
    prior_families: Counter[str] = field(default_factory=Counter)
    """Accepted benchmarks by family, of other runs' streams (what the plan balances against)."""

    def add_signature(self, sig: Signature) -> None:
        self.signatures.setdefault(sig.structure, []).append(sig)


class Generator:
    """One generation run over a dataset. Use :meth:`run`."""

    def __init__(
        self,
        options: GenerateOptions,
        on_progress: Callable[[Progress], None] | None = None,
        author: AuthorFn | None = None,
        settings: Settings | None = None,
    ) -> None:
        """``author`` replaces the offline author (which deals families in balanced rounds,
        :mod:`benchgen.balance`); a given author picks its own families. ``settings`` (None: read
        from the environment) say how the store and the database are reached and retried."""
        self.options = options
        self.settings = settings or Settings.from_env()
        self.author: AuthorFn = author or write_candidate
        self.balanced = author is None and options.author == "offline"
        self.plan: FamilyPlan | None = None
        self.accepted_families: Counter[str] = Counter()
        self.on_progress = on_progress
        self.writer: Publisher = open_writer(
            options.out, options.work_dir, on_event=self._emit, settings=self.settings
        )
        self.progress = Progress(target=options.count)
        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.known = _Known()
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
        """Generate until ``count`` benchmarks are accepted or the candidate budget is spent.

        Raises a :class:`~benchgen.retry.ConfigurationError` (store or database settings) or
        :class:`~benchgen.dataset.LeaseHeld` before anything is written or checked.
        """
        from benchgen import db

        options = self.options
        self.writer.check()
        self.engine = db.connect(
            options.db_url or self.writer.default_db_url(), self._emit, self.settings.db_retry
        )
        self.writer.acquire(self.run_id)
        try:
            self.writer.prepare()
            self.known = self._load_known()
            if self.balanced:
                names = [f.name for f in solvable_families(options.theme, options.tier, options.families)]
                self.plan = FamilyPlan(names, options.seed, self.known.prior_families)
            closed = db.abandon_sessions(
                self.engine, self.writer.location, on_retry=self._emit, policy=self.settings.db_retry
            )
            if closed:
                self._emit(f"marked {closed} sessions of interrupted runs abandoned")
            self._generate()
            gallery = self._finish()
        finally:
            self.writer.release()
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

    def _generate(self) -> None:
        options = self.options
        check = options.check
        remote_workers = options.executor == "ray"
        worker = WorkerSettings.capture(
            None if remote_workers else check.cache_dir, cache=check.cache_dir is not None
        )
        executor = make_executor(options.executor, options.workers, options.ray_address, worker)
        window: deque[_Slot] = deque()
        try:
            self._loop(executor, window, worker)
        finally:
            executor.stop()
            try:
                self._abandon(window)
            finally:
                self.writer.clear_staging()

    def _finish(self) -> str:
        """Compact the index and write the gallery, if anything changed; returns the gallery's location."""
        location = self.writer.location
        gallery = (
            storage.join(location, GALLERY_FILE)
            if storage.is_remote(location)
            else str(Path(location) / GALLERY_FILE)
        )
        if self.writer.needs_compaction():
            self._emit("compacting the index and writing the gallery")
            gallery = self.writer.compact()
        return gallery

    # -- resume --------------------------------------------------------------------------------

    def _load_known(self) -> _Known:
        """Read the index once (retried as a whole), and reconcile the database with it."""
        from benchgen import db

        location = self.writer.location
        in_db = db.existing_ids(self.engine, location, self._emit, self.settings.db_retry)
        known, missing_assets, missing_rejections = call_with_retries(
            lambda: self._read_index(in_db),
            f"reading the index of {location}",
            self.settings.upload_retry,
            lambda exc: not isinstance(exc, storage.StoreError | ValueError),
            self._emit,
        )
        self._reconcile(missing_assets, missing_rejections, in_db[0], known)
        if known.benchmarks or known.rejections:
            self._emit(f"dataset holds {known.benchmarks} benchmarks and {known.rejections} rejections")
        return known

    def _read_index(self, in_db: tuple[set[str], set[str]]) -> tuple[_Known, list[Manifest], list[Rejection]]:
        options = self.options
        run_key = options.run_key
        known = _Known()
        missing_assets: list[Manifest] = []
        missing_rejections: list[Rejection] = []
        for manifest in self.writer.manifests():
            known.benchmarks += 1
            known.accepted_by_sha[manifest.script_sha256] = manifest.id
            known.family_of[manifest.id] = manifest.family
            known.add_signature(manifest.signature)
            if _same_stream(manifest.candidate, options.seed, run_key):
                known.decided[manifest.candidate.index] = ("accepted", manifest.id)
            else:
                known.prior_families[manifest.family] += 1
            if manifest.id not in in_db[0]:
                missing_assets.append(manifest.model_copy(update={"validation": {}}))
        for rejection in self.writer.rejections():
            known.rejections += 1
            known.archived[rejection.candidate_id] = rejection.code
            if _same_stream(rejection.candidate, options.seed, run_key):
                known.decided[rejection.candidate.index] = ("rejected", rejection.code)
            if rejection.candidate_id not in in_db[1]:
                missing_rejections.append(rejection)
        return known, missing_assets, missing_rejections

    def _reconcile(
        self, assets: list[Manifest], rejections: list[Rejection], in_db: set[str], known: _Known
    ) -> None:
        """The store is the truth: add the rows a database outage kept earlier runs from
        writing, and drop rows of benchmarks the store does not hold."""
        from benchgen import db

        location = self.writer.location
        note = [f"backfilled from the store by run {self.run_id}"]
        rows: list[tuple[type[db.Base], dict[str, Any]]] = []
        for manifest in assets:
            name = candidate_id(manifest.candidate.index, manifest.script_sha256)
            seed = manifest.candidate.seed
            rows.append(
                (
                    db.GenerationSession,
                    self._session_fields(name, seed, manifest.tier, "accepted", validation_logs=note),
                )
            )
            rows.append((db.BenchmarkAsset, self._asset_fields(manifest, name, seed)))
        for rejection in rejections:
            seed = rejection.candidate.seed
            session = self._session_fields(
                rejection.candidate_id,
                seed,
                None,
                "rejected",
                code=rejection.code,
                message=rejection.message[:4000],
            )
            rows.append((db.GenerationSession, session))
            rows.append((db.RejectionRecord, self._rejection_fields(rejection, seed)))
        if rows:
            db.backfill(self.engine, rows, on_retry=self._emit, policy=self.settings.db_retry)
            self._emit(
                f"database: backfilled {len(assets)} benchmarks and {len(rejections)} rejections from the store"
            )
        orphans = in_db - set(known.accepted_by_sha.values())
        removed = db.remove_assets(self.engine, location, orphans, self._emit, self.settings.db_retry)
        if removed:
            self._emit(f"database: removed {removed} rows of benchmarks the store does not hold")

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self, executor: Executor, window: deque[_Slot], worker: WorkerSettings) -> None:
        """Commit decided candidates in order; keep up to ``workers`` checks running and author
        ahead of the oldest undecided candidate (see :data:`LOOKAHEAD_PER_WORKER`)."""
        options = self.options
        limit = max(LOOKAHEAD_PER_WORKER * options.workers, options.workers + 1)
        index = 0
        while self.progress.accepted < options.count:
            while window and window[0].ready() and self.progress.accepted < options.count:
                self._decide(window.popleft())
            if self.progress.accepted >= options.count:
                return
            running = [s.task for s in window if s.task is not None and not s.task.done()]
            while (
                index < options.budget
                and len(window) < limit
                and len(running) < options.workers
                and self._may_author(index, window)
            ):
                slot = self._next_candidate(index, executor, worker)
                index += 1
                window.append(slot)
                if slot.task is not None:
                    running.append(slot.task)
                if window[0].ready():
                    break  # commit first: the run may be complete
            if not window:
                return  # the budget is spent
            self.progress.in_flight = len(running)
            if not window[0].ready():
                self._emit()
                executor.wait_any(running, timeout=1.0)

    def _may_author(self, index: int, window: deque[_Slot]) -> bool:
        """A balanced round is ordered by what the rounds before it accepted: its first
        candidate waits until every earlier one is committed."""
        return self.plan is None or not self.plan.starts_round(index) or not window

    def _next_candidate(self, index: int, executor: Executor, worker: WorkerSettings) -> _Slot:
        """Author candidate ``index`` and submit its check, unless a previous run decided it."""
        options = self.options
        if self.plan is not None and self.plan.starts_round(index):
            self.plan.open_round(index, self.accepted_families)
        decided = self.known.decided.get(index)
        if decided is not None:  # same seed, same author settings: no need to author it again
            return _Slot(index=index, resumed=decided)
        rng = np.random.default_rng([options.seed, index])
        try:
            if self.plan is not None:
                candidate = write_candidate(rng, options.theme, options.tier, self.plan.family_for(index))
            else:
                candidate = self.author(rng, options.theme, options.tier)
        except AuthorFailure as failure:
            script = failure.script or ""
            stand_in = Candidate(family="agent", tier=options.tier or "spatial", script=script, choices={})
            slot = _Slot(
                index=index, candidate=stand_in, script_sha=sha256_bytes(script.encode()), failure=failure
            )
            if slot.name in self.known.archived:
                slot.resumed = ("rejected", self.known.archived[slot.name])
            return slot
        slot = _Slot(index=index, candidate=candidate, script_sha=sha256_bytes(candidate.script.encode()))
        if slot.script_sha in self.known.accepted_by_sha:
            slot.resumed = ("accepted", self.known.accepted_by_sha[slot.script_sha])
            return slot
        if slot.name in self.known.archived:
            slot.resumed = ("rejected", self.known.archived[slot.name])
            return slot
        slot.staged = self._stage(slot.name, candidate)
        self._record_session(slot.name, candidate, "validating")
        slot.task = executor.submit_in_dir(
            evaluate_candidate, slot.staged, options.check, options.review, worker
        )
        return slot

    def _stage(self, name: str, candidate: Candidate) -> Path:
        """A private directory holding what a worker needs to evaluate the candidate."""
        staged = self.writer.stage(f"{name}-{self.run_id}")
        (staged / "script.py").write_text(candidate.script)
        if candidate.solution is not None:
            (staged / "solution.py").write_text(candidate.solution)
        return staged

    def _decide(self, slot: _Slot) -> None:
        """Commit one candidate, in candidate order."""
        if slot.resumed is not None:
            outcome, detail = slot.resumed
            self.progress.candidates += 1
            self.progress.resumed += 1
            if outcome == "accepted":
                self.progress.accepted += 1
                self.accepted_families[self.known.family_of.get(detail, "")] += 1
                self._emit(f"resumed {detail}")
            else:
                self._reject_count(detail)
                self._emit(f"resumed rejection c{slot.index:05d}")
            return
        if slot.failure is not None:
            assert slot.candidate is not None
            slot.staged = self._stage(slot.name, slot.candidate)
            self._archive(slot, "author", slot.failure.code, slot.failure.message)
            return
        assert slot.task is not None
        try:
            evaluation = slot.task.result()
        except Exception as exc:  # a crashed checker is recorded, not fatal to the run
            self._archive(slot, "check", "checker_error", f"{type(exc).__name__}: {exc}")
            return
        self._commit(slot, evaluation)

    def _abandon(self, window: deque[_Slot]) -> None:
        """The run ends with candidates in flight: cancel them and mark their sessions (best
        effort: the next run marks whatever is left)."""
        from benchgen import db

        for slot in window:
            if slot.task is not None:
                slot.task.cancel()
        window.clear()
        self.progress.in_flight = 0
        try:
            closed = db.abandon_sessions(
                self.engine, self.writer.location, self.run_id, policy=self.settings.db_retry
            )
        except Exception:  # the database is down: the next run closes them
            return
        if closed:
            self._emit(f"{closed} candidates in flight were abandoned")

    # -- commits -------------------------------------------------------------------------------

    def _record_session(self, name: str, candidate: Candidate, status: str, **extra: Any) -> None:
        from benchgen import db

        fields = self._session_fields(name, self.options.seed, candidate.tier, status, **extra)
        db.record_session(self.engine, self._emit, self.settings.db_retry, **fields)

    def _session_fields(
        self, name: str, seed: int, tier: str | None, status: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            "dataset": self.writer.location,
            "id": f"{seed}-{name}",
            "run_id": self.run_id,
            "theme": self.options.theme,
            "tier": tier,
            "author": self.options.author,
            "status": status,
            **extra,
        }

    def _commit(self, item: _Slot, evaluation: Evaluation) -> None:
        """Decide one evaluated candidate, in candidate order."""
        assert item.candidate is not None
        name = item.name
        report = evaluation.report
        if not report.accepted:
            self._archive(item, "check", str(report.code), report.message)
            return
        review = evaluation.review
        assert review is not None
        if not review.approved:
            self._archive(item, "review", "review_rejected", "; ".join(review.reasons))
            return
        sig = signature(*report.metrics.checked_scene())
        peers = self.known.signatures.get(sig.structure, [])
        if any(near_duplicate(sig, other, self.options.dedup_tolerance) for other in peers):
            self._archive(item, "duplicate", "near_duplicate", "a near-duplicate of an accepted benchmark")
            return
        manifest = self._manifest(item, report, review, sig)
        assert item.staged is not None
        self.writer.publish(item.staged, manifest)
        self.known.add_signature(sig)
        self.progress.candidates += 1
        self.progress.accepted += 1
        self.accepted_families[item.candidate.family] += 1
        self._record_session(
            name, item.candidate, "accepted", validation_logs=[report.message, *review.reasons]
        )
        self._record_asset(manifest, name)
        self._emit(f"accepted {manifest.id}")

    def _archive(self, item: _Slot, stage: str, code: str, message: str) -> None:
        assert item.candidate is not None and item.staged is not None
        name = item.name
        rejection = Rejection(
            candidate_id=name,
            stage=stage,
            code=code,
            message=message,
            family=item.candidate.family,
            candidate=RejectedCandidate(
                index=item.index,
                seed=self.options.seed,
                run_key=self.options.run_key,
                choices=item.candidate.choices,
            ),
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

        fields = self._rejection_fields(rejection, self.options.seed)
        db.record_rejection(self.engine, self._emit, self.settings.db_retry, **fields)

    def _rejection_fields(self, rejection: Rejection, seed: int) -> dict[str, Any]:
        return {
            "dataset": self.writer.location,
            "session_id": f"{seed}-{rejection.candidate_id}",
            "archive_url": storage.url_of(self.writer.location, REJECTED_DIR, rejection.candidate_id),
            **rejection.model_dump(mode="json", exclude={"message"}),
            "message": rejection.message[:4000],
        }

    def _manifest(self, item: _Slot, report: CheckReport, review: ReviewDecision, sig: Signature) -> Manifest:
        assert item.candidate is not None and item.staged is not None
        candidate = item.candidate
        metrics = report.metrics
        scene, bodies = metrics.checked_scene()
        constraints = scene.constraints
        options = self.options
        check_options = options.check.model_dump(mode="json", exclude={"cache_dir"})
        return Manifest(
            id=benchmark_id(candidate, item.script_sha),
            name=scene.name,
            tier=scene.tier,
            theme=options.theme,
            description=scene.description,
            family=candidate.family,
            target_quantity=constraints.target_quantity,
            max_unit_cost=constraints.max_unit_cost,
            max_weight_g=constraints.max_weight_g,
            params=scene.params,
            seeds=report.seeds,
            scales=report.scales,
            validation=Validation(
                per_build=metrics.per_build or [],
                randomization=metrics.randomization,
                collision=metrics.collision or {},
                scale_extent_ratios=metrics.scale_extent_ratios or {},
            ),
            review=ReviewVerdict.model_validate(review.model_dump(exclude={"views"})),
            difficulty=score(scene, bodies, metrics.solution),
            solution=_solution_summary(report),
            signature=sig,
            author=AuthorRecord(
                kind=options.author,
                family=candidate.family,
                choices=candidate.choices,
                **candidate.provenance,
            ),
            benchgen_version=__version__,
            content_hash=content_hash(item.staged),
            script_sha256=item.script_sha,
            evaluated_with=EvaluatedWith(
                benchgen_version=__version__,
                check_options_sha256=sha256_bytes(json.dumps(check_options, sort_keys=True).encode()),
                isolation=metrics.isolation,
            ),
            candidate=CandidateRef(index=item.index, seed=options.seed, run_key=options.run_key),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _record_asset(self, manifest: Manifest, name: str) -> None:
        from benchgen import db

        fields = self._asset_fields(manifest, name, self.options.seed)
        db.record_asset(self.engine, self._emit, self.settings.db_retry, **fields)

    def _asset_fields(self, manifest: Manifest, name: str, seed: int) -> dict[str, Any]:
        location = self.writer.location
        return {
            "dataset": location,
            "id": manifest.id,
            "session_id": f"{seed}-{name}",
            "name": manifest.name,
            "tier": manifest.tier,
            "mjcf_url": storage.url_of(location, manifest.id, "assets", "model.xml"),
            "script_url": storage.url_of(location, manifest.id, "script.py"),
            "preview_url": storage.url_of(location, manifest.id, "assets", "contact_sheet.png"),
            "variants": [{"seed": s, "scale": 1.0} for s in manifest.seeds]
            + [{"seed": 0, "scale": x} for x in (0.5, 2.0)],
            "difficulty": manifest.difficulty.score,
            "content_hash": manifest.content_hash,
            "candidate_index": manifest.candidate.index,
        }


def _solution_summary(report: CheckReport) -> SolutionSummary:
    """What the manifest records of the reference solution, from the gate's metrics."""
    gate = report.metrics.solution
    scene, _ = report.metrics.checked_scene()
    animation = report.artifacts.get("solution", {}).get("animation")
    if gate is None:
        return SolutionSummary(animation=animation)
    weight, limit = gate.weight_g, scene.constraints.max_weight_g
    return SolutionSummary(
        success_rate=gate.success_rate,
        variants=len(gate.per_seed),
        cost_usd=gate.cost_usd,
        weight_g=weight,
        budget_headroom=gate.budget_headroom,
        weight_headroom=round(limit / weight, 4) if weight and limit else None,
        animation=animation,
    )


def _same_stream(candidate: CandidateRef, seed: int, run_key: str) -> bool:
    """Whether a recorded decision belongs to this run's candidate stream (same seed and
    author settings), so its index decides the same candidate."""
    return candidate.seed == seed and candidate.run_key == run_key
