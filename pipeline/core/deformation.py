"""Deformation quality of a skinned avatar in a pose (numpy): how much volume a limb keeps around a joint, how far
its edges stretch, and how many triangles pass through others near it.

- **Slab volume**: the part of a limb (the faces whose vertices all belong to its bones) between two planes normal
  to a bone, ``half`` of the bone's length on either side of a joint, capped by the planes. Computed by the
  divergence theorem with the field ``F = (s + half) axis`` (``s`` the coordinate along the bone from the joint):
  the clipped surface's flux plus the far cap's (the near cap's is 0). The joint, axis and length are the posed
  bone's, so a bent or rolled limb is measured across its own axis. Kept volume = posed / rest.
- **Edge stretch**: the largest ratio of posed to rest edge length among the edges near a joint.
- **Intersections**: the fraction of triangles near a joint that pass through another (``self_intersection``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from pipeline.core.avatar_data import AvatarData
from pipeline.core.mesh import unique_edges
from pipeline.core.poses import rig_pose
from pipeline.core.self_intersection import intersecting_triangles
from pipeline.core.skeleton import pose_world

SLAB_HALF = 0.15  # of the bone's length, on either side of the joint


@dataclasses.dataclass(frozen=True)
class Joint:
    """A joint measured between a limb's bones: ``bone``'s head (``at="head"``) or tail, along ``bone``'s axis;
    ``limb``: the bones (and their descendants) whose vertices make up the limb."""

    name: str
    bone: str
    at: str
    limb: str


def descendants(avatar: AvatarData, root: str) -> np.ndarray:
    """(J,) bool: ``root`` and every bone below it."""
    out = np.zeros(avatar.n_bones, dtype=bool)
    out[avatar.bone_names.index(root)] = True
    for _ in range(avatar.n_bones):  # parents come before children in no guaranteed order: iterate to a fixpoint
        grown = out | out[np.maximum(avatar.bone_parents, 0)] & (avatar.bone_parents >= 0)
        if np.array_equal(grown, out):
            break
        out = grown
    return out


def limb_faces(avatar: AvatarData, root: str) -> np.ndarray:
    """(F', 3) faces whose three vertices are driven mostly by ``root`` or a bone below it."""
    dominant = avatar.skin_indices[np.arange(avatar.n_vertices), np.argmax(avatar.skin_weights, axis=1)]
    mine = descendants(avatar, root)[dominant]
    return avatar.faces[mine[avatar.faces].all(axis=1)]


def joint_frame(avatar: AvatarData, world: np.ndarray, joint: Joint) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin (3,), unit axis (3,), bone length) of a joint with bone matrices ``world`` (J, 4, 4)."""
    j = avatar.bone_names.index(joint.bone)
    length = float(np.linalg.norm(avatar.bone_tails[j] - avatar.bone_heads[j]))
    axis = world[j, :3, 1] / np.linalg.norm(world[j, :3, 1])
    origin = world[j, :3, 3] + (axis * length if joint.at == "tail" else 0.0)
    return origin, axis, length


def _clip(poly: np.ndarray, s: np.ndarray, bound: float, keep_below: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sutherland-Hodgman clip of a polygon (n, 3) with coordinates s (n,) against s <= bound (or >=)."""
    out_p, out_s = [], []
    n = len(poly)
    for i in range(n):
        p, q, sp, sq = poly[i], poly[(i + 1) % n], s[i], s[(i + 1) % n]
        p_in = sp <= bound if keep_below else sp >= bound
        q_in = sq <= bound if keep_below else sq >= bound
        if p_in:
            out_p.append(p)
            out_s.append(sp)
        if p_in != q_in:
            t = (bound - sp) / (sq - sp)
            out_p.append(p + t * (q - p))
            out_s.append(bound)
    return np.array(out_p).reshape(-1, 3), np.array(out_s)


def slab_volume(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, axis: np.ndarray, half: float) -> float:
    """Volume (m^3) of the closed limb surface between the planes ``s = -half`` and ``s = half``, where
    ``s = (x - origin) . axis``; faces outward-oriented (counter-clockwise seen from outside).

    Args:
        vertices: (V, 3) metres. faces: (F, 3) the limb's faces. origin, axis: (3,), axis unit. half: metres.
    """
    v = np.asarray(vertices, dtype=np.float64)
    s = (v - origin) @ axis
    sf = s[faces]  # (F, 3)
    inside = np.all(np.abs(sf) <= half, axis=1)
    crossing = ~inside & (sf.min(axis=1) < half) & (sf.max(axis=1) > -half)
    tri = v[faces[inside]]
    area_vec = 0.5 * np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flux = float(np.sum((area_vec @ axis) * (sf[inside].mean(axis=1) + half)))
    cap = np.zeros(3)
    for f in np.flatnonzero(crossing):  # a few hundred triangles on the two planes, not per vertex
        poly, ps = _clip(v[faces[f]], sf[f], half, keep_below=True)
        poly, ps = _clip(poly, ps, -half, keep_below=False) if len(poly) else (poly, ps)
        for k in range(1, len(poly) - 1):  # fan: exact for the linear field over each planar triangle
            a = 0.5 * np.cross(poly[k] - poly[0], poly[k + 1] - poly[0])
            flux += float(a @ axis) * ((ps[0] + ps[k] + ps[k + 1]) / 3.0 + half)
        # the triangle's segment on the far plane, oriented by the triangle (Green's theorem for the cap)
        on = [i for i in range(len(poly)) if abs(ps[i] - half) < 1e-12]
        if len(on) == 2:
            i, k = on
            if (k - i) % len(poly) != 1:
                i, k = k, i
            cap += np.cross(poly[i] - origin, poly[k] - origin)
    cap_area = abs(float(cap @ axis)) / 2.0
    return flux + 2.0 * half * cap_area


def near(vertices: np.ndarray, origin: np.ndarray, axis: np.ndarray, half: float) -> np.ndarray:
    """(V,) bool: vertices whose coordinate along the axis lies within the slab."""
    return np.abs((np.asarray(vertices, dtype=np.float64) - origin) @ axis) <= half


def edge_stretch(rest: np.ndarray, posed: np.ndarray, faces: np.ndarray, region: np.ndarray) -> float:
    """The largest posed / rest length ratio of the edges with both ends in ``region`` ((V,) bool)."""
    e = unique_edges(faces)
    e = e[region[e].all(axis=1)]
    if not len(e):
        return 1.0
    lr = np.linalg.norm(rest[e[:, 0]] - rest[e[:, 1]], axis=1)
    lp = np.linalg.norm(posed[e[:, 0]] - posed[e[:, 1]], axis=1)
    return float((lp / np.maximum(lr, 1e-12)).max())


def intersection_fraction(posed: np.ndarray, faces: np.ndarray, region: np.ndarray) -> float:
    """Fraction of the triangles touching ``region`` that pass through another of them."""
    f = faces[region[faces].any(axis=1)]
    return float(intersecting_triangles(posed, f).mean()) if len(f) else 0.0


def posed_world(avatar: AvatarData, rotations: np.ndarray) -> np.ndarray:
    """(J, 4, 4) posed bone matrices for bone-local rotations (J, 3, 3), the rig's twist rule applied."""
    return pose_world(avatar.bone_rest[None], avatar.bone_parents, rig_pose(avatar, rotations)[None])[0]


# The joints the quality poses are judged at (left side of the game rig), and the regions edges are measured in.
ELBOW = Joint("elbow", "lowerarm_l", "head", "upperarm_l")
WRIST = Joint("wrist", "lowerarm_l", "tail", "lowerarm_l")
KNEE = Joint("knee", "calf_l", "head", "thigh_l")


def _direction(avatar: AvatarData, bone: str) -> np.ndarray:
    return avatar.bone_rest[avatar.bone_names.index(bone), :3, 1]


def _about(avatar: AvatarData, bone: str, axis: np.ndarray, degrees: float) -> np.ndarray:
    from pipeline.core.poses import world_rotation_pose

    return world_rotation_pose(avatar, {bone: (tuple(float(x) for x in axis), degrees)})


def quality_poses(avatar: AvatarData) -> dict[str, list[np.ndarray]]:
    """The deformation test poses of the game rig's left side, as bone-local rotations (J, 3, 3) per frame:
    arm raised 90 degrees, elbow bent 120, forearm rolled 90 (pronation: the hand turned about the forearm's axis,
    which the twist rule spreads over the forearm), wrist bent 60, hip flexed 90, knee bent 120, and 8 frames of a
    walk."""
    eye = np.tile(np.eye(3), (avatar.n_bones, 1, 1))
    up, fore = _direction(avatar, "upperarm_l"), _direction(avatar, "lowerarm_l")
    hinge = np.cross(up, fore)
    hinge /= np.linalg.norm(hinge)
    folded = [_about(avatar, "lowerarm_l", sign * hinge, 120.0) for sign in (1.0, -1.0)]
    lo = avatar.bone_names.index("lowerarm_l")
    elbow = max(folded, key=lambda r: float(-up @ (avatar.bone_rest[lo, :3, :3] @ r[lo] @ avatar.bone_rest[lo, :3, :3].T
                                                   @ fore)))
    roll = _about(avatar, "hand_l", fore, 90.0)  # pronation: the hand turns about the forearm's axis
    hand = avatar.bone_names.index("hand_l")
    wrist = eye.copy()
    c, s = np.cos(np.radians(60.0)), np.sin(np.radians(60.0))
    wrist[hand] = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # about the hand's own X axis
    x = np.array([1.0, 0.0, 0.0])  # a positive turn about +X moves a downward limb back
    walk = []
    for phase in np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False):
        frame = eye.copy()
        for bone, deg in (("thigh_l", -25 * np.sin(phase)), ("thigh_r", 25 * np.sin(phase)),
                          ("calf_l", 30 * (1 - np.cos(phase))), ("calf_r", 30 * (1 + np.cos(phase))),
                          ("upperarm_l", 15 * np.sin(phase)), ("upperarm_r", -15 * np.sin(phase))):
            j = avatar.bone_names.index(bone)
            frame[j] = _about(avatar, bone, x, float(deg))[j]
        walk.append(frame)
    return {"arm raised 90": [_about(avatar, "upperarm_l", np.array([0.0, 1.0, 0.0]), -90.0)],
            "elbow bent 120": [elbow], "forearm rolled 90": [roll], "wrist bent 60": [wrist],
            "hip flexed 90": [_about(avatar, "thigh_l", x, -90.0)],
            "knee bent 120": [_about(avatar, "calf_l", x, 120.0)], "walk": walk}


def regions(avatar: AvatarData) -> dict[str, np.ndarray]:
    """(V,) bool regions edges are measured in: the left armpit (within 40 % of the upper arm's length of its head)
    and the crotch (within 30 % of the thigh's length of the middle of the two hip joints)."""
    v = avatar.vertices.astype(np.float64)
    arm = avatar.bone_names.index("upperarm_l")
    tl, tr = avatar.bone_names.index("thigh_l"), avatar.bone_names.index("thigh_r")
    arm_len = np.linalg.norm(avatar.bone_tails[arm] - avatar.bone_heads[arm])
    thigh_len = np.linalg.norm(avatar.bone_tails[tl] - avatar.bone_heads[tl])
    hips = (avatar.bone_heads[tl] + avatar.bone_heads[tr]) / 2.0
    return {"armpit": np.linalg.norm(v - avatar.bone_heads[arm], axis=1) <= 0.4 * arm_len,
            "crotch": np.linalg.norm(v - hips, axis=1) <= 0.3 * thigh_len}


def cone_volume(vertices: np.ndarray, faces: np.ndarray, apex: np.ndarray) -> float:
    """Volume (m^3) swept from ``apex`` to a patch of outward faces (the signed tetrahedra apex-face): for the same
    patch of skin around a joint, at rest and posed, a local volume that folding limbs do not confuse."""
    v = np.asarray(vertices, dtype=np.float64) - apex
    a, b, c = (v[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->", np.cross(a, b), c) / 6.0)


def quality_report(avatar: AvatarData, poses: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """Per pose of ``quality_poses`` (all, or only those named in ``poses``; worst frame): at the elbow, wrist and
    knee the kept volume of the slab across the posed bone (``slab kept``; the forearm roll's measure) and of the
    skin patch around the joint seen from it (``patch kept``; robust when a limb folds over the slab), and the
    largest edge stretch in the patch; in the armpit and crotch the largest edge stretch and the fraction of
    triangles passing through others."""
    from pipeline.core.poses import posed_vertices

    rest = avatar.vertices.astype(np.float64)
    areas = regions(avatar)
    at_rest = {}  # per joint, computed once: limb faces, patch faces and vertices, rest slab and patch volumes
    for joint in (ELBOW, WRIST, KNEE):
        faces = limb_faces(avatar, joint.limb)
        o, a, length = joint_frame(avatar, avatar.bone_rest, joint)
        inside = near(rest, o, a, SLAB_HALF * length)
        mask = np.zeros(avatar.n_vertices, dtype=bool)
        mask[np.unique(faces)] = True
        patch = faces[inside[faces].all(axis=1)]
        at_rest[joint.name] = (faces, patch, mask & inside, slab_volume(rest, faces, o, a, SLAB_HALF * length),
                               cone_volume(rest, patch, o))
    out: dict[str, dict[str, float]] = {}

    def keep(row: dict[str, float], key: str, value: float, worst: Callable[[float, float], float]) -> None:
        row[key] = worst(row[key], value) if key in row else value

    for pose, frames in quality_poses(avatar).items():
        if poses is not None and pose not in poses:
            continue
        row: dict[str, float] = {}
        for rotations in frames:
            posed = posed_vertices(avatar, rotations)
            world = posed_world(avatar, rotations)
            for joint in (ELBOW, WRIST, KNEE):
                faces, patch, region, slab0, cone0 = at_rest[joint.name]
                o, a, length = joint_frame(avatar, world, joint)
                keep(row, f"{joint.name} slab kept", slab_volume(posed, faces, o, a, SLAB_HALF * length) / slab0, min)
                keep(row, f"{joint.name} patch kept", cone_volume(posed, patch, o) / cone0, min)
                keep(row, f"{joint.name} stretch", edge_stretch(rest, posed, avatar.faces, region), max)
            for name, region in areas.items():
                keep(row, f"{name} stretch", edge_stretch(rest, posed, avatar.faces, region), max)
                keep(row, f"{name} intersecting", intersection_fraction(posed, avatar.faces, region), max)
        out[pose] = row
    return out
