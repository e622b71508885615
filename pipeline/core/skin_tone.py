"""Skin colour from ITA or Fitzpatrick type, and a flat albedo for the numpy core (no torch).

ITA (individual typology angle, degrees; Chardon et al. 1991) classes: very light > 55, light 41-55,
intermediate 28-41, tan 10-28, brown -30-10, dark < -30. Each class anchor carries a representative sRGB skin
colour (rounded, from photographs of the classes) that sets the chroma (a*, b*); L* is then solved so the colour's
ITA is exactly the requested one (ITA = atan((L* - 50) / b*)). A Fitzpatrick type maps to the middle of the ITA
class usually associated with it.

The flat albedo (``skin_albedo``) is that skin colour everywhere, with lips and nails tinted through UV masks
built from the CC0 template (``assets/build_region_masks.py``): lips darker and redder than the skin
(L* x 0.85, a* + 12, b* x 0.8), nails lighter, pinker and less yellow (L* + 10 up to 88, a* x 0.7 + 4, b* x 0.5).
Those offsets are a plausible look, not a measurement. Avatars get the neural texture (``models.texture``); this
albedo serves the core tier (AvatarData without torch) and is the texture model's flat baseline.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from pipeline.core.colour import ita_degrees, lab_to_linear, lab_to_srgb, linear_to_srgb, srgb_to_lab, srgb_to_linear

_ITA_ANCHORS = np.array([70.0, 55.0, 41.0, 28.0, 10.0, -30.0, -60.0])
_SRGB = np.array([[246, 208, 186], [236, 188, 160], [219, 166, 132], [194, 139, 103],
                  [156, 104, 72], [104, 66, 44], [62, 40, 29]], dtype=np.float64) / 255.0
FITZPATRICK_ITA = {1: 62.0, 2: 48.0, 3: 34.5, 4: 19.0, 5: -10.0, 6: -45.0}
DEFAULT_ITA = 34.5
TEXTURE_SIZES = (256, 512, 1024, 2048)


def requested_ita(skin_ita: float | None = None, fitzpatrick: int | None = None) -> float:
    """The ITA (degrees) a request asks for: the Fitzpatrick type's class middle, the ITA given, or the default."""
    if fitzpatrick is not None:
        return FITZPATRICK_ITA[int(fitzpatrick)]
    return DEFAULT_ITA if skin_ita is None else float(skin_ita)


def skin_lab(skin_ita: float | None = None, fitzpatrick: int | None = None) -> np.ndarray:
    """(3,) CIELAB skin colour whose ITA equals the requested one exactly."""
    ita = requested_ita(skin_ita, fitzpatrick)
    # np.interp needs increasing x: anchors run from light (high ITA) to dark
    srgb = np.array([np.interp(ita, _ITA_ANCHORS[::-1], _SRGB[::-1, k]) for k in range(3)])
    lab = srgb_to_lab(srgb)
    # keep the hue; shrink the chroma until the colour with the exact ITA fits in sRGB (matters above ITA ~60)
    scale = np.linspace(1.0, 0.2, 81)[:, None]
    cand = np.column_stack([50.0 + scale[:, 0] * lab[2] * np.tan(np.radians(ita)), scale * lab[1:]])
    lin = lab_to_linear(cand)
    fits = np.all((lin >= 0.0) & (lin <= 1.0), axis=1)
    return cand[int(np.argmax(fits))] if fits.any() else cand[-1]


def region_labs(skin: np.ndarray) -> dict[str, np.ndarray]:
    """CIELAB colours of the lips and nails for a skin colour (the offsets in the module docstring)."""
    lips = np.array([skin[0] * 0.85, skin[1] + 12.0, skin[2] * 0.8])
    nails = np.array([min(skin[0] + 10.0, 88.0), skin[1] * 0.7 + 4.0, skin[2] * 0.5])
    return {"lips": lips, "nails": nails}


def base_color_for(skin_ita: float | None = None, fitzpatrick: int | None = None) -> tuple[float, float, float, float]:
    """Linear RGBA base colour of the skin (for untextured materials and previews)."""
    r, g, b = srgb_to_linear(lab_to_srgb(skin_lab(skin_ita, fitzpatrick)))
    return float(r), float(g), float(b), 1.0


@functools.lru_cache(maxsize=8)
def region_masks(asset_dir: Path, size: int) -> dict[str, np.ndarray]:
    """UV masks (size, size) float32 in [0, 1], row 0 = v 1, block-averaged down from the shipped 2048 x 2048."""
    if size not in TEXTURE_SIZES:
        raise ValueError(f"texture size {size}: allowed {', '.join(map(str, TEXTURE_SIZES))}")
    with np.load(Path(asset_dir) / "regions.npz") as data:
        out = {}
        for key in ("lips", "nails"):
            m = data[key].astype(np.float32) / 255.0
            f = m.shape[0] // size
            out[key] = m.reshape(size, f, size, f).mean(axis=(1, 3))
            out[key].setflags(write=False)
    return out


def _quantised(lab: np.ndarray, ita: float) -> np.ndarray:
    """The 8-bit sRGB colour next to ``lab`` whose ITA is closest to ``ita`` (plain rounding can miss dark skin
    tones, whose small b* makes ITA sensitive, by most of a degree)."""
    base = np.round(lab_to_srgb(lab) * 255.0)
    steps = np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    cand = np.clip(base + steps, 0, 255)
    cand_lab = srgb_to_lab(cand / 255.0)
    cost = np.abs(ita_degrees(cand_lab) - ita) + 0.05 * np.linalg.norm(cand_lab - lab, axis=1)
    return cand[int(np.argmin(cost))].astype(np.uint8)


def skin_albedo(asset_dir: Path, size: int = 1024, skin_ita: float | None = None,
                fitzpatrick: int | None = None) -> np.ndarray:
    """(size, size, 3) uint8 sRGB albedo for the template's UVs: skin colour, lips and nails tinted.

    Regions are blended in linear light, and only on the texels a mask touches (a few per cent of the image).
    """
    skin = skin_lab(skin_ita, fitzpatrick)
    skin8 = _quantised(skin, requested_ita(skin_ita, fitzpatrick))
    skin_lin = srgb_to_linear(skin8 / 255.0)
    masks = region_masks(Path(asset_dir), size)
    out = np.empty((size, size, 3), dtype=np.uint8)
    out[:] = skin8
    touched = np.zeros((size, size), dtype=bool)
    for m in masks.values():
        touched |= m > 0
    lin = np.broadcast_to(skin_lin, (int(touched.sum()), 3)).copy()
    for key, lab in region_labs(skin).items():
        w = masks[key][touched][:, None]
        lin += w * (srgb_to_linear(lab_to_srgb(lab)) - lin)
    out[touched] = np.round(linear_to_srgb(lin) * 255.0).astype(np.uint8)
    return out
