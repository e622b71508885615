"""Preview poses posed on the CPU (numpy): bone-local rotations for named bones, and linear blend skinning of an
AvatarData with them. Renderers draw the bind pose only, so previews are posed here first."""

from __future__ import annotations

import numpy as np

from pipeline.core.avatar_data import AvatarData
from pipeline.core.skeleton import pose_world, skinning_transforms
from pipeline.core.skinning import linear_blend_skinning
from pipeline.core.twist import apply_twist_rule


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
    """A preview pose: upper arms lowered toward the body by ``degrees`` (game_engine, mixamo and makehuman
    names)."""
    rot = {}
    for left, names in ((True, ("upperarm_l", "mixamorig:LeftArm", "upperarm01.L")),
                        (False, ("upperarm_r", "mixamorig:RightArm", "upperarm01.R"))):
        for n in names:
            rot[n] = ((0.0, 1.0, 0.0), degrees if left else -degrees)
    return world_rotation_pose(avatar, rot)


def stride(avatar: AvatarData, degrees: float = 20.0) -> np.ndarray:
    """A walking-stride preview pose: left leg forward, right leg back with the knee bent, arms lowered
    (game_engine, mixamo and makehuman names; bones a rig lacks are left at rest)."""
    x = (1.0, 0.0, 0.0)  # a positive turn about +X moves a downward limb toward +Y, the back
    rot = {}
    for names, deg in ((("thigh_l", "mixamorig:LeftUpLeg", "upperleg01.L"), -degrees),
                       (("thigh_r", "mixamorig:RightUpLeg", "upperleg01.R"), degrees),
                       (("calf_r", "mixamorig:RightLeg", "lowerleg01.R"), degrees)):
        for n in names:
            rot[n] = (x, deg)
    base = relaxed_arms(avatar, 40.0)
    swing = world_rotation_pose(avatar, rot)
    return base @ swing  # the arms' and legs' bones are disjoint: the two poses compose bone by bone


def rig_pose(avatar: AvatarData, local_rotations: np.ndarray) -> np.ndarray:
    """Bone-local rotations (J, 3, 3) as the rig applies them: twist bones driven by their rule
    (``pipeline.core.twist``), as the Blender rig's constraints drive them."""
    return apply_twist_rule(avatar.bone_names, local_rotations)


def posed_vertices(avatar: AvatarData, local_rotations: np.ndarray | None) -> np.ndarray:
    """(V, 3) vertices posed by linear blend skinning with bone-local rotations (J, 3, 3), the rig's twist rule
    applied."""
    if local_rotations is None:
        return avatar.vertices.astype(np.float64)
    rest = avatar.bone_rest[None]
    world = pose_world(rest, avatar.bone_parents, rig_pose(avatar, local_rotations)[None])
    t = skinning_transforms(rest, world)
    return linear_blend_skinning(avatar.vertices[None].astype(np.float64), avatar.skin_indices,
                                 avatar.skin_weights, t)[0]
