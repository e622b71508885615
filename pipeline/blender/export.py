"""Export presets through Blender's own exporters (bpy only here): glb, fbx-unity, fbx-unreal, usd.

Presets are data. Exporter keyword names drift between Blender versions, so each preset is filtered against the
operator's RNA properties; a preset key the running Blender lacks is reported, not silently dropped, by
``missing_options``. Files are written to a temporary name in the target folder and renamed into place.

Engine conventions:
- ``glb``: glTF 2.0 binary, Y up, metres, skins with 4 influences, embedded images (albedo, normal, metallic-
  roughness), vertex tangents for the normal map, recomputed after the exporter so that one avatar always gives
  the same bytes (``formats.glb_tangents``; from Blender's MikkTSpace by 0.5 degrees median, 3.3 at the 95th
  percentile, same handedness everywhere).
- ``fbx-unity``: Y up / -Z forward with the space transform baked (Unity's axes), all scale applied into the
  file so the avatar imports at scale 1 in metres, no leaf bones, deform bones only.
- ``fbx-unreal``: Z up / -Y forward (Unreal keeps Z up), unit scale applied so Unreal's centimetres get the
  right size, transforms not baked (Unreal converts axes on import), no leaf bones, deform bones only.
  Both FBX presets are made reproducible after Blender writes them (``formats.fbx_binary``): a fixed creation
  time stamp and the embedded texture referenced by its final relative name, so identical runs give identical
  bytes and no temporary or machine path is left in the file.
- ``usd``: UsdSkel with the armature, deform bones only, metres; the avatar is built with 8 influences for it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy

from pipeline.blender.compat import OPTIONAL_EXPORT_OPTIONS
from pipeline.core.files import partial_path, refuse_links
from pipeline.formats.fbx_binary import make_reproducible
from pipeline.formats.glb_tangents import rewrite_glb_tangents

# What both engines want from an FBX: the avatar only, deform bones without leaf bones, unit scale applied.
_FBX_COMMON: dict[str, Any] = dict(
    use_selection=True, object_types={"ARMATURE", "MESH"}, apply_unit_scale=True, global_scale=1.0,
    add_leaf_bones=False, use_armature_deform_only=True, primary_bone_axis="Y", secondary_bone_axis="X",
    armature_nodetype="NULL", mesh_smooth_type="FACE", use_mesh_modifiers=False, bake_anim=False, path_mode="COPY",
    embed_textures=True)

PRESETS: dict[str, dict[str, Any]] = {
    "glb": {
        "operator": "export_scene.gltf",
        "options": dict(export_format="GLB", use_selection=True, export_yup=True, export_skins=True,
                        export_influence_nb=4, export_all_influences=False, export_def_bones=True,
                        export_animations=False, export_apply=False, export_texcoords=True, export_normals=True,
                        export_tangents=True, export_materials="EXPORT", export_image_format="AUTO",
                        export_extras=True),
    },
    "fbx-unity": {
        "operator": "export_scene.fbx",
        "options": {**_FBX_COMMON, "axis_forward": "-Z", "axis_up": "Y", "bake_space_transform": True,
                    "apply_scale_options": "FBX_SCALE_ALL"},
    },
    "fbx-unreal": {
        "operator": "export_scene.fbx",
        "options": {**_FBX_COMMON, "axis_forward": "-Y", "axis_up": "Z", "bake_space_transform": False,
                    "apply_scale_options": "FBX_SCALE_NONE"},
    },
    "usd": {
        "operator": "wm.usd_export",
        "options": dict(selected_objects_only=True, export_armatures=True, only_deform_bones=True,
                        export_materials=True, export_uvmaps=True, export_normals=True, convert_scene_units="METERS",
                        export_animation=False),
    },
}


def _operator(idname: str) -> Any:
    group, name = idname.split(".")
    return getattr(getattr(bpy.ops, group), name)


def _rna_options(idname: str) -> set[str]:
    return {p.identifier for p in _operator(idname).get_rna_type().properties}


def missing_options(preset: str) -> list[str]:
    """Preset option names the running Blender's exporter does not know, except those
    ``compat.OPTIONAL_EXPORT_OPTIONS`` explains (for version checks and reports)."""
    p = PRESETS[preset]
    return sorted(set(p["options"]) - _rna_options(p["operator"]) - set(OPTIONAL_EXPORT_OPTIONS))


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence what Blender's exporters print (C and Python, file descriptor 1) so the CLI stays readable."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while Blender's Python exporters run.

    The glTF exporter builds a few hundred thousand small lists and tuples per avatar (per-vertex loops over the
    skin). They live until it returns, so they reach the collector's oldest generation, and a full collection of
    every live object (300,000-400,000 with torch and bpy loaded) falls inside an export now and then. Measured on
    13,718-vertex avatars: 5 of 24 GLB exports took 190-240 ms instead of 55-65 ms with the collector on, none
    with it paused. Collection resumes afterwards; what the exporter leaves is freed by reference counting when
    it returns, and any cycles at the next collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def export(objects: list[Any], path: Path, preset: str) -> Path:
    """Export the given objects with a preset to ``path`` (written to a temporary name, then renamed)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown export preset {preset!r}; allowed: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_links(path)
    tmp = partial_path(path)  # ends in the final suffix: exporters key the format on the extension
    known = _rna_options(p["operator"])
    options = {k: v for k, v in p["options"].items() if k in known}
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]
    try:
        with quiet_stdout(), paused_gc():
            result = _operator(p["operator"])(filepath=str(tmp), **options)
        if "FINISHED" not in result or not tmp.exists():
            raise RuntimeError(f"Blender's {p['operator']} did not write {path.name} ({result})")
        if p["operator"] == "export_scene.fbx":  # same avatar, same bytes; textures by their final names
            tmp.write_bytes(make_reproducible(tmp.read_bytes()))
        if preset == "glb":  # Blender's threaded tangents can differ between runs: ours are the same every time
            tmp.write_bytes(rewrite_glb_tangents(tmp.read_bytes()))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
