"""Reference solutions of the kinematic families and of the bundled examples.

Fast, static checks: each reference is a complete, lint-clean ``solution.py`` that defines
``design(view)`` and reads only the contract's modules. Whether it solves its benchmark
is judged through ``benchgen evaluate`` (the sandbox path), not here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import benchgen
from benchgen.authors import families

FAMILIES = ["lever_seesaw", "drawer_slide", "flap_gate"]
EXAMPLES = Path(benchgen.__file__).parent / "examples"
EXAMPLE_SOLUTIONS = ["concave_bin_solution", "drawer_slide_solution", "hinged_gate_solution"]
PYPROJECT = Path(benchgen.__file__).parents[2] / "pyproject.toml"
ALLOWED_IMPORTS = {
    "__future__",
    "math",
    "benchgen.scenario",
    "benchgen.solution",
    "benchgen.toolkit",
    "build123d",
}


def _sources() -> dict[str, str]:
    sources = {}
    for family in FAMILIES:
        text = families.solution(family)
        assert text is not None, f"{family} has no SOLUTION"
        sources[family] = text
    for name in EXAMPLE_SOLUTIONS:
        sources[name] = (EXAMPLES / f"{name}.py").read_text()
    return sources


@pytest.mark.parametrize("name", [*FAMILIES, *EXAMPLE_SOLUTIONS])
def test_reference_defines_design(name: str) -> None:
    source = _sources()[name]
    tree = ast.parse(source)
    assert ast.get_docstring(tree), "a reference explains its idea in the module docstring"
    designs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "design"]
    assert len(designs) == 1
    args = designs[0].args
    assert [a.arg for a in args.args] == ["view"] and not args.vararg and not args.kwarg
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= ALLOWED_IMPORTS, f"imports beyond the contract: {imported - ALLOWED_IMPORTS}"
    namespace: dict[str, object] = {"__name__": f"reference_{name}"}
    exec(compile(source, f"<{name} solution>", "exec"), namespace)
    assert callable(namespace["design"])


@pytest.mark.e2e
def test_references_pass_ruff(tmp_path: Path) -> None:
    """References are lint-clean and formatted, like the scripts they solve."""
    pytest.importorskip("ruff")
    for name, source in _sources().items():
        (tmp_path / f"{name}_solution.py").write_text(source)
    config = ["--config", str(PYPROJECT)] if PYPROJECT.exists() else []
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(tmp_path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout
