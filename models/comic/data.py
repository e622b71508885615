"""Exemplars and layouts of the comic model.

An exemplar is an sRGB image (PNG or JPEG, 32 to 4096 pixels a side). Training sees only its left 75 % (``split``);
the right 25 % is held out for evaluation. The generator is conditioned on a *layout* (``layout``): the image
blurred by sigma / 2 (ink lines and dots gone), each pixel snapped to the nearest colour of a palette (flat
regions), blurred by ``sigma``, plus that colour's luminance in cel bands. It says where colours and tones are,
not how they are drawn. The palette is the exemplar's (k-means) in training and an avatar albedo's own when one
is stylised, so the layout keeps the albedo's colours. For a new tile, ``random_layout`` replaces the blurred
image by a periodic random field with the exemplar's statistics: asymptotic discrete spot noise (Galerne,
Gousseau and Morel 2011, "Random phase textures") of the blurred exemplar on the N x N torus, each channel
mapped to the blurred exemplar's distribution of values, then the same snap and blur, so it looks like a real
layout and wraps without a seam. Arrays are float32 in [0, 1], (C, H, W) when they are network inputs, row 0 at
the top.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipeline.core.colour import REC709_LUMA
from pipeline.core.comic import cel_bands, gaussian_blur, kmeans_palette, quantise

LUMA = REC709_LUMA.astype(np.float32)
MIN_SIDE, MAX_SIDE = 32, 4096
TRAIN_FRACTION = 0.75
N_LAYOUT = 4  # palette-snapped blurred R, G, B and the cel band of their luminance


def load_exemplar(path: Path) -> np.ndarray:
    """(H, W, 3) float32 sRGB in [0, 1] of an image file; ValueError naming the file when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exemplar {path} does not exist")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
                raise ValueError(f"exemplar {path} is {w} x {h} pixels; each side must be {MIN_SIDE}-{MAX_SIDE}")
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"exemplar {path} is not a readable image: {exc}") from None
    return rgb


def split(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training part, held-out part): the left 75 % of the columns and the right 25 %."""
    cut = round(image.shape[1] * TRAIN_FRACTION)
    return image[:, :cut], image[:, cut:]


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) Rec. 709 luma of an (H, W, 3) sRGB image (on the encoded values, as comic bands are drawn)."""
    return image @ LUMA


def layout(image: np.ndarray, palette: np.ndarray, sigma: float, bands: int, periodic: bool,
           presmoothed: bool = False) -> np.ndarray:
    """(N_LAYOUT, H, W) float32 layout of an (H, W, 3) image: blurred by sigma / 2 (unless ``presmoothed``),
    snapped to the (k, 3) ``palette``, blurred by ``sigma`` pixels; and that colour's luminance posterised to
    ``bands`` levels. ``periodic``: blur around the edges (tiles)."""
    smooth = image if presmoothed else gaussian_blur(image, sigma / 2, periodic=periodic)
    snapped, _ = quantise(smooth, np.asarray(palette, dtype=np.float64))
    blurred = np.clip(gaussian_blur(snapped, sigma, periodic=periodic), 0.0, 1.0).astype(np.float32)
    band = cel_bands(luminance(blurred), bands).astype(np.float32)
    return np.concatenate([blurred.transpose(2, 0, 1), band[None]], axis=0)


N_QUANTILES = 256


@dataclasses.dataclass
class LayoutStats:
    """What a random layout needs from an exemplar's training part, blurred by sigma / 2 as a layout starts: spot
    (3, s, s) its centre minus its mean, mean (3,), quantiles (3, N_QUANTILES) each channel's distribution and
    palette (k, 3) its k-means colours. inks (k, 3): the k-means colours of the part itself (not blurred), the
    colours its tiles are drawn in."""

    spot: np.ndarray
    mean: np.ndarray
    quantiles: np.ndarray
    palette: np.ndarray
    inks: np.ndarray

    @classmethod
    def of(cls, train_part: np.ndarray, sigma: float, spot_size: int = 192, k: int = 8, seed: int = 0
           ) -> LayoutStats:
        h, w = train_part.shape[:2]
        s = min(spot_size, h, w)
        top, left = (h - s) // 2, (w - s) // 2
        smooth = gaussian_blur(train_part, sigma / 2, periodic=False)
        # the spot keeps the regions' edges: with a smoother one (1.5 sigma) random layouts change colour in gentle
        # steps where the exemplar's flats meet at clear edges, and fewer ink lines are drawn on them
        centre = smooth[top: top + s, left: left + s]
        mean = centre.reshape(-1, 3).mean(0)
        q = np.quantile(smooth.reshape(-1, 3), np.linspace(0.0, 1.0, N_QUANTILES), axis=0).T
        return cls(spot=(centre - mean).transpose(2, 0, 1).astype(np.float32), mean=mean.astype(np.float32),
                   quantiles=q.astype(np.float32), palette=kmeans_palette(smooth, k=k, seed=seed).astype(np.float32),
                   inks=kmeans_palette(train_part, k=k, seed=seed).astype(np.float32))


_TABLES: dict[str, tuple] = {}  # the last (key, tables) of ``_layout_tables``


def _layout_tables(stats: LayoutStats, size: int) -> tuple[np.ndarray, np.ndarray]:
    """What a random layout of ``size`` needs from ``stats`` whatever its seed: the spot's spectrum (C, size,
    size // 2 + 1) on the torus, and for each channel the exemplar's value at each rank (C, size * size). The last
    one computed is kept, so a run of tiles of one style and size computes it once."""
    key = (size, stats.spot.tobytes(), stats.quantiles.tobytes())
    last = _TABLES.get("last")
    if last is not None and last[0] == key:
        return last[1]
    c, s, _ = stats.spot.shape
    s = min(s, size)
    spot = np.zeros((c, size, size), dtype=np.float64)
    spot[:, :s, :s] = stats.spot[:, :s, :s]
    spot = np.roll(spot, (-(s // 2), -(s // 2)), axis=(1, 2))
    grid = np.linspace(0.0, 1.0, stats.quantiles.shape[1])
    ranks = np.arange(size * size) / max(size * size - 1, 1)
    tables = (np.fft.rfft2(spot), np.stack([np.interp(ranks, grid, q) for q in stats.quantiles]))
    _TABLES["last"] = (key, tables)
    return tables


def random_layout(stats: LayoutStats, size: int, rng: np.random.Generator, sigma: float, bands: int) -> np.ndarray:
    """(N_LAYOUT, size, size) periodic layout drawn from ``rng``: spot noise with the blurred exemplar's
    autocorrelation and distribution of values, snapped to its palette, blurred by ``sigma`` on the torus."""
    spectrum, values = _layout_tables(stats, size)
    c = spectrum.shape[0]
    s = min(stats.spot.shape[1], size)
    white = rng.standard_normal((size, size))
    field = np.fft.irfft2(spectrum * np.fft.rfft2(white)[None], s=(size, size)) / s
    colour = np.empty((c, size * size))

    def to_values(ch: int) -> None:  # rank -> the exemplar's value at that rank
        colour[ch, np.argsort(field[ch].ravel())] = values[ch]

    threads = min(c, torch.get_num_threads())  # the process's thread policy; numpy sorts without the GIL
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(to_values, range(c)))
    else:
        for ch in range(c):
            to_values(ch)
    return layout(colour.reshape(c, size, size).transpose(1, 2, 0), stats.palette, sigma, bands, periodic=True,
                  presmoothed=True)
