"""AvatarData: the one hand-off object between body assembly, Blender, exporters and renderers.

Frozen, numpy arrays only, invariants checked at construction. Exporters and renderers never repair it.
Units: metres, Blender axes (Z up, -Y forward), feet on the floor (z = 0) for assembled avatars; bone matrices
map bone space to armature space.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from pipeline.core.skeleton import topological_levels

WEIGHT_SUM_TOLERANCE = 1e-6


class AvatarDataError(ValueError):
    """An AvatarData invariant does not hold."""


@dataclasses.dataclass(frozen=True, eq=False)
class AvatarData:
    """One avatar, ready to build or export.

    Attributes:
        name: avatar name ([A-Za-z0-9_-]{1,64}).
        vertices: (V, 3) float32 rest positions, metres.
        faces: (F, 3) int32 triangles, counter-clockwise seen from outside.
        uvs: (F, 3, 2) float32 per-corner texture coordinates, origin bottom-left (OpenGL / Blender).
        bone_names: J bone names.
        bone_parents: (J,) int32 parent index, -1 for the root(s); acyclic.
        bone_heads, bone_tails: (J, 3) float32 metres.
        bone_rest: (J, 4, 4) float64 rest matrices (bone space -> armature space), Y along head->tail.
        skin_indices: (V, k) int32 bone indices; unused slots 0.
        skin_weights: (V, k) float32, rows sum to 1, unused slots 0.
        influences: k, the number of influences per vertex the export target allows.
        rig: rig name (``game_engine``, ``mixamo``, ``makehuman``).
        texture: optional (H, W, 3) uint8 sRGB albedo for ``uvs``.
        normal_map: optional (H, W, 3) uint8 tangent-space normal detail (OpenGL convention: +X along +u, +Y
            along +v; value = normal x 0.5 + 0.5), same size as ``texture``.
        roughness_map: optional (H, W) uint8 roughness (0 mirror, 255 fully rough), same size as ``texture``.
        base_color: (4,) float32 linear RGBA used when there is no texture.
        meta: JSON-serialisable extras (request, seed, measurements, warnings).
        comic_style: the comic style ``texture`` is drawn in (toon materials and comic previews), or None.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    bone_names: tuple[str, ...]
    bone_parents: np.ndarray
    bone_heads: np.ndarray
    bone_tails: np.ndarray
    bone_rest: np.ndarray
    skin_indices: np.ndarray
    skin_weights: np.ndarray
    influences: int
    rig: str
    texture: np.ndarray | None = None
    normal_map: np.ndarray | None = None
    roughness_map: np.ndarray | None = None
    base_color: np.ndarray = dataclasses.field(
        default_factory=lambda: np.array([0.8, 0.6, 0.5, 1.0], dtype=np.float32)
    )
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    comic_style: str | None = None

    def __post_init__(self) -> None:
        for field in ("vertices", "faces", "uvs", "bone_parents", "bone_heads", "bone_tails", "bone_rest",
                      "skin_indices", "skin_weights", "base_color"):
            arr = np.array(getattr(self, field))  # own copy, then read-only
            arr.setflags(write=False)
            object.__setattr__(self, field, arr)
        for field in ("texture", "normal_map", "roughness_map"):
            if getattr(self, field) is not None:
                tex = np.array(getattr(self, field))
                tex.setflags(write=False)
                object.__setattr__(self, field, tex)
        object.__setattr__(self, "bone_names", tuple(self.bone_names))
        _check(self)

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_bones(self) -> int:
        return len(self.bone_names)

    def replace(self, **changes: Any) -> AvatarData:
        """A copy with some fields changed, checked again."""
        return dataclasses.replace(self, **changes)


PROPERTY_PREFIX = "avatar_"
ROUGHNESS_WITHOUT_MAP = 0.6  # the skin's roughness in every material and file where an avatar has no roughness map


def stored_properties(avatar: AvatarData) -> dict[str, str | int]:
    """What an avatar's armature carries about it, as Blender custom properties and as glTF extras of the
    armature node: name, rig, influences, bone names and ``meta`` (the last two as JSON strings)."""
    return {PROPERTY_PREFIX + "name": avatar.name, PROPERTY_PREFIX + "rig": avatar.rig,
            PROPERTY_PREFIX + "influences": int(avatar.influences),
            PROPERTY_PREFIX + "bone_names": json.dumps(list(avatar.bone_names)),
            PROPERTY_PREFIX + "meta": json.dumps(avatar.meta, default=float)}


def _fail(data: AvatarData, msg: str) -> None:
    raise AvatarDataError(f"AvatarData {data.name!r}: {msg}")


def _expect(data: AvatarData, field: str, shape: tuple[int | None, ...], kinds: str) -> None:
    arr = getattr(data, field)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        _fail(data, f"{field} has shape {arr.shape}, expected {shape} (None = any)")
    if arr.dtype.kind not in kinds:
        _fail(data, f"{field} has dtype {arr.dtype}, expected kind {kinds!r}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        _fail(data, f"{field} has non-finite values")


def _check(d: AvatarData) -> None:
    v = d.vertices.shape[0] if d.vertices.ndim == 2 else -1
    j = len(d.bone_names)
    k = int(d.influences)
    _expect(d, "vertices", (None, 3), "f")
    _expect(d, "faces", (None, 3), "iu")
    _expect(d, "uvs", (d.faces.shape[0], 3, 2), "f")
    _expect(d, "bone_parents", (j,), "i")
    _expect(d, "bone_heads", (j, 3), "f")
    _expect(d, "bone_tails", (j, 3), "f")
    _expect(d, "bone_rest", (j, 4, 4), "f")
    _expect(d, "skin_indices", (v, k), "iu")
    _expect(d, "skin_weights", (v, k), "f")
    _expect(d, "base_color", (4,), "f")
    if v < 3 or d.faces.shape[0] < 1 or j < 1:
        _fail(d, "needs at least 3 vertices, 1 face and 1 bone")
    if d.faces.min() < 0 or d.faces.max() >= v:
        _fail(d, "faces index outside the vertex range")
    if len(set(d.bone_names)) != j:
        _fail(d, "bone names are not unique")
    try:
        topological_levels(d.bone_parents)
    except ValueError as exc:
        _fail(d, str(exc))
    if k < 1:
        _fail(d, f"influences must be at least 1, got {k}")
    if d.skin_indices.min() < 0 or d.skin_indices.max() >= j:
        _fail(d, "skin indices outside the bone range")
    w = d.skin_weights.astype(np.float64)
    if np.any(w < 0):
        _fail(d, "negative skin weights")
    err = np.abs(w.sum(axis=1) - 1.0)
    if err.max() > WEIGHT_SUM_TOLERANCE:
        bad = int(np.argmax(err))
        _fail(d, f"skin weights of vertex {bad} sum to {w[bad].sum():.9f}, not 1")
    if np.any(d.skin_indices[w == 0] != 0):
        _fail(d, "unused skin slots (weight 0) must hold bone index 0")
    rot = d.bone_rest[:, :3, :3]
    if np.abs(rot @ np.swapaxes(rot, 1, 2) - np.eye(3)).max() > 1e-5:
        _fail(d, "bone rest matrices are not rigid")
    if np.abs(d.bone_rest[:, 3] - np.array([0, 0, 0, 1])).max() > 0:
        _fail(d, "bone rest matrices must have a [0, 0, 0, 1] last row")
    if d.texture is not None and (d.texture.ndim != 3 or d.texture.shape[2] not in (3, 4)
                                  or d.texture.dtype != np.uint8):
        _fail(d, "texture must be (H, W, 3|4) uint8")
    for field, channels in (("normal_map", 3), ("roughness_map", None)):
        m = getattr(d, field)
        if m is None:
            continue
        if d.texture is None or m.shape[:2] != d.texture.shape[:2] or m.dtype != np.uint8 \
                or m.ndim != (2 if channels is None else 3) or (channels and m.shape[2] != channels):
            want = "(H, W)" if channels is None else f"(H, W, {channels})"
            _fail(d, f"{field} must be {want} uint8 with the albedo texture's size")
