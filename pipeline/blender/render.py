"""Previews rendered by Blender itself (EEVEE or Cycles) from the built avatar (bpy only here).

The same framing as the pyrender previews (orthographic, front and side, one scale for every avatar up to
1.85 m) so contact sheets mix either. The avatar is posed through its own armature (relaxed arms, the pose the
pyrender previews use), rendered, and put back in the pose it had. A comic avatar gets its ink outline for the
render (``toon.add_outline``); its toon material draws in EEVEE (Shader-to-RGB), which the jobs choose for it.
View transform "Standard" so the albedo's sRGB colours come out as they are; a sun and a grey world light the
body. Images go to a temporary name in the target folder and are renamed into place.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix

from pipeline.blender.compat import engine_id
from pipeline.blender.export import quiet_stdout
from pipeline.blender.toon import add_outline, remove_outline
from pipeline.core.avatar_data import AvatarData
from pipeline.core.files import partial_path, refuse_links
from pipeline.core.poses import relaxed_arms
from pipeline.core.views import BACKGROUND, FRONT, SIDE, View, frame_centre, frame_height

__all__ = ["FRONT", "SIDE", "add_camera", "add_lights", "configure_render", "over_background", "render_previews"]

ENGINES = ("eevee", "cycles")
SUN_STRENGTH = 3.0
CAMERA_DISTANCE_M = 6.0
WORLD_FILL = 0.35  # a dim white world: fill light only; the background is composited afterwards


def add_camera(scene: Any, view: View, frame_h: float, centre_z: float, aspect: float, centre_x: float = 0.0) -> Any:
    """An orthographic camera looking at the body along ``view``, showing ``frame_h`` metres vertically."""
    cam = bpy.data.cameras.new("avatar_preview_cam")
    cam.type = "ORTHO"
    cam.ortho_scale = frame_h * max(1.0, aspect)  # Blender's ortho scale spans the longer side
    obj = bpy.data.objects.new("avatar_preview_cam", cam)
    scene.collection.objects.link(obj)
    d = np.asarray(view.direction, dtype=np.float64)
    obj.location = (d * CAMERA_DISTANCE_M + [centre_x, 0.0, centre_z]).tolist()
    # a camera looks down its -Z with +Y up: aim -Z at the body, keep +Y toward world Z
    back = d / np.linalg.norm(d)
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(up, back)
    obj.rotation_euler = Matrix(np.column_stack([right, up, back]).tolist()).to_euler()
    return obj


def add_lights(scene: Any) -> list[Any]:
    """The preview lighting: a sun from the front left above and a dim white world as fill."""
    sun = bpy.data.lights.new("avatar_preview_sun", "SUN")
    sun.energy = SUN_STRENGTH
    sun.angle = math.radians(10.0)
    obj = bpy.data.objects.new("avatar_preview_sun", sun)
    obj.rotation_euler = (math.radians(50.0), 0.0, math.radians(30.0))
    scene.collection.objects.link(obj)
    world = scene.world or bpy.data.worlds.new("avatar_preview_world")
    scene.world = world
    bg = world.node_tree.nodes.get("Background") if world.node_tree else None
    if bg is not None:
        bg.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
        bg.inputs["Strength"].default_value = WORLD_FILL
    else:  # pragma: no cover - worlds always have a node tree from 5.0
        world.color = (WORLD_FILL,) * 3
    return [obj]


def pose_armature(arm_obj: Any, avatar: AvatarData, rotations: np.ndarray | None) -> None:
    for j, name in enumerate(avatar.bone_names):
        pb = arm_obj.pose.bones.get(name)
        if pb is None:
            continue
        pb.rotation_mode = "QUATERNION"
        r = np.eye(3) if rotations is None else rotations[j]
        pb.rotation_quaternion = Matrix(r.tolist()).to_quaternion()


def over_background(path: Path) -> None:
    """Composite a transparent render over the preview background colour (as the pyrender previews use)."""
    from PIL import Image

    fg = Image.open(path).convert("RGBA")
    bg = Image.new("RGBA", fg.size, tuple(round(c * 255) for c in BACKGROUND))
    Image.alpha_composite(bg, fg).convert("RGB").save(path, format="PNG")


def configure_render(scene: Any, engine: str, width: int, height: int, samples: int, threads: int = 0,
                     denoise: bool = True) -> None:
    """Engine, size, transparent film (composited later), the Standard view transform, CPU sampling; ``threads``
    render threads (0: Blender's automatic count). ``denoise``: Cycles' samples through OpenImageDenoise, guided
    by the albedo and normal passes (a few samples per pixel are grain over the skin without it)."""
    render = scene.render
    render.threads_mode = "FIXED" if threads > 0 else "AUTO"
    if threads > 0:
        render.threads = threads
    render.engine = engine_id(engine)
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGBA"
    render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    if engine == "cycles":
        scene.cycles.samples = samples
        scene.cycles.device = "CPU"
        scene.cycles.use_denoising = denoise
        if denoise:  # FAST: +0.2 s a 384 x 512 view on 2 threads, as clean at that size as HIGH (+1.5 s)
            scene.cycles.denoiser = "OPENIMAGEDENOISE"
            scene.cycles.denoising_input_passes = "RGB_ALBEDO_NORMAL"
            scene.cycles.denoising_quality = "FAST"
            scene.cycles.denoising_prefilter = "FAST"
    else:
        scene.eevee.taa_render_samples = samples


def _saved_pose(arm_obj: Any) -> list[tuple[Any, str, Any, Any]]:
    return [(pb, pb.rotation_mode, pb.rotation_quaternion.copy(), pb.rotation_euler.copy())
            for pb in arm_obj.pose.bones]


def _restore_pose(saved: list[tuple[Any, str, Any, Any]]) -> None:
    for pb, mode, quat, euler in saved:
        pb.rotation_mode = mode
        pb.rotation_quaternion, pb.rotation_euler = quat, euler


def render_previews(arm_obj: Any, avatar: AvatarData, folder: Path, engine: str = "cycles",
                    width: int = 384, height: int = 512, samples: int = 16, threads: int = 0,
                    still: Callable[[Any, Any, Path, Path], Path] | None = None,
                    scene: Any = None, denoise: bool = True) -> dict[str, Path]:
    """preview.png (front) and preview_side.png (side) of a built avatar; returns {"front": path, "side": path}.

    ``scene``: the scene to light and render (default: the context's); it gets the engine settings, lights and
    cameras (removed after), so the add-on passes a scene of its own holding the avatar.

    ``still(scene, camera, png_path, passes_path)`` replaces Blender's render of each view: the
    enhanced render of ``pipeline.jobs.enhancer_renders``, whose passes go to ``passes/preview*.npz`` (keys
    ``passes:front``, ``passes:side``).
    """
    if engine not in ENGINES:
        raise ValueError(f"preview engine {engine!r}: allowed pyrender, {', '.join(ENGINES)}")
    scene = scene or bpy.context.scene
    render = scene.render
    configure_render(scene, engine, width, height, samples, threads, denoise)
    made: list[Any] = add_lights(scene)
    pose = _saved_pose(arm_obj)
    pose_armature(arm_obj, avatar, relaxed_arms(avatar))
    folder.mkdir(parents=True, exist_ok=True)
    frame_h = frame_height(avatar.vertices)
    centre = frame_centre(avatar.vertices, frame_h)
    out: dict[str, Path] = {}
    mesh_obj = next((c for c in arm_obj.children if c.type == "MESH"), None)
    comic = avatar.comic_style is not None and mesh_obj is not None
    if comic:
        add_outline(mesh_obj)
    try:
        for key, view, fname in (("front", FRONT, "preview.png"), ("side", SIDE, "preview_side.png")):
            cam = add_camera(scene, view, frame_h, centre, width / height)
            made.append(cam)
            scene.camera = cam
            path = folder / fname
            refuse_links(path)
            if still is not None:
                passes = folder / "passes" / fname.replace(".png", ".npz")
                refuse_links(passes.parent, passes)
                out[key] = still(scene, cam, path, passes)
                out[f"passes:{key}"] = passes
                continue
            tmp = partial_path(path)
            render.filepath = str(tmp)
            with quiet_stdout():
                bpy.ops.render.render(write_still=True, scene=scene.name)
            if not tmp.exists():
                raise RuntimeError(f"Blender's {engine} render did not write {fname}")
            over_background(tmp)
            os.replace(tmp, path)
            out[key] = path
    finally:
        if comic:
            remove_outline(mesh_obj)
        _restore_pose(pose)
        for obj in made:
            data = obj.data
            bpy.data.objects.remove(obj)
            if isinstance(data, bpy.types.Camera):
                bpy.data.cameras.remove(data)
            elif isinstance(data, bpy.types.Light):
                bpy.data.lights.remove(data)
    return out
