"""Procedural comic primitives (numpy only): screentone, hatching, ink outlines, palette and cel-band quantisation.

They are exact and tileable: a tone pattern's lattice vectors are integer frequencies of the tile, so an N x N tile
wraps without a seam (the period and angle asked for are met to the nearest such vector); blurs for outlines are
periodic (FFT) unless told otherwise. Coverage follows the requested tone exactly on the tile, because the
threshold for a tone is read from the pattern's own distribution of values. They serve as the comic model's
layout, as the baselines of its evaluation and in the tests; images are float arrays in [0, 1], row 0 at the top.
"""

from __future__ import annotations

import numpy as np

QUANTISE_ROWS = 8192  # pixels per block of the palette distances in ``quantise``


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not np.all(np.isfinite(value)) or np.any(np.asarray(value) < low) or np.any(np.asarray(value) > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value if np.ndim(value) == 0 else 'an array'}")


def lattice_vector(size: int, period: float, angle_deg: float) -> np.ndarray:
    """(2,) integer frequency (cycles per tile along x, y) closest to ``period`` pixels at ``angle_deg``
    (counter-clockwise from +x, image y pointing down); never (0, 0)."""
    if size < 4:
        raise ValueError(f"size must be at least 4 pixels, got {size}")
    _check_range("period", period, 2.0, size)
    a = np.radians(angle_deg)
    k = np.rint(size / period * np.array([np.cos(a), -np.sin(a)]))
    if not k.any():
        k = np.array([1.0, 0.0])
    return k.astype(np.int64)


def _phase(size: int, k: np.ndarray) -> np.ndarray:
    """(N, N) phase 2 pi k . p / N of the lattice wave ``k`` at each pixel centre."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    return 2.0 * np.pi * (k[0] * x + k[1] * y) / size


def _threshold_for(values: np.ndarray, coverage: np.ndarray | float) -> np.ndarray:
    """The value above which the fraction ``coverage`` of ``values`` lies (per pixel when ``coverage`` is a map)."""
    ranked = np.sort(values.ravel())
    q = np.clip(1.0 - np.asarray(coverage, dtype=np.float64), 0.0, 1.0)
    return np.interp(q * (ranked.size - 1), np.arange(ranked.size), ranked)


def _ink(spot: np.ndarray, grad: np.ndarray, coverage: np.ndarray | float, soft: float) -> np.ndarray:
    """Ink (1) where ``spot`` exceeds the tone's threshold, with edges anti-aliased over ``soft`` pixels."""
    t = _threshold_for(spot, coverage)
    if soft <= 0:
        ink = (spot > t).astype(np.float64)
    else:
        ink = np.clip(0.5 + (spot - t) / (np.maximum(grad, 1e-9) * soft), 0.0, 1.0)
    c = np.asarray(coverage)
    return np.where(c <= 0.0, 0.0, np.where(c >= 1.0, 1.0, ink))


def screentone(size: int, period: float = 8.0, angle_deg: float = 45.0, tone: np.ndarray | float = 0.5,
               dot_gain: float = 0.0, soft: float = 1.0) -> np.ndarray:
    """(N, N) ink coverage of a halftone dot screen.

    Args:
        size: tile side N in pixels. period: dot spacing in pixels (2 to N). angle_deg: screen angle.
        tone: ink fraction 0-1, a number or an (N, N) map (halftoning an image's darkness).
        dot_gain: 0-1, how much dots spread as in print: coverage = tone + 4 gain tone (1 - tone), clipped.
        soft: width of the anti-aliased dot edge in pixels (0: binary).
    Returns:
        (N, N) float64 in [0, 1]; its mean equals the (gained) tone to within the edge's rounding.
    """
    _check_range("tone", tone, 0.0, 1.0)
    _check_range("dot_gain", dot_gain, 0.0, 1.0)
    k1 = lattice_vector(size, period, angle_deg)
    k2 = np.array([-k1[1], k1[0]])
    p1, p2 = _phase(size, k1), _phase(size, k2)
    spot = 0.5 * (np.cos(p1) + np.cos(p2))
    scale = np.pi / size  # d/dp of 0.5 cos(2 pi k.p / N) = -(pi / N) sin(...) k
    grad = scale * np.hypot(np.sin(p1) * k1[0] + np.sin(p2) * k2[0], np.sin(p1) * k1[1] + np.sin(p2) * k2[1])
    t = np.asarray(tone, dtype=np.float64)
    coverage = np.clip(t + 4.0 * dot_gain * t * (1.0 - t), 0.0, 1.0)
    return _ink(spot, grad, coverage, soft)


def hatching(size: int, period: float = 6.0, angle_deg: float = 45.0, tone: np.ndarray | float = 0.5,
             cross_from: float = 0.5, soft: float = 1.0) -> np.ndarray:
    """(N, N) ink coverage of parallel lines, crossed by a second set at 90 degrees where the tone is darker than
    ``cross_from`` (each set then covers 1 - sqrt(1 - tone), so the two together cover ``tone``).

    Args:
        size: tile side N. period: line spacing in pixels. angle_deg: direction of the lines' normal.
        tone: ink fraction 0-1, a number or an (N, N) map. cross_from: tone (0-1) where cross-hatching starts
            (1: never). soft: anti-aliased edge width in pixels (0: binary).
    """
    _check_range("tone", tone, 0.0, 1.0)
    _check_range("cross_from", cross_from, 0.0, 1.0)
    k1 = lattice_vector(size, period, angle_deg)
    k2 = np.array([-k1[1], k1[0]])
    t = np.asarray(tone, dtype=np.float64)
    crossed = t > cross_from
    each = np.where(crossed, 1.0 - np.sqrt(np.clip(1.0 - t, 0.0, 1.0)), t)
    layers = []
    for k in (k1, k2):
        ph = _phase(size, k)
        grad = (2.0 * np.pi / size) * np.hypot(*k) * np.abs(np.sin(ph))
        layers.append(_ink(np.cos(ph), grad, each, soft))
    second = np.where(crossed, layers[1], 0.0)
    return 1.0 - (1.0 - layers[0]) * (1.0 - second)


def gaussian_blur(image: np.ndarray, sigma: float, periodic: bool = True) -> np.ndarray:
    """(H, W[, C]) image blurred by a Gaussian of ``sigma`` pixels, through the FFT: wrapping around the edges when
    ``periodic`` (tiles), else with the edges mirrored."""
    img = np.asarray(image, dtype=np.float64)
    if sigma <= 0:
        return img.copy()
    h, w = img.shape[:2]
    src = img if periodic else np.pad(img, [(h // 2, h // 2), (w // 2, w // 2)] + [(0, 0)] * (img.ndim - 2),
                                      mode="symmetric")
    fy = np.fft.fftfreq(src.shape[0])[:, None]
    fx = np.fft.rfftfreq(src.shape[1])[None, :]
    g = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx * fx + fy * fy))
    # one channel at a time: the same transforms line by line (the same values) as the transform over axes
    # (0, 1) of the (H, W, C) array, about twice as fast as running them across the interleaved channels
    out = np.empty(src.shape)
    for c in np.ndindex(src.shape[2:]):
        plane = (Ellipsis, *c)
        out[plane] = np.fft.irfft2(np.fft.rfft2(src[plane]) * g, s=src.shape[:2])
    return out if periodic else out[h // 2: h // 2 + h, w // 2: w // 2 + w]


def xdog(luma: np.ndarray, sigma: float = 1.0, k: float = 1.6, p: float = 20.0, eps: float = 0.1,
         phi: float = 50.0, periodic: bool = True) -> np.ndarray:
    """(H, W) ink outlines (1 = ink) of a luminance image by the extended difference of Gaussians (Winnemoeller,
    Kyprianidis and Olsen 2012, "XDoG: an eXtended difference-of-Gaussians compendium"): D = (1 + p) G_sigma -
    p G_{k sigma}; paper white where D >= eps, ink falling off as 1 + tanh(phi (D - eps)) below.

    Args:
        luma: (H, W) luminance 0-1. sigma: inner blur in pixels (line width). k: outer / inner blur ratio.
        p: edge emphasis. eps: white threshold. phi: edge sharpness. periodic: wrap around the edges (tiles).
    """
    y = np.asarray(luma, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"xdog needs an (H, W) luminance image, got shape {y.shape}")
    _check_range("sigma", sigma, 0.1, 64.0)
    d = (1.0 + p) * gaussian_blur(y, sigma, periodic) - p * gaussian_blur(y, k * sigma, periodic)
    white = np.where(d >= eps, 1.0, 1.0 + np.tanh(phi * (d - eps)))
    return np.clip(1.0 - white, 0.0, 1.0)


def kmeans_palette(pixels: np.ndarray, k: int = 8, seed: int = 0, iterations: int = 20,
                   sample: int = 20000) -> np.ndarray:
    """(k, C) palette of (..., C) colours by k-means (k-means++ seeding from ``seed``, on at most ``sample``
    pixels drawn from the seed), sorted by luminance-like sum of channels, darkest first."""
    x = np.asarray(pixels, dtype=np.float64).reshape(-1, np.shape(pixels)[-1])
    if k < 1 or k > x.shape[0]:
        raise ValueError(f"k must be in [1, {x.shape[0]}] (the number of pixels), got {k}")
    rng = np.random.default_rng(seed)
    if x.shape[0] > sample:
        x = x[rng.choice(x.shape[0], sample, replace=False)]
    centres = x[[rng.integers(x.shape[0])]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        total = d2.sum()
        pick = rng.choice(x.shape[0], p=d2 / total) if total > 0 else rng.integers(x.shape[0])
        centres = np.vstack([centres, x[pick]])
    for _ in range(iterations):
        label = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        counts = np.bincount(label, minlength=k)
        sums = np.stack([np.bincount(label, weights=x[:, c], minlength=k) for c in range(x.shape[1])], axis=1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres[np.argsort(centres.sum(axis=1))]


def quantise(image: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel of (..., C) ``image`` replaced by its nearest colour of the (k, C) ``palette``:
    (the quantised image, (...) palette index)."""
    img = np.asarray(image, dtype=np.float64)
    pal = np.asarray(palette, dtype=np.float64)
    flat = img.reshape(-1, img.shape[-1])
    # |x - p|^2 = |x|^2 - 2 x.p + |p|^2; |x|^2 is the same for every p, so one matrix product ranks them; in
    # blocks of rows, whose (rows, k) products stay in the CPU's cache (row by row the same values, ~2x faster)
    sq = (pal * pal).sum(-1)[None]
    idx = np.empty(len(flat), dtype=np.int64)
    for a in range(0, len(flat), QUANTISE_ROWS):
        idx[a: a + QUANTISE_ROWS] = np.argmin(sq - 2.0 * (flat[a: a + QUANTISE_ROWS] @ pal.T), axis=1)
    return pal[idx].reshape(img.shape), idx.reshape(img.shape[:-1])


def cel_bands(luma: np.ndarray, bands: int = 3, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """(H, W) luminance posterised to ``bands`` flat levels between ``low`` and ``high`` (cel shading): band i
    of n covers [i / n, (i + 1) / n) of the input and takes the level low + (high - low) i / (n - 1)."""
    if bands < 2:
        raise ValueError(f"bands must be at least 2, got {bands}")
    y = np.clip(np.asarray(luma, dtype=np.float64), 0.0, 1.0)
    i = np.minimum((y * bands).astype(np.int64), bands - 1)
    return low + (high - low) * i / (bands - 1)
