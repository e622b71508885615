"""Read-back of built avatars for the bpy-tier tests (per-vertex loops are fine here: tests only)."""

from __future__ import annotations

import numpy as np

from pipeline.blender.build import find_mesh


def read_back(arm_obj) -> dict:
    """Bone names, heads, tails, rest matrices (armature space), vertices and dense (V, J) group weights."""
    bones = arm_obj.data.bones
    mesh_obj = find_mesh(arm_obj)
    me = mesh_obj.data
    co = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", co)
    dense = np.zeros((len(me.vertices), len(mesh_obj.vertex_groups)))
    for vi, v in enumerate(me.vertices):
        for g in v.groups:
            dense[vi, g.group] = g.weight
    return {
        "bone_names": [b.name for b in bones],
        "parents": [b.parent.name if b.parent else None for b in bones],
        "heads": np.array([b.head_local[:] for b in bones]),
        "tails": np.array([b.tail_local[:] for b in bones]),
        "rest": np.array([np.array(b.matrix_local) for b in bones]),
        "vertices": co.reshape(-1, 3),
        "group_names": [g.name for g in mesh_obj.vertex_groups],
        "weights": dense,
    }
