"""`avatar generate --preview-engine cycles --enhance`: previews rendered at half resolution plus passes and
enhanced by the shipped render enhancer show the same picture as plain Cycles previews, keep their passes, and
`avatar enhance` on those passes gives the same bytes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.enhancer.data import avatar_mask, load_view, psnr_on_mask
from pipeline.cli import main
from pipeline.core.spec import SpecError
from pipeline.core.views import BACKGROUND
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions

PSNR_EEVEE = 27.0
SPEC = '[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 166\nweight_kg = 61\nseed = 3\n'


def _box4(a):
    """(H/4, W/4, C) means of 4 x 4 pixel blocks."""
    h, w = a.shape[0] // 4 * 4, a.shape[1] // 4 * 4
    return a[:h, :w].reshape(h // 4, 4, w // 4, 4, -1).mean(axis=(1, 3))


def _run(spec, out, **kw):
    kw.setdefault("preview_engine", "cycles")
    manifest, code = generate(spec, GenerateOptions(out=out, texture_size=256, echo=lambda s: None, **kw))
    assert code == 0, manifest
    return manifest["avatars"]["ana"]["files"]


def test_enhanced_cycles_previews(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    files = _run(spec, tmp_path / "e", enhance=True)
    assert {"preview.png", "preview_side.png", "passes/preview.npz", "passes/preview_side.npz"} <= set(files)
    _run(spec, tmp_path / "p")
    enhanced = np.asarray(Image.open(tmp_path / "e" / "ana" / "preview.png"), dtype=np.float32) / 255
    plain = np.asarray(Image.open(tmp_path / "p" / "ana" / "preview.png"), dtype=np.float32) / 255
    assert enhanced.shape == plain.shape == (512, 384, 3)
    passes, _ = load_view(tmp_path / "e" / "ana" / "passes" / "preview.npz")
    mask = avatar_mask(passes["alpha"])
    assert mask.mean() > 0.1
    # the same picture as 16-sample Cycles at full resolution, whose noise (no denoiser on plain previews) is
    # averaged away over 4 x 4 pixels: 34-35 dB on the avatar here, 13-14 dB against another person's preview
    inside = _box4(mask[..., None].astype(np.float32))[..., 0] > 0.99
    assert psnr_on_mask(_box4(enhanced), _box4(plain), inside) > 32.0
    assert psnr_on_mask(enhanced, plain) > 30.0  # the whole frame at full resolution: 32-33 dB here
    assert main(["enhance", str(tmp_path / "e" / "ana" / "passes"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "preview.png").read_bytes() == (tmp_path / "e" / "ana" / "preview.png").read_bytes()


@pytest.mark.parametrize(("kw", "message"),
                         [({"preview_engine": "pyrender"}, "--enhance needs --preview-engine cycles or eevee"),
                          ({"preview": False}, "--enhance makes previews")])
def test_enhance_needs_blender_previews(tmp_path, kw, message):
    opts = {"out": tmp_path, "preview_engine": "cycles", "enhance": True, **kw}
    with pytest.raises(SpecError, match=message):
        GenerateOptions(**opts).check()


def test_enhanced_eevee_previews_of_a_comic_avatar(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC + 'style = "comic"\n')
    files = _run(spec, tmp_path / "e", enhance=True, preview_engine="eevee")
    assert {"preview.png", "passes/preview.npz"} <= set(files)
    _run(spec, tmp_path / "p", preview_engine="eevee")
    side = [Image.open(tmp_path / k / "ana" / "preview_side.png").size for k in ("e", "p")]
    assert side[0] == side[1] == (384, 512)
    enhanced = np.asarray(Image.open(tmp_path / "e" / "ana" / "preview.png"), dtype=np.float32) / 255
    plain = np.asarray(Image.open(tmp_path / "p" / "ana" / "preview.png"), dtype=np.float32) / 255
    passes, meta = load_view(tmp_path / "e" / "ana" / "passes" / "preview.npz")
    assert meta["engine"] == "eevee" and enhanced.shape == plain.shape
    mask = avatar_mask(passes["alpha"])
    # the outline's silhouette in Cycles' passes is the one EEVEE draws: coverage agrees with the plain render's
    drawn = np.abs(plain - np.asarray(BACKGROUND[:3], np.float32)).max(-1) > 0.02
    assert np.mean((passes["alpha"] > 0.5) == drawn) > 0.99
    # against the plain 16-sample full-resolution EEVEE preview: 28.6 dB on the avatar here (24.6 from weights
    # trained without EEVEE views); the screentone's dots are finer than the half-resolution render's pixels
    assert psnr_on_mask(enhanced, plain, mask) > PSNR_EEVEE
