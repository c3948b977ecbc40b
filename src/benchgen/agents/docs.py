"""``get_docs_for(name)``: real documentation for the agents, read from the installed code.

Names resolve, in order, to a benchgen topic (``contract``, ``materials``, ``tiers``), a
type of :mod:`benchgen.scenario` (``Scenario``, ``Part``, ``Hinge``...), or a build123d
name, possibly dotted (``Box``, ``Pos``, ``Location.inverse``, ``extrude``). The text is
the signature plus the docstring as installed, so it can never drift from the library.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MAX_CHARS = 6000
CONTRACT_TYPES: tuple[str, ...] = ("Scenario", "Part", "Payload", "Zone", "Hinge", "Slide", "Constraints")


def _scenario_module() -> ModuleType:
    return importlib.import_module("benchgen.scenario")


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


TOPICS: dict[str, Callable[[], str]] = {
    "contract": _contract_overview,
    "scenario_contract": _contract_overview,
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


def _signature(obj: Any) -> str:
    if dataclasses.is_dataclass(obj):  # pydantic dataclasses report (*args, **kwargs)
        return "(" + ", ".join(_field_text(f) for f in dataclasses.fields(obj)) + ")"
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
    if inspect.isclass(obj):
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
    if not key:
        return "Give a name: a build123d name (Box, Cylinder, Pos, Rot, extrude...), a contract type (Scenario, Part, ...), or 'contract' / 'materials' / 'tiers'."
    topic = TOPICS.get(key.lower())
    if topic is not None:
        return _truncate(topic())
    scenario = _scenario_module()
    if key.split(".")[0] in CONTRACT_TYPES:
        try:
            return _truncate(describe(_resolve(scenario, key), f"benchgen.scenario.{key}"))
        except AttributeError:
            pass
    b3d = _build123d()
    try:
        return _truncate(describe(_resolve(b3d, key), f"build123d.{key}"))
    except AttributeError:
        pass
    candidates = [*TOPICS, *CONTRACT_TYPES, *(n for n in dir(b3d) if not n.startswith("_"))]
    close = difflib.get_close_matches(key, candidates, n=8, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"No documentation for {name!r}.{hint}"


def _truncate(text: str) -> str:
    return (
        text
        if len(text) <= MAX_CHARS
        else text[:MAX_CHARS] + f"\n... [truncated, {len(text) - MAX_CHARS} more characters]"
    )
