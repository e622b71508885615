"""Every difference between the Blender versions we support (4.2 LTS to 5.0) lives here."""

from __future__ import annotations

from typing import Any

import bpy

VERSION: tuple[int, int, int] = tuple(bpy.app.version)  # type: ignore[assignment]


# Exporter options that older supported Blenders lack, and why going without them there is right.
OPTIONAL_EXPORT_OPTIONS = {
    "convert_scene_units": "USD export option added after 4.2; 4.2 writes scene units, which are metres here",
}


def set_smooth_shading(mesh: Any) -> None:
    """Smooth normals on every face (``Mesh.shade_smooth`` exists from 4.1; auto smooth is gone since 4.1)."""
    if hasattr(mesh, "shade_smooth"):
        mesh.shade_smooth()
    else:  # pragma: no cover - before 4.1
        import numpy as np

        mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))


def new_principled_material(name: str) -> tuple[Any, Any, Any]:
    """A material with a node tree holding a Principled BSDF: (material, node tree, BSDF node).

    ``Material.use_nodes`` is deprecated in 5.0 (materials always have nodes) but needed before it.
    """
    mat = bpy.data.materials.new(name)
    if VERSION < (5, 0, 0):  # pragma: no cover - 4.x
        mat.use_nodes = True
    tree = mat.node_tree
    bsdf = next((n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in tree.nodes if n.type == "OUTPUT_MATERIAL"), None) or tree.nodes.new(
            "ShaderNodeOutputMaterial")
        tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    return mat, tree, bsdf


def engine_id(engine: str) -> str:
    """Render engine identifier for ``eevee`` or ``cycles``: EEVEE is ``BLENDER_EEVEE_NEXT`` in 4.2-4.x and
    ``BLENDER_EEVEE`` again from 5.0."""
    if engine == "cycles":
        return "CYCLES"
    items = {i.identifier for i in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items}
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"


def action_fcurves(action: Any) -> list[Any]:
    """Every F-curve of an action: ``Action.fcurves`` before 5.0, the layers' channel bags from 5.0 on."""
    if hasattr(action, "fcurves"):  # pragma: no cover - 4.x
        return list(action.fcurves)
    return [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
            for fc in bag.fcurves]
