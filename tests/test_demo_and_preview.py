"""make demo's job end to end (in-process), and offscreen previews checked on coverage, not golden pixels."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from pipeline.assembly import assemble, avatar_from_batch
from pipeline.demo import DEMO_BODIES, run
from pipeline.files import sha256_file
from pipeline.gltf_validation import summarize, validate_glb
from pipeline.preview import FRONT, SIDE, Renderer, posed_vertices, relaxed_arms


def test_demo_writes_the_documented_layout(tmp_path):
    manifest = run(tmp_path)
    assert len(DEMO_BODIES) >= 6
    assert (tmp_path / "contact_sheet.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "manifest.json").read_text()) == json.loads(json.dumps(manifest))
    glbs = []
    statures = {}
    for name in DEMO_BODIES:
        d = tmp_path / name
        for f in (f"{name}.glb", "preview.png", "preview_side.png", "avatar.json"):
            assert (d / f).is_file(), f
            assert manifest["avatars"][name]["files"][f]["sha256"] == sha256_file(d / f)
        meta = json.loads((d / "avatar.json").read_text())
        statures[name] = meta["measurements"]["stature_cm"]
        img = np.asarray(Image.open(d / "preview.png").convert("RGB")).astype(int)
        assert np.abs(img - img[0, 0]).sum(-1).astype(bool).mean() > 0.03  # a body is drawn
        glbs.append(d / f"{name}.glb")
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"
    assert statures["child"] < statures["teenager"] < statures["adult_man"]
    for path, rep in validate_glb(glbs).items():
        assert summarize(rep)["errors"] == 0, path


def test_silhouette_height_matches_stature(body):
    rig = body.rig("game_engine")
    for preset in ("child", "adult_woman"):
        a = avatar_from_batch(body, rig, assemble(body, rig, body.presets[preset]), 0, preset, 4)
        v = a.vertices.astype(np.float64)
        stature = np.ptp(v[:, 2])
        frame = 2.2
        with Renderer(300, 600) as r:
            for view in (FRONT, SIDE):
                _, depth = r.render(v, a.faces, (0.8, 0.6, 0.5, 1), view, frame, v[:, 2].min() + frame / 2 - 0.05)
                rows = np.flatnonzero((depth > 0).any(axis=1))
                px = rows.max() - rows.min() + 1
                height_m = px * frame / depth.shape[0]
                assert abs(height_m - stature) / stature < 0.02, (preset, view.name, height_m, stature)


def test_posing_moves_the_arms_not_the_legs(body):
    rig = body.rig("game_engine")
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_man"]), 0, "m", 4)
    posed = posed_vertices(a, relaxed_arms(a))
    moved = np.linalg.norm(posed - a.vertices, axis=1)
    hand = a.bone_names.index("hand_l")
    hand_verts = a.skin_indices[:, 0] == hand
    foot_verts = a.skin_indices[:, 0] == a.bone_names.index("foot_l")
    assert moved[hand_verts].mean() > 0.15  # the hand swings down by tens of centimetres
    assert moved[foot_verts].max() < 1e-6
    assert posed[hand_verts, 2].mean() < a.vertices[hand_verts, 2].mean()  # lowered, not raised
