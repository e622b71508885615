"""Offscreen previews checked on coverage and scale (not golden pixels), and CPU posing."""

from __future__ import annotations

import numpy as np

from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.poses import posed_vertices, relaxed_arms, stride
from pipeline.core.views import FRONT, SIDE
from pipeline.preview.offscreen import Renderer


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


def test_stride_pose_moves_legs_forward_and_back(body):
    for rig_name, left, right in (("game_engine", "thigh_l", "thigh_r"),
                                  ("mixamo", "mixamorig:LeftUpLeg", "mixamorig:RightUpLeg"),
                                  ("makehuman", "upperleg02.L", "upperleg02.R")):  # thigh, below upperleg01
        rig = body.rig(rig_name)
        a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_man"]), 0, "m", 4)
        posed = posed_vertices(a, stride(a))
        lv = a.skin_indices[:, 0] == a.bone_names.index(left)
        rv = a.skin_indices[:, 0] == a.bone_names.index(right)
        # -Y is the front: the left thigh swings forward, the right one back
        assert posed[lv, 1].mean() < a.vertices[lv, 1].mean() - 0.02
        assert posed[rv, 1].mean() > a.vertices[rv, 1].mean() + 0.02


def test_previews_draw_the_albedo_and_the_normal_maps_shading(body):
    from pipeline.preview.offscreen import SurfaceMaps

    rig = body.rig("game_engine")
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_woman"]), 0, "w", 4)
    v = a.vertices.astype(np.float64)
    s = 256
    flat = np.zeros((s, s, 3), np.uint8) + np.array([128, 128, 255], np.uint8)
    tilt = np.random.default_rng(0).normal(0.0, 0.5, (s // 8, s // 8, 2)).repeat(8, 0).repeat(8, 1)
    n = np.concatenate([tilt, np.ones((s, s, 1))], -1)
    bumpy = ((n / np.linalg.norm(n, axis=-1, keepdims=True) * 0.5 + 0.5) * 255).round().astype(np.uint8)
    rough = np.full((s, s), 150, np.uint8)
    images = {}
    with Renderer(200, 400) as r:
        for key, albedo, normal in (("red", (200, 40, 40), flat), ("blue", (40, 40, 200), flat),
                                    ("red_bumpy", (200, 40, 40), bumpy)):
            maps = SurfaceMaps(a.uvs, np.zeros((s, s, 3), np.uint8) + np.array(albedo, np.uint8), normal, rough)
            img, depth = r.render(v, a.faces, (0.8, 0.6, 0.5, 1), FRONT, 2.2, 0.9, maps)
            images[key] = img.astype(np.float64)[depth > 0]
    red, blue, bumpy_red = images["red"], images["blue"], images["red_bumpy"]
    assert red[:, 0].mean() > 2 * red[:, 2].mean() and blue[:, 2].mean() > 2 * blue[:, 0].mean()  # the albedo
    # the normal map shades: same albedo and geometry, a different light response texel by texel
    assert np.abs(bumpy_red - red).mean() > 5.0


def test_previews_sample_the_image_row_the_uvs_point_at(body):
    """UVs have their origin bottom-left (v = 1 is the image's top row, as in Blender and in glTF after its
    flip): faces whose UVs all lie in the upper half of the UV square draw the image's upper half, and the lower
    ones its lower half. Drawn unlit, so the colour is the texel's."""
    from pipeline.preview.offscreen import SurfaceMaps

    rig = body.rig("game_engine")
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_woman"]), 0, "w", 4)
    v = a.vertices.astype(np.float64)
    s = 64
    albedo = np.zeros((s, s, 3), np.uint8)
    albedo[: s // 2] = (220, 30, 30)  # upper rows red, lower rows blue
    albedo[s // 2:] = (30, 30, 220)
    corner_v = a.uvs[..., 1]
    with Renderer(200, 400) as r:
        for part, red_wanted in ((corner_v > 0.55).all(1), True), ((corner_v < 0.45).all(1), False):
            assert part.sum() > 1000
            maps = SurfaceMaps(a.uvs[part], albedo, None, None)
            img, depth = r.render(v, a.faces[part], (0.8, 0.6, 0.5, 1), FRONT, 2.2, 0.9, maps, flat=True)
            px = img.astype(np.float64)[depth > 0]
            assert len(px) > 500
            red_share = float(np.mean(px[:, 0] > px[:, 2]))
            assert (red_share > 0.95) if red_wanted else (red_share < 0.05), (red_wanted, red_share)


def test_a_roughness_map_draws_like_the_same_roughness_as_a_factor(body):
    """A uniform roughness map of 0.7 shades like the material's roughness factor 0.7 without a map (the map's
    channel is the one the renderer reads: a wrong one reads roughness 0, a mirror with sparkling highlights)."""
    from pipeline.preview.offscreen import SurfaceMaps

    rig = body.rig("game_engine")
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_man"]), 0, "m", 4)
    v = a.vertices.astype(np.float64)
    s = 64
    albedo = np.full((s, s, 3), 150, np.uint8)
    images = []
    with Renderer(200, 400) as r:
        for rough in (None, np.full((s, s), round(0.7 * 255), np.uint8)):
            maps = SurfaceMaps(a.uvs, albedo, None, rough)
            img, depth = r.render(v, a.faces, (0.8, 0.6, 0.5, 1), FRONT, 2.2, 0.9, maps)
            images.append(img.astype(np.float64)[depth > 0])
    diff = np.abs(images[0] - images[1]).max(-1)
    assert np.mean(diff > 8) < 0.001, np.mean(diff > 8)
