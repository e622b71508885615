"""bpy tier: the Blender add-on (``addon/``) in the bpy module: registration, every operator with its result
checked, undo, in-place update with animation, panels drawn with a mocked layout, errors, the worker path,
and the extension zip built by Blender's own tool, installed and enabled in a fresh process."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import bpy
import numpy as np
import pytest
from support.gltf_validation import summarize, validate_glb

from pipeline.blender.build import find_mesh
from pipeline.core.body_model import load_body_model
from pipeline.core.fields import FIELDS

ROOT = Path(__file__).resolve().parents[2]
ADDON = "addon"  # the add-on's module name when loaded from this checkout (tests put ROOT on sys.path)
addon_utils = __import__("addon_utils")  # a module of Blender's, importable once bpy is


@pytest.fixture(autouse=True)
def enabled_addon():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable(ADDON, default_set=True, handle_error=None)
    assert ADDON in bpy.context.preferences.addons
    yield bpy.context.preferences.addons[ADDON].preferences
    addon_utils.disable(ADDON, default_set=True, handle_error=None)


def _settings():
    return bpy.context.scene.avatar_settings


def _generate(preset="adult_woman", name=None, **fields):
    bpy.ops.avatar.apply_preset(preset=preset)
    s = _settings()
    if name:
        s.name = name
    for k, v in fields.items():
        setattr(s, k, v)
    assert bpy.ops.avatar.generate() == {"FINISHED"}
    arm = bpy.data.objects[f"{s.name}_rig"]
    return arm, find_mesh(arm), json.loads(arm["avatar_meta"])


def _vertices(obj):
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_register_unregister_three_times(enabled_addon):
    addon_utils.disable(ADDON, default_set=True, handle_error=None)
    import addon

    for _ in range(3):
        addon.register()
        assert hasattr(bpy.types, "AVATAR_PT_person") and hasattr(bpy.types.Scene, "avatar_settings")
        assert "generate" in dir(bpy.ops.avatar)
        addon.unregister()
        assert not hasattr(bpy.types, "AVATAR_PT_person") and not hasattr(bpy.types.Scene, "avatar_settings")
    addon_utils.enable(ADDON, default_set=True, handle_error=None)


def test_every_operator_declares_undo_and_register():
    import addon.operators as ops

    for cls in ops.CLASSES:
        assert cls.bl_idname.startswith("avatar.") and cls.__name__.startswith("AVATAR_OT_")
        assert {"REGISTER", "UNDO"} <= cls.bl_options, cls


def test_generate_builds_the_avatar_with_measurements_read_back():
    arm, mesh, meta = _generate("adult_man", name="adam", use_waist_cm=True, waist_cm=88.0)
    assert len(arm.data.bones) == 61 and len(mesh.data.vertices) == 13718  # 53 source bones + 8 twist bones
    assert mesh.parent == arm and mesh.modifiers["Armature"].object == arm
    assert bpy.context.view_layer.objects.active == arm
    m, req = meta["measurements"], meta["request"]
    assert req["height_cm"] == 177.0 and req["waist_cm"] == 88.0
    assert abs(m["stature_cm"] - 177.0) <= 0.2 and abs(m["mass_kg"] - 80.0) <= 0.8 and abs(m["waist_cm"] - 88) <= 0.5
    # the mesh itself has the stature asked for (read from Blender, not from the metadata)
    assert abs(np.ptp(_vertices(mesh)[:, 2]) * 100 - m["stature_cm"]) < 0.05


def test_presets_and_random_person_fill_the_fields():
    from pipeline.core.presets import PERSON_PRESETS

    for name, entry in PERSON_PRESETS.items():
        bpy.ops.avatar.apply_preset(preset=name)
        s = _settings()
        assert s.name == name and s.age_years == pytest.approx(entry["age_years"])
        assert s.height_cm == pytest.approx(entry["height_cm"]) and s.weight_kg == pytest.approx(entry["weight_kg"])
    s = _settings()
    s.random_seed = 5
    bpy.ops.avatar.random_person()
    first = (s.sex, s.age_years, s.height_cm, s.weight_kg)
    s.random_seed = 6
    bpy.ops.avatar.random_person()
    assert (s.sex, s.age_years, s.height_cm, s.weight_kg) != first
    s.random_seed = 5
    bpy.ops.avatar.random_person()
    assert (s.sex, s.age_years, s.height_cm, s.weight_kg) == first


def test_load_settings_brings_the_request_back():
    _generate("athletic", name="ath", fitzpatrick=5, skin="fitzpatrick")
    bpy.ops.avatar.apply_preset(preset="child")  # the fields now hold someone else
    bpy.context.view_layer.objects.active = bpy.data.objects["ath_rig"]
    assert bpy.ops.avatar.load_settings() == {"FINISHED"}
    s = _settings()
    assert (s.name, s.sex, s.age_years, s.height_cm, s.weight_kg) == ("ath", "male", 27.0, 182.0, 83.0)
    assert s.use_muscle and s.muscle == pytest.approx(0.9) and s.use_waist_cm and s.waist_cm == pytest.approx(80.0)
    assert not s.use_chest_cm and s.skin == "fitzpatrick" and s.fitzpatrick == 5


def test_a_comic_avatar_from_the_panel_has_the_toon_material_and_comes_back_to_the_fields():
    arm, mesh, meta = _generate("adult_woman", name="toon", style="comic", comic_style="halftone")
    assert meta["request"]["style"] == "comic" and meta["request"]["comic_style"] == "halftone"
    mat = mesh.data.materials[0]
    assert mat.name == "toon_comic" and any(n.type == "SHADERTORGB" for n in mat.node_tree.nodes)
    bpy.ops.avatar.apply_preset(preset="child")
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.avatar.load_settings() == {"FINISHED"}
    s = _settings()
    assert (s.style, s.comic_style) == ("comic", "halftone")
    s.style = "realistic"


def test_undo_removes_the_generated_avatar():
    bpy.ops.ed.undo_push(message="before generate")
    _generate("child")
    assert "child_rig" in bpy.data.objects
    # With a window, the window manager pushes an undo step after every operator declaring UNDO; in background
    # mode it pushes none (not even for Blender's own operators), so the test pushes it as the WM would.
    bpy.ops.ed.undo_push(message="Generate")
    bpy.ops.ed.undo()
    assert "child_rig" not in bpy.data.objects and "child" not in bpy.data.objects


def test_update_keeps_names_action_and_keyframes():
    arm, mesh, _ = _generate("adult_woman", name="ana")
    pb = arm.pose.bones["upperarm_l"]
    pb.rotation_mode = "XYZ"
    for frame, angle in ((1, 0.0), (12, 0.7), (24, -0.3)):
        pb.rotation_euler = (angle, 0.0, 0.0)
        pb.keyframe_insert("rotation_euler", frame=frame)
    action = arm.animation_data.action
    keys_before = _keyframes(arm)
    before = _vertices(mesh)
    s = _settings()
    s.height_cm, s.skin, s.fitzpatrick = 175.0, "fitzpatrick", 6
    bpy.context.view_layer.objects.active = mesh  # the mesh selected works as well as the armature
    assert bpy.ops.avatar.update() == {"FINISHED"}
    assert arm.name == "ana_rig" and mesh.name == "ana" and find_mesh(arm) == mesh
    assert arm.animation_data.action == action and _keyframes(arm) == keys_before
    meta = json.loads(arm["avatar_meta"])
    assert abs(meta["measurements"]["stature_cm"] - 175.0) <= 0.2 and meta["request"]["fitzpatrick"] == 6
    assert np.abs(_vertices(mesh) - before).max() > 0.02
    img = mesh.data.materials[0].node_tree.nodes["avatar_albedo"].image
    px = np.empty(4 * img.size[0] * img.size[1], dtype=np.float32)
    img.pixels.foreach_get(px)
    assert px[:3].mean() < 0.45  # the albedo follows the new skin type (type 6 is dark)
    used = sorted(i.name.rsplit("_", 1)[-1] for i in bpy.data.images if i.users)
    assert used == ["albedo", "normal", "roughness"], used  # the maps replaced in place, none left behind


def _keyframes(arm):
    from pipeline.blender.compat import action_fcurves

    return sorted((fc.data_path, fc.array_index, tuple(tuple(k.co) for k in fc.keyframe_points))
                  for fc in action_fcurves(arm.animation_data.action))


def test_export_every_preset(tmp_path):
    arm, mesh, _ = _generate("teenager", name="tess")
    paths = {}
    for preset in ("glb", "fbx-unity", "fbx-unreal", "usd"):
        bpy.context.view_layer.objects.active = arm
        assert bpy.ops.avatar.export(preset=preset, filepath=str(tmp_path / "tess")) == {"FINISHED"}
        paths[preset] = next(p for p in tmp_path.iterdir() if p.is_file() and p not in paths.values()
                             and p.name.endswith({"glb": ".glb", "fbx-unity": ".unity.fbx",
                                                  "fbx-unreal": ".unreal.fbx", "usd": ".usdc"}[preset]))
    assert sorted(p.name for p in paths.values()) == ["tess.glb", "tess.unity.fbx", "tess.unreal.fbx", "tess.usdc"]
    s = summarize(validate_glb([paths["glb"]])[str(paths["glb"])])
    assert s["errors"] == 0, s
    from pxr import Usd, UsdSkel

    stage = Usd.Stage.Open(str(paths["usd"]))
    mesh_prim = next(p for p in stage.Traverse() if p.GetTypeName() == "Mesh")
    # re-pruned for USD: up to 8 influences, i.e. every influence the game_engine rig has (at most 6 per vertex)
    rig = load_body_model().rig("game_engine")
    most = int((rig.skin_weights > 0).sum(axis=1).max())
    assert most > 4 and UsdSkel.BindingAPI(mesh_prim).GetJointIndicesPrimvar().GetElementSize() == min(8, most)
    assert int(arm["avatar_influences"]) == 4  # and put back for the scene
    assert max(len(v.groups) for v in mesh.data.vertices) <= 4
    # weights painted by hand are never replaced: exported as they are, and still in the scene afterwards
    mesh.vertex_groups["pelvis"].add([0], 0.123, "REPLACE")
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.avatar.export(preset="usd", filepath=str(tmp_path / "edited")) == {"FINISHED"}
    stage = Usd.Stage.Open(str(tmp_path / "edited.usdc"))
    mesh_prim = next(p for p in stage.Traverse() if p.GetTypeName() == "Mesh")
    assert UsdSkel.BindingAPI(mesh_prim).GetJointIndicesPrimvar().GetElementSize() <= 5
    pelvis = mesh.vertex_groups["pelvis"].index
    assert any(g.group == pelvis and abs(g.weight - 0.123) < 1e-6 for g in mesh.data.vertices[0].groups)


def test_panels_draw_every_attribute():
    import addon.panels as panels

    def props(panel):
        layout = mock.MagicMock()
        panel.draw(mock.Mock(layout=layout), bpy.context)
        return {c.args[1] for c in layout.mock_calls if c[0].endswith("prop") and len(c.args) > 1}

    drawn = set().union(*(props(cls) for cls in panels.CLASSES))
    s = _settings()
    s.sex, s.skin, s.style = "mix", "ita", "comic"  # the fields these choices reveal
    drawn |= props(panels.AVATAR_PT_person)
    s.skin = "fitzpatrick"
    drawn |= props(panels.AVATAR_PT_person)
    s.style = "realistic"
    spec_keys = set(FIELDS)
    shown = {"sex_value": "sex"}
    assert spec_keys <= {shown.get(d, d) for d in drawn} | {"sex"}, spec_keys - drawn
    assert {"rig", "bone_names", "export_preset"} <= drawn


def test_measurement_panel_reads_back_with_warning_icons():
    import addon.panels as panels

    _generate("adult_man", name="odd", height_cm=120.0, weight_kg=150.0, age_years=40.0)
    layout = mock.MagicMock()
    panels.AVATAR_PT_measurements.draw(mock.Mock(layout=layout), bpy.context)
    labels = [(c.kwargs.get("text", ""), c.kwargs.get("icon")) for c in layout.mock_calls if c[0].endswith("label")]
    stature = next(lab for lab in labels if lab[0].startswith("Stature"))
    assert "asked 120" in stature[0]
    assert any(icon == "ERROR" for _, icon in labels)  # the implausible request is flagged, not silent


def test_bad_values_report_errors():
    bpy.ops.avatar.apply_preset(preset="child")
    s = _settings()
    s.age_years, s.height_cm = 2.0, 200.0
    with pytest.raises(RuntimeError, match=r"field 'height_cm' = 200.0 is outside the allowed range .* age 2"):
        bpy.ops.avatar.generate()
    s.height_cm, s.name = 88.0, "bad name"
    with pytest.raises(RuntimeError, match="name"):
        bpy.ops.avatar.generate()
    assert not [o for o in bpy.data.objects if o.type == "ARMATURE"]
    s.name = "twin"
    bpy.ops.avatar.generate()
    with pytest.raises(RuntimeError, match="exists already"):
        bpy.ops.avatar.generate()


def test_worker_process_path_gives_the_same_avatar(enabled_addon):
    from addon import runtime

    _, mesh, _ = _generate("elder", name="inproc")
    here = _vertices(mesh)
    enabled_addon.torch_mode = "WORKER"
    enabled_addon.worker_python = ""  # found as the add-on finds it: this checkout's .venv Python
    assert Path(runtime.worker_python(enabled_addon)) == ROOT / ".venv" / "bin" / "python"
    # torch is not importable in the process that builds: the worker must be the one decoding
    with mock.patch.object(runtime, "torch_available", return_value=False), \
            mock.patch("pipeline.jobs.stages.decode_requests", side_effect=AssertionError("decoded in-process")):
        _, mesh2, _ = _generate("elder", name="worker")
        # the worker keeps running: the second avatar asks the same process, without torch's start-up again
        (proc, _log), = runtime._WORKERS.values()
        t = time.perf_counter()
        _generate("child", name="worker2")
        assert proc.poll() is None and next(iter(runtime._WORKERS.values()))[0] is proc
        print(f"second Generate through the running worker: {time.perf_counter() - t:.2f} s")
    assert np.abs(_vertices(mesh2) - here).max() < 1e-6
    # a worker whose body data is not the add-on's is refused (its coefficients would mean another body)
    with mock.patch.object(runtime, "_body_sha256", return_value="0" * 64), \
            pytest.raises(RuntimeError, match="body data differs"):
        _generate("elder", name="mismatch")
    addon_utils.disable(ADDON, default_set=True, handle_error=None)  # unregister ends the worker
    assert proc.poll() is not None and not runtime._WORKERS
    addon_utils.enable(ADDON, default_set=True, handle_error=None)
    enabled_addon = bpy.context.preferences.addons[ADDON].preferences
    enabled_addon.torch_mode = "BLENDER"
    with mock.patch.object(runtime, "torch_available", return_value=False), \
            pytest.raises(RuntimeError, match="torch is not importable"):
        _generate("elder", name="nope")


def test_extension_zip_validates_installs_and_enables(tmp_path):
    from support.extension_build import build

    zip_path = build(tmp_path / "dist")
    script = (
        "import sys, bpy\n"
        "bpy.ops.wm.read_factory_settings(use_empty=True)\n"
        "r = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo='user_default',"
        " enable_on_install=True)\n"
        "import pipeline, json\n"
        "bpy.ops.avatar.apply_preset(preset='child')\n"
        "g = bpy.ops.avatar.generate()\n"
        "print(json.dumps({'install': sorted(r), 'enabled': 'bl_ext.user_default.avatar_pipeline' in "
        "bpy.context.preferences.addons, 'pipeline': pipeline.__file__, 'generate': sorted(g), "
        "'objects': sorted(o.name for o in bpy.data.objects)}))\n"
        # Blender 4.2's module crashes while tearing down at interpreter exit, after the work is done
        "import os; sys.stdout.flush(); os._exit(0)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    # where torch is not importable (the 4.2 venv), the installed add-on decodes through this checkout's Python
    env["AVATAR_WORKER_PYTHON"] = str(ROOT / ".venv" / "bin" / "python")
    proc = subprocess.run([sys.executable, "-c", script, str(zip_path)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["install"] == ["FINISHED"] and out["enabled"] and out["generate"] == ["FINISHED"]
    assert str(tmp_path / "user") in out["pipeline"]  # the bundled package, not this checkout
    assert out["objects"] == ["child", "child_rig"]


def test_every_property_range_default_and_choice_is_the_cores(enabled_addon):
    from pipeline.core.export_targets import FORMATS
    from pipeline.core.fields import FIELDS, OPTIONAL_ATTRIBUTES, SEX_WORDS
    from pipeline.core.presets import PERSON_PRESETS
    from pipeline.core.rig_names import NAME_SETS, RIG_NAMES
    from pipeline.core.skin_tone import TEXTURE_SIZES

    props = _settings().bl_rna.properties
    numbers = {k: k for k in ("age_years", "height_cm", "weight_kg", "skin_ita", "fitzpatrick", "seed",
                              *OPTIONAL_ATTRIBUTES)} | {"sex_value": "sex"}
    for prop, key in numbers.items():
        p, f = props[prop], FIELDS[key]
        assert (p.hard_min, p.hard_max) == pytest.approx((f.lo, f.hi), rel=1e-6), prop  # float32 in Blender
        assert p.default == pytest.approx(f.ui_default, rel=1e-6), prop
    for key in OPTIONAL_ATTRIBUTES:
        assert props[f"use_{key}"].default is False  # optional fields start "not given"

    def choices(p):
        return [i.identifier for i in p.enum_items]

    assert choices(props["rig"]) == list(RIG_NAMES) and choices(props["bone_names"]) == list(NAME_SETS)
    assert choices(props["export_preset"]) == list(FORMATS) and choices(props["preset"]) == list(PERSON_PRESETS)
    assert choices(props["sex"]) == [*SEX_WORDS, "mix"]
    assert choices(props["skin"]) == ["default", "ita", "fitzpatrick"]
    prefs = enabled_addon.bl_rna.properties
    assert choices(prefs["texture_size"]) == [str(n) for n in TEXTURE_SIZES]
    assert choices(prefs["default_rig"]) == list(RIG_NAMES)
    assert choices(props["style"]) == list(FIELDS["style"].choices)
    from addon.properties import comic_style_items
    from pipeline.core.comic_styles import comic_style_dirs

    assert [i[0] for i in comic_style_items(None, None)] == ["default", *comic_style_dirs()]  # read when shown
    # every spec field the panel offers is a property (skin_ita and fitzpatrick behind the skin choice)
    assert set(FIELDS) <= set(props.keys())


def test_register_twice_and_unregister_twice_change_nothing(enabled_addon):
    import addon

    addon.register()  # already registered by the fixture: nothing happens, nothing raises
    assert hasattr(bpy.types, "AVATAR_PT_person") and bpy.ops.avatar.apply_preset(preset="child") == {"FINISHED"}
    addon.unregister()
    addon.unregister()
    assert not hasattr(bpy.types, "AVATAR_PT_person") and not hasattr(bpy.types.Scene, "avatar_settings")
    addon.register()
    addon.register()
    assert hasattr(bpy.types.Scene, "avatar_settings") and "generate" in dir(bpy.ops.avatar)


def test_a_worker_python_that_does_not_exist_is_reported(enabled_addon, tmp_path, monkeypatch):
    from addon import runtime

    enabled_addon.torch_mode = "WORKER"
    enabled_addon.worker_python = str(tmp_path / "nope" / "python")
    with pytest.raises(runtime.AddonError, match=r"Worker Python is .*nope/python.*not an executable file"):
        runtime.worker_python(enabled_addon)
    bpy.ops.avatar.apply_preset(preset="child")
    with pytest.raises(RuntimeError, match="not an executable file"):
        bpy.ops.avatar.generate()
    enabled_addon.worker_python = ""
    monkeypatch.setenv("AVATAR_WORKER_PYTHON", str(tmp_path))  # a folder, not an interpreter
    with pytest.raises(runtime.AddonError, match=r"\$AVATAR_WORKER_PYTHON is .* not an executable file"):
        runtime.worker_python(enabled_addon)


def _image(path):
    from PIL import Image

    return np.asarray(Image.open(path), dtype=np.float32) / 255


def test_render_preview_enhanced_in_a_scene_of_its_own(enabled_addon, tmp_path):
    """The panel's preview render: Cycles at half resolution plus passes, enhanced by the worker (Blender's Python
    needs no torch), written and loaded as images; the user's scene (engine, size, camera, objects) and the
    avatar's pose are as they were. Where torch imports here too, enhancing here gives the same bytes."""
    from addon import runtime

    arm, _mesh, _ = _generate("adult_man", name="rex")
    scene = bpy.context.scene
    scene.render.engine, scene.render.resolution_x = "BLENDER_WORKBENCH", 640
    cam = bpy.data.objects.new("user_cam", bpy.data.cameras.new("user_cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    bone = arm.pose.bones[0]
    bone.rotation_mode = "XYZ"
    bone.rotation_euler = (0.1, 0.2, 0.3)
    objects = {o.name for o in scene.objects}
    s = _settings()
    s.preview_engine, s.preview_enhance, s.preview_folder = "cycles", True, str(tmp_path / "worker")
    enabled_addon.torch_mode, enabled_addon.worker_python = "WORKER", ""
    bpy.context.view_layer.objects.active = arm
    here = runtime.torch_available()  # the 4.2 venv has no torch: nothing could enhance in Blender there
    with (mock.patch("models.enhancer.infer.enhance_view", side_effect=AssertionError("enhanced in Blender"))
          if here else contextlib.nullcontext()):
        assert bpy.ops.avatar.render_preview() == {"FINISHED"}
    runtime.stop_workers()
    assert (scene.render.engine, scene.render.resolution_x, scene.camera) == ("BLENDER_WORKBENCH", 640, cam)
    assert {o.name for o in scene.objects} == objects and runtime.PREVIEW_SCENE not in bpy.data.scenes
    assert bone.rotation_mode == "XYZ" and tuple(bone.rotation_euler) == pytest.approx((0.1, 0.2, 0.3))
    front = tmp_path / "worker" / "preview.png"
    assert (tmp_path / "worker" / "passes" / "preview_side.npz").is_file()
    assert tuple(bpy.data.images["rex_preview"].size) == (384, 512) and "rex_preview_side" in bpy.data.images
    img = _image(front)
    assert img.shape == (512, 384, 3) and img[200:300, 150:230].std() > 0.02  # the body, not the background
    if here:  # the 5.0 tier: this process enhances too
        enabled_addon.torch_mode = "AUTO"
        s.preview_folder = str(tmp_path / "here")
        assert bpy.ops.avatar.render_preview() == {"FINISHED"}
        assert (tmp_path / "here" / "preview.png").read_bytes() == front.read_bytes()  # same seeds, same bytes
