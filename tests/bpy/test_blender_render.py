"""bpy tier: the albedo reaches Blender's material and its GLB intact; Cycles previews through Blender."""

from __future__ import annotations

import io

import bpy
import numpy as np
import pytest
from PIL import Image

from pipeline.blender.build import build_avatar
from pipeline.blender.export import export
from pipeline.blender.render import render_previews
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.colour import srgb_to_lab
from pipeline.core.skin_tone import skin_albedo
from pipeline.core.views import BACKGROUND


@pytest.fixture(autouse=True)
def fresh_blender():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


def _textured(body, preset="adult_woman", ita=-10.0, size=512):
    rig = body.rig("game_engine")
    tex = skin_albedo(body.asset_dir, size, skin_ita=ita)
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets[preset]), 0, "ana", 4, texture=tex)
    return a, build_avatar(a)


def test_albedo_pixels_survive_in_blender_and_in_the_glb(body, tmp_path):
    a, (arm, mesh) = _textured(body)
    tree = mesh.data.materials[0].node_tree
    img = next(n for n in tree.nodes if n.type == "TEX_IMAGE").image
    assert img.colorspace_settings.name == "sRGB" and img.packed_file is not None
    w, h = img.size
    px = np.empty(w * h * 4, dtype=np.float32)
    img.pixels.foreach_get(px)
    blender = np.round(px.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8)  # Blender's rows start at the bottom
    assert np.array_equal(blender, a.texture)
    path = export([arm, mesh], tmp_path / "ana.glb", "glb")
    import pygltflib

    g = pygltflib.GLTF2().load(str(path))
    assert len(g.images) == 1 and g.images[0].mimeType == "image/png"
    bv = g.bufferViews[g.images[0].bufferView]
    blob = g.binary_blob()[bv.byteOffset: bv.byteOffset + bv.byteLength]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")), a.texture)


def test_cycles_previews_frame_the_body_at_scale_in_skin_colour(body, tmp_path):
    a, (arm, _) = _textured(body, "adult_man", ita=20.0)
    files = render_previews(arm, a, tmp_path, "cycles", width=192, height=256, samples=4)
    assert sorted(p.name for p in files.values()) == ["preview.png", "preview_side.png"]
    assert not list(tmp_path.glob(".*partial*"))
    stature = float(np.ptp(a.vertices[:, 2]))
    frame_h = max(2.0, stature * 1.08)
    bg = np.round(np.array(BACKGROUND[:3]) * 255)
    for p in files.values():
        img = np.asarray(Image.open(p).convert("RGB")).astype(np.float64)
        body_px = np.abs(img - bg).max(axis=2) > 8
        rows = np.flatnonzero(body_px.any(axis=1))
        height_m = (rows.max() - rows.min() + 1) * frame_h / img.shape[0]
        assert abs(height_m - stature) / stature < 0.02, (p.name, height_m, stature)
        lab = srgb_to_lab(img[body_px] / 255.0).mean(axis=0)
        assert lab[1] > 5 and lab[2] > 5, lab  # lit skin, not a grey or black body
    # the render leaves the avatar as it was: rest pose, no extra objects
    assert all(np.allclose(pb.matrix_basis, np.eye(4)) for pb in arm.pose.bones)
    assert sorted(o.type for o in bpy.context.scene.objects) == ["ARMATURE", "MESH"]


def _grain(path, bg: np.ndarray) -> float:
    """Mean absolute difference between horizontally adjacent body pixels (sRGB levels), away from the outline."""
    img = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
    body_px = np.abs(img - bg).max(axis=2) > 8
    inner = body_px.copy()
    for axis in (0, 1):
        for shift in (-2, 2):
            inner &= np.roll(body_px, shift, axis=axis)
    pairs = inner[:, :-1] & inner[:, 1:]
    return float(np.abs(img[:, 1:] - img[:, :-1]).max(axis=2)[pairs].mean())


def test_cycles_previews_are_denoised(body, tmp_path):
    """A few samples per pixel are grain over the skin; the preview goes through the denoiser, so its
    neighbouring body pixels differ far less than in the same render without it."""
    a, (arm, _) = _textured(body, "adult_man", ita=20.0)
    bg = np.round(np.array(BACKGROUND[:3]) * 255)
    grain = {}
    for denoise in (True, False):
        files = render_previews(arm, a, tmp_path / str(denoise), "cycles", width=192, height=256, samples=4,
                                denoise=denoise)
        grain[denoise] = _grain(files["front"], bg)
    assert grain[True] < 0.5 * grain[False], grain
