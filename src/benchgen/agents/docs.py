"""``get_docs_for(name)``: real documentation for the agents, read from the installed code.

Names resolve, in order, to a benchgen topic (``contract``, ``solution``, ``toolkit``,
``materials``, ``tiers``), a type of :mod:`benchgen.scenario` (``Scenario``, ``Part``,
``Hinge``...), a type of the solution contract :mod:`benchgen.solution` (``Design``,
``Motor``, ``SceneView``...), a ``toolkit.<name>`` helper of :mod:`benchgen.toolkit`, a
build123d name, possibly dotted (``Box``, ``Pos``, ``Location.inverse``, ``extrude``), or a
bare toolkit name (``chute``). The text is the signature plus the docstring as installed,
so it can never drift from the library.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MAX_CHARS = 6000
CONTRACT_TYPES: tuple[str, ...] = ("Scenario", "Part", "Payload", "Zone", "Hinge", "Slide", "Constraints")
SOLUTION_TYPES: tuple[str, ...] = ("Design", "Motor", "SceneView", "PartView", "PayloadView")


def _scenario_module() -> ModuleType:
    return importlib.import_module("benchgen.scenario")


def _solution_module() -> ModuleType:
    return importlib.import_module("benchgen.solution")


def _toolkit() -> ModuleType:
    return importlib.import_module("benchgen.toolkit")


def toolkit_names() -> list[str]:
    """The public helpers of :mod:`benchgen.toolkit` (functions defined there), in source order."""
    module = _toolkit()
    functions = [
        obj
        for name, obj in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module.__name__
    ]
    return [f.__name__ for f in sorted(functions, key=lambda f: f.__code__.co_firstlineno)]


def _build123d() -> ModuleType:
    # Imported on first use only: build123d takes seconds to import and most calls never need it.
    return importlib.import_module("build123d")


def _contract_overview() -> str:
    module = _scenario_module()
    lines = [inspect.getdoc(module) or "", "", "Types (call get_docs_for(<name>) for each):"]
    for name in CONTRACT_TYPES:
        summary = (inspect.getdoc(getattr(module, name)) or "").partition("\n")[0]
        lines.append(f"- {name}: {summary}")
    lines += ["", "Script shape: def build(seed: int, scale: float = 1.0) -> Scenario", "", _tiers()]
    return "\n".join(lines)


def _materials() -> str:
    from benchgen.materials import MATERIALS

    lines = ["Materials (id: name, density kg/m³, friction, cost USD/kg):"]
    for material in MATERIALS.values():
        lines.append(
            f"- {material.id}: {material.name}, {material.density_kg_m3:g}, {material.friction:g}, {material.cost_per_kg_usd:g}"
        )
    return "\n".join(lines)


def _tiers() -> str:
    module = _scenario_module()
    return f"Tiers: {', '.join(module.TIERS)} (spatial: static parts only; kinematic: a hinge/slide/free part; mechanism: several moving parts working together)"


def _toolkit_overview() -> str:
    module = _toolkit()
    lines = [
        inspect.getdoc(module) or "",
        "",
        "from benchgen.toolkit import <name>; get_docs_for('<name>') for each:",
    ]
    for name in toolkit_names():
        function = getattr(module, name)
        summary = (inspect.getdoc(function) or "").partition("\n")[0]
        lines.append(f"- {name}{_signature(function)}: {summary}")
    return "\n".join(lines)


def _solution_overview() -> str:
    module = _solution_module()
    lines = [
        "A solution is a Python file defining: def design(view: SceneView) -> Design",
        "from benchgen.solution import Design, Motor, SceneView; from benchgen.scenario import Part, Hinge, Slide",
        "",
        inspect.getdoc(module) or "",
        "",
        "Types (call get_docs_for(<name>) for each):",
    ]
    for name in SOLUTION_TYPES:
        summary = (inspect.getdoc(getattr(module, name)) or "").partition("\n")[0]
        lines.append(f"- {name}: {summary}")
    lines += ["", "Geometry helpers: get_docs_for('toolkit'). Guide: /skills/solution-contract/SKILL.md"]
    return "\n".join(lines)


TOPICS: dict[str, Callable[[], str]] = {
    "contract": _contract_overview,
    "scenario_contract": _contract_overview,
    "solution": _solution_overview,
    "solution_contract": _solution_overview,
    "toolkit": _toolkit_overview,
    "materials": _materials,
    "tiers": _tiers,
}


def _field_text(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if isinstance(value, FieldInfo):  # pydantic dataclasses keep Field(...) as the default
        value = dataclasses.MISSING if value.default_factory else value.default
        if value is PydanticUndefined:
            value = dataclasses.MISSING
        elif value is dataclasses.MISSING:
            return f"{field.name}: {field.type} = <empty>"
    if value is not dataclasses.MISSING:
        default = f" = {value!r}"
    elif field.default_factory is not dataclasses.MISSING:
        default = " = <empty>"
    else:
        default = ""
    return f"{field.name}: {field.type}{default}"


USAGE_NOTES: dict[str, str] = {
    "Pos": "Usage: Pos(x, y, z) * shape moves a shape (mm). Pos((x, y, z)) also works.",
    "Rot": "Usage: Rot(x_deg, y_deg, z_deg) * shape rotates about the world origin; "
    "Pos(...) * Rot(...) * shape rotates about the shape's own centre, then moves it.",
    "Location": "Usage: Location((x, y, z), (rx, ry, rz)) * shape: position plus rotation in degrees.",
}


_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return _QUALIFIED.sub(r"\1", str(annotation))


def _model_signature(model: type[BaseModel]) -> str:
    fields = []
    for name, info in model.model_fields.items():
        text = f"{name}: {_type_name(info.annotation)}"
        if not info.is_required():
            text += " = <empty>" if info.default_factory is not None else f" = {info.default!r}"
        fields.append(text)
    return "(" + ", ".join(fields) + ")"


def _signature(obj: Any) -> str:
    if dataclasses.is_dataclass(obj):  # pydantic dataclasses report (*args, **kwargs)
        return "(" + ", ".join(_field_text(f) for f in dataclasses.fields(obj)) + ")"
    if inspect.isclass(obj) and issubclass(obj, BaseModel):  # pydantic models report (**data)
        return _model_signature(obj)
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = str(inspect.signature(target))
    except (TypeError, ValueError):
        return ""
    return signature.replace("(self, ", "(").replace("(self)", "()")


def describe(obj: Any, qualified: str) -> str:
    """Signature, fields and docstring of one object."""
    kind = "class" if inspect.isclass(obj) else type(obj).__name__
    parts = [f"{qualified}{_signature(obj)}  [{kind}]"]
    note = USAGE_NOTES.get(qualified.rsplit(".", 1)[-1])
    if note:
        parts.append(note)
    doc = inspect.getdoc(obj)
    if doc:
        parts.append(doc)
    if inspect.isclass(obj) and issubclass(obj, BaseModel):  # its own members, not pydantic's
        methods = [n for n in vars(obj) if not n.startswith(("_", "model_")) and n not in obj.model_fields]
        if methods:
            parts.append("Members: " + ", ".join(methods))
    elif inspect.isclass(obj):
        methods = [n for n, _ in inspect.getmembers(obj) if not n.startswith("_")]
        if methods:
            parts.append("Public members: " + ", ".join(methods[:80]))
    return "\n\n".join(parts)


def _resolve(root: Any, dotted: str) -> Any:
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def get_docs(name: str) -> str:
    """Documentation for ``name`` (see module docstring); suggestions when nothing matches."""
    key = name.strip().removeprefix("build123d.").removeprefix("benchgen.scenario.")
    key = key.removeprefix("benchgen.solution.").replace("benchgen.toolkit.", "toolkit.")
    if not key:
        return "Give a name: a build123d name (Box, Cylinder, Pos, Rot, extrude...), a contract type (Scenario, Part, ...), a solution type (Design, Motor, SceneView), a toolkit helper (chute, ...), or 'contract' / 'solution' / 'toolkit' / 'materials' / 'tiers'."
    topic = TOPICS.get(key.lower())
    if topic is not None:
        return _truncate(topic())
    scenario = _scenario_module()
    if key.split(".")[0] in CONTRACT_TYPES:
        try:
            return _truncate(describe(_resolve(scenario, key), f"benchgen.scenario.{key}"))
        except AttributeError:
            pass
    if key.split(".")[0] in SOLUTION_TYPES:
        try:
            return _truncate(describe(_resolve(_solution_module(), key), f"benchgen.solution.{key}"))
        except AttributeError:
            pass
    helpers = toolkit_names()
    if key.startswith("toolkit.") and key.removeprefix("toolkit.") in helpers:
        return _truncate(describe(getattr(_toolkit(), key.removeprefix("toolkit.")), f"benchgen.{key}"))
    b3d = _build123d()
    try:
        return _truncate(describe(_resolve(b3d, key), f"build123d.{key}"))
    except AttributeError:
        pass
    if key in helpers:  # after build123d: a bare name means build123d's when both have it
        return _truncate(describe(getattr(_toolkit(), key), f"benchgen.toolkit.{key}"))
    candidates = [
        *TOPICS,
        *CONTRACT_TYPES,
        *SOLUTION_TYPES,
        *helpers,
        *(n for n in dir(b3d) if not n.startswith("_")),
    ]
    close = difflib.get_close_matches(key, candidates, n=8, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"No documentation for {name!r}.{hint}"


def _truncate(text: str) -> str:
    return (
        text
        if len(text) <= MAX_CHARS
        else text[:MAX_CHARS] + f"\n... [truncated, {len(text) - MAX_CHARS} more characters]"
    )
