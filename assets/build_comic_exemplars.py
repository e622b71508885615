"""Rebuild ``assets/comic/*.png``: the exemplar images the shipped comic styles learn from (ours, from CC0 photos).

Both start from texture photographs that ship inside scikit-image (``skimage.data``, CC0; see assets/README.md),
so no image of ours made by the comic primitives alone is the only teacher; textures, because a style is judged on
the held-out quarter of its exemplar, which must look like the rest. Deterministic; a few seconds. Usage:
``python -m assets.build_comic_exemplars [--out assets/comic]``.

- ``ink.png``: the gravel photograph (CC0Textures "Gravel04", CC0) cartoonised through white-box steps in the
  manner of Wang and Yu 2020 ("Learning to cartoonize using white-box cartoon representations"): tinted by a
  stone colour ramp, edge-preserving smoothing by a guided filter (He, Sun and Tang 2010) for the surface, SLIC
  superpixels (Achanta et al. 2012) filled with their mean colour for the structure, the flat colours snapped to a
  10-colour palette, 2-pixel ink outlines between clearly different flats and dark crevices from an XDoG of the
  smoothed luminance.
- ``halftone.png``: the grass photograph (DeviantArt "Grass-01" by linolafett, CC0) as a two-ink print: the
  smoothed luminance in four bands (10 / 25 / 33 / 32 % of the pixels): paper, a mid band of 45-degree screentone
  dots, a darker band cross-hatched, the darkest solid ink, over a two-colour green tint, with XDoG outlines.

Both are grey photographs of 512 x 512, upscaled 2x (bicubic) before the steps so strokes and dots span several
pixels: 1024 x 1024.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import maximum_filter, uniform_filter
from skimage import data as skdata
from skimage.segmentation import slic

from pipeline.core.comic import hatching, kmeans_palette, quantise, screentone, xdog
from pipeline.core.files import atomic_save_png

SEED = 20261203
LUMA = np.array([0.2126, 0.7152, 0.0722])


def _upscaled(img: np.ndarray, factor: int = 2) -> np.ndarray:
    h, w = img.shape[:2]
    big = Image.fromarray(img).resize((w * factor, h * factor), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float64) / 255.0


def _tinted(grey: np.ndarray, stops: list[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    """(H, W, 3) colour of an (H, W) grey image through a colour ramp of (grey level, sRGB) stops."""
    xs = [g for g, _ in stops]
    return np.stack([np.interp(grey, xs, [c[i] for _, c in stops]) for i in range(3)], axis=-1)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """(H, W, C) ``src`` filtered by the grey ``guide`` (H, W) with a (2r+1)^2 box (He, Sun and Tang 2010)."""
    size = 2 * radius + 1

    def box(x: np.ndarray) -> np.ndarray:
        return uniform_filter(x, size=(size, size) + (1,) * (x.ndim - 2), mode="reflect")

    g = guide[..., None]
    mg, ms = box(g), box(src)
    a = (box(g * src) - mg * ms) / (box(g * g) - mg * mg + eps)
    b = ms - a * mg
    return box(a) * g + box(b)


def _smoothed(img: np.ndarray) -> np.ndarray:
    out = img
    for _ in range(2):
        out = guided_filter(out @ LUMA, out, radius=5, eps=0.01)
    return np.clip(out, 0.0, 1.0)


def ink_exemplar() -> np.ndarray:
    """(1024, 1024, 3) float: the gravel photograph in flat cel colours with ink edges."""
    grey = _upscaled(skdata.gravel())
    img = _tinted(grey, [(0.0, (0.16, 0.12, 0.13)), (0.35, (0.47, 0.38, 0.33)), (0.65, (0.74, 0.63, 0.50)),
                         (1.0, (0.97, 0.92, 0.80))])
    smooth = _smoothed(img)
    seg = slic(smooth, n_segments=1400, compactness=12.0, start_label=0)
    counts = np.bincount(seg.ravel())
    mean = np.stack([np.bincount(seg.ravel(), weights=smooth[..., c].ravel()) / counts for c in range(3)], 1)
    flat = mean[seg]
    flat, _ = quantise(flat, kmeans_palette(flat, k=10, seed=SEED))
    step = np.zeros(flat.shape[:2])
    step[:, :-1] = np.abs(np.diff(flat, axis=1)).sum(-1)
    step[:-1] = np.maximum(step[:-1], np.abs(np.diff(flat, axis=0)).sum(-1))
    outline = maximum_filter((step > 0.25).astype(np.float64), size=2)  # between clearly different flats
    crevice = xdog(smooth @ LUMA, sigma=1.4, k=1.6, p=22.0, eps=0.08, phi=40.0, periodic=False)
    ink = np.maximum(outline, crevice)
    return flat * (1.0 - 0.92 * ink[..., None])


def halftone_exemplar() -> np.ndarray:
    """(1024, 1024, 3) float: the grass photograph as a two-ink screentone print."""
    grey = _upscaled(skdata.grass())
    smooth = _smoothed(_tinted(grey, [(0.0, (0.20, 0.33, 0.18)), (0.5, (0.48, 0.66, 0.36)),
                                      (1.0, (0.86, 0.92, 0.62))]))
    h, w = smooth.shape[:2]
    n = max(h, w)
    luma = smooth @ LUMA
    band = np.searchsorted(np.quantile(luma, [0.1, 0.35, 0.68]), luma)  # 0 darkest .. 3 paper
    dots = screentone(n, period=7.0, angle_deg=45.0, tone=0.35)[:h, :w]
    hatch = hatching(n, period=6.0, angle_deg=30.0, tone=0.7, cross_from=0.5)[:h, :w]
    coverage = np.choose(band, [np.ones((h, w)), hatch, dots, np.zeros((h, w))])
    tint, _ = quantise(smooth, kmeans_palette(smooth, k=2, seed=SEED))
    paper = 0.7 * tint + 0.3 * np.array([0.98, 0.95, 0.86])
    ink_colour = np.array([0.10, 0.09, 0.14])
    out = paper * (1.0 - coverage[..., None]) + ink_colour * coverage[..., None]
    lines = xdog(luma, sigma=1.2, k=1.6, p=20.0, eps=0.1, phi=40.0, periodic=False)
    return out * (1.0 - lines[..., None]) + ink_colour * lines[..., None]


EXEMPLARS = {"ink": ink_exemplar, "halftone": halftone_exemplar}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "comic")
    args = ap.parse_args(argv)
    for name, make in EXEMPLARS.items():
        img = np.clip(np.rint(make() * 255.0), 0, 255).astype(np.uint8)
        # 64 palette colours (median cut, no dither): a third of the bytes, mean change < 0.11 levels of 255
        indexed = Image.fromarray(img).quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        path = atomic_save_png(args.out / f"{name}.png", indexed)
        print(f"{path}: {img.shape[1]} x {img.shape[0]}")


if __name__ == "__main__":
    main()
