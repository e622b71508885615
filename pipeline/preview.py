"""Offscreen previews with pyrender (EGL, no display) and contact sheets.

pyrender draws what it is given, so bodies are posed on the CPU first (``pipeline.skinning``). Cameras are
orthographic with a known scale (``pixels_per_metre``) so that tests can compare silhouettes with measurements.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.avatar_data import AvatarData
from pipeline.axes import to_y_up
from pipeline.skeleton import pose_world, skinning_transforms
from pipeline.skinning import linear_blend_skinning

BACKGROUND = (0.93, 0.93, 0.95, 1.0)


@dataclass(frozen=True)
class View:
    """An orthographic view. ``direction``: where the camera sits, seen from the body (Blender axes)."""

    name: str
    direction: tuple[float, float, float]


FRONT = View("front", (0.0, -1.0, 0.0))
SIDE = View("side", (1.0, 0.0, 0.0))


def world_rotation_pose(avatar: AvatarData, rotations: dict[str, tuple[tuple[float, float, float], float]]
                        ) -> np.ndarray:
    """Bone-local rotations (J, 3, 3) that turn the named bones about world axes (Blender axes, degrees).

    Only exact for bones whose ancestors are not rotated, which is how the preview poses are made.
    """
    d = np.tile(np.eye(3), (avatar.n_bones, 1, 1))
    for name, (axis, deg) in rotations.items():
        if name not in avatar.bone_names:
            continue
        j = avatar.bone_names.index(name)
        a = np.asarray(axis, dtype=np.float64)
        a /= np.linalg.norm(a)
        t = np.radians(deg)
        k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        g = np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k
        r = avatar.bone_rest[j, :3, :3]
        d[j] = r.T @ g @ r
    return d


def relaxed_arms(avatar: AvatarData, degrees: float = 25.0) -> np.ndarray:
    """A preview pose: upper arms lowered toward the body by ``degrees`` (game_engine and mixamo names)."""
    rot = {}
    for left, names in ((True, ("upperarm_l", "mixamorig:LeftArm", "upperarm.L")),
                        (False, ("upperarm_r", "mixamorig:RightArm", "upperarm.R"))):
        for n in names:
            rot[n] = ((0.0, 1.0, 0.0), degrees if left else -degrees)
    return world_rotation_pose(avatar, rot)


def stride(avatar: AvatarData, degrees: float = 20.0) -> np.ndarray:
    """A walking-stride preview pose: left leg forward, right leg back with the knee bent, arms lowered
    (game_engine and mixamo names; bones a rig lacks are left at rest)."""
    x = (1.0, 0.0, 0.0)  # a positive turn about +X moves a downward limb toward +Y, the back
    rot = {}
    for names, deg in ((("thigh_l", "mixamorig:LeftUpLeg"), -degrees), (("thigh_r", "mixamorig:RightUpLeg"), degrees),
                       (("calf_r", "mixamorig:RightLeg"), degrees)):
        for n in names:
            rot[n] = (x, deg)
    base = relaxed_arms(avatar, 40.0)
    swing = world_rotation_pose(avatar, rot)
    return base @ swing  # the arms' and legs' bones are disjoint: the two poses compose bone by bone


def posed_vertices(avatar: AvatarData, local_rotations: np.ndarray | None) -> np.ndarray:
    """(V, 3) vertices posed by linear blend skinning with bone-local rotations (J, 3, 3)."""
    if local_rotations is None:
        return avatar.vertices.astype(np.float64)
    rest = avatar.bone_rest[None]
    world = pose_world(rest, avatar.bone_parents, local_rotations[None])
    t = skinning_transforms(rest, world)
    return linear_blend_skinning(avatar.vertices[None].astype(np.float64), avatar.skin_indices,
                                 avatar.skin_weights, t)[0]


class Renderer:
    """A reusable pyrender offscreen renderer (creating the GL context costs ~0.4 s; frames then ~10 ms)."""

    def __init__(self, width: int = 384, height: int = 512) -> None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        import pyrender

        self._pyrender = pyrender
        self.width, self.height = width, height
        self._r = pyrender.OffscreenRenderer(width, height)

    def close(self) -> None:
        self._r.delete()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, vertices: np.ndarray, faces: np.ndarray, color: Sequence[float], view: View,
               frame_height_m: float, center_z_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Render one body.

        Args:
            vertices: (V, 3) Blender axes, metres. faces: (F, 3).
            color: linear RGBA base colour.
            view: camera placement.
            frame_height_m: metres shown from the bottom to the top of the image.
            center_z_m: height (Blender Z) at the image centre.
        Returns:
            (H, W, 3) uint8 colour and (H, W) float32 depth (0 = background).
        """
        import trimesh

        pr = self._pyrender
        mesh = trimesh.Trimesh(to_y_up(vertices), faces, process=False)
        mat = pr.MetallicRoughnessMaterial(baseColorFactor=list(color), metallicFactor=0.0, roughnessFactor=0.7)
        scene = pr.Scene(bg_color=BACKGROUND, ambient_light=(0.35, 0.35, 0.35))
        scene.add(pr.Mesh.from_trimesh(mesh, material=mat, smooth=True))
        ymag = frame_height_m / 2.0
        cam = pr.OrthographicCamera(xmag=ymag * self.width / self.height, ymag=ymag, znear=0.01, zfar=20.0)
        d = to_y_up(np.asarray(view.direction, dtype=np.float64))
        centre = to_y_up(np.array([0.0, 0.0, center_z_m]))
        eye = centre + d * 5.0
        pose = _look_at(eye, centre, np.array([0.0, 1.0, 0.0]))
        scene.add(cam, pose=pose)
        key = _look_at(centre + to_y_up(np.array([0.6, -1.0, 0.8])) * 5, centre, np.array([0.0, 1.0, 0.0]))
        scene.add(pr.DirectionalLight(color=np.ones(3), intensity=3.0), pose=key)
        scene.add(pr.DirectionalLight(color=np.ones(3), intensity=1.5), pose=pose)
        color_img, depth = self._r.render(scene)
        return np.asarray(color_img)[..., :3].copy(), np.asarray(depth)


def _look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = s, u, -f, eye
    return m


def contact_sheet(images: Sequence[Image.Image], labels: Sequence[str], columns: int = 4) -> Image.Image:
    """A grid of equally sized previews with a label under each."""
    if not images:
        raise ValueError("contact sheet needs at least one image")
    w, h = images[0].size
    label_h = 24
    rows = (len(images) + columns - 1) // columns
    cols = min(columns, len(images))
    sheet = Image.new("RGB", (cols * w, rows * (h + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (i % cols) * w, (i // cols) * (h + label_h)
        sheet.paste(img.convert("RGB").resize((w, h)), (x, y))
        tw = draw.textlength(label, font=font)
        draw.text((x + (w - tw) / 2, y + h + 5), label, fill=(20, 20, 20), font=font)
    return sheet
