"""End to end: `style = "comic"` gives the avatar its comic style's albedo, a matte comic material in its GLB
(validator clean) and comic pyrender previews (cel bands, ink outlines); an unknown comic_style falls back with a
warning. The style is a smoke style trained in the test (the user styles folder, ``$AVATAR_STYLES``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.gltf_validation import summarize, validate_glb

from models.comic.style import ComicStyle
from models.comic.train import TrainConfig, train
from models.texture.template import own_colour_masks
from pipeline.formats.glb_read import read_glb
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions
from pipeline.preview.comic_shading import INK

ROOT = Path(__file__).resolve().parents[2]
PERSON = 'sex = "female"\nage_years = 34\nheight_cm = 166\nweight_kg = 60\nskin_ita = 30\nseed = 12\n'


@pytest.fixture(scope="module")
def comic_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("comic_avatars")
    piece = Image.open(ROOT / "assets" / "comic" / "ink.png").convert("RGB").crop((0, 0, 128, 128))
    piece.save(tmp / "toon.png")
    train(tmp / "styles" / "toon", TrainConfig(minutes=2.0, exemplars=(str(tmp / "toon.png"),), crop=32, batch=4,
                                                max_iterations=20), progress=False)
    spec = tmp / "spec.toml"
    spec.write_text(f'[[avatar]]\nname = "real"\n{PERSON}\n'
                    f'[[avatar]]\nname = "toon"\nstyle = "comic"\ncomic_style = "toon"\n{PERSON}\n'
                    f'[[avatar]]\nname = "other"\nstyle = "comic"\ncomic_style = "nosuch"\n{PERSON}')
    mp = pytest.MonkeyPatch()
    mp.setenv("AVATAR_STYLES", str(tmp / "styles"))
    try:
        manifest, code = generate(spec, GenerateOptions(out=tmp / "out", echo=lambda s: None))
    finally:
        mp.undo()
    return tmp / "out", manifest, code


def _glb_albedo(path: Path) -> tuple[dict, np.ndarray]:
    gltf, blob = read_glb(path)
    mat = gltf["materials"][0]
    img = gltf["images"][gltf["textures"][mat["pbrMetallicRoughness"]["baseColorTexture"]["index"]]["source"]]
    view = gltf["bufferViews"][img["bufferView"]]
    data = blob[view.get("byteOffset", 0): view.get("byteOffset", 0) + view["byteLength"]]
    return mat, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_comic_avatars_get_the_stylised_albedo_and_a_matte_comic_material(comic_run):
    out, manifest, code = comic_run
    assert code == 0
    avatars = manifest["avatars"]
    assert "stylise" in avatars["toon"]["timings_s"] and "stylise" not in avatars["real"]["timings_s"]
    real_mat, real = _glb_albedo(out / "real" / "real.glb")
    toon_mat, toon = _glb_albedo(out / "toon" / "toon.glb")
    assert real_mat["name"] == "real_skin" and "normalTexture" in real_mat
    assert toon_mat["name"] == "toon_comic" and "normalTexture" not in toon_mat
    assert toon_mat["pbrMetallicRoughness"]["roughnessFactor"] == 1.0
    assert toon.shape == real.shape and np.abs(toon.astype(int) - real).mean() > 0.5  # redrawn
    # by the style named, from the realistic albedo, the avatar's seed and the template's own-colour regions (tone
    # and regions measured: `avatar evaluate comic`)
    keep = own_colour_masks(real.shape[0])
    assert np.array_equal(toon, ComicStyle.load(out.parent / "styles" / "toon").stylise(real, seed=12, keep=keep))
    reports = validate_glb([out / "toon" / "toon.glb"])
    s = summarize(next(iter(reports.values())))
    assert s["errors"] == 0 and s["warnings"] == 0, s


def test_an_unknown_comic_style_falls_back_with_a_warning(comic_run):
    out, manifest, _ = comic_run
    warnings = manifest["avatars"]["other"]["warnings"]
    assert any(w["field"] == "comic_style" and w["achieved"] == "ink" and "is used instead" in w["message"]
               for w in warnings)  # the default, shipped style
    assert json.loads((out / "other" / "avatar.json").read_text())["warnings"] == warnings


def test_comic_previews_are_inked_and_banded(comic_run):
    out, _, _ = comic_run
    ink = np.rint(INK * 255).astype(int)

    def inked(name: str) -> float:
        img = np.asarray(Image.open(out / name / "preview.png").convert("RGB")).astype(int)
        return float((np.abs(img - ink).max(-1) <= 1).mean())

    assert inked("toon") > 0.005 and inked("real") < 0.0005
    img = np.asarray(Image.open(out / "toon" / "preview.png").convert("RGB")).astype(float)
    body = np.abs(img - img[0, 0]).max(-1) > 8
    # the skin's brightness falls into a few bands (cel shading), not a smooth ramp
    lum = img[body].mean(-1)
    hist = np.histogram(lum, bins=64)[0]
    assert hist.max() > 0.08 * lum.size
