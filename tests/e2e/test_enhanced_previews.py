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
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions

SPEC = '[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 166\nweight_kg = 61\nseed = 3\n'


def _box4(a):
    """(H/4, W/4, C) means of 4 x 4 pixel blocks."""
    h, w = a.shape[0] // 4 * 4, a.shape[1] // 4 * 4
    return a[:h, :w].reshape(h // 4, 4, w // 4, 4, -1).mean(axis=(1, 3))


def _run(spec, out, **kw):
    manifest, code = generate(spec, GenerateOptions(out=out, preview_engine="cycles", texture_size=256,
                                                    echo=lambda s: None, **kw))
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


@pytest.mark.parametrize(("kw", "message"), [({"preview_engine": "eevee"}, "--enhance needs --preview-engine cycles"),
                                             ({"preview": False}, "--enhance makes previews")])
def test_enhance_needs_cycles_previews(tmp_path, kw, message):
    opts = {"out": tmp_path, "preview_engine": "cycles", "enhance": True, **kw}
    with pytest.raises(SpecError, match=message):
        GenerateOptions(**opts).check()
