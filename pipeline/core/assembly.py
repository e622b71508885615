"""Body assembly: shape coefficients -> vertices -> joints -> rest bone matrices -> AvatarData (numpy only)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pipeline.core.avatar_data import AvatarData
from pipeline.core.body_model import BodyModel, Rig
from pipeline.core.skinning import prune_weights


@dataclasses.dataclass(frozen=True)
class AssembledBatch:
    """Rest state of a batch of bodies on one rig.

    Attributes:
        vertices: (B, V, 3) float32 metres. heads, tails: (B, J, 3) float64 metres.
        rest: (B, J, 4, 4) float64 rest bone matrices.
    """

    vertices: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    rest: np.ndarray


def assemble(body: BodyModel, rig: Rig, coefficients: np.ndarray, ground: bool = True) -> AssembledBatch:
    """Vertices, joints and rest bone matrices for (B, K) or (K,) shape coefficients.

    ``ground``: stand each body on the floor, its lowest vertex at z = 0, as Blender users and game engines
    expect (the body space itself keeps the source data's frame, where the feet are about 0.82 m below the
    origin; ``ground=False`` returns that frame, for comparisons with the source).
    """
    verts = body.vertices(coefficients)
    heads, tails = rig.joints(coefficients)
    if ground:  # in place: vertices, heads and tails are fresh arrays (no copy of the batch's 21 MB)
        lift = -verts[..., 2].min(axis=-1)  # (B,)
        verts[..., 2] += lift[:, None].astype(verts.dtype)
        heads[..., 2] += lift[:, None]
        tails[..., 2] += lift[:, None]
    return AssembledBatch(vertices=verts, heads=heads, tails=tails, rest=rig.rest_matrices(heads, tails))


def avatar_from_batch(
    body: BodyModel,
    rig: Rig,
    batch: AssembledBatch,
    i: int,
    name: str,
    influences: int,
    base_color: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> AvatarData:
    """AvatarData for item ``i`` of a batch, skin pruned to ``influences`` per vertex."""
    idx, w = prune_weights(rig.skin_indices, rig.skin_weights, influences)
    kwargs: dict[str, Any] = {}
    if base_color is not None:
        kwargs["base_color"] = np.asarray(base_color, dtype=np.float32)
    return AvatarData(
        name=name,
        vertices=batch.vertices[i],
        faces=body.faces,
        uvs=body.uvs,
        bone_names=rig.bone_names,
        bone_parents=rig.parents,
        bone_heads=batch.heads[i].astype(np.float32),
        bone_tails=batch.tails[i].astype(np.float32),
        bone_rest=batch.rest[i],
        skin_indices=idx,
        skin_weights=w,
        influences=influences,
        rig=rig.name,
        texture=texture,
        meta=dict(meta or {}),
        **kwargs,
    )
