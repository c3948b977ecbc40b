"""Scaling up: datasets on S3, metadata in PostgreSQL, checks on Ray, and their failures.

Real services on loopback (``scripts/services.sh``: PostgreSQL and moto's S3 server) and
real checks (sandbox, MuJoCo, renders). Every generation uses the same run seed, whose
first candidate is accepted, so each run checks one candidate; their results must be
identical whatever the storage, database or executor.
"""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypedDict

import mujoco
import pytest
from fsspec.spec import AbstractFileSystem
from sqlalchemy import create_engine, text

import benchgen.dataset
from benchgen import db, storage
from benchgen.dataset import Rejection, content_hash
from benchgen.executors import pack_dir, run_in_scratch, unpack_dir
from benchgen.generate import GenerateOptions, Generator, Progress
from benchgen.publishing import PublishError, RemoteDatasetWriter
from services import Services, run_script, running_services

BENCHGEN = [sys.executable, "-m", "benchgen"]
RUN_SEED = 3


def generate_cmd(out: str | Path, *extra: str) -> list[str]:
    return [
        *BENCHGEN,
        "generate",
        "--out",
        str(out),
        "--count",
        "1",
        "--seed",
        str(RUN_SEED),
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """The running services (started here when not under CI), and S3 credentials for moto."""
    found = running_services()
    started = False
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "PostgreSQL/S3 services are not running: scripts/test.sh starts them (scripts/services.sh)"
            )
        run_script("start")
        started = True
        found = running_services()
        assert found is not None, "scripts/services.sh start did not bring the services up"
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            patch.delenv(key, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv(storage.ENDPOINT_ENV, found.s3_endpoint)
        yield found
    if started:
        run_script("stop")


@pytest.fixture(scope="module")
def bucket(services: Services) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    fs, _ = storage.filesystem(f"s3://{name}")
    fs.mkdir(name)
    return name


def s3(url: str) -> tuple[AbstractFileSystem, str]:
    return storage.filesystem(url)


def index_of(url: str) -> dict[str, str]:
    """id → content hash of every benchmark listed in the index (read directly, not via benchgen)."""
    fs, root = s3(url) if storage.is_remote(url) else storage.filesystem(url)
    path = f"{root}/index.jsonl"
    if not fs.exists(path):
        return {}
    lines = fs.cat_file(path).decode().splitlines()
    return {m["id"]: m["content_hash"] for m in map(json.loads, lines)}


def assert_consistent(url: str, tmp: Path) -> None:
    """No manifest without all of its files; no index entry without a manifest."""
    fs, root = s3(url)
    for manifest_path in fs.glob(f"{root}/*/manifest.json"):
        folder = manifest_path.rsplit("/", 1)[0]
        copy = tmp / folder.rsplit("/", 1)[1]
        fs.get(f"{folder}/", str(copy), recursive=True)
        manifest = json.loads((copy / "manifest.json").read_text())
        assert content_hash(copy) == manifest["content_hash"], folder
        assert len(list((copy / "assets" / "renders").glob("*.png"))) == 24, folder
        assert (copy / "assets" / "contact_sheet.png").is_file(), folder
    for benchmark_id in index_of(url):
        assert fs.exists(f"{root}/{benchmark_id}/manifest.json"), (
            f"index lists {benchmark_id} without a manifest"
        )


@dataclass
class Run:
    url: str
    work: Path
    result: subprocess.CompletedProcess[str]
    started: float
    pg_restarted_at: float


@pytest.fixture(scope="module")
def s3_run(services: Services, bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``generate`` to S3 with PostgreSQL metadata; PostgreSQL restarts while the candidate is checked."""
    url = f"s3://{bucket}/main"
    work = tmp_path_factory.mktemp("work")
    started = time.time()
    command = generate_cmd(url, "--db", services.pg_url, "--work-dir", str(work))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if any((work / ".staging").glob("*/script.py")):
            break
        time.sleep(0.2)
    restarted_at = time.time()
    services.pg_stop()
    services.pg_start()
    stdout, stderr = process.communicate(timeout=900)
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return Run(url=url, work=work, result=result, started=started, pg_restarted_at=restarted_at)


def test_generate_to_s3_with_postgres_survives_a_database_restart(
    s3_run: Run, services: Services, tmp_path: Path
) -> None:
    assert s3_run.result.returncode == 0, s3_run.result.stderr
    assert "uploading benchmark" in s3_run.result.stderr
    published = index_of(s3_run.url)
    assert len(published) == 1
    assert_consistent(s3_run.url, tmp_path)
    fs, root = s3(s3_run.url)
    benchmark_id = next(iter(published))
    assert fs.exists(f"{root}/index.html")
    assert not list((s3_run.work / ".staging").iterdir())

    # The database restarted during the check, and the run recorded its verdict afterwards.
    engine = create_engine(db.normalize_url(services.pg_url))
    with engine.connect() as connection:
        query = text("SELECT extract(epoch FROM pg_postmaster_start_time())")
        server_started = float(connection.execute(query).scalar_one())
    assert server_started >= s3_run.pg_restarted_at - 1
    assets = db.list_assets(engine, dataset=s3_run.url)
    assert [(a.id, a.content_hash) for a in assets] == list(published.items())
    assert assets[0].mjcf_url == f"{s3_run.url}/{benchmark_id}/assets/model.xml"
    sessions = {s.id: s for s in db.list_sessions(engine, dataset=s3_run.url)}
    accepted = sessions[assets[0].session_id]
    assert accepted.status == "accepted" and accepted.updated_at.timestamp() > server_started


def test_list_show_and_python_api_read_s3(s3_run: Run) -> None:
    benchmark_id = next(iter(index_of(s3_run.url)))
    listing = subprocess.run([*BENCHGEN, "list", s3_run.url], capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert benchmark_id[:12] in listing.stdout
    shown = subprocess.run(
        [*BENCHGEN, "show", f"{s3_run.url}/{benchmark_id}"], capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr
    assert f"{s3_run.url}/{benchmark_id}/assets/model.xml" in shown.stdout

    dataset = benchgen.dataset.open(s3_run.url)
    benches = list(dataset)
    assert [b.id for b in benches] == [benchmark_id] and len(dataset) == 1
    bench = dataset.get(benchmark_id)
    model = mujoco.MjModel.from_xml_path(str(bench.mjcf_path))  # downloaded with its meshes
    assert model.nbody >= 3
    assert json.loads(bench.read_bytes("report.json"))["accepted"] is True
    missing = subprocess.run(
        [*BENCHGEN, "show", f"{s3_run.url}/no-such-benchmark"], capture_output=True, text=True, timeout=300
    )
    assert missing.returncode == 2


def test_variant_of_an_s3_benchmark_runs_the_sandbox_locally(s3_run: Run, tmp_path: Path) -> None:
    benchmark_id = next(iter(index_of(s3_run.url)))
    out = tmp_path / "variant"
    result = subprocess.run(
        [
            *BENCHGEN,
            "variant",
            f"{s3_run.url}/{benchmark_id}",
            "--seed",
            "5",
            "--scale",
            "1.5",
            "--out",
            str(out),
        ]
        + ["--no-render"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    scene = json.loads((out / "scene.json").read_text())
    assert scene["seed"] == 5 and scene["scale"] == 1.5
    assert mujoco.MjModel.from_xml_path(str(out / "model.xml")).nbody >= 3


def test_rerun_on_s3_resumes_without_rechecking(s3_run: Run, services: Services) -> None:
    before = index_of(s3_run.url)
    started = time.monotonic()
    result = subprocess.run(
        generate_cmd(s3_run.url, "--db", services.pg_url, "--work-dir", str(s3_run.work)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stderr and "uploading" not in result.stderr
    assert index_of(s3_run.url) == before
    assert time.monotonic() - started < 90  # nothing was checked again


def test_ray_executor_gives_the_process_pool_result(s3_run: Run, tmp_path: Path) -> None:
    """A local Ray instance runs the check; the dataset equals the process pool's (ids, content hashes)."""
    out = tmp_path / "ray"
    result = subprocess.run(
        generate_cmd(out, "--executor", "ray"), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    assert "Ray" in result.stderr  # Ray's own start-up line: the check really ran as a Ray task
    assert index_of(str(out)) == index_of(s3_run.url)


class _Outage:
    """Freezes the S3 server when an upload starts; thaws it after ``seconds`` (or at ``end``)."""

    def __init__(self, services: Services, seconds: float | None) -> None:
        self.services = services
        self.seconds = seconds
        self.started = False
        self.timer: threading.Timer | None = None
        self.events: list[str] = []

    def on_progress(self, progress: Progress) -> None:
        self.events.append(progress.last)
        if not self.started and progress.last.startswith("uploading benchmark"):
            self.started = True
            self.services.pause_s3()
            if self.seconds is not None:
                self.timer = threading.Timer(self.seconds, self.services.resume_s3)
                self.timer.start()

    def end(self) -> None:
        if self.timer is not None:
            self.timer.join()
        else:
            self.services.resume_s3()


def test_s3_outage_during_upload_stops_cleanly_then_resumes(
    s3_run: Run, services: Services, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store stops while a benchmark uploads: retries, then a clear error and nothing
    partial visible; the next run uploads the finished benchmark without checking it again,
    riding out a shorter outage with retries, and gives the uninterrupted result."""
    url = f"s3://{bucket}/fault"
    work = tmp_path / "work"
    for name, value in (
        ("BENCHGEN_S3_CONNECT_TIMEOUT_S", "2"),
        ("BENCHGEN_S3_READ_TIMEOUT_S", "2"),
        ("BENCHGEN_S3_OPERATION_TIMEOUT_S", "3"),
        ("BENCHGEN_UPLOAD_ATTEMPTS", "3"),
        ("BENCHGEN_UPLOAD_BASE_DELAY_S", "0.5"),
    ):
        monkeypatch.setenv(name, value)
    options = GenerateOptions(out=url, count=1, seed=RUN_SEED, db_url=services.pg_url, work_dir=work)
    outage = _Outage(services, seconds=None)
    try:
        with pytest.raises(PublishError) as failure:
            Generator(options, on_progress=outage.on_progress).run()
    finally:
        outage.end()
    assert "after 3 attempts" in str(failure.value) and "Re-run" in str(failure.value)
    assert sum("retrying upload of benchmark" in e for e in outage.events) == 2
    time.sleep(1)  # let the thawed server finish requests that were queued while it was frozen
    assert_consistent(url, tmp_path / "after-failure")
    assert len(benchgen.dataset.open(url)) == 0
    pending = list((work / "pending").glob("*/manifest.json"))
    assert len(pending) == 1

    monkeypatch.setenv("BENCHGEN_UPLOAD_ATTEMPTS", "10")
    outage = _Outage(services, seconds=4)
    started = time.monotonic()
    try:
        summary = Generator(options, on_progress=outage.on_progress).run()
    finally:
        outage.end()
    assert summary.accepted == 1 and summary.resumed == 1  # uploaded from pending/, not checked again
    assert time.monotonic() - started < 90
    assert any("retrying upload of benchmark" in e for e in outage.events)
    assert index_of(url) == index_of(s3_run.url)
    assert_consistent(url, tmp_path / "after-resume")
    assert not list((work / "pending").glob("*/manifest.json"))


def test_remote_writer_removes_interrupted_uploads_and_archives_rejections(
    s3_run: Run, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed mid-upload leaves files without a manifest: invisible, and deleted by
    the next run (from the upload journal). Rejections are archived under rejected/."""
    url = f"s3://{bucket}/writer"
    work = tmp_path / "work"
    bench = next(iter(benchgen.dataset.open(s3_run.url)))
    writer = RemoteDatasetWriter(url, work_dir=work)
    writer.prepare()
    staged = writer.stage("c0")
    bench.fetch(staged)
    (staged / "manifest.json").unlink()
    upload = storage.put_files

    def killed_after_two_files(fs: AbstractFileSystem, pairs: list[tuple[str, str]], timeout: float) -> None:
        upload(fs, pairs[:2], timeout)
        raise KeyboardInterrupt  # stands for SIGKILL: no clean-up code runs

    monkeypatch.setattr(storage, "put_files", killed_after_two_files)
    with pytest.raises(KeyboardInterrupt):
        writer.publish(staged, bench.manifest)
    monkeypatch.setattr(storage, "put_files", upload)
    fs, root = s3(url)
    assert len(fs.find(f"{root}/{bench.id}")) == 2 and not fs.exists(f"{root}/{bench.id}/manifest.json")
    assert len(benchgen.dataset.open(url)) == 0

    writer = RemoteDatasetWriter(url, work_dir=work)
    writer.prepare()
    assert fs.find(f"{root}/{bench.id}") == []
    staged = writer.stage("c1")
    (staged / "script.py").write_text("raise SystemExit\n")
    (staged / "assets").mkdir()
    (staged / "assets" / "model.xml").write_text("<mujoco/>")
    rejection = Rejection(
        candidate_id="c00001-0123456789",
        stage="check",
        code="script_error",
        message="SystemExit",
        family="fixture",
        candidate={"index": 1},
        script_sha256="0" * 64,
    )
    writer.archive_rejection(staged, rejection)
    archived = sorted(p.rsplit("/", 1)[1] for p in fs.find(f"{root}/rejected/{rejection.candidate_id}"))
    assert archived == ["rejection.json", "script.py"]  # renders and models of rejections are not kept
    writer = RemoteDatasetWriter(url, work_dir=work)
    writer.prepare()
    assert writer.rejections() == [rejection]


def test_database_writes_retry_through_a_restart(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.connect(services.pg_url)
    fields = {
        "dataset": "test://restart",
        "run_id": "r",
        "theme": None,
        "tier": "spatial",
        "author": "offline",
    }
    db.record_session(engine, id="s1", status="validating", **fields)
    services.pg_stop()
    restart = threading.Timer(3.0, services.pg_start)
    restart.start()
    retries: list[str] = []
    try:
        db.record_session(engine, on_retry=retries.append, id="s1", status="accepted", **fields)
    finally:
        restart.join()
    assert retries and "recording a session" in retries[0]
    assert [s.status for s in db.list_sessions(engine, dataset="test://restart")] == ["accepted"]

    monkeypatch.setenv("BENCHGEN_DB_RETRY_ATTEMPTS", "2")
    services.pg_stop()
    try:
        with pytest.raises(db.DatabaseUnavailable, match="after 2 attempts"):
            db.record_session(engine, id="s2", status="validating", **fields)
    finally:
        services.pg_start()


def test_db_upgrade_command_and_legacy_sqlite(services: Services, tmp_path: Path) -> None:
    result = subprocess.run(
        [*BENCHGEN, "db", "upgrade", "--db", services.pg_url], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "at revision 0002" in result.stderr

    # A database made before migrations existed (tables, no alembic_version) is stamped, then migrated.
    legacy = db.make_engine(db.sqlite_url(tmp_path / "benchgen.db"))
    db.upgrade(legacy, "0001")
    with legacy.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO generation_sessions VALUES "
                "('3-c00000-ab', 'r', NULL, 'spatial', 'offline', 'accepted', NULL, NULL, '[]', '{}', "
                "'2026-01-01', '2026-01-01')"
            )
        )
    assert db.upgrade(legacy) == "0002"
    assert [(s.dataset, s.id) for s in db.list_sessions(legacy)] == [("", "3-c00000-ab")]


class _Counter(TypedDict):
    n: Annotated[int, operator.add]


def test_checkpointer_on_postgres(services: Services) -> None:
    """The agent author's LangGraph checkpoints can live in the same PostgreSQL server."""
    from langgraph.graph import END, START, StateGraph

    from benchgen.checkpoints import open_checkpointer

    graph = StateGraph(_Counter)
    graph.add_node("step", lambda state: {"n": 1})
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    with open_checkpointer(services.pg_url) as saver:
        graph.compile(checkpointer=saver).invoke({"n": 1}, thread)  # type: ignore[arg-type]
    with open_checkpointer(services.pg_url) as saver:
        assert graph.compile(checkpointer=saver).get_state(thread).values == {"n": 2}  # type: ignore[arg-type]


def test_scratch_round_trip_of_a_remote_task(tmp_path: Path) -> None:
    """What a Ray task does with a candidate's directory: ship it, work elsewhere, bring the results back."""
    work = tmp_path / "staged"
    work.mkdir()
    (work / "script.py").write_text("print('hi')\n")

    def task(directory: Path, suffix: str) -> str:
        assert directory != work
        (directory / "assets").mkdir()
        (directory / "assets" / "out.txt").write_text((directory / "script.py").read_text() + suffix)
        return "done"

    result, blob = run_in_scratch(task, pack_dir(work), "!")
    unpack_dir(blob, work)
    assert result == "done"
    assert (work / "assets" / "out.txt").read_text() == "print('hi')\n!"
