"""bpy tier: a comic avatar's toon material (cel bands through Shader-to-RGB for EEVEE, a matte textured BSDF for
Cycles and the exporters), its inverted-hull outline in EEVEE renders, and exports that never see the outline."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from PIL import Image

from pipeline.blender.build import ALBEDO_NODE, build_avatar
from pipeline.blender.export import export
from pipeline.blender.render import render_previews
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.skin_tone import skin_albedo
from pipeline.core.views import BACKGROUND


@pytest.fixture(autouse=True)
def fresh_blender():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


def _comic(body):
    rig = body.rig("game_engine")
    tex = skin_albedo(body.asset_dir, 256, skin_ita=20.0)
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_woman"]), 0, "ana", 4, texture=tex)
    a = a.replace(comic_style="ink")
    return a, build_avatar(a)


def test_toon_material_has_an_eevee_toon_output_and_an_exportable_bsdf(body):
    _, (_, mesh) = _comic(body)
    mat = mesh.data.materials[0]
    assert mat.name == "ana_comic"
    nodes = mat.node_tree.nodes
    outputs = {n.target: n for n in nodes if n.type == "OUTPUT_MATERIAL"}
    assert set(outputs) == {"ALL", "EEVEE"}
    assert outputs["EEVEE"].inputs["Surface"].links[0].from_node.type == "EMISSION"
    assert any(n.type == "SHADERTORGB" for n in nodes)
    ramp = next(n for n in nodes if n.type == "VALTORGB")
    assert ramp.color_ramp.interpolation == "CONSTANT" and len(ramp.color_ramp.elements) == 3
    bsdf = outputs["ALL"].inputs["Surface"].links[0].from_node
    assert bsdf.type == "BSDF_PRINCIPLED" and bsdf.inputs["Roughness"].default_value == 1.0
    assert bsdf.inputs["Base Color"].links[0].from_node.name == ALBEDO_NODE


def test_eevee_render_is_inked_and_leaves_the_avatar_as_it_was(body, tmp_path):
    a, (arm, mesh) = _comic(body)
    files = render_previews(arm, a, tmp_path, "eevee", width=96, height=128, samples=1)
    img = np.asarray(Image.open(files["front"]).convert("RGB")).astype(np.float64)
    bg = np.round(np.array(BACKGROUND[:3]) * 255)
    body_px = np.abs(img - bg).max(axis=2) > 8
    # the outline: near-black pixels on the silhouette's border (the 4 mm hull is a quarter of a pixel here, so it
    # covers part of the border; the skin itself is never that dark)
    border = body_px & ~(np.roll(body_px, 1, 0) & np.roll(body_px, -1, 0) & np.roll(body_px, 1, 1)
                         & np.roll(body_px, -1, 1))
    dark = img.max(axis=2) < 40
    assert (border & dark).sum() > 0.2 * border.sum()
    assert np.median(img[body_px & ~dark].max(axis=1)) > 100
    assert not any(m.type == "SOLIDIFY" for m in mesh.modifiers) and len(mesh.data.materials) == 1


def test_exports_carry_the_comic_albedo_and_no_outline(body, tmp_path):
    _, (arm, mesh) = _comic(body)
    path = export([arm, mesh], tmp_path / "ana.fbx", "fbx-unity")
    data = path.read_bytes()
    assert b"ana_albedo" in data and b"avatar_comic_outline" not in data
