"""Where agent sessions are checkpointed, and the SQLite checkpointer (PostgreSQL: tests/test_scale.py)."""

from __future__ import annotations

import operator
import uuid
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

from benchgen.checkpoints import CHECKPOINT_FILE, checkpoint_target, has_thread, open_checkpointer


class _Counter(TypedDict):
    n: Annotated[int, operator.add]


def test_only_a_postgresql_db_takes_the_checkpoints(tmp_path: Path) -> None:
    sqlite = tmp_path.resolve() / CHECKPOINT_FILE
    assert checkpoint_target(tmp_path) == sqlite
    assert checkpoint_target(tmp_path, "sqlite:///elsewhere/benchgen.db") == sqlite
    for url in ("postgresql://u:p@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert checkpoint_target(tmp_path, url) == url


def test_sqlite_checkpoints_round_trip_and_a_missing_file_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "ds" / CHECKPOINT_FILE
    thread_id = uuid.uuid4().hex
    assert not has_thread(target, thread_id) and not target.exists()
    graph = StateGraph(_Counter)
    graph.add_node("step", lambda state: {"n": 1})
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    config = {"configurable": {"thread_id": thread_id}}
    with open_checkpointer(target) as saver:
        graph.compile(checkpointer=saver).invoke({"n": 1}, config)  # type: ignore[call-overload]
    assert has_thread(target, thread_id) and not has_thread(target, "other")
    with open_checkpointer(f"sqlite:///{target}") as saver:
        assert graph.compile(checkpointer=saver).get_state(config).values == {"n": 2}  # type: ignore[arg-type]
