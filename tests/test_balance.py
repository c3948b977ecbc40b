"""The family plan: stratified rounds, ordered by what is under-represented, deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest

from benchgen.authors import families
from benchgen.authors.offline import (
    FAMILIES,
    NoFamilyMatches,
    select_families,
    solvable_families,
    write_candidate,
)
from benchgen.balance import FamilyPlan

NAMES = [f"f{i}" for i in range(5)]


def _round(plan: FamilyPlan, first: int, accepted: dict[str, int]) -> list[str]:
    plan.open_round(first, accepted)
    return [plan.family_for(i) for i in range(first, first + plan.round_length)]


def test_each_round_deals_every_family_once() -> None:
    plan = FamilyPlan(NAMES, seed=3)
    assert sorted(_round(plan, 0, {})) == NAMES
    assert sorted(_round(plan, 5, {"f1": 1})) == NAMES
    assert plan.starts_round(10) and not plan.starts_round(11) and plan.round_of(14) == 2


def test_order_is_a_function_of_seed_and_counts() -> None:
    first = [_round(FamilyPlan(NAMES, seed=s), 0, {}) for s in range(6)]
    again = [_round(FamilyPlan(NAMES, seed=s), 0, {}) for s in range(6)]
    assert first == again
    assert len({tuple(order) for order in first}) > 1, "the tie-break shuffle depends on the seed"


def test_fewest_benchmarks_go_first() -> None:
    plan = FamilyPlan(NAMES, seed=0, prior={"f0": 2, "f1": 1, "f2": 1})
    order = _round(plan, 0, {})
    assert set(order[:2]) == {"f3", "f4"} and set(order[2:4]) == {"f1", "f2"} and order[4] == "f0"
    # What this run accepted counts too: f3 and f4 were accepted in round 0, f1 and f2 were not.
    order = _round(plan, 5, {"f3": 1, "f4": 1})
    assert set(order[:4]) == {"f1", "f2", "f3", "f4"} and order[4] == "f0"
    order = _round(plan, 10, {"f3": 2, "f4": 2, "f0": 0})
    assert set(order[:2]) == {"f1", "f2"}


def test_an_unopened_round_is_an_error() -> None:
    plan = FamilyPlan(NAMES, seed=0)
    with pytest.raises(RuntimeError, match="not opened"):
        plan.family_for(0)
    with pytest.raises(ValueError, match="repeat"):
        FamilyPlan(["a", "a"], seed=0)


def test_families_by_name() -> None:
    assert [f.name for f in select_families(None, None, ["gap_pit", "flap_gate"])] == ["gap_pit", "flap_gate"]
    assert [f.name for f in select_families(None, "kinematic", ["gap_pit", "flap_gate"])] == ["flap_gate"]
    with pytest.raises(NoFamilyMatches, match="unknown families"):
        select_families(None, None, ["gap_pit", "teleporter"])
    with pytest.raises(NoFamilyMatches, match="families="):
        select_families(None, "mechanism", ["gap_pit"])
    for family in FAMILIES:
        candidate = write_candidate(np.random.default_rng(0), family=family.name)
        assert candidate.family == family.name and candidate.tier == family.tier


def test_only_families_with_a_reference_are_dealt(monkeypatch: pytest.MonkeyPatch) -> None:
    """generate rejects a candidate without a reference solution, so such a family is not dealt."""
    assert all(families.solution(f.name) is not None for f in solvable_families(None, None))
    real = families.solution
    monkeypatch.setattr(families, "solution", lambda name: None if name == "gap_pit" else real(name))
    assert "gap_pit" not in {f.name for f in solvable_families(None, None)}
    with pytest.raises(NoFamilyMatches, match="gap_pit have none yet"):
        solvable_families(None, None, ["gap_pit"])
