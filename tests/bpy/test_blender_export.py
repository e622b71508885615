"""Export presets through Blender's exporters: files written atomically, validated and read back."""

from __future__ import annotations

import re
import time

import bpy
import numpy as np
import pytest
from support.fbx_inspect import global_settings
from support.gltf_validation import summarize, validate_glb

from pipeline.blender.build import build_avatar
from pipeline.blender.export import PRESETS, export, missing_options
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.export_targets import EXPORT_TARGETS
from pipeline.core.skin_tone import skin_albedo

# Warnings the Khronos validator gives on Blender's GLB, each explained in the README.
EXPLAINED_WARNINGS = {"NODE_SKINNED_MESH_NON_ROOT"}


@pytest.fixture(autouse=True)
def fresh_blender():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


def _built(body, preset, rig="game_engine", name="ana"):
    r = body.rig(rig)
    a = avatar_from_batch(body, r, assemble(body, r, body.presets["adult_woman"]), 0, name,
                          EXPORT_TARGETS[preset].influences, texture=skin_albedo(body.asset_dir, 256, skin_ita=30.0))
    return a, build_avatar(a)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_options_exist_in_this_blender(preset):
    assert missing_options(preset) == []


def _imported_armature():
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    # the glTF importer adds an icosphere as bone display shape: the avatar is the mesh with vertex groups
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH" and len(o.vertex_groups)]
    assert len(arms) == 1 and len(meshes) == 1
    return arms[0], meshes[0]


@pytest.mark.parametrize("rig", ["game_engine", "mixamo"])
def test_glb_validates_and_round_trips(body, tmp_path, rig):
    a, (arm, mesh) = _built(body, "glb", rig)
    path = export([arm, mesh], tmp_path / "ana.glb", "glb")
    assert path.exists() and not list(tmp_path.glob(".*partial*"))
    s = summarize(validate_glb([path])[str(path)])
    assert s["errors"] == 0, s["messages"]
    assert set(s["codes"]) <= EXPLAINED_WARNINGS | {c for c in s["codes"] if c.startswith("UNUSED")}, s
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(path))
    arm2, mesh2 = _imported_armature()
    assert sorted(b.name for b in arm2.data.bones) == sorted(a.bone_names)
    co = np.empty(len(mesh2.data.vertices) * 3, dtype=np.float32)
    mesh2.data.vertices.foreach_get("co", co)
    welded = np.unique(np.round(co.reshape(-1, 3), 5), axis=0)
    assert welded.shape[0] == a.n_vertices
    heads = {b.name: np.array(arm2.matrix_world @ b.head_local) for b in arm2.data.bones}
    assert max(np.abs(heads[n] - a.bone_heads[i]).max() for i, n in enumerate(a.bone_names)) < 1e-4  # bind pose


@pytest.mark.parametrize("preset", ["fbx-unity", "fbx-unreal"])
def test_fbx_round_trip_names_scale_and_axes(body, tmp_path, preset):
    a, (arm, mesh) = _built(body, preset, "mixamo")
    path = export([arm, mesh], tmp_path / f"ana{EXPORT_TARGETS[preset].suffix}", preset)
    data = path.read_bytes()
    assert data[:18] == b"Kaydara FBX Binary"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path))
    arm2, mesh2 = _imported_armature()
    names = {b.name for b in arm2.data.bones}
    assert names == set(a.bone_names)  # Mixamo names, no leaf bones added
    co = np.empty(len(mesh2.data.vertices) * 3, dtype=np.float32)
    mesh2.data.vertices.foreach_get("co", co)
    world = (np.array(mesh2.matrix_world) @ np.c_[co.reshape(-1, 3), np.ones(len(co) // 3)].T).T[:, :3]
    stature = np.ptp(world[:, 2])
    assert abs(stature - np.ptp(a.vertices[:, 2])) < 1e-3  # imports back at metre scale, standing on Z


def test_fbx_presets_differ_where_engines_differ(body, tmp_path):
    """Axes and units read back from the files' GlobalSettings (our own binary FBX reader, no Blender)."""
    _, (arm, mesh) = _built(body, "fbx-unity", "mixamo")
    unity = global_settings(export([arm, mesh], tmp_path / "a.unity.fbx", "fbx-unity"))
    unreal = global_settings(export([arm, mesh], tmp_path / "a.unreal.fbx", "fbx-unreal"))
    # Unity: Y up (axis 1), Z front; 1 file unit = 100 cm, i.e. metres, the avatar imports at scale 1
    assert (unity["UpAxis"], unity["UpAxisSign"], unity["FrontAxis"]) == (1, 1, 2)
    assert unity["UnitScaleFactor"] == 100.0
    # Unreal: Z up (axis 2), Y front, centimetres (1 file unit = 1 cm), as Unreal works
    assert (unreal["UpAxis"], unreal["UpAxisSign"], unreal["FrontAxis"]) == (2, 1, 1)
    assert unreal["UnitScaleFactor"] == 1.0


@pytest.mark.parametrize("preset", ["fbx-unity", "fbx-unreal"])
def test_fbx_is_byte_identical_between_runs_and_references_its_texture_by_final_name(body, tmp_path, preset,
                                                                                       monkeypatch):
    suffix = EXPORT_TARGETS[preset].suffix
    _, (arm, mesh) = _built(body, preset)
    first = export([arm, mesh], tmp_path / "run1" / f"ana{suffix}", preset).read_bytes()
    time.sleep(1.1)  # another second on the clock, another folder, another run id, a fresh scene: the same bytes
    monkeypatch.setattr("pipeline.core.files.RUN_ID", "0badc0de")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _, (arm, mesh) = _built(body, preset)
    second = export([arm, mesh], tmp_path / "run2" / f"ana{suffix}", preset).read_bytes()
    assert first == second
    assert b"partial" not in first and str(tmp_path).encode() not in first
    assert first.count(b"ana_albedo.png") == 5  # Texture FileName, RelativeFilename; Video Path, both names
    # Blender reads it back with the embedded image under that name
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(tmp_path / "run2" / f"ana{suffix}"))
    images = [i for i in bpy.data.images if i.has_data or i.packed_file]
    assert any(i.filepath.endswith("ana_albedo.png") and i.size[0] == 256 for i in images), \
        [(i.name, i.filepath) for i in bpy.data.images]


def test_usd_skeleton_with_8_influences(body, tmp_path):
    from pxr import Usd, UsdGeom, UsdSkel

    a, (arm, mesh) = _built(body, "usd", "makehuman")
    path = export([arm, mesh], tmp_path / "ana.usdc", "usd")
    stage = Usd.Stage.Open(str(path))
    skels = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skels) == 1
    joints = skels[0].GetJointsAttr().Get()
    assert len(joints) == a.n_bones
    # USD identifiers allow [A-Za-z0-9_] only: makehuman's "toe5-3.R" becomes "toe5_3_R"
    assert {str(j).split("/")[-1] for j in joints} == {re.sub(r"[^A-Za-z0-9_]", "_", n) for n in a.bone_names}
    meshes = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    binding = UsdSkel.BindingAPI(meshes[0])
    idx = binding.GetJointIndicesPrimvar()
    assert idx.GetElementSize() == 8
    w = np.array(binding.GetJointWeightsPrimvar().Get()).reshape(-1, 8)
    assert np.abs(w.sum(1) - 1).max() < 1e-5
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    # usd-core's validators (UsdValidation replaces UsdUtils.ComplianceChecker in usd-core 26): all of them
    from pxr import UsdValidation

    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    assert len(validators) >= 20
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    assert not errors, [(e.GetName(), e.GetMessage()) for e in errors]
    # the albedo is written beside the stage and the material's texture reader points at it
    assert (tmp_path / "textures" / "ana_albedo.png").exists()
    assets = [str(attr.Get().path) for prim in stage.Traverse() for attr in prim.GetAttributes()
              if attr.GetTypeName() == "asset" and attr.Get() is not None]
    assert any(a.endswith("textures/ana_albedo.png") for a in assets), assets


def test_the_twist_rule_is_baked_into_exported_animations(body, tmp_path):
    """An animation that rolls the hand, exported with sampling (as users export animations from the rig): the
    forearm twist bone's channel carries 0.75 of the roll, evaluated from the rig's constraint."""
    from mathutils import Quaternion

    from pipeline.formats.glb_read import accessor, read_glb

    _, (arm, mesh) = _built(body, "glb")
    pb = arm.pose.bones["hand_l"]
    pb.rotation_mode = "QUATERNION"
    for frame, angle in ((1, 0.0), (10, 1.2)):
        pb.rotation_quaternion = Quaternion((0.0, 1.0, 0.0), angle)
        pb.keyframe_insert("rotation_quaternion", frame=frame)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 10
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in (arm, mesh))
    path = tmp_path / "anim.glb"
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True, export_animations=True,
                              export_force_sampling=True)
    gltf, blob = read_glb(path)
    names = [n.get("name") for n in gltf["nodes"]]
    (anim,) = gltf["animations"]
    (channel,) = [c for c in anim["channels"] if names[c["target"]["node"]] == "lowerarm_twist_01_l"
                  and c["target"]["path"] == "rotation"]
    x, y, z, w = accessor(gltf, blob, anim["samplers"][channel["sampler"]]["output"])[-1]
    assert abs(x) < 1e-5 and abs(z) < 1e-5 and 2 * np.arctan2(y, w) == pytest.approx(0.75 * 1.2, abs=1e-4)
