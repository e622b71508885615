"""The numpy GLB writer (the jobs' GLB path) gives what Blender's glTF exporter gives for the same avatar, and a
GLB-only job never loads Blender."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.glb_compare import compare_glb
from support.gltf_validation import summarize, validate_glb

from pipeline.core.spec import parse_avatar
from pipeline.formats.glb_write import glb_bytes
from pipeline.jobs.context import JobContext
from pipeline.jobs.stages import avatar_for_request, build_stage, decode_requests, export_stage, texture_stage

ROOT = Path(__file__).resolve().parents[2]
CASES = [  # (spec entry, rig, bone names)
    ({"name": "ana", "sex": "female", "age_years": 34, "height_cm": 166, "weight_kg": 61, "skin_ita": 45,
      "seed": 1}, "game_engine", "internal"),
    ({"name": "ben", "sex": "male", "age_years": 71, "height_cm": 183, "weight_kg": 96, "skin_ita": -40,
      "seed": 2}, "game_engine", "unreal"),
    ({"name": "cy", "sex": "male", "age_years": 9, "height_cm": 132, "weight_kg": 29, "fitzpatrick": 3,
      "seed": 3}, "mixamo", "internal"),
    ({"name": "dee", "sex": "female", "age_years": 52, "height_cm": 158, "weight_kg": 84, "seed": 4},
     "makehuman", "internal"),
]


@pytest.fixture(scope="module")
def ctx(body):
    return JobContext(body=body)


@pytest.mark.parametrize("entry,rig,names", CASES, ids=[c[0]["name"] for c in CASES])
def test_numpy_writer_matches_blenders_exporter(ctx, tmp_path, entry, rig, names):
    req = parse_avatar(entry)
    dec = decode_requests([req], ctx)
    textures = texture_stage(req, ctx, 256)
    avatar = avatar_for_request(req, ctx.body, dec, 0, rig, names, 4, textures)
    ours = tmp_path / "ours.glb"
    ours.write_bytes(glb_bytes(avatar))
    blender = export_stage(build_stage(avatar, ctx), tmp_path, req.name, "glb")["glb"]
    d = compare_glb(ours.read_bytes(), blender.read_bytes())
    print(req.name, {k: round(v, 7) for k, v in d.items()})
    assert "structure" not in d
    # Blender keeps bones in float32 and rebuilds each frame from head, tail and roll: 0.2 mm, 0.01 degrees
    assert d["joint_world"] < 5e-4 and d["inverse_bind"] < 5e-4
    assert d["position_uv"] < 1e-6
    assert d["normal_p99_deg"] < 0.05 and d["normal_max_deg"] < 1.0
    assert d["tangent_p99_deg"] < 0.1 and d["tangent_sign"] == 0.0
    assert d["skin_weight"] < 1e-6
    assert d["triangles"] == 0
    assert d["image_albedo"] == 0 and d["image_normal"] == 0 and d["image_metallic_roughness"] == 0
    assert d["factors"] == d["extras"] == d["double_sided"] == d["material_name"] == 0
    for path, report in validate_glb([ours]).items():
        s = summarize(report)
        assert s["errors"] == 0 and s["warnings"] == 0, (path, s["messages"])


def test_comparison_sees_a_moved_joint_and_a_changed_map(ctx):
    req = parse_avatar(CASES[0][0])
    textures = texture_stage(req, ctx, 256)
    avatar = avatar_for_request(req, ctx.body, decode_requests([req], ctx), 0, textures=textures)
    rest = avatar.bone_rest.copy()
    rest[5, 0, 3] += 0.002
    albedo = avatar.texture.copy()
    albedo[10, 10] ^= 1
    d = compare_glb(glb_bytes(avatar), glb_bytes(avatar.replace(bone_rest=rest, texture=albedo)))
    assert d["joint_world"] > 1e-3 and d["image_albedo"] == 1


def test_glb_only_job_never_loads_blender(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"avatar": [CASES[0][0]]}))
    code = ("import sys; from pipeline.cli import main; rc = main(['generate', '--spec', sys.argv[1], '--out', "
            "sys.argv[2], '--formats', 'glb', '--texture-size', '256']); "
            "print('BPY', 'bpy' in sys.modules); sys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code, str(spec), str(tmp_path / "out")], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "BPY False" in run.stdout
    assert (tmp_path / "out" / "ana" / "ana.glb").exists() and (tmp_path / "out" / "ana" / "preview.png").exists()
