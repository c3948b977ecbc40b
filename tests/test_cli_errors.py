"""The CLI maps errors to exit codes by class, in one place; typed options refuse bad values.

In-process (typer's CliRunner) and before any sandbox, server or model is started: the unit tier.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from benchgen import cli
from benchgen.cli import app, exit_code_of, handle_errors
from benchgen.errors import BenchgenError, InfrastructureError, UsageError

runner = CliRunner()


def _raising(exc: BaseException, verdict: bool = False, hint: str | None = None) -> typer.Typer:
    """A one-command app whose command raises ``exc``."""
    probe = typer.Typer()

    def command() -> None:
        raise exc

    probe.command()(handle_errors(command, verdict, hint))
    return probe


class Unreachable(InfrastructureError):
    kind = "storage"


@pytest.mark.parametrize(
    ("exc", "verdict", "code", "line"),
    [
        (UsageError("bad option"), False, 2, "error: bad option"),
        (InfrastructureError("server gone"), False, 1, "error: server gone"),
        (Unreachable("no answer\n  after 6 tries"), False, 1, "error: storage: no answer after 6 tries"),
        (FileNotFoundError(2, "No such file", "/x"), False, 1, "error: [Errno 2] No such file: '/x'"),
        # check / evaluate: 1 means "rejected", so an error that leaves no verdict is 2
        (InfrastructureError("sandbox died"), True, 2, "error: sandbox died"),
        (UsageError("bad option"), True, 2, "error: bad option"),
    ],
)
def test_errors_map_to_exit_codes_by_class(exc: BaseException, verdict: bool, code: int, line: str) -> None:
    result = runner.invoke(_raising(exc, verdict), [])
    assert result.exit_code == code
    assert result.stderr.strip() == line
    assert exit_code_of(exc, verdict) == code


def test_a_hint_follows_infrastructure_errors_only() -> None:
    hint = "re-run the same command to resume"
    failed = runner.invoke(_raising(InfrastructureError("upload failed"), hint=hint), [])
    assert failed.exit_code == 1 and failed.stderr.strip().splitlines() == ["error: upload failed", hint]
    misused = runner.invoke(_raising(UsageError("no bucket"), hint=hint), [])
    assert misused.exit_code == 2 and hint not in misused.stderr


def test_other_exceptions_are_not_hidden() -> None:
    result = runner.invoke(_raising(KeyError("bug")), [])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_every_error_class_is_on_one_branch() -> None:
    """The deliberate errors of every module derive from UsageError or InfrastructureError."""
    from benchgen import db, retry, settings, solving, storage
    from benchgen.agents import AgentConfigError, MissingApiKeyError
    from benchgen.dataset import IndexChanged, LeaseHeld, NotADataset
    from benchgen.decomposition import DecompositionLimit
    from benchgen.publishing import LeaseLost, PublishError
    from benchgen.sandbox import SandboxError
    from benchgen.seccomp import SeccompUnavailable

    usage = [
        retry.ConfigurationError,
        storage.StoreConfigError,
        storage.StoreNotFound,
        storage.StoreAccessDenied,
        storage.StoreUnreachable,
        db.DatabaseConfigError,
        settings.SettingsError,
        solving.BenchmarkError,
        AgentConfigError,
        MissingApiKeyError,
        LeaseHeld,
        NotADataset,
        cli.IsolationRefused,
        cli.LocationNotFound,
    ]
    infrastructure = [
        retry.RetriesExhausted,
        db.DatabaseUnavailable,
        PublishError,
        LeaseLost,
        IndexChanged,
        SandboxError,
        SeccompUnavailable,
        DecompositionLimit,
    ]
    assert all(issubclass(c, UsageError) and c.exit_code == 2 for c in usage)
    assert all(issubclass(c, InfrastructureError) and c.exit_code == 1 for c in infrastructure)
    # builtin bases that callers catch are kept
    assert issubclass(storage.StoreNotFound, FileNotFoundError) and issubclass(NotADataset, FileNotFoundError)
    assert issubclass(storage.StoreAccessDenied, PermissionError)
    assert issubclass(AgentConfigError, ValueError) and issubclass(SandboxError, RuntimeError)
    assert not issubclass(BenchgenError, OSError)


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["--tier", "aerial"], "--tier"),
        (["--author", "human"], "--author"),
        (["--executor", "slurm"], "--executor"),
    ],
)
def test_generate_refuses_unknown_choices_before_any_work(args: list[str], bad: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "ds"), *args])
    assert result.exit_code == 2 and bad in result.output
    assert not (tmp_path / "ds").exists()


def test_generate_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "ds")]
    families = runner.invoke(app, ["generate", *out, "--author", "agent", "--families", "lever"])
    assert families.exit_code == 2
    assert (
        families.stderr.strip() == "error: --families picks offline families; the agent author takes --theme"
    )


def test_a_bad_variable_is_a_usage_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHGEN_UPLOAD_ATTEMPTS", "0")
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: settings: BENCHGEN_UPLOAD_ATTEMPTS: "), result.stderr


def test_missing_locations_and_files_are_usage_errors(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["list", str(tmp_path / "nothing")])
    assert listed.exit_code == 2 and listed.stderr.startswith("error: not found: "), listed.stderr
    shown = runner.invoke(app, ["show", str(tmp_path / "nothing" / "abc")])
    assert shown.exit_code == 2 and shown.stderr.startswith("error: "), shown.stderr
    checked = runner.invoke(app, ["check", str(tmp_path / "missing.py")])
    assert (
        checked.exit_code == 2
        and checked.stderr.strip() == f"error: no such script: {tmp_path / 'missing.py'}"
    )


def test_db_upgrade_maps_database_errors(tmp_path: Path) -> None:
    malformed = runner.invoke(app, ["db", "upgrade", "--db", "postgresql://u:p@127.0.0.1:notaport/db"])
    assert malformed.exit_code == 2
    assert malformed.stderr.startswith("error: database: malformed database URL"), malformed.stderr
    assert len(malformed.stderr.strip().splitlines()) == 1
    unknown = runner.invoke(app, ["db", "upgrade", "--db", "s4://somewhere/db"])
    assert unknown.exit_code == 2 and "unknown database scheme 's4'" in unknown.stderr
    fresh = runner.invoke(app, ["db", "upgrade", "--out", str(tmp_path / "ds")])
    assert fresh.exit_code == 0 and "at revision" in fresh.stderr
