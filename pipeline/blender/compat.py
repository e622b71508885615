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


def compositor_tree(scene: Any, name: str) -> tuple[Any, Any]:
    """A compositor node tree that the scene's next render runs, and a function that takes it away again (the
    scene's compositing as it was): from 5.0 a node group assigned as the scene's compositing group; before, the
    scene's own tree with nodes enabled, where what was added is removed afterwards."""
    if hasattr(scene, "compositing_node_group"):
        old = bpy.data.node_groups.get(name)
        if old is not None:
            bpy.data.node_groups.remove(old)
        tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
        before = scene.compositing_node_group
        scene.compositing_node_group = tree

        def restore() -> None:
            scene.compositing_node_group = before
            bpy.data.node_groups.remove(tree)

        return tree, restore
    used = scene.use_nodes  # pragma: no cover - 4.x
    scene.use_nodes = True
    tree = scene.node_tree
    kept = {n.name for n in tree.nodes}

    def restore_scene_tree() -> None:
        for node in [n for n in tree.nodes if n.name not in kept]:
            tree.nodes.remove(node)
        scene.use_nodes = used

    return tree, restore_scene_tree


def render_layer_output(node: Any, name: str) -> Any:
    """A Render Layers node's output by its 5.0 name (4.x calls the diffuse colour pass ``DiffCol``)."""
    older = {"Diffuse Color": "DiffCol"}
    return node.outputs[name] if name in node.outputs else node.outputs[older.get(name, name)]


def exr_file_output(tree: Any, folder: str, prefix: str, names: dict[str, str]) -> dict[str, Any]:
    """A File Output node writing one 32-bit EXR per input, ``<folder>/<prefix><name><frame>.exr``; ``names``
    maps each input's name to its kind (``RGBA`` or ``FLOAT``). Returns {name: input socket}."""
    out = tree.nodes.new("CompositorNodeOutputFile")
    fmt = out.format
    if hasattr(out, "file_output_items"):  # 5.0: a directory, a file name, typed items
        out.directory, out.file_name = folder.rstrip("/") + "/", prefix
        fmt.media_type = "IMAGE"
    else:  # pragma: no cover - 4.x: a base path and file slots (a float input is written as grey RGBA)
        out.base_path = folder.rstrip("/") + "/"
        out.file_slots.clear()
    fmt.file_format, fmt.color_depth, fmt.exr_codec = "OPEN_EXR", "32", "ZIP"
    sockets = {}
    for name, kind in names.items():
        if hasattr(out, "file_output_items"):
            out.file_output_items.new(kind, name)
            sockets[name] = out.inputs[name]
        else:  # pragma: no cover - 4.x
            out.file_slots.new(prefix + name)
            sockets[name] = out.inputs[prefix + name]
    return sockets
