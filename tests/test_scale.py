"""Scaling up: datasets on S3, metadata in PostgreSQL, checks on Ray, and their failures.

Real services on loopback (``scripts/services.sh``: PostgreSQL with a password role, moto's
S3 server, and a second moto server that enforces IAM) and real checks (sandbox, MuJoCo,
renders). Every generation uses the same run seed, whose first candidate is accepted, so
each run checks one candidate; their results must be identical whatever the storage,
database or executor. Tests of the index, the lease and reconciliation publish synthetic
benchmarks with the real writer instead of checking candidates.
"""

from __future__ import annotations

import fcntl
import json
import operator
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import boto3
import mujoco
import pytest
from fsspec.spec import AbstractFileSystem
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import benchgen.dataset
from benchgen import db, storage
from benchgen.cli import app
from benchgen.dataset import LeaseHeld, Manifest, Rejection, content_hash
from benchgen.executors import RayExecutor, pack_dir, run_in_scratch, unpack_dir
from benchgen.generate import GenerateOptions, Generator, Progress
from benchgen.publishing import LEASE_FILE, PublishError, RemoteDatasetWriter
from records import manifest_fields
from scenario_template import scenario_source
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
    """``generate`` to S3 with PostgreSQL metadata (password authentication); PostgreSQL
    restarts while the candidate is checked."""
    url = f"s3://{bucket}/main"
    work = tmp_path_factory.mktemp("work")
    started = time.time()
    command = generate_cmd(url, "--db", services.pg_password_url, "--work-dir", str(work))
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


@pytest.mark.e2e
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
    engine = create_engine(db.normalize_url(services.pg_password_url))
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
    assert not [s.id for s in sessions.values() if s.status == "validating"]
    # Published with one index segment, merged into index.jsonl when the run ended.
    assert fs.find(f"{root}/index.d") == []
    assert _released(fs, root)


def _released(fs: AbstractFileSystem, root: str) -> bool:
    """The run left its lease object marked released (expired)."""
    holder = json.loads(fs.cat_file(f"{root}/{LEASE_FILE}"))
    return float(holder["expires_at"]) == 0.0


@pytest.mark.e2e
def test_list_show_and_python_api_read_s3(s3_run: Run) -> None:
    """Item 10: ``list`` prints full ids whatever the terminal (tab-separated when piped,
    ``--json``, a table on a narrow terminal); ``show`` accepts any id it prints (or a prefix)."""
    benchmark_id = next(iter(index_of(s3_run.url)))
    listing = subprocess.run([*BENCHGEN, "list", s3_run.url], capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    (line,) = listing.stdout.splitlines()
    fields = line.split("\t")
    assert fields[0] == benchmark_id and len(fields) == 6
    as_json = subprocess.run(
        [*BENCHGEN, "list", s3_run.url, "--json"], capture_output=True, text=True, timeout=300
    )
    (row,) = json.loads(as_json.stdout)
    assert row["id"] == benchmark_id and row["location"] == f"{s3_run.url}/{benchmark_id}"
    narrow = _in_terminal([*BENCHGEN, "list", s3_run.url], columns=40)
    assert benchmark_id in narrow.replace("\r", "")

    for printed in (benchmark_id, benchmark_id[: len(benchmark_id) - 6]):
        shown = subprocess.run(
            [*BENCHGEN, "show", f"{s3_run.url}/{printed}"], capture_output=True, text=True, timeout=300
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


def _in_terminal(command: list[str], columns: int) -> str:
    """Run ``command`` on a pseudo-terminal ``columns`` wide; return what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command exited
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_rerun_on_s3_resumes_without_rechecking(s3_run: Run, services: Services) -> None:
    """A rerun checks nothing, and reconciles the database with the store: a benchmark row
    lost to a database outage is written back (item 1, on a real run)."""
    before = index_of(s3_run.url)
    engine = db.make_engine(services.pg_password_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM benchmark_assets WHERE dataset = :d"), {"d": s3_run.url})
    result = subprocess.run(
        generate_cmd(s3_run.url, "--db", services.pg_password_url, "--work-dir", str(s3_run.work)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stderr and "uploading" not in result.stderr
    assert "backfilled 1 benchmarks" in result.stderr
    assert index_of(s3_run.url) == before
    assert [(a.id, a.content_hash) for a in db.list_assets(engine, dataset=s3_run.url)] == list(
        before.items()
    )
    candidates, resumed = summary_counts(result.stderr)
    # Every candidate was decided by the first run: none was checked again.
    assert resumed == candidates >= len(before)


def summary_counts(stderr: str) -> tuple[int, int]:
    """``(candidates, resumed)`` from the run summary's ``… from N candidates (M resumed) …``."""
    found = re.search(r"from\s+(\d+)\s+candidates\s+\((\d+)\s+resumed\)", stderr)
    assert found is not None, stderr
    return int(found[1]), int(found[2])


@dataclass
class RayHead:
    address: str
    env: dict[str, str]
    node_cache: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    """A Ray head started on its own (``ray start --head --block``), as on a cluster: token
    authentication, a node-local cache, and a deliberately wrong ``MUJOCO_GL`` that only the
    driver's forwarded settings correct. Killed (its whole process group) afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="bgray-", dir="/tmp"))  # Ray's socket paths must stay short
    port = _free_port()
    token = uuid.uuid4().hex + uuid.uuid4().hex
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    node_env = {
        **os.environ,
        **auth,
        "MUJOCO_GL": "osmesa",  # not installed here: rendering fails unless the driver's egl arrives
        "BENCHGEN_CACHE_DIR": str(scratch / "node-cache"),
    }
    head = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--head",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={scratch / 'ray'}",
            "--block",
        ],
        env=node_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield RayHead(address=f"127.0.0.1:{port}", env=auth, node_cache=scratch / "node-cache")
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=60)
        for leftover in _processes_mentioning(str(scratch)):
            os.kill(leftover, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def _processes_mentioning(text_: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text_.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.e2e
def test_ray_cluster_started_separately(
    s3_run: Run, ray_head: RayHead, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: ``generate --ray-address`` on a head started separately gives the process
    pool's dataset; settings reach the tasks explicitly (the head's own MUJOCO_GL is wrong),
    the tasks use the node's cache, not the driver's path; ``--workers`` bounds concurrency."""
    out = tmp_path / "ray"
    driver_cache = tmp_path / "driver-cache"
    env = {**os.environ, **ray_head.env, "MUJOCO_GL": "egl", "BENCHGEN_CACHE_DIR": str(driver_cache)}
    command = generate_cmd(out, "--executor", "ray", "--ray-address", ray_head.address, "--workers", "1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr
    assert index_of(str(out)) == index_of(s3_run.url)
    assert any(p.is_file() for p in ray_head.node_cache.rglob("*")), "the task did not use the node's cache"
    assert not driver_cache.exists() or not any(p.is_file() for p in driver_cache.rglob("*"))

    def stamped_sleep(seconds: float) -> tuple[float, float]:  # a local function: Ray ships it by value
        started = time.time()
        time.sleep(seconds)
        return started, time.time()

    for key, value in ray_head.env.items():
        monkeypatch.setenv(key, value)
    executor = RayExecutor(1, ray_head.address)
    try:
        tasks = [executor.submit(stamped_sleep, 1.0) for _ in range(3)]
        spans = sorted(task.result() for task in tasks)
    finally:
        executor.stop()
    # The head has 2 CPUs, but --workers 1: the three tasks ran one after the other.
    assert all(later[0] >= earlier[1] - 0.05 for earlier, later in zip(spans, spans[1:], strict=False)), spans


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


@pytest.mark.e2e
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
    try:
        summary = Generator(options, on_progress=outage.on_progress).run()
    finally:
        outage.end()
    assert summary.accepted == 1 and summary.resumed == 1  # uploaded from pending/, not checked again
    assert summary.candidates == summary.resumed
    assert any("retrying upload of benchmark" in e for e in outage.events)
    assert index_of(url) == index_of(s3_run.url)
    assert_consistent(url, tmp_path / "after-resume")
    assert not list((work / "pending").glob("*/manifest.json"))


@pytest.mark.e2e
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
        candidate={"index": 1, "seed": 0},
        script_sha256="0" * 64,
    )
    writer.archive_rejection(staged, rejection)
    archived = sorted(p.rsplit("/", 1)[1] for p in fs.find(f"{root}/rejected/{rejection.candidate_id}"))
    assert archived == ["rejection.json", "script.py"]  # renders and models of rejections are not kept
    writer = RemoteDatasetWriter(url, work_dir=work)
    writer.prepare()
    assert list(writer.rejections()) == [rejection]


@pytest.mark.e2e
def test_database_writes_retry_through_a_restart(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.connect(services.pg_url)
    fields: dict[str, Any] = {
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


@pytest.mark.e2e
def test_db_upgrade_command_and_legacy_sqlite(services: Services, tmp_path: Path) -> None:
    result = subprocess.run(
        [*BENCHGEN, "db", "upgrade", "--db", services.pg_url], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "at revision 0002" in result.stderr
    wrong = services.pg_password_url.replace("bench-secret", "wrong")
    refused = CliRunner().invoke(app, ["db", "upgrade", "--db", wrong])
    assert refused.exit_code == 2 and "password authentication failed" in refused.stderr
    assert (
        len(refused.stderr.strip().splitlines()) == 1 and "wrong" not in refused.stderr
    )  # no password shown

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


@pytest.mark.e2e
def test_checkpointer_on_postgres(services: Services) -> None:
    """The agent author's LangGraph checkpoints can live in the same PostgreSQL server."""
    from langgraph.graph import END, START, StateGraph

    from benchgen.checkpoints import has_thread, open_checkpointer

    graph = StateGraph(_Counter)
    graph.add_node("step", lambda state: {"n": 1})
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    thread_id = uuid.uuid4().hex
    thread = {"configurable": {"thread_id": thread_id}}
    assert not has_thread(services.pg_url, thread_id)
    with open_checkpointer(services.pg_url) as saver:
        graph.compile(checkpointer=saver).invoke({"n": 1}, thread)  # type: ignore[call-overload]
    with open_checkpointer(services.pg_url) as saver:
        assert graph.compile(checkpointer=saver).get_state(thread).values == {"n": 2}  # type: ignore[arg-type]
    assert has_thread(services.pg_url, thread_id)


@pytest.mark.e2e  # PostgreSQL and a stub LLM server on loopback
def test_agent_sessions_checkpoint_to_the_db_server(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``generate --author agent --db postgresql://...`` checkpoints its sessions in that server:
    the session runs, is found and resumes through the same code as production (AgentSettings.checkpoints),
    and no SQLite file appears beside the dataset."""
    from benchgen.agents import AgentSettings, run_agent_session, session_exists
    from stub_llm import StubLLM, call, say

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    vague = "# Idea\nA ball and some levers.\n"
    replies = [
        call("planner", "write_file", file_path="/plan.md", content=vague),
        say("planner", "done"),
    ]

    def never_check(*args: Any) -> Any:
        raise AssertionError("no script is checked in this session")

    session_id = f"pg-{uuid.uuid4().hex[:8]}"
    with StubLLM(replies) as server:
        settings = AgentSettings(
            model="openai:stub-model",
            base_url=server.base_url,
            max_retries=0,
            max_plan_attempts=1,
            checkpoints=services.pg_url,
        )
        outcome = run_agent_session(
            "levers", None, settings, tmp_path, session_id=session_id, checker=never_check
        )
        assert outcome.status == "failed" and "no acceptable plan" in outcome.reason
        assert session_exists(tmp_path, session_id, services.pg_url)
        assert not session_exists(tmp_path, session_id)  # nothing in the SQLite default
        assert not (tmp_path / "checkpoints.sqlite").exists()
        resumed = run_agent_session(
            None, None, settings, tmp_path, session_id=session_id, resume=True, checker=never_check
        )
    assert resumed.status == "failed" and resumed.reason == outcome.reason
    assert resumed.plan == vague


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


# -- synthetic benchmarks: the index, the lease, reconciliation, configuration ----------------


def synthetic_manifest(index: int, seed: int = 0, run_key: str | None = None) -> Manifest:
    """A manifest of the shape generate writes, for a benchmark nobody checked."""
    fields = manifest_fields(
        index,
        id=f"synthetic-{uuid.uuid4().hex[:12]}",
        content_hash=uuid.uuid4().hex * 2,
        script_sha256=uuid.uuid4().hex * 2,
        candidate={"index": index, "seed": seed, "run_key": run_key},
    )
    return Manifest.model_validate(fields)


def publish_synthetic(writer: RemoteDatasetWriter, manifest: Manifest) -> None:
    staged = writer.stage(f"c-{manifest.id}")
    (staged / "script.py").write_text("# synthetic\n")
    (staged / "report.json").write_text('{"accepted": true}')
    (staged / "assets").mkdir()
    (staged / "assets" / "model.xml").write_text("<mujoco/>")
    (staged / "assets" / "contact_sheet.png").write_bytes(b"\x89PNG")
    writer.publish(staged, manifest)


def synthetic_rejection(index: int, seed: int, run_key: str | None = None) -> Rejection:
    candidate: dict[str, Any] = {"index": index, "seed": seed, "choices": {}}
    if run_key is not None:
        candidate["run_key"] = run_key
    return Rejection(
        candidate_id=f"c{index:05d}-{uuid.uuid4().hex[:10]}",
        stage="check",
        code="script_error",
        message="synthetic",
        family="synthetic",
        candidate=candidate,
        script_sha256="0" * 64,
    )


def archive_synthetic(writer: RemoteDatasetWriter, rejection: Rejection) -> None:
    staged = writer.stage(f"r-{rejection.candidate_id}")
    (staged / "script.py").write_text("raise SystemExit\n")
    writer.archive_rejection(staged, rejection)


@pytest.mark.e2e
def test_store_is_the_truth_the_database_is_reconciled_on_start(
    services: Services, bucket: str, tmp_path: Path
) -> None:
    """Item 1 (and 6 at start): benchmarks published while the database was unreachable get
    their rows when the next run starts; a row of a benchmark the store does not hold goes;
    a session an interrupted run left ``validating`` is marked ``abandoned``."""
    url = f"s3://{bucket}/reconcile"
    options = GenerateOptions(
        out=url, count=2, seed=11, db_url=services.pg_password_url, work_dir=tmp_path / "w"
    )
    writer = RemoteDatasetWriter(url, work_dir=tmp_path / "publisher")
    writer.prepare()
    manifests = [synthetic_manifest(i, seed=11, run_key=options.run_key) for i in (0, 1)]
    for manifest in manifests:
        publish_synthetic(writer, manifest)
    rejection = synthetic_rejection(2, seed=11, run_key=options.run_key)
    archive_synthetic(writer, rejection)

    engine = db.connect(services.pg_password_url)
    fields: dict[str, Any] = {
        "dataset": url,
        "run_id": "crashed",
        "theme": None,
        "tier": "spatial",
        "author": "offline",
    }
    db.record_session(engine, id="11-ghost", status="accepted", **fields)
    db.record_session(engine, id="11-c00003-dead", status="validating", **fields)
    ghost: dict[str, Any] = {
        "name": "ghost",
        "tier": "spatial",
        "mjcf_url": "",
        "script_url": "",
        "preview_url": "",
        "variants": [],
        "difficulty": 1.0,
        "content_hash": "",
        "candidate_index": 9,
    }
    db.record_asset(engine, dataset=url, id="ghost", session_id="11-ghost", **ghost)

    events: list[str] = []
    summary = Generator(options, on_progress=lambda p: events.append(p.last)).run()
    assert summary.accepted == 2 and summary.resumed == 2  # decided by the index, nothing checked

    assets = {a.id: a for a in db.list_assets(engine, dataset=url)}
    assert sorted(assets) == sorted(m.id for m in manifests)
    assert assets[manifests[1].id].mjcf_url == f"{url}/{manifests[1].id}/assets/model.xml"
    assert [r.candidate_id for r in db.list_rejections(engine, dataset=url)] == [rejection.candidate_id]
    sessions = {s.id: s.status for s in db.list_sessions(engine, dataset=url)}
    assert sessions[assets[manifests[0].id].session_id] == "accepted"
    assert sessions["11-c00003-dead"] == "abandoned"
    assert any("backfilled 2 benchmarks and 1 rejections" in e for e in events)
    assert any("removed 1 rows" in e for e in events)


def _assert_fails_fast(result: Any, started: float, *needles: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert time.monotonic() - started < 20, "a configuration error was retried"


@pytest.mark.e2e
def test_configuration_errors_fail_fast_in_one_line(
    services: Services, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 2: wrong credentials, unknown hosts, malformed URLs, unknown schemes, bad ports and
    a bucketless s3:// end ``generate`` at once, in one line with exit 2, before any candidate
    is checked or anything is written to the store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHGEN_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    fs, _ = storage.filesystem(f"s3://{bucket}")
    before = sorted(fs.find(bucket))
    url = f"s3://{bucket}/config"
    wrong_password = services.pg_password_url.replace("bench-secret", "not-the-password")
    port = _free_port()
    cases: list[tuple[list[str], dict[str, str], tuple[str, ...]]] = [
        (["--out", url, "--db", wrong_password], {}, ("database", "password authentication failed")),
        (
            ["--out", url, "--db", "postgresql://u:p@no-such-host.invalid/db"],
            {},
            ("database", "no-such-host"),
        ),
        (["--out", url, "--db", f"postgresql://u:p@127.0.0.1:{port}/db"], {}, ("database", "refused")),
        (["--out", url, "--db", "postgresql://u:p@127.0.0.1:notaport/db"], {}, ("malformed database URL",)),
        (["--out", url, "--db", "s4://somewhere/db"], {}, ("unknown database scheme 's4'",)),
        (["--out", "s4://bucket/prefix"], {}, ("unknown storage scheme s4://",)),
        (["--out", "s3://"], {}, ("names no bucket",)),
        (["--out", url], {storage.ENDPOINT_ENV: "http://no-such-host.invalid:9000"}, ("unknown host",)),
        (["--out", url], {storage.ENDPOINT_ENV: f"http://127.0.0.1:{port}"}, ("connection refused",)),
        (["--out", url], {storage.ENDPOINT_ENV: "http://127.0.0.1:99999"}, ("invalid port",)),
        (["--out", url], {storage.ENDPOINT_ENV: "htp:/broken"}, ("not an http(s)://HOST[:PORT] URL",)),
        (["--out", url], {storage.ENDPOINT_ENV: services.s3_auth_endpoint}, ("rejected the credentials",)),
        (
            ["--out", f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/p"],
            {},
            ("does not exist (create it first)",),
        ),
    ]
    for args, env, needles in cases:
        started = time.monotonic()
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            result = runner.invoke(app, ["generate", *args, "--count", "1", "--quiet"])
        _assert_fails_fast(result, started, *needles)
    assert sorted(fs.find(bucket)) == before  # nothing written to the store
    assert not (tmp_path / "s3:").exists() and not list(tmp_path.glob("s3*"))
    assert not (tmp_path / "cache" / "datasets").exists() or not list(
        (tmp_path / "cache").rglob(".staging/*")
    )


def _iam_user(services: Services, name: str, policy: dict[str, Any]) -> dict[str, str]:
    """A user of the IAM-enforcing S3 server with this policy; its credentials as AWS variables."""
    key, secret = services.s3_auth_admin
    iam = boto3.client(
        "iam",
        endpoint_url=services.s3_auth_endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="policy", PolicyDocument=json.dumps(policy))
    access = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": access["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": access["SecretAccessKey"]}


def _prefix_policy(bucket_name: str, prefix: str) -> dict[str, Any]:
    """List the bucket and read/write one prefix: no HeadBucket, no ListBuckets, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket_name}"},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket_name}/{prefix}/*",
            },
        ],
    }


@pytest.mark.e2e
def test_stores_say_not_found_unreachable_or_denied_and_prefix_credentials_work(
    services: Services, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 3: ``list`` tells a missing dataset from an unreachable store and from a refused
    one; a credential limited to its prefix (denied HeadBucket) can write and read it."""
    runner = CliRunner()
    missing = runner.invoke(app, ["list", f"s3://{bucket}/nothing-here"])
    assert missing.exit_code == 2 and missing.stderr.startswith("error: not found"), missing.stderr
    no_bucket = runner.invoke(app, ["list", f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/p"])
    assert no_bucket.exit_code == 2 and "not found" in no_bucket.stderr
    with monkeypatch.context() as patch:
        patch.setenv(storage.ENDPOINT_ENV, f"http://127.0.0.1:{_free_port()}")
        down = runner.invoke(app, ["list", f"s3://{bucket}/anything"])
    assert down.exit_code == 2 and down.stderr.startswith("error: unreachable"), down.stderr

    admin = dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), services.s3_auth_admin, strict=True))
    shared = f"shared-{uuid.uuid4().hex[:6]}"
    boto3.client(
        "s3",
        endpoint_url=services.s3_auth_endpoint,
        region_name="us-east-1",
        aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=shared)
    team_a = _iam_user(services, f"team-a-{shared}", _prefix_policy(shared, "team-a"))
    team_b = _iam_user(services, f"team-b-{shared}", _prefix_policy(shared, "team-b"))
    with monkeypatch.context() as patch:
        patch.setenv(storage.ENDPOINT_ENV, services.s3_auth_endpoint)
        for key, value in team_a.items():
            patch.setenv(key, value)
        s3 = boto3.client("s3", endpoint_url=services.s3_auth_endpoint, region_name="us-east-1")
        with pytest.raises(Exception, match="403|Forbidden|AccessDenied"):
            s3.head_bucket(Bucket=shared)  # what a bucket-level check would need
        url = f"s3://{shared}/team-a/v1"
        writer = RemoteDatasetWriter(url, work_dir=tmp_path / "team-a")
        writer.check()
        writer.acquire("team-a-run")
        writer.prepare()
        publish_synthetic(writer, synthetic_manifest(0))
        writer.compact()
        writer.release()
        listed = runner.invoke(app, ["list", url])
        assert listed.exit_code == 0, listed.stderr
        assert listed.stdout.startswith("synthetic-")
        for key, value in team_b.items():
            patch.setenv(key, value)
        denied = runner.invoke(app, ["list", url])
        assert denied.exit_code == 2 and denied.stderr.startswith("error: access denied"), denied.stderr
        generate = runner.invoke(app, ["generate", "--out", url, "--count", "1", "--quiet"])
        assert generate.exit_code == 2 and "access denied" in generate.stderr, generate.stderr


HOLD_LEASE = """
import sys, time
from pathlib import Path
from benchgen.publishing import RemoteDatasetWriter
writer = RemoteDatasetWriter(sys.argv[1], work_dir=Path(sys.argv[2]))
writer.acquire("holder")
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.e2e
def test_one_writer_per_prefix_with_an_expiring_lease(
    services: Services, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 5: while a writer holds a prefix (renewing its lease), a second ``generate`` fails
    at once with a clear message; a crashed writer's lease stops blocking: at once when it
    ran on this host (its process is gone), after the TTL when it ran elsewhere."""
    monkeypatch.setenv("BENCHGEN_LEASE_TTL_S", "2")
    monkeypatch.setenv("BENCHGEN_CACHE_DIR", str(tmp_path / "cache"))
    url = f"s3://{bucket}/leased"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, url, str(tmp_path / "holder")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        time.sleep(3)  # longer than the TTL: only renewals keep the lease
        started = time.monotonic()
        second = CliRunner().invoke(app, ["generate", "--out", url, "--count", "1", "--quiet"])
        assert second.exit_code == 2, second.stderr
        assert "is being written by another run" in second.stderr and f"pid {holder.pid}" in second.stderr
        assert time.monotonic() - started < 20
    finally:
        holder.kill()  # a crash: no release
        holder.wait()
    writer = RemoteDatasetWriter(url, work_dir=tmp_path / "next")
    writer.acquire("after-crash")  # the holder's process is gone: taken over at once
    writer.release()

    # A writer on another machine that crashed: its lease blocks until it expires.
    fs, root = storage.filesystem(url)
    contender = RemoteDatasetWriter(url, work_dir=tmp_path / "contender")
    contender.fs.connect()  # a slow client start-up must not eat into the lease's lifetime
    expires = time.time() + 6
    other = {"host": "another-node", "pid": 1, "run_id": "elsewhere", "since": "", "ttl_s": 6}
    fs.pipe_file(f"{root}/{LEASE_FILE}", json.dumps({**other, "expires_at": expires}).encode())
    with pytest.raises(LeaseHeld, match="another-node"):
        contender.acquire("contender")
    time.sleep(max(0.0, expires - time.time()) + 0.5)
    contender.acquire("contender")
    contender.release()


@pytest.mark.e2e
def test_sessions_in_flight_when_a_run_ends_are_abandoned(services: Services, tmp_path: Path) -> None:
    """Item 6: a run interrupted while candidates are being checked marks their sessions
    ``abandoned`` (none stays ``validating``) and leaves no worker behind."""
    slow = scenario_source(header="import time\ntime.sleep(120)")
    options = GenerateOptions(
        out=tmp_path / "ds", count=1, seed=5, workers=2, db_url=services.pg_password_url
    )

    def author(rng: Any, theme: str | None, tier: str | None) -> Any:
        from benchgen.authors.offline import Candidate

        return Candidate(
            family="fixture", tier="spatial", script=slow + f"\n# {rng.integers(1 << 30)}\n", choices={}
        )

    interrupted: list[bool] = []

    def interrupt_when_busy(progress: Progress) -> None:  # Ctrl-C while both checks run
        if progress.in_flight == 2 and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt

    generator = Generator(options, on_progress=interrupt_when_busy, author=author)
    with pytest.raises(KeyboardInterrupt):
        generator.run()
    engine = db.make_engine(services.pg_password_url)
    statuses = [s.status for s in db.list_sessions(engine, dataset=str(options.out.resolve()))]  # type: ignore[union-attr]
    assert statuses == ["abandoned", "abandoned"]
    assert not list((options.out / ".staging").iterdir())  # type: ignore[operator]
    workers = [pid for pid in _children(os.getpid()) if b"spawn_main" in _cmdline(pid)]
    assert workers == []


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _count_gets(fs: AbstractFileSystem) -> list[str]:
    """Record the key of every GetObject the filesystem's S3 client sends from now on."""
    gets: list[str] = []
    fs.connect()  # s3fs: create the client now, to hook it
    fs.s3.meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: gets.append(params["url_path"])
    )
    return gets


@pytest.mark.e2e
def test_publishing_appends_segments_readers_see_them_and_resuming_reads_no_manifest(
    services: Services, bucket: str, tmp_path: Path
) -> None:
    """Item 7: a publish writes its files and one segment (index.jsonl and index.html are
    not rewritten); readers see uncompacted segments; ``benchgen index compact`` merges them;
    a writer starting on the dataset reads the index, not the manifests."""
    url = f"s3://{bucket}/segments"
    fs, root = storage.filesystem(url)
    writer = RemoteDatasetWriter(url, work_dir=tmp_path / "w")
    writer.check()
    writer.acquire("seg")
    writer.prepare()
    base = fs.info(f"{root}/index.jsonl")["ETag"]
    manifests = [synthetic_manifest(i) for i in range(3)]
    for number, manifest in enumerate(manifests, start=1):
        publish_synthetic(writer, manifest)
        assert len(fs.ls(f"{root}/index.d")) == number
        assert fs.info(f"{root}/index.jsonl")["ETag"] == base and not fs.exists(f"{root}/index.html")
        assert [b.id for b in benchgen.dataset.open(url)] == [m.id for m in manifests[:number]]
    writer.release()
    listed = CliRunner().invoke(app, ["list", url])
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [m.id for m in manifests]

    compacted = CliRunner().invoke(app, ["index", "compact", url, "--work-dir", str(tmp_path / "w")])
    assert compacted.exit_code == 0, compacted.stderr
    assert not fs.exists(f"{root}/index.d") or fs.ls(f"{root}/index.d") == []
    assert list(index_of(url)) == [m.id for m in manifests]
    assert fs.exists(f"{root}/index.html")

    resumed = RemoteDatasetWriter(url, work_dir=tmp_path / "w")
    gets = _count_gets(resumed.fs)
    resumed.prepare()
    assert [m.id for m in resumed.manifests()] == [m.id for m in manifests]
    assert not [g for g in gets if g.endswith("manifest.json")], gets
    assert len(gets) <= 3, gets
