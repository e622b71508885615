"""The comic look of pyrender previews, composed on the CPU from an unlit albedo render, a lit grey render and
the depth buffer: cel-banded shading, screentone in the shadows and ink outlines."""

from __future__ import annotations

import numpy as np

from pipeline.core.comic import screentone

# pyrender's preview light is soft: the bands are cut at shares of the body's pixels (darkest 15 % shadow, next
# 30 % mid tone, the rest lit), so every view shows three bands whatever the pose
BAND_SHARES = (0.15, 0.45)
BAND_LEVELS = (0.6, 0.82, 1.0)  # brightness of the shadow, mid and lit bands
DEPTH_STEP_M = 0.03  # a depth jump larger than this between neighbours is an outline
INK = np.array([0.08, 0.07, 0.10])


def cel_shading(grey: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((H, W) band brightness, (H, W) bool darkest band) of a lit grey render's luminance on the body's mask."""
    lum = grey.astype(np.float64).mean(-1)
    edges = np.quantile(lum[mask], BAND_SHARES) if mask.any() else np.zeros(2)
    band = np.digitize(lum, edges)
    return np.asarray(BAND_LEVELS)[band], (band == 0) & mask


def outlines(depth: np.ndarray, step: float = DEPTH_STEP_M) -> np.ndarray:
    """(H, W) bool ink: pixels next to a depth jump larger than ``step`` metres or to the background, 2 px wide."""
    d = np.where(depth > 0, depth, np.inf)
    edge = np.zeros(depth.shape, dtype=bool)
    for axis in (0, 1):
        with np.errstate(invalid="ignore"):
            diff = np.abs(np.diff(d, axis=axis))
        jump = ~(diff <= step)  # inf - inf is nan: background next to background is not a jump
        jump &= ~(np.isinf(d).take(range(d.shape[axis] - 1), axis) & np.isinf(d).take(range(1, d.shape[axis]), axis))
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        edge[tuple(lo)] |= jump
        edge[tuple(hi)] |= jump
    return edge


def comic_composite(albedo: np.ndarray, grey: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: albedo (H, W, 3) uint8 unlit x cel bands of ``grey`` (H, W, 3) uint8, dots in the
    shadow band, ink along ``outlines(depth)``; background pixels stay as the albedo render has them."""
    mask = depth > 0
    level, shadow = cel_shading(grey, mask)
    h, w = depth.shape
    n = max(h, w) // 4 * 4 + 4
    dots = screentone(n, period=5.0, angle_deg=45.0, tone=0.3)[:h, :w]
    img = albedo.astype(np.float64) / 255.0 * level[..., None]
    img = np.where(shadow[..., None], img * (1.0 - 0.6 * dots[..., None]), img)
    img = np.where(mask[..., None], img, albedo / 255.0)
    img = np.where(outlines(depth)[..., None], INK, img)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
