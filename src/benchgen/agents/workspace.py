"""The per-session workspace the agents see, and the guard that keeps their file tools inside it.

Layout (agents see it through virtual paths rooted at ``/``)::

    /skills/<name>/SKILL.md   read-only guides (copied from benchgen/skills)
    /utils/                   read-only reference: accepted example scripts
    /renders/<sha12>/         simulate() output for one script version (tool-written)
    /evaluations/<sha12>-<sha12>/  evaluate_solution() output for one (script, solution) pair
    /plan.md /todo.md         the planner's (the coder may tick todo.md)
    /script.py /solution.py   the coder's: the scenario and its reference solution
    /journal.md               episodic memory, append-only through append_journal()

Three layers keep the file tools confined: deepagents' ``FilesystemBackend`` in virtual
mode (no ``..``, no escaping the root, no symlink tricks), deepagents' permission rules
(writes denied except the role's files), and :class:`WorkspaceGuard`, which refuses a
bad path before any tool runs and says why. Scripts never run from here: ``validate()``,
``simulate()`` and ``evaluate_solution()`` hand copies to the trusted side's sandbox.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from deepagents import FilesystemPermission
from deepagents.backends import FilesystemBackend
from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from benchgen.agents.settings import Role

TEXT_FILES: tuple[str, ...] = ("plan.md", "todo.md", "journal.md", "script.py", "solution.py")
"""The files whose content is the session's state (snapshotted into every checkpoint)."""
READ_ONLY_DIRS: tuple[str, ...] = ("skills", "utils")

WRITABLE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"planner": ("/plan.md", "/todo.md"), "coder": ("/script.py", "/solution.py", "/todo.md"), "reviewer": ()}
)
"""Virtual paths each role's file tools may write; everything else is refused."""

WRITE_TOOLS: frozenset[str] = frozenset({"write_file", "edit_file", "delete"})
PATH_ARGS: tuple[str, ...] = ("file_path", "path", "pattern", "glob")

UTILS_README = """# utils (read-only)

examples/ holds complete scenario scripts that the trusted checker accepts. Read them
for structure (a Frame helper that applies scale and mirroring once, clearance
constants, params), not to copy the puzzle. `<name>_solution.py` files are reference
solutions (design(view) -> Design) for the scenario `<name>.py`: they read every
position off the view, so they solve every seed and scale.
"""


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def path_problem(raw: str, role: Role, tool: str) -> str | None:
    """Why a file-tool path argument is refused for this role, or None when it is fine."""
    if "\x00" in raw or "\\" in raw:
        return f"{raw!r} contains a NUL or backslash"
    parts = PurePosixPath(raw).parts
    if ".." in parts or raw.startswith("~"):
        return f"{raw!r} leaves the workspace ('..' and '~' are not allowed)"
    if tool not in WRITE_TOOLS:
        return None
    virtual = posixpath.normpath("/" + raw.lstrip("/"))
    allowed = WRITABLE[role]
    if virtual not in allowed:
        where = ", ".join(allowed) if allowed else "nothing (read-only role)"
        return f"{tool} on {raw!r} is not allowed: the {role} may write only {where}; /journal.md through append_journal()"
    return None


class WorkspaceGuard(AgentMiddleware[Any, Any, Any]):
    """Refuse file-tool calls whose paths leave the workspace or write outside the role's files."""

    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    @property
    def name(self) -> str:
        return f"WorkspaceGuard[{self.role}]"

    def _refusal(self, request: ToolCallRequest) -> ToolMessage | None:
        call = request.tool_call
        args = call.get("args") or {}
        for key in PATH_ARGS:
            value = args.get(key)
            if isinstance(value, str):
                problem = path_problem(value, self.role, call["name"])
                if problem:
                    return ToolMessage(
                        content=f"Refused: {problem}",
                        tool_call_id=call["id"],
                        name=call["name"],
                        status="error",
                    )
        return None

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]]
    ) -> ToolMessage | Command[Any]:
        return self._refusal(request) or handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return self._refusal(request) or await handler(request)


def permissions_for(role: Role) -> list[FilesystemPermission]:
    """deepagents permission rules: the role's files are writable, every other write is denied."""
    rules = []
    if WRITABLE[role]:
        rules.append(FilesystemPermission(operations=["write"], paths=list(WRITABLE[role]), mode="allow"))
    rules.append(FilesystemPermission(operations=["write"], paths=["/**"], mode="deny"))
    return rules


class Workspace:
    """A session's directory: created, refreshed, snapshotted and restored by the orchestrator."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def create(cls, root: Path) -> Workspace:
        """Create (or refresh) the layout; existing text files are kept."""
        workspace = cls(root)
        workspace.root.mkdir(parents=True, exist_ok=True)
        (workspace.root / "renders").mkdir(exist_ok=True)
        (workspace.root / "evaluations").mkdir(exist_ok=True)
        workspace._install_read_only()
        return workspace

    def _install_read_only(self) -> None:
        for name in READ_ONLY_DIRS:
            remove_tree(self.root / name)
        _copy_tree(resources.files("benchgen") / "skills", self.root / "skills", suffixes=(".md",))
        utils = self.root / "utils"
        _copy_tree(resources.files("benchgen") / "examples", utils / "examples", suffixes=(".py",))
        (utils / "README.md").write_text(UTILS_README)
        for name in READ_ONLY_DIRS:
            _make_read_only(self.root / name)

    def path(self, name: str) -> Path:
        """Host path of a top-level workspace file."""
        return self.root / name

    def read(self, name: str) -> str | None:
        """A top-level file's text, or None when it does not exist."""
        path = self.path(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    def write(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def snapshot(self) -> dict[str, str]:
        """The text files that exist, by name."""
        return {name: text for name in TEXT_FILES if (text := self.read(name)) is not None}

    def restore(self, files: Mapping[str, str]) -> None:
        """Make the text files exactly ``files`` (a checkpoint's snapshot); others are removed."""
        for name in TEXT_FILES:
            path = self.path(name)
            if name in files:
                if self.read(name) != files[name]:
                    path.write_text(files[name], encoding="utf-8")
            elif path.exists():
                path.unlink()

    def append_journal(self, role: str, entry: str) -> None:
        """Append a timestamped entry; the journal is the agents' memory across rounds."""
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self.path("journal.md").open("a", encoding="utf-8") as handle:
            handle.write(f"\n## {stamp} {role}\n{entry.strip()}\n")

    def script_sha(self) -> str | None:
        """SHA-256 of the current script.py, or None when there is none."""
        text = self.read("script.py")
        return sha256_text(text) if text is not None else None

    def render_dir(self, sha: str) -> Path:
        """Where simulate() of the script version ``sha`` writes its artifacts."""
        return self.root / "renders" / sha[:12]

    def evaluation_dir(self, script_sha: str, solution_sha: str) -> Path:
        """Where evaluate_solution() of this (script, solution) pair writes its artifacts."""
        return self.root / "evaluations" / f"{script_sha[:12]}-{solution_sha[:12]}"

    def virtual(self, path: Path) -> str:
        """The agent-visible path of a host path inside the workspace."""
        return "/" + path.resolve().relative_to(self.root).as_posix()

    def backend(self) -> FilesystemBackend:
        """deepagents filesystem backend rooted here, with virtual paths."""
        return FilesystemBackend(root_dir=self.root, virtual_mode=True)


def _copy_tree(source: Traversable, target: Path, suffixes: tuple[str, ...]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_tree(entry, target / entry.name, suffixes)
        elif entry.name.endswith(suffixes) and not entry.name.startswith("_"):
            (target / entry.name).write_bytes(entry.read_bytes())


def _make_read_only(root: Path) -> None:
    # A second fence behind the guards: file modes deny writes to anything but a privileged process.
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o444)
    for dirpath, _dirnames, _ in os.walk(root, topdown=False):
        os.chmod(dirpath, 0o555)


def remove_tree(root: Path) -> None:
    """Remove a tree even if it was made read-only."""
    if not root.exists():
        return
    for dirpath, _dirnames, _ in os.walk(root):
        os.chmod(dirpath, stat.S_IRWXU)
    shutil.rmtree(root)
