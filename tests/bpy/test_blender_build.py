"""bpy tier (the real Blender module, in-process, factory reset per test): AvatarData -> armature + skinned mesh."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from mathutils import Quaternion
from support.bpy_helpers import read_back

from pipeline.blender.build import build_avatar, find_mesh, update_avatar
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.mesh import unique_edges
from pipeline.core.poses import posed_vertices, world_rotation_pose
from pipeline.core.skinning import dense_weights


@pytest.fixture(autouse=True)
def fresh_blender():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


def _avatar(body, preset="adult_woman", rig="game_engine", k=4, name="ana"):
    r = body.rig(rig)
    return avatar_from_batch(body, r, assemble(body, r, body.presets[preset]), 0, name, k,
                             meta={"request": {"name": name}, "seed": 7})


@pytest.mark.parametrize("rig", ["game_engine", "mixamo", "makehuman"])
def test_build_matches_avatar_data(body, rig):
    a = _avatar(body, rig=rig, k=8 if rig == "makehuman" else 4)
    arm_obj, mesh_obj = build_avatar(a)
    assert arm_obj.name == "ana_rig" and mesh_obj.name == "ana"
    assert mesh_obj.parent == arm_obj and mesh_obj.modifiers["Armature"].object == arm_obj
    got = read_back(arm_obj)
    order = [got["bone_names"].index(n) for n in a.bone_names]
    assert len(order) == a.n_bones
    assert np.abs(got["heads"][order] - a.bone_heads).max() < 1e-5
    assert np.abs(got["tails"][order] - a.bone_tails).max() < 1e-5
    assert np.abs(got["rest"][order] - a.bone_rest).max() < 1e-4  # the rolls survive
    parents = [got["parents"][i] for i in order]
    assert parents == [a.bone_names[p] if p >= 0 else None for p in a.bone_parents]
    assert np.abs(got["vertices"] - a.vertices).max() < 1e-6
    me = mesh_obj.data
    assert len(me.polygons) == a.faces.shape[0]
    # built without validate(): the edges are all there and Blender's check finds nothing to repair
    assert len(me.edges) == len(unique_edges(a.faces))
    assert not me.validate(verbose=False)
    uv = np.empty(len(me.loops) * 2, dtype=np.float32)
    me.uv_layers[0].data.foreach_get("uv", uv)
    assert np.abs(uv.reshape(-1, 3, 2) - a.uvs).max() < 1e-6
    cols = [got["group_names"].index(n) for n in a.bone_names]
    dense = dense_weights(a.skin_indices, a.skin_weights, a.n_bones)
    assert np.abs(got["weights"][:, cols] - dense).max() < 1e-6
    assert json.loads(arm_obj["avatar_meta"])["seed"] == 7 and arm_obj["avatar_rig"] == rig


def test_blender_deforms_like_our_cpu_skinning(body):
    a = _avatar(body, k=4)
    arm_obj, mesh_obj = build_avatar(a)
    rots = world_rotation_pose(a, {"upperarm_l": ((0, 1, 0), 40.0), "thigh_r": ((1, 0, 0), -30.0),
                                   "neck_01": ((0, 0, 1), 25.0)})
    for j, name in enumerate(a.bone_names):
        if not np.allclose(rots[j], np.eye(3)):
            pb = arm_obj.pose.bones[name]
            pb.rotation_mode = "QUATERNION"
            pb.rotation_quaternion = Quaternion(_matrix_to_quat(rots[j]))
    bpy.context.view_layer.update()
    dg = bpy.context.evaluated_depsgraph_get()
    me = mesh_obj.evaluated_get(dg).to_mesh()
    co = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", co)
    ours = posed_vertices(a, rots)
    err = np.abs(co.reshape(-1, 3) - ours).max()
    assert err < 1e-4, err
    assert np.abs(ours - a.vertices).max() > 0.1  # the pose really moved something


def _matrix_to_quat(r):
    from mathutils import Matrix

    return Matrix(r.tolist()).to_quaternion()


def test_update_in_place_keeps_names_and_animation(body):
    a = _avatar(body, "adult_woman")
    arm_obj, mesh_obj = build_avatar(a)
    pb = arm_obj.pose.bones["upperarm_l"]
    pb.rotation_mode = "XYZ"
    for frame, angle in ((1, 0.0), (10, 0.8)):
        pb.rotation_euler = (angle, 0.0, 0.0)
        pb.keyframe_insert("rotation_euler", frame=frame)
    action = arm_obj.animation_data.action
    b = _avatar(body, "elder")
    arm2, mesh2 = update_avatar(arm_obj, b)
    assert arm2 == arm_obj and mesh2 == mesh_obj
    assert arm_obj.name == "ana_rig" and mesh_obj.name == "ana"
    assert arm_obj.animation_data.action == action
    got = read_back(arm_obj)
    assert np.abs(got["vertices"] - b.vertices).max() < 1e-6
    assert len(bpy.data.meshes) == 1  # the old mesh datablock is gone
    assert find_mesh(arm_obj).data.materials[0].name == "ana_skin"
    with pytest.raises(ValueError, match="not an avatar armature"):
        update_avatar(bpy.data.objects.new("x", bpy.data.armatures.new("x")), b)


def test_twist_constraints_drive_the_twist_bones_as_the_cpu_rule_does(body):
    from mathutils import Matrix

    from pipeline.core.deformation import posed_world
    from pipeline.core.poses import posed_vertices
    from pipeline.core.twist import TWIST_BONES

    a = _avatar(body)
    arm, mesh = build_avatar(a)
    rng = np.random.default_rng(5)
    rot = np.tile(np.eye(3), (a.n_bones, 1, 1))
    for name in ("hand_l", "hand_r", "upperarm_l", "upperarm_r", "foot_l", "foot_r", "thigh_l", "thigh_r"):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        rot[a.bone_names.index(name)] = np.eye(3) + np.sin(1.0) * k + (1 - np.cos(1.0)) * k @ k
    for j, name in enumerate(a.bone_names):
        pb = arm.pose.bones[name]
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = Matrix(rot[j].tolist()).to_quaternion()
    bpy.context.view_layer.update()
    ours = posed_world(a, rot)
    for t in TWIST_BONES:
        j = a.bone_names.index(t.name)
        assert np.abs(np.array(arm.pose.bones[t.name].matrix) - ours[j]).max() < 1e-5, t.name
    # and the skin Blender deforms with them is the skin our CPU skinning gives
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    co = np.empty(len(evaluated.data.vertices) * 3, dtype=np.float32)
    evaluated.data.vertices.foreach_get("co", co)
    assert np.abs(co.reshape(-1, 3) - posed_vertices(a, rot)).max() < 1e-4
