"""Skin colour, colour conversions, PNG encoding and the lips/nails albedo stand-in (pure numpy tier)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.core.colour import ita_degrees, lab_to_srgb, srgb_to_lab
from pipeline.core.skin_tone import FITZPATRICK_ITA, region_masks, skin_albedo
from pipeline.core.skinning import dense_weights
from pipeline.formats.png import encode_png

# CIELAB (D65) of the sRGB primaries and white, as published (e.g. Bruce Lindbloom's calculator)
REFERENCE_LAB = {(1.0, 0.0, 0.0): (53.2408, 80.0925, 67.2032), (0.0, 1.0, 0.0): (87.7347, -86.1827, 83.1793),
                 (0.0, 0.0, 1.0): (32.2970, 79.1875, -107.8602), (1.0, 1.0, 1.0): (100.0, 0.0, 0.0),
                 (0.5, 0.5, 0.5): (53.3890, 0.0, 0.0)}
# ITA classes (Chardon et al. 1991) a Fitzpatrick type must land in
ITA_CLASS = {1: (55, 90), 2: (41, 55), 3: (28, 41), 4: (10, 28), 5: (-30, 10), 6: (-90, -30)}


def test_lab_against_published_values_and_round_trip():
    for rgb, lab in REFERENCE_LAB.items():
        np.testing.assert_allclose(srgb_to_lab(np.array(rgb)), lab, atol=2e-3)
    rgb = np.random.default_rng(3).uniform(0, 1, (1000, 3))
    np.testing.assert_allclose(lab_to_srgb(srgb_to_lab(rgb)), rgb, atol=1e-9)


def test_png_round_trip_through_pillow():
    rng = np.random.default_rng(0)
    for c in (3, 4):
        img = rng.integers(0, 256, (37, 53, c), dtype=np.uint8)
        back = np.asarray(Image.open(io.BytesIO(encode_png(img))))
        assert back.shape == img.shape and np.array_equal(back, img)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), dtype=np.float32))


def _texel_lab(tex: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return srgb_to_lab(tex[mask].astype(np.float64) / 255.0).mean(axis=0)


@pytest.mark.parametrize("ita", [-60.0, -30.0, -5.0, 10.0, 28.0, 41.0, 55.0, 70.0])
def test_albedo_skin_has_the_requested_ita(body, ita):
    tex = skin_albedo(body.asset_dir, 256, skin_ita=ita)
    masks = region_masks(body.asset_dir, 256)
    skin = (masks["lips"] == 0) & (masks["nails"] == 0)
    assert np.all(tex[skin] == tex[skin][0])  # the stand-in is flat outside the regions
    got = float(ita_degrees(srgb_to_lab(tex[skin][0] / 255.0)))
    assert abs(got - ita) < 0.5, (ita, got)


@pytest.mark.parametrize("fitzpatrick", sorted(FITZPATRICK_ITA))
def test_fitzpatrick_type_lands_in_its_ita_class(body, fitzpatrick):
    tex = skin_albedo(body.asset_dir, 256, fitzpatrick=fitzpatrick)
    lo, hi = ITA_CLASS[fitzpatrick]
    assert lo < float(ita_degrees(srgb_to_lab(tex[0, 0] / 255.0))) < hi


def test_lips_redder_and_darker_nails_lighter(body):
    for ita in (-45.0, 20.0, 60.0):
        tex = skin_albedo(body.asset_dir, 1024, skin_ita=ita)
        masks = region_masks(body.asset_dir, 1024)
        skin = _texel_lab(tex, (masks["lips"] == 0) & (masks["nails"] == 0))
        lips = _texel_lab(tex, masks["lips"] > 0.99)
        nails = _texel_lab(tex, masks["nails"] > 0.99)
        assert lips[1] > skin[1] + 8 and lips[0] < skin[0] - 3, (ita, skin, lips)
        assert nails[0] > skin[0] + 3 and nails[2] < skin[2], (ita, skin, nails)


def test_regions_sit_on_the_mouth_and_the_digit_tips(body):
    data = np.load(body.asset_dir / "regions.npz")
    mean = body.vertices(np.zeros(body.n_components)).reshape(-1, 3)
    lips = data["lips_vertices"].astype(np.float64) > 0.99
    nails = data["nails_vertices"].astype(np.float64) > 0.99
    # lips: one mouth, centred on the face's midline, at the front of the head, about a mouth wide
    pts = mean[lips]
    assert abs(pts[:, 0].mean()) < 0.003 and 0.03 < np.ptp(pts[:, 0]) < 0.07 and np.ptp(pts[:, 2]) < 0.035
    head_front = mean[mean[:, 2] > pts[:, 2].mean() - 0.05, 1].min()
    assert pts[:, 1].min() - head_front < 0.02  # near the frontmost point of the face
    # nails: every nail vertex belongs to a distal phalanx of a finger or toe, and all 20 digits have one
    rig = body.rig("makehuman")
    w = dense_weights(rig.skin_indices, rig.skin_weights, rig.n_bones)
    distal = [j for j, n in enumerate(rig.bone_names)
              if (n.startswith("finger") and "-3." in n) or n in {f"toe1-2.{s}" for s in "LR"}
              or (n.startswith("toe") and "-3." in n)]
    assert len(distal) == 20
    owner = np.argmax(w[nails], axis=1)
    assert set(owner.tolist()) == set(distal)
    assert np.bincount(owner, minlength=rig.n_bones)[distal].min() >= 5


def test_rasterised_masks_agree_with_vertex_weights(body):
    data = np.load(body.asset_dir / "regions.npz")
    size = data["lips"].shape[0]
    for key in ("lips", "nails"):
        wv = data[f"{key}_vertices"].astype(np.float64)
        corner_w = wv[body.faces]  # (F, 3)
        full = np.all(corner_w > 0.99, axis=1)  # triangles wholly inside the region: their centroid texel is 255
        uv = body.uvs[full].mean(axis=1)
        px = np.clip((uv[:, 0] * size).astype(int), 0, size - 1)
        py = np.clip(((1 - uv[:, 1]) * size).astype(int), 0, size - 1)
        assert full.sum() > 50 and np.mean(data[key][py, px] >= 250) > 0.98, key
        none = np.all(corner_w == 0, axis=1)
        uv = body.uvs[none].mean(axis=1)
        px = np.clip((uv[:, 0] * size).astype(int), 0, size - 1)
        py = np.clip(((1 - uv[:, 1]) * size).astype(int), 0, size - 1)
        assert np.mean(data[key][py, px] == 0) > 0.99, key


def test_region_masks_rebuild_identically(body, tmp_path):
    from assets import build_region_masks as build

    mean = body.vertices(np.zeros(body.n_components)).reshape(-1, 3).astype(np.float64)
    shipped = np.load(body.asset_dir / "regions.npz")
    assert np.array_equal(build.lip_weights(body, mean).astype(np.float16), shipped["lips_vertices"])
    assert np.array_equal(build.nail_weights(body, mean).astype(np.float16), shipped["nails_vertices"])


def test_texture_size_outside_the_allowed_list_is_refused(body):
    with pytest.raises(ValueError, match="texture size 300"):
        skin_albedo(body.asset_dir, 300)
