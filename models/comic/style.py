"""Comic styles: a trained generator with its exemplar's layout statistics, found by name, used to synthesise tiles
and to stylise an avatar's albedo.

A style is a folder with ``comic.safetensors`` (the generator's weights and the layout statistics, float16),
``config.json`` (``ComicConfig`` plus ``style``, the exemplars' names and sha256), the training log and the
report; where styles are found: ``pipeline.core.comic_styles``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.comic.data import N_QUANTILES, LayoutStats, layout, luminance, random_layout
from models.comic.model import NAME, ComicConfig, ComicGenerator
from models.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pipeline.core.comic import cel_bands, gaussian_blur, kmeans_palette
from pipeline.core.comic_styles import comic_style_dirs

MIN_TILE, MAX_TILE = 32, 4096
# an albedo is stylised at a quarter of the palette head's learned temperature: the learned one mixes inks at
# edges as the exemplar's anti-aliasing does, and on an albedo's close skin inks (the halftone style's dots on dark
# skin) that made more colours than the realistic albedo has (palette error 0.0109 against 0.0107); at a quarter,
# 0.0037, with the same skin tone and kept regions (6 held-out avatars per style, two seeds)
ALBEDO_TEMPERATURE = 0.25
# an albedo is drawn with its values moved this far onto the exemplar's range (each channel equalised, rank by rank,
# over the exemplar's 1st-99th percentiles), and the drawing is mapped back: an albedo's skin spans a few
# hundredths of the range, where a style draws almost nothing (skin flat fraction 0.97 for ink, 0.76 for halftone
# against their exemplars' 0.86 and 0.60); at 0.7, 0.86 and 0.62 on 6 held-out avatars (0.86 and 0.64 on 6 others),
# with the skin tone. Onto the exemplar's own distribution instead (halftone's is half paper) the skin's lighter
# inks all land on its paper and are drawn at random among themselves: light blotches over dark skin
TONE_MAP = 0.7
TONE_GRID = np.linspace(0.0, 1.0, 1025)
STATS = tuple(f.name for f in dataclasses.fields(LayoutStats))


def available_styles() -> dict[str, Path]:
    """Style name -> folder: the shipped ones, then the user's (which win on a shared name)."""
    return comic_style_dirs()


def resolve_style(name_or_dir: str | Path) -> Path:
    """A style's folder from its name or a folder path; ValueError naming the styles there are."""
    p = Path(name_or_dir)
    if p.is_dir() and (p / f"{NAME}.safetensors").is_file():
        return p
    styles = available_styles()
    if str(name_or_dir) in styles:
        return styles[str(name_or_dir)]
    raise ValueError(f"unknown comic style {str(name_or_dir)!r}; styles: {', '.join(styles) or 'none installed'}")


class ComicStyle(nn.Module):
    """A generator and the layout statistics of its exemplar (buffers, saved with the weights)."""

    def __init__(self, cfg: ComicConfig, stats: LayoutStats | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.generator = ComicGenerator(cfg)
        s = min(cfg.spot, 4096)
        stats = stats or LayoutStats(spot=np.zeros((3, s, s), np.float32), mean=np.zeros(3, np.float32),
                                     quantiles=np.zeros((3, N_QUANTILES), np.float32),
                                     palette=np.zeros((cfg.palette, 3), np.float32),
                                     inks=np.zeros((cfg.palette, 3), np.float32))
        for key in STATS:
            self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(getattr(stats, key))))

    @property
    def stats(self) -> LayoutStats:
        return LayoutStats(**{k: getattr(self, k).float().numpy() for k in STATS})

    def save(self, folder: Path, style: str, extra: dict | None = None) -> Path:
        return save_checkpoint(folder, NAME, self, self.cfg, extra={"style": style, **(extra or {})}, half=True)

    @classmethod
    def load(cls, name_or_dir: str | Path) -> ComicStyle:
        folder = resolve_style(name_or_dir)
        cfg, state = load_checkpoint(folder, NAME, ComicConfig, check_body=False,
                                     extra_keys=("style", "exemplars", "iterations"))
        spot = state["spot"]
        model = cls(dataclasses.replace(cfg, spot=int(spot.shape[-1])))
        missing = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        if missing.missing_keys or missing.unexpected_keys:
            raise CheckpointError(f"{folder}: weights do not fit the config (missing "
                                  f"{missing.missing_keys[:3]}, unexpected {missing.unexpected_keys[:3]})")
        return model.eval()

    def noise(self, b: int, h: int, w: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(noise_full (b, noise, h, w), noise_low (b, noise, h/4, w/4), phase (b, waves)) from ``gen``."""
        n = self.cfg.noise
        full = torch.randn(b, n, h, w, generator=gen)
        low = torch.randn(b, n, h // 4, w // 4, generator=gen)
        phase = torch.rand(b, self.cfg.waves, generator=gen) * (2 * np.pi)
        return full, low, phase

    @torch.no_grad()
    def synth(self, size: int, seed: int = 0) -> np.ndarray:
        """(size, size, 3) uint8 sRGB: one seamless tile of this style from ``seed`` (same seed, same bytes)."""
        if not (MIN_TILE <= size <= MAX_TILE) or size % 4:
            raise ValueError(f"--size = {size}: a tile side must be a multiple of 4 in {MIN_TILE}-{MAX_TILE}")
        rng = np.random.default_rng([seed, 1])
        lay = torch.from_numpy(random_layout(self.stats, size, rng, self.cfg.sigma, self.cfg.bands))[None]
        gen = torch.Generator().manual_seed(int(seed))
        out = self.generator(lay, self.inks.float()[None], *self.noise(1, size, size, gen), tile=True)
        return to_uint8(out[0])

    @torch.no_grad()
    def stylise(self, image: np.ndarray, seed: int = 0, keep: Sequence[np.ndarray] = (),
                temperature_scale: float = ALBEDO_TEMPERATURE, tone_map: float = TONE_MAP) -> np.ndarray:
        """(H, W, 3) uint8 comic version of an (H, W, 3) uint8 sRGB image (an albedo in UV space), H and W
        multiples of 4: its layout on its own k-means palette, this style's drawing in the image's own k-means
        colours (so its colours are kept), at ``temperature_scale`` times the learned palette temperature.
        ``tone_map``: how far (0-1) the image's values are moved onto the exemplar's range before it is drawn
        (``tone_tables``); the drawing is mapped back, so each ink stays the image's own colour.
        ``keep``: (H, W) bool masks of small regions (lips, nails) whose mean colour joins both palettes, so they
        keep their own colour where k-means would merge them into the skin."""
        h, w = image.shape[:2]
        if image.ndim != 3 or image.shape[2] != 3 or h % 4 or w % 4:
            raise ValueError(f"stylise needs an (H, W, 3) image with H and W multiples of 4, got {image.shape}")
        img = image.astype(np.float32) / 255.0
        smooth = gaussian_blur(img, self.cfg.sigma / 2, periodic=False)
        masks = [m for m in keep if m.shape == (h, w) and m.any()]
        palette, inks = (np.concatenate([kmeans_palette(x, k=self.cfg.palette, seed=seed),
                                         *[x[m].mean(0, keepdims=True) for m in masks]]).astype(np.float32)
                         for x in (smooth, img))
        tables = self.tone_tables(smooth, tone_map)
        smooth, palette, inks = (apply_tone(x, tables) for x in (smooth, palette, inks))
        lay = layout(smooth, palette, self.cfg.sigma, self.cfg.bands, periodic=False, presmoothed=True)
        if masks:  # kept regions stand in the layout in their own colour, unblurred (thin eyebrows stay): their
            # ink's, the unsmoothed image's mean there; the smoothed mean of a thin region is half the skin's colour
            colour = lay[:3].transpose(1, 2, 0).copy()
            for m, c in zip(masks, inks[-len(masks):], strict=True):
                colour[m] = c
            band = cel_bands(luminance(colour), self.cfg.bands).astype(np.float32)
            lay = np.concatenate([colour.transpose(2, 0, 1), band[None]])
        gen = torch.Generator().manual_seed(int(seed))
        out = self.generator(torch.from_numpy(lay)[None], torch.from_numpy(inks)[None], *self.noise(1, h, w, gen),
                             temperature_scale=temperature_scale)
        out = apply_tone(out[0].permute(1, 2, 0).numpy(), tables, inverse=True)
        return to_uint8(torch.from_numpy(out).permute(2, 0, 1))

    def tone_tables(self, smooth: np.ndarray, strength: float) -> np.ndarray:
        """(3, len(TONE_GRID)) strictly increasing map of each channel's values on ``TONE_GRID``: ``strength`` of
        the way from the identity to the map that takes the (H, W, 3) image's value at each rank r to the
        exemplar's (its blurred training part's) 1st percentile + r x its 1st-99th percentile range."""
        ranks = np.linspace(0.0, 1.0, N_QUANTILES)
        ramp = ranks * 1e-6  # ties (flat runs of values) made strictly increasing, so each map can be inverted
        tables = []
        for c in range(3):
            own = np.maximum.accumulate(np.quantile(smooth[::2, ::2, c], ranks) + ramp)
            lo, hi = np.interp([0.01, 0.99], ranks, self.quantiles[c].double().numpy())
            target = np.interp(TONE_GRID, own, lo + ranks * (hi - lo))
            tables.append((1.0 - strength) * TONE_GRID + strength * target + TONE_GRID * 1e-3)  # slope >= 1e-3:
            # invertible in float32 across the gaps between an 8-bit image's values, where the target map is flat
        return np.stack(tables)


def apply_tone(x: np.ndarray, tables: np.ndarray, inverse: bool = False) -> np.ndarray:
    """(..., 3) float32 values through the (3, G) ``tables`` of ``ComicStyle.tone_tables`` (or back)."""
    pairs = ((tables[c], TONE_GRID) if inverse else (TONE_GRID, tables[c]) for c in range(3))
    return np.stack([np.interp(x[..., c], xp, fp) for c, (xp, fp) in enumerate(pairs)], -1).astype(np.float32)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (image.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
