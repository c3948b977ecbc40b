"""The ``benchgen`` command line: ``check``, ``evaluate``, ``generate`` and the dataset commands.

Exit codes: 0 accepted/success, 1 rejected/failure, 2 the command itself was misused.

Errors are mapped to exit codes in one place, by class (:class:`BenchgenApp`): a
:class:`~benchgen.errors.UsageError` prints one line and exits 2, an
:class:`~benchgen.errors.InfrastructureError` (or an operating-system error) prints one line
and exits 1. Commands that give a verdict (``check``, ``evaluate``) keep exit 1 for a negative
verdict, so there an error that leaves no verdict exits 2 whatever its class. Commands raise
errors; they do not print them or choose exit codes for them.

Each command reads the environment once (:meth:`benchgen.settings.Settings.from_env`) and
passes the settings down.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from benchgen import __version__
from benchgen.authors import AuthorKind
from benchgen.errors import BenchgenError, InfrastructureError, UsageError
from benchgen.executors import ExecutorKind
from benchgen.scenario import Tier
from benchgen.settings import Settings

MISUSE = UsageError.exit_code
NO_VERDICT = MISUSE
"""Exit status of ``check`` / ``evaluate`` when an error leaves no verdict (1 is "rejected")."""

F = TypeVar("F", bound=Callable[..., Any])


def _stderr() -> Console:
    return Console(stderr=True)


def describe_error(exc: BaseException) -> str:
    """One line for the user: ``<kind>: <message>`` when the error has a kind."""
    kind = getattr(exc, "kind", "")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{kind}: {text}" if kind else text


def exit_code_of(exc: BaseException, verdict: bool = False) -> int:
    """The exit status for an error: its class's (usage 2, infrastructure 1; an OSError 1), or
    :data:`NO_VERDICT` for any error of a command whose exit 1 means a negative verdict."""
    code = exc.exit_code if isinstance(exc, BenchgenError) else 1
    return NO_VERDICT if verdict else code


def handle_errors(func: F, verdict: bool = False, hint: str | None = None) -> F:
    """``func`` with benchgen's errors turned into one line on stderr and an exit status
    (:func:`exit_code_of`); ``hint`` is printed after an infrastructure error (e.g. how to resume)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (BenchgenError, OSError) as exc:
            console = _stderr()
            console.print(f"[red]error:[/] {describe_error(exc)}", highlight=False, soft_wrap=True)
            code = exit_code_of(exc, verdict)
            if hint and isinstance(exc, InfrastructureError):
                console.print(hint, highlight=False)
            raise typer.Exit(code) from None

    return run  # type: ignore[return-value]


class BenchgenApp(typer.Typer):
    """A typer app whose commands have their errors mapped to exit codes (:func:`handle_errors`)."""

    def command(  # type: ignore[override]
        self, *args: Any, verdict: bool = False, hint: str | None = None, **kwargs: Any
    ) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(func: F) -> F:
            register(handle_errors(func, verdict, hint))
            return func

        return decorator


app = BenchgenApp(
    name="benchgen",
    help="Generate simulation-checked benchmark datasets of physics puzzles for engineering agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def output_dir_problem(out: Path) -> str | None:
    """Why ``out`` cannot take a command's output directory, or None when it can.

    Checked before any work: an existing non-directory, or a directory (or, when ``out``
    does not exist yet, its nearest existing ancestor) in which nothing can be created,
    e.g. on a read-only file system or without write permission. The probe really
    creates and removes a directory, so it answers for root and ACLs alike.
    """
    if out.exists() and not out.is_dir():
        return f"--out {out} exists and is not a directory"
    target = out.absolute()
    while not target.exists():
        if target.is_symlink():
            return f"--out {out}: {target} is a dangling link"
        target = target.parent
    if not target.is_dir():
        return f"--out {out}: {target} is not a directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".benchgen-probe-", dir=target))
    except OSError as exc:
        where = "" if target == out.absolute() else f" ({target})"
        return f"--out {out}{where} is not writable: {exc.strerror or exc}"
    return None


UNSAFE_HELP = (
    "DANGEROUS: run untrusted scripts even without kernel isolation (bubblewrap + seccomp), "
    "with only namespaces or audit hooks; see `benchgen doctor`"
)


class IsolationRefused(UsageError):
    """Untrusted code cannot run isolated here and the user did not opt out (``--unsafe-no-isolation``)."""


def require_isolation(unsafe_no_isolation: bool, console: Console | None = None) -> None:
    """Raise :class:`IsolationRefused` (exit 2) unless untrusted code can run isolated, or the
    user opted out loudly.

    The opt-in is recorded in ``$BENCHGEN_UNSAFE_NO_ISOLATION`` so that every sandbox this
    command starts, in this process or in its worker processes, honours it.
    """
    from benchgen.sandbox import UNSAFE_ENV, SandboxError
    from benchgen.sandbox import require_isolation as plan_isolation

    console = console or _stderr()
    if unsafe_no_isolation:
        os.environ[UNSAFE_ENV] = "1"
    try:
        isolation = plan_isolation(unsafe_no_isolation)
    except SandboxError as exc:  # the machine lacks isolation: the user fixes it or opts out
        raise IsolationRefused(str(exc)) from None
    if isolation.startswith("UNSAFE"):
        console.print(f"[bold red]WARNING: {isolation}[/]", highlight=False, soft_wrap=True)


def require_output_dir(out: Path | None) -> None:
    """Raise a :class:`~benchgen.errors.UsageError` (exit 2) when ``out`` cannot be written."""
    if out is None:
        return
    problem = output_dir_problem(out)
    if problem is not None:
        raise UsageError(problem)


@app.command(verdict=True)
def check(
    script: Annotated[Path, typer.Argument(help="Scenario script defining build(seed, scale) -> Scenario")],
    seeds: Annotated[int, typer.Option(min=2, help="Check seeds 0..N-1 at scale 1")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON report on stdout")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write model.xml, meshes, 24 renders and report.json here")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds allowed per build() call")] = 60.0,
    memory: Annotated[int, typer.Option(min=256, help="Memory limit of the sandbox, MB")] = 4096,
    solution: Annotated[
        Path | None,
        typer.Option(help="Reference solution.py: it must solve every checked variant within budget"),
    ] = None,
    unsafe_no_isolation: Annotated[bool, typer.Option("--unsafe-no-isolation", help=UNSAFE_HELP)] = False,
) -> None:
    """Check a scenario script: sandboxed builds, geometry, physics and renders. Exit 0 = accepted, 1 = rejected."""
    from benchgen.sandbox import prestart

    settings = Settings.from_env()
    for path, what in ((script, "script"), (solution, "solution")):
        if path is not None and not path.is_file():
            raise UsageError(f"no such {what}: {path}")
    require_output_dir(out)
    console = _stderr()
    require_isolation(unsafe_no_isolation, console)
    prestart()  # the sandbox imports build123d while this process imports the checker
    from benchgen.check import CheckOptions, check_script

    options = CheckOptions(seeds=seeds, timeout_s=timeout, memory_mb=memory, cache_dir=settings.cache_dir)
    with console.status("checking…") as status:
        report = check_script(
            script,
            options,
            out_dir=out,
            progress=lambda stage: status.update(f"checking: {stage}"),
            solution=solution,
        )
    if as_json:
        sys.stdout.write(report.model_dump_json() + "\n")
    else:
        _print_report(console, report, out)
    raise typer.Exit(0 if report.accepted else 1)


def _print_report(console: Console, report: object, out: Path | None) -> None:
    from benchgen.verdict import CheckReport

    assert isinstance(report, CheckReport)
    if report.accepted:
        console.print("[bold green]ACCEPTED[/]")
    else:
        console.print(f"[bold red]REJECTED[/] [yellow]{report.code}[/]: {report.message}")
    timings = report.metrics.timings_s or {}
    if timings:
        table = Table("stage", "seconds", title="stage times")
        for stage, seconds in timings.items():
            table.add_row(stage, f"{seconds:.2f}")
        console.print(table)
    if out is not None:
        console.print(f"artifacts: {out}")


@app.command(verdict=True)
def evaluate(
    target: Annotated[
        str, typer.Argument(help="A scenario script, or a benchmark (DIR/<id> or URL) as `show` takes")
    ],
    solution: Annotated[
        Path,
        typer.Argument(
            help="Solution file defining design(view) -> Design; or, with a dataset as TARGET, a "
            "directory holding one <id>.py per benchmark"
        ),
    ],
    seeds: Annotated[int, typer.Option(min=1, help="Evaluate seeds FIRST..FIRST+N-1 at scale 1")] = 8,
    first_seed: Annotated[int, typer.Option(min=0, help="First seed evaluated")] = 0,
    scales: Annotated[
        bool, typer.Option(help="Also evaluate the first two seeds at scales 0.5 and 2.0, as check does")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON report on stdout")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write model.xml with the design, 24 renders and a rollout GIF of the first variant"
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds allowed per build() or design() call")
    ] = 60.0,
    memory: Annotated[int, typer.Option(min=256, help="Memory limit of each sandbox, MB")] = 4096,
    duration: Annotated[
        float, typer.Option(min=0.1, max=120, help="Longest simulated time per variant, s")
    ] = 10.0,
    unsafe_no_isolation: Annotated[bool, typer.Option("--unsafe-no-isolation", help=UNSAFE_HELP)] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Benchmarks evaluated at once (with a solutions directory)")
    ] = 2,
    results: Annotated[
        Path | None,
        typer.Option(
            help="Results JSONL (with a solutions directory; default SOLUTIONS_DIR/results.jsonl). "
            "A re-run reuses rows whose benchmark, solution and options are unchanged"
        ),
    ] = None,
) -> None:
    """Score a design against a benchmark on every variant. Exit 0 = solved everywhere, 1 = failed.

    With a dataset (DIR or URL) and a directory of solutions, score every benchmark against
    SOLUTIONS_DIR/<id>.py and write the results JSONL and a summary (exit 0 = all solved)."""
    from benchgen.check import CheckOptions
    from benchgen.evaluate import EvaluateSettings
    from benchgen.solving import EvaluateOptions, evaluate_solution

    settings = Settings.from_env()
    console = _stderr()
    if not solution.exists():
        raise UsageError(f"no such solution: {solution}")
    options = EvaluateOptions(
        seeds=seeds,
        first_seed=first_seed,
        scales=scales,
        timeout_s=timeout,
        memory_mb=memory,
        settings=EvaluateSettings(duration_s=duration),
        check=CheckOptions(cache_dir=settings.cache_dir),
    )
    if solution.is_dir():
        if out is not None:
            raise UsageError("--out is for one benchmark; a dataset run writes --results")
        dataset = _open_dataset(target, settings)
        require_isolation(unsafe_no_isolation, console)
        _evaluate_dataset(
            console, dataset, solution, results or solution / "results.jsonl", options, workers, as_json
        )
        return
    script = Path(target)
    if not script.is_file():
        script = _open_benchmark(target, settings).script_path
    require_output_dir(out)
    require_isolation(unsafe_no_isolation, console)
    with console.status("evaluating…") as status:
        report = evaluate_solution(
            script, solution, options, out_dir=out, progress=lambda s: status.update(f"evaluating: {s}")
        )
    if as_json:
        sys.stdout.write(report.model_dump_json() + "\n")
    else:
        _print_evaluation(console, report, out)
    raise typer.Exit(0 if report.passed else 1)


def _evaluate_dataset(
    console: Console,
    dataset: Any,
    solutions: Path,
    results: Path,
    options: Any,
    workers: int,
    as_json: bool,
) -> None:
    """``evaluate DATASET SOLUTIONS_DIR``: every benchmark, a results JSONL and a summary table."""
    from rich.progress import Progress

    from benchgen.leaderboard import NO_SOLUTION, LeaderboardRow, evaluate_dataset, summary_json

    require_output_dir(results.parent)
    total = len(dataset)
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("evaluating", total=total)

        def on_row(row: LeaderboardRow, reused: bool) -> None:
            verdict = "solved" if row.passed else (row.code or "failed")
            note = " (reused)" if reused else ""
            if row.code != NO_SOLUTION:
                progress.console.print(f"{row.id}: {verdict} {row.success_rate:.0%}{note}", highlight=False)
            progress.advance(bar)

        summary = evaluate_dataset(dataset, solutions, results, options, workers=workers, on_row=on_row)
    if as_json:
        sys.stdout.write(summary_json(summary) + "\n")
    else:
        table = Table("tier", "benchmarks", "solved", "mean success", "mean cost / budget")
        groups = [*summary.by_tier.items(), ("all", summary.overall)]
        for name, group in groups:
            ratio = "-" if group.mean_cost_ratio is None else f"{group.mean_cost_ratio:.2f}"
            table.add_row(
                name, str(group.benchmarks), str(group.solved), f"{group.mean_success_rate:.0%}", ratio
            )
        console.print(table)
        if summary.missing:
            console.print(f"{summary.missing} benchmark(s) have no <id>.py in {solutions}")
        console.print(f"results: {summary.results}", highlight=False)
    solved_all = summary.overall.solved == summary.overall.benchmarks
    raise typer.Exit(0 if solved_all else 1)


def _print_evaluation(console: Console, report: object, out: Path | None) -> None:
    from benchgen.evaluate import EvaluationReport

    assert isinstance(report, EvaluationReport)
    verdict = "[bold green]PASSED[/]" if report.passed else f"[bold red]FAILED[/] ({report.code})"
    console.print(verdict)
    console.print(report.message, highlight=False, soft_wrap=True)
    table = Table("seed", "scale", "result", "payload end (mm)", "in goal (s)", "cost $", "weight g")
    for o in report.per_seed:
        end = ", ".join(f"{v:.0f}" for v in o.payload_end_mm) if o.payload_end_mm else "-"
        table.add_row(
            str(o.seed),
            f"{o.scale:g}",
            "solved" if o.success else str(o.code),
            end,
            f"{o.time_in_goal_s:.2f}",
            "-" if o.cost_usd is None else f"{o.cost_usd:.2f}",
            "-" if o.weight_g is None else f"{o.weight_g:.0f}",
        )
    console.print(table)
    console.print(f"success rate {report.success_rate:.0%}")
    if out is not None and report.artifacts:
        console.print(f"artifacts in {out}")


@app.command()
def doctor() -> None:
    """Report the environment: versions, sandbox isolation, headless rendering."""
    from benchgen.sandbox import isolation_report

    console = Console()
    table = Table("component", "status")
    table.add_row("benchgen", __version__)
    table.add_row("python", sys.version.split()[0])
    for module in ("build123d", "mujoco", "trimesh", "manifold3d", "coacd"):
        try:
            version = getattr(__import__(module), "__version__", "installed")
            table.add_row(module, str(version))
        except Exception as exc:  # the doctor reports, it does not crash
            table.add_row(module, f"[red]missing: {exc}[/]")
    report = isolation_report()
    for key, value in report.items():
        table.add_row(f"sandbox: {key}", str(value))
    table.add_row("rendering", _probe_rendering())
    console.print(table)
    _print_isolation_advice(console, report)


def _print_isolation_advice(console: Console, report: dict[str, str | bool]) -> None:
    """Say whether untrusted scripts will run, and how to get isolation when they will not."""
    from benchgen.sandbox import HOW_TO_ISOLATE

    if report["isolated"]:
        console.print(
            "[green]sandbox: isolated[/] (bubblewrap + seccomp); untrusted scripts run", highlight=False
        )
        return
    console.print(
        "[bold red]sandbox: NOT isolated[/]: check, variant and generate refuse untrusted scripts here",
        highlight=False,
    )
    missing = [
        f"{name} ({report[f'{name}_detail']})"
        for name in ("bwrap", "seccomp")
        if not report[f"{name}_usable"]
    ]
    console.print(f"missing: {'; '.join(missing)}", highlight=False)
    console.print(f"to get isolation: {HOW_TO_ISOLATE}", highlight=False)
    console.print(
        "to run anyway (dangerous: the script may read your files and start processes): --unsafe-no-isolation",
        highlight=False,
    )


def _probe_rendering() -> str:
    import os

    try:
        import mujoco

        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
        with mujoco.Renderer(model, 32, 32) as renderer:
            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)
            renderer.update_scene(data)
            renderer.render()
        return f"ok (MUJOCO_GL={os.environ.get('MUJOCO_GL')})"
    except Exception as exc:  # reported, not raised: doctor must finish
        return f"[red]failed: {exc}[/]"


@app.command(hint="nothing partial is visible; re-run the same command to resume")
def generate(
    out: Annotated[
        str,
        typer.Option(
            help="Dataset directory or URL (s3://bucket/prefix, any fsspec URL); created or resumed"
        ),
    ] = "dataset",
    count: Annotated[int, typer.Option(min=1, help="How many accepted benchmarks to produce")] = 5,
    theme: Annotated[str | None, typer.Option(help="Steer the author, e.g. 'hinge', 'bin', 'stairs'")] = None,
    tier: Annotated[Tier | None, typer.Option(help="Only this tier (default: all)")] = None,
    families: Annotated[
        str | None,
        typer.Option(help="Offline families by name, comma-separated (default: all matching --theme/--tier)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Run seed: same seed and options, same benchmarks")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Parallel check workers")] = 1,
    author: Annotated[
        AuthorKind, typer.Option(help="offline (procedural, no LLM) | agent (LLM graph)")
    ] = "offline",
    budget_factor: Annotated[float, typer.Option(help="Give up after this × COUNT candidates")] = 5.0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain log lines instead of a live display")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Metadata database URL (postgresql://...); default SQLite beside the data"),
    ] = None,
    executor: Annotated[
        ExecutorKind, typer.Option(help="Where checks run: process (local pool) | ray")
    ] = "process",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (ray://host:10001 | auto); default: a local Ray")
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Local work directory of a remote --out (default: in the cache)")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Agent author's chat model, provider:model (e.g. anthropic:claude-sonnet-4-5)"),
    ] = None,
    reviewer_model: Annotated[
        str | None, typer.Option(help="Vision model of the agent reviewer (default: --model)")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server for openai:/ollama: models (vLLM, Ollama, llama.cpp, LM Studio)"
        ),
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Resume this interrupted agent session first")
    ] = None,
    max_images: Annotated[
        int,
        typer.Option(
            min=1, max=5, help="Images per reviewer request: 1 = the contact sheet only (vLLM's usual limit)"
        ),
    ] = 5,
    context_tokens: Annotated[
        int | None,
        typer.Option(
            min=2048,
            help="Context window of the agent models in tokens; drives summarisation "
            "(default: the model's profile, else 32768)",
        ),
    ] = None,
    tool_choice: Annotated[
        bool,
        typer.Option(
            "--tool-choice/--no-tool-choice",
            help="Let the reviewer's server force a tool call (a server refusing it is detected anyway)",
        ),
    ] = True,
    unsafe_no_isolation: Annotated[bool, typer.Option("--unsafe-no-isolation", help=UNSAFE_HELP)] = False,
) -> None:
    """Generate a dataset of accepted, physics-verified benchmarks (resumable: re-run to continue)."""
    settings = Settings.from_env()
    console = _stderr()
    names = [n.strip() for n in families.split(",") if n.strip()] if families is not None else None
    if names is not None and author != "offline":
        raise UsageError("--families picks offline families; the agent author takes --theme")
    if author == "offline":
        from benchgen.authors.offline import solvable_families

        solvable_families(theme, tier, names)  # NoFamilyMatches (exit 2) before any work
    require_isolation(unsafe_no_isolation, console)
    from benchgen.check import CheckOptions
    from benchgen.generate import GenerateOptions

    options = GenerateOptions(
        out=out,
        count=count,
        theme=theme,
        tier=tier,
        families=names,
        seed=seed,
        workers=workers,
        author=author,
        budget_factor=budget_factor,
        db_url=db,
        executor=executor,
        ray_address=ray_address,
        work_dir=work_dir,
        check=CheckOptions(cache_dir=settings.cache_dir),
    )
    author_fn = None
    if author == "agent":
        agent_options = {
            "max_images": max_images,
            "context_tokens": context_tokens,
            "tool_choice": tool_choice,
            "check": options.check,
            "checkpoints": db,
        }
        author_fn = _agent_author(
            console, out, work_dir, model, reviewer_model, base_url, resume, agent_options
        )
    summary = _run_generator(console, options, settings, quiet, author_fn)
    verdict = "[green]done[/]" if summary.stopped_because == "count_reached" else "[yellow]budget spent[/]"
    console.print(
        f"{verdict}: {summary.accepted}/{summary.target} accepted from {summary.candidates} candidates "
        f"({summary.resumed} resumed) in {summary.seconds:.0f} s; rejected: {summary.rejected or 'none'}"
    )
    console.print(f"gallery: {summary.gallery}")
    raise typer.Exit(0 if summary.stopped_because == "count_reached" else 1)


def _agent_author(
    console: Console,
    out: str,
    work_dir: Path | None,
    model: str | None,
    reviewer_model: str | None,
    base_url: str | None,
    resume: str | None,
    options: dict[str, Any],
) -> Any:
    """The agent author, after checking its configuration and, with one short call per model, that
    the servers can do what the agents need (any problem raises an AgentConfigError: exit 2)."""
    from benchgen.agents import AgentSettings, preflight
    from benchgen.agents.capabilities import probe_capabilities
    from benchgen.authors.agent import AgentAuthor

    if not model:
        raise UsageError("--author agent needs --model PROVIDER:MODEL (e.g. openai:gpt-4.1)")
    settings = AgentSettings(model=model, reviewer_model=reviewer_model, base_url=base_url, **options)
    preflight(settings)
    models = ", ".join(dict.fromkeys((settings.model, settings.reviewer)))
    console.print(f"checking the model server(s): {models}", highlight=False)
    capabilities = probe_capabilities(settings)
    local = Path(out) if "://" not in out else (work_dir or Path(".benchgen-agent"))
    local.mkdir(parents=True, exist_ok=True)
    return AgentAuthor(settings, local, resume_session=resume, capabilities=capabilities)


def _run_generator(
    console: Console, options: object, settings: Settings, quiet: bool, author_fn: Any = None
) -> Any:
    """Run a generation. A wrong setting (store, database), an unusable location or another
    writer on the dataset raises a usage error before any work (exit 2); a storage or
    database failure during the run an infrastructure error (exit 1, with how to resume)."""
    from benchgen.generate import GenerateOptions, Generator

    assert isinstance(options, GenerateOptions)
    with ProgressDisplay(console, quiet) as display:
        return Generator(options, on_progress=display.update, author=author_fn, settings=settings).run()


class ProgressDisplay:
    """A live rich table of a generate run, or plain log lines in quiet mode."""

    def __init__(self, console: Console, quiet: bool) -> None:
        from rich.live import Live

        self.console = console
        self.quiet = quiet
        self.live = None if quiet else Live(console=console, refresh_per_second=4, transient=True)
        self.last = ""

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.__exit__(None, None, None)

    def update(self, progress: object) -> None:
        from benchgen.generate import Progress

        assert isinstance(progress, Progress)
        rate = progress.accepted / (progress.elapsed_s / 60) if progress.elapsed_s > 0 else 0.0
        rejected = ", ".join(f"{k}={v}" for k, v in sorted(progress.rejected.items())) or "none"
        if self.quiet:
            if progress.last and progress.last != self.last:
                self.console.print(
                    f"[{progress.elapsed_s:7.1f}s] {progress.last} (accepted {progress.accepted}/{progress.target})",
                    highlight=False,
                )
                self.last = progress.last
            return
        table = Table(title="benchgen generate", show_header=False)
        table.add_row("accepted", f"{progress.accepted}/{progress.target}")
        table.add_row("rejected", rejected)
        table.add_row("in flight", str(progress.in_flight))
        table.add_row("candidates", f"{progress.candidates} ({progress.resumed} resumed)")
        table.add_row("elapsed", f"{progress.elapsed_s:.0f} s ({rate:.1f} accepted/min)")
        table.add_row("last", progress.last)
        assert self.live is not None
        self.live.update(table)


@app.command("list")
def list_benchmarks(
    directory: Annotated[str, typer.Argument(help="Dataset directory or URL (s3://bucket/prefix)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of {id, tier, name, ...} objects")
    ] = False,
) -> None:
    """List the benchmarks of a dataset: a table on a terminal, tab-separated lines otherwise.

    Ids are always printed in full (use them with ``show`` and ``variant``)."""
    import json

    dataset = _open_dataset(directory, Settings.from_env())
    rows = (_listing_row(dataset, m) for m in dataset.iter_manifests())
    if as_json:
        out = sys.stdout
        out.write("[")
        for number, row in enumerate(rows):
            out.write(("," if number else "") + "\n  " + json.dumps(row))
        out.write("\n]\n")
        return
    console = Console()
    listed = list(rows) if sys.stdout.isatty() else []
    width = max((len(r["id"]) for r in listed), default=2)
    if not sys.stdout.isatty() or console.width < width + 40:  # no room for a table
        for row in listed or rows:  # one benchmark per line, fields never wrapped or cut
            fields = (
                row["id"],
                row["tier"],
                row["name"],
                f"{row['difficulty']:.2f}",
                row["units"],
                row["max_unit_cost"],
            )
            sys.stdout.write("\t".join(str(f).replace("\t", " ") for f in fields) + "\n")
        return
    table = Table(title=f"{directory}")
    table.add_column("id", no_wrap=True, min_width=width, overflow="fold")
    for name in ("tier", "name", "difficulty", "units", "max $/unit"):
        table.add_column(name)
    for row in listed:
        table.add_row(
            row["id"],
            row["tier"],
            row["name"],
            f"{row['difficulty']:.2f}",
            str(row["units"]),
            f"{row['max_unit_cost']:.2f}",
        )
    console.print(table)


@app.command("stats")
def stats_command(
    directory: Annotated[str, typer.Argument(help="Dataset directory or URL (s3://bucket/prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as one JSON object")] = False,
    plots: Annotated[
        Path | None, typer.Option(help="Write the plots into this directory instead of DIR/stats/")
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Do not write the plots")] = False,
) -> None:
    """Dataset statistics: counts by tier, family and difficulty band, the acceptance rate and the
    rejection reasons; writes the plots the gallery shows (DIR/stats/*.png).

    Reads only the two indexes (benchmarks and rejections), whatever the dataset's size."""
    from benchgen import storage
    from benchgen.dataset import Rejection, rejection_index
    from benchgen.stats import compute_stats, publish_plots, write_plots

    settings = Settings.from_env()
    dataset = _open_dataset(directory, settings)
    err = _stderr()
    fs, root = storage.filesystem(directory, settings.storage)
    rejections = (Rejection.model_validate(r) for r in rejection_index(fs, root).records())
    result = compute_stats(dataset.iter_manifests(), rejections, str(dataset.root))
    written: list[str] = []
    if not no_plots:
        try:
            if plots is not None:
                written = [str(p) for p in write_plots(result, plots).values()]
            else:
                written = publish_plots(result, directory, settings)
        except Exception as exc:  # the numbers are still worth printing
            err.print(f"[yellow]warning:[/] plots not written: {exc}", highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        _print_stats(Console(), result)
    if written:
        err.print(f"plots: {', '.join(written)}", highlight=False, soft_wrap=True)


def _print_stats(console: Console, stats: Any) -> None:
    """The statistics as rich tables: overview, tiers, families, difficulty bands, rejections."""
    rate = "—" if stats.acceptance_rate is None else f"{stats.acceptance_rate:.1%}"
    overview = Table(title=f"{stats.location}", show_header=False)
    overview.add_column("what")
    overview.add_column("value", justify="right")
    overview.add_row("accepted benchmarks", str(stats.benchmarks))
    overview.add_row("rejected candidates", str(stats.rejected))
    overview.add_row("acceptance rate", rate)
    d = stats.difficulty
    if d.count:
        overview.add_row("difficulty min / median / max", f"{d.min:.2f} / {d.median:.2f} / {d.max:.2f}")
    c = stats.cost_budget
    if c.count:
        overview.add_row(
            "reference cost ÷ budget min / median / max", f"{c.min:.3f} / {c.median:.3f} / {c.max:.3f}"
        )
    if stats.without_reference:
        overview.add_row("without a reference cost", str(stats.without_reference))
    console.print(overview)
    total = max(stats.benchmarks, 1)
    for title, counts in (
        ("by tier", stats.by_tier),
        ("by family", stats.by_family),
        ("by difficulty band", stats.by_difficulty_band),
    ):
        table = Table(title=title)
        table.add_column(title.split()[-1])
        table.add_column("benchmarks", justify="right")
        table.add_column("share", justify="right")
        for name, count in counts.items():
            table.add_row(name, str(count), f"{count / total:.0%}")
        console.print(table)
    if stats.rejection_reasons:
        table = Table(title="rejection reasons")
        for column in ("code", "stage", "count", "example"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for reason in stats.rejection_reasons:
            table.add_row(reason.code, reason.stage, str(reason.count), reason.example[:120])
        console.print(table)


class LocationNotFound(UsageError, FileNotFoundError):
    """A local dataset or benchmark the user named does not exist."""

    kind = "not found"


class LocationDenied(UsageError, PermissionError):
    """A local dataset or benchmark the user named cannot be read."""

    kind = "access denied"


def _open_dataset(location: str, settings: Settings) -> Any:
    """Open a dataset; a location that is missing, unreachable, denied or not a dataset is a
    usage error (exit 2)."""
    from benchgen.dataset import open as open_dataset

    with _user_location():
        return open_dataset(location, settings)


@contextmanager
def _user_location() -> Iterator[None]:
    """A missing or unreadable local path the user named is a usage error, as a store's is."""
    try:
        yield
    except BenchgenError:
        raise
    except FileNotFoundError as exc:
        raise LocationNotFound(str(exc)) from None
    except PermissionError as exc:
        raise LocationDenied(str(exc)) from None


def _listing_row(dataset: Any, manifest: Any) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "tier": manifest.tier,
        "name": manifest.name,
        "family": manifest.family,
        "difficulty": round(manifest.difficulty.score, 4),
        "units": manifest.target_quantity,
        "max_unit_cost": manifest.max_unit_cost,
        "max_weight_g": manifest.max_weight_g,
        "location": str(dataset._location_of(manifest.id)),
    }


def _open_benchmark(benchmark: str, settings: Settings) -> Any:
    """Open ``DIR/<id>`` or ``URL/<id>`` (an id as ``list`` prints it, or a unique prefix);
    one that cannot be opened is a usage error (exit 2)."""
    from benchgen.dataset import open_benchmark

    with _user_location():
        return open_benchmark(benchmark, settings)


@app.command()
def show(
    benchmark: Annotated[
        str,
        typer.Argument(
            help="A benchmark: DIR/<id> or s3://bucket/prefix/<id> (an id from list, or a unique prefix)"
        ),
    ],
) -> None:
    """Show one benchmark's manifest in readable form."""
    bench = _open_benchmark(benchmark, Settings.from_env())
    m = bench.manifest
    console = Console()
    console.print(f"[bold]{m.name}[/]  ({m.id})")
    console.print(
        f"tier: {m.tier}   family: {m.family}   author: {m.author.kind}   difficulty: {m.difficulty.score:.2f}"
    )
    console.print(m.description)
    weight = f", max {m.max_weight_g:g} g" if m.max_weight_g else ""
    console.print(f"constraints: {m.target_quantity} units at max ${m.max_unit_cost:.2f}/unit{weight}")
    console.print(f"params (seed 0): {m.params}")
    console.print(f"validated seeds {m.seeds} at scales {m.scales}; review: {'; '.join(m.review.reasons)}")
    model = f"{bench.location}/assets/model.xml" if bench.remote else str(bench.mjcf_path)
    console.print(f"model: {model}")
    console.print(f"content hash: {m.content_hash}")


@app.command()
def variant(
    benchmark: Annotated[
        str,
        typer.Argument(
            help="A benchmark: DIR/<id> or s3://bucket/prefix/<id> (an id from list, or a unique prefix)"
        ),
    ],
    seed: Annotated[int, typer.Option(help="Variant seed")] = 0,
    scale: Annotated[float, typer.Option(min=0.5, max=2.0, help="Global scale")] = 1.0,
    out: Annotated[Path, typer.Option(help="Output directory for model.xml, meshes and renders")] = Path(
        "variant"
    ),
    no_render: Annotated[bool, typer.Option("--no-render", help="Skip the 24 renders")] = False,
    unsafe_no_isolation: Annotated[bool, typer.Option("--unsafe-no-isolation", help=UNSAFE_HELP)] = False,
) -> None:
    """Regenerate one randomized variant (MJCF + renders) of a benchmark through the sandbox."""
    from benchgen.verdict import CheckFailure

    console = _stderr()
    require_output_dir(out)
    require_isolation(unsafe_no_isolation, console)
    bench = _open_benchmark(benchmark, Settings.from_env())
    try:
        with console.status(f"building {bench.id} seed={seed} scale={scale:g}…"):
            xml = bench.variant(seed, scale, out, render=not no_render)
    except CheckFailure as failure:
        console.print(f"[red]variant failed[/] {failure.code.value}: {failure.message}")
        raise typer.Exit(1) from None
    console.print(f"model: {xml}")


db_app = BenchgenApp(help="The metadata database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (postgresql://..., sqlite:///...)")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Without --db: the dataset whose SQLite database to upgrade")
    ] = Path("dataset"),
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Create or migrate the metadata database's schema (generate does it too, on start)."""
    from benchgen import db as database

    settings = Settings.from_env()
    url = db or database.sqlite_url(out / "benchgen.db")
    console = _stderr()
    engine = database.make_engine(url)
    database.ensure_directory(engine)
    database.check_connection(engine)
    current = database.with_retries(
        lambda: database.upgrade(engine, revision), "upgrading the database", policy=settings.db_retry
    )
    console.print(f"{database.describe(engine)}: at revision {current}", highlight=False)


index_app = BenchgenApp(help="The dataset index: compaction and repair.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("compact")
def index_compact(
    directory: Annotated[str, typer.Argument(help="Dataset directory or URL (s3://bucket/prefix)")],
    rescan: Annotated[
        bool,
        typer.Option(
            "--rescan",
            help="Also index benchmarks whose manifest exists but that the index misses (lists everything: slow)",
        ),
    ] = False,
    work_dir: Annotated[
        Path | None, typer.Option(help="Local work directory of a remote dataset (default: in the cache)")
    ] = None,
) -> None:
    """Merge the index segments into index.jsonl and rewrite the gallery (generate does it at the end of a run).

    Takes the dataset's lease, so it fails at once while a generate writes the dataset."""
    import uuid

    from benchgen.publishing import open_writer

    console = _stderr()
    writer = open_writer(
        directory,
        work_dir,
        on_event=lambda line: console.print(line, highlight=False),
        settings=Settings.from_env(),
    )
    writer.check()
    writer.acquire(uuid.uuid4().hex[:12])
    try:
        writer.prepare()
        added = writer.rescan() if rescan else 0
        gallery = writer.compact()
    finally:
        writer.release()
    if rescan:
        console.print(f"indexed {added} entries the index missed", highlight=False)
    console.print(f"compacted; gallery: {gallery}", highlight=False)


@app.command()
def version() -> None:
    """Print the benchgen version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point for ``python -m benchgen``."""
    app()


if __name__ == "__main__":
    main()
