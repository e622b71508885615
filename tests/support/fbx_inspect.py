"""The GlobalSettings of a binary FBX file (axes, unit scale), read without Blender through the product's own
lossless FBX reader (``pipeline.formats.fbx_binary``).

``GlobalSettings/Properties70`` holds ``P`` records ``(name, type, label, flags, value...)`` such as ``UpAxis``,
``UpAxisSign``, ``FrontAxis``, ``CoordAxis``, ``UnitScaleFactor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.formats.fbx_binary import parse


def _values(p: Any) -> Any:
    """The value of a ``P`` record: one value, or the list of them (vectors, colours)."""
    values = [p.value(i) for i in range(4, len(p.props))]
    return values[0] if len(values) == 1 else values


def global_settings(path: Path | str) -> dict[str, Any]:
    """``GlobalSettings`` properties of an FBX file: name -> value (``UpAxis``, ``UnitScaleFactor`` ...)."""
    _, nodes, _, _ = parse(Path(path).read_bytes())
    for node in nodes:
        if node.name == b"GlobalSettings":
            for child in node.children:
                if child.name == b"Properties70":
                    rows = [p for p in child.children if p.name == b"P" and len(p.props) >= 5]
                    return {p.value(0): _values(p) for p in rows}
    raise ValueError(f"{path}: no GlobalSettings")
