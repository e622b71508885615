"""Put a ``pipeline.core.shots.Shot`` into the Blender scene (bpy only here): perspective camera, pose, sun, sky
and area light, and a comic avatar's ink outline (as its previews have it). ``clear_shot`` removes what
``apply_shot`` added and puts the avatar back in its rest pose."""

from __future__ import annotations

import math
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from pipeline.blender.passes import kept_output
from pipeline.blender.render import pose_armature
from pipeline.blender.toon import add_outline, remove_outline
from pipeline.core.avatar_data import AvatarData
from pipeline.core.poses import relaxed_arms, stride
from pipeline.core.shots import SENSOR_MM, Shot

PREFIX = "avatar_shot_"


def pose_rotations(avatar: AvatarData, pose: str) -> np.ndarray | None:
    """Bone-local rotations (J, 3, 3) of a named pose (rest: None)."""
    return None if pose == "rest" else {"relaxed": relaxed_arms, "stride": stride}[pose](avatar)


def _aim(obj: Any, eye: tuple[float, float, float], target: tuple[float, float, float]) -> None:
    obj.location = eye
    obj.rotation_euler = (Vector(target) - Vector(eye)).to_track_quat("-Z", "Y").to_euler()


def apply_shot(scene: Any, arm_obj: Any, avatar: AvatarData, shot: Shot) -> Any:
    """Camera, pose and lights of ``shot``; returns the camera object (also the scene's camera)."""
    clear_shot(scene, arm_obj, avatar)
    cam = bpy.data.cameras.new(PREFIX + "cam")
    cam.lens, cam.sensor_width, cam.sensor_fit = shot.lens_mm, SENSOR_MM, "AUTO"
    cam.clip_start, cam.clip_end = 0.05, 100.0
    cam_obj = bpy.data.objects.new(PREFIX + "cam", cam)
    scene.collection.objects.link(cam_obj)
    _aim(cam_obj, shot.eye, shot.target)
    scene.camera = cam_obj
    lt = shot.lights
    sun = bpy.data.lights.new(PREFIX + "sun", "SUN")
    sun.energy, sun.angle = lt.sun_strength, math.radians(lt.sun_angle)
    sun_obj = bpy.data.objects.new(PREFIX + "sun", sun)
    # a sun shines along its -Z: tilt it down from the zenith by (90 - elevation), then turn it by the azimuth
    sun_obj.rotation_euler = (math.radians(90.0 - lt.sun_elevation), 0.0, math.radians(lt.sun_azimuth))
    scene.collection.objects.link(sun_obj)
    if lt.area_power > 0:
        area = bpy.data.lights.new(PREFIX + "area", "AREA")
        area.energy, area.size = lt.area_power, lt.area_size
        area_obj = bpy.data.objects.new(PREFIX + "area", area)
        scene.collection.objects.link(area_obj)
        _aim(area_obj, lt.area_position, lt.area_target)
    world = scene.world or bpy.data.worlds.new(PREFIX + "world")
    scene.world = world
    bg = world.node_tree.nodes.get("Background") if world.node_tree else None
    if bg is not None:
        bg.inputs["Color"].default_value = (*lt.sky_rgb, 1.0)
        bg.inputs["Strength"].default_value = lt.sky_strength
    pose_armature(arm_obj, avatar, pose_rotations(avatar, shot.pose))
    mesh_obj = _mesh(arm_obj)
    if avatar.comic_style is not None and mesh_obj is not None:
        add_outline(mesh_obj)
    return cam_obj


def _mesh(arm_obj: Any) -> Any:
    return next((c for c in arm_obj.children if c.type == "MESH"), None)


def clear_shot(scene: Any, arm_obj: Any, avatar: AvatarData) -> None:
    """Remove the shot's camera and lights; the avatar back in its rest pose."""
    for obj in [o for o in bpy.data.objects if o.name.startswith(PREFIX)]:
        data = obj.data
        bpy.data.objects.remove(obj)
        if isinstance(data, bpy.types.Camera):
            bpy.data.cameras.remove(data)
        elif isinstance(data, bpy.types.Light):
            bpy.data.lights.remove(data)
    pose_armature(arm_obj, avatar, None)
    mesh_obj = _mesh(arm_obj)
    if mesh_obj is not None:
        remove_outline(mesh_obj)


def current_scene() -> Any:
    """The scene avatars are built into and rendered from."""
    return bpy.context.scene


def camera_rotation(cam_obj: Any) -> np.ndarray:
    """(3, 3) world-from-camera rotation of a camera object (columns: its right, up and backward axes)."""
    return np.array(cam_obj.matrix_world.to_3x3(), dtype=np.float64)


HAND_BONES = (("hand_l", "mixamorig:LeftHand", "wrist.L"), ("hand_r", "mixamorig:RightHand", "wrist.R"))


def image_points(scene: Any, cam_obj: Any, arm_obj: Any, avatar: AvatarData, size: tuple[int, int]
                 ) -> dict[str, tuple[int, int]]:
    """Pixel (row, column) of the face and of the hand nearer the camera in a ``size`` = (width, height) render of
    the scene, for the crops of reports; a point outside the frame is left out. Call after ``apply_shot`` (the
    hands as posed). The scene's own resolution is left as it was."""
    from bpy_extras.object_utils import world_to_camera_view

    from pipeline.core.shots import landmarks

    bpy.context.view_layer.update()
    w, h = size
    with kept_output(scene):
        render = scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = w, h, 100  # the projection's aspect
        found: dict[str, tuple[int, int]] = {}
        candidates = [("face", Vector(landmarks(avatar)["face"].tolist()))]
        hands = [arm_obj.matrix_world @ arm_obj.pose.bones[n].tail for names in HAND_BONES for n in names
                 if n in arm_obj.pose.bones]
        if hands:  # the hand bone's tail is the middle of the palm's far end; its nearer hand is the one to show
            eye = cam_obj.matrix_world.translation
            candidates.append(("hand", min(hands, key=lambda p: (p - eye).length)))
        for key, point in candidates:
            x, y, depth = world_to_camera_view(scene, cam_obj, point)
            if depth > 0 and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0:
                found[key] = (min(h - 1, int((1.0 - y) * h)), min(w - 1, int(x * w)))
    return found
