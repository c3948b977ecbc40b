"""Every offline family's and bundled example's reference solution solves variants it was never checked on.

The gate in ``generate`` runs each reference on the checked seeds (0..7 and the reference
scales); a reference that only worked there would be a solution to the checker, not to the
benchmark. Here each family is written at an author seed of its own and its reference is
judged through ``benchgen.solving.evaluate_solution`` (both sandboxes, the trusted judge,
MuJoCo) at seeds far from the checked ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import benchgen
from benchgen.authors import families, offline
from benchgen.solving import EvaluateOptions, evaluate_solution

UNSEEN_FIRST_SEED = 100
AUTHOR_SEED = 4242
EXAMPLES = Path(benchgen.__file__).parent / "examples"


WITHOUT_REFERENCE: set[str] = set()
"""Families with no reference solution yet: ``generate`` does not deal them (see README)."""


def test_only_the_known_families_lack_a_reference() -> None:
    missing = {f.name for f in offline.FAMILIES if families.solution(f.name) is None}
    assert missing == WITHOUT_REFERENCE


@pytest.mark.e2e
@pytest.mark.parametrize("family", [f.name for f in offline.FAMILIES if f.name not in WITHOUT_REFERENCE])
def test_reference_solves_unseen_seeds(family: str, tmp_path: Path) -> None:
    spec = next(f for f in offline.FAMILIES if f.name == family)
    solution = families.solution(family)
    assert solution is not None
    script = tmp_path / "script.py"
    script.write_text(offline.render_script(spec, offline.choose(family, np.random.default_rng(AUTHOR_SEED))))
    (tmp_path / "solution.py").write_text(solution)
    options = EvaluateOptions(seeds=3, first_seed=UNSEEN_FIRST_SEED)  # plus scales 0.5 and 2 of two
    report = evaluate_solution(script, tmp_path / "solution.py", options)
    assert report.passed, report.message
    assert len(report.per_seed) == 7 and min(o.seed for o in report.per_seed) == UNSEEN_FIRST_SEED
    assert report.cost_usd is not None and report.cost_usd > 0


@pytest.mark.e2e
@pytest.mark.parametrize(
    "example", sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.endswith("_solution"))
)
def test_each_bundled_example_ships_a_solution(example: str) -> None:
    solution = EXAMPLES / f"{example}_solution.py"
    assert solution.is_file(), f"examples/{example}.py ships without examples/{example}_solution.py"
    report = evaluate_solution(
        EXAMPLES / f"{example}.py", solution, EvaluateOptions(seeds=3, first_seed=UNSEEN_FIRST_SEED)
    )
    assert report.passed, report.message
