"""Weight-free measures of a comic texture against its exemplar (images (H, W, 3) float in [0, 1]).

- ``seam_ratio``: mean absolute step across the wrap edges of a tile (last column to first, last row to first)
  over the mean step between neighbours inside; a seamless tile is near 1 (``pooled_seam_ratio`` over several
  tiles, with a control across their middle lines, because one tile's ratio is noisy).
- ``flat_fraction``: share of pixels whose largest step to the next pixel right or below is under ``FLAT_STEP``
  in every channel (flat cel colour).
- ``palette_error``: mean distance of an image's pixels to the nearest colour of a palette (sRGB units).
- ``RandomFeatures``: random filters drawn from a seed (never trained, never downloaded): ``gram`` is the
  distance between Gram matrices of 64 random 5 x 5 filters' rectified responses at three scales (Ustyuzhaninov
  et al. 2017 showed random filters carry texture statistics); ``sifid`` is the Frechet distance between the
  Gaussian statistics of a random three-layer network's features (single-image FID, Shaham et al. 2019, with a
  random network in place of Inception).
- ``RandomFeatures.statistics_distance``: those statistics pooled over a batch, differentiable, for training
  (with filters from the training's seed, never the evaluation's).
- ``nearest_patch``: mean distance from each 16-pixel patch of an image to its nearest patch of a reference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FLAT_STEP = 0.03
WRAP_SLACK = 1.25


def seam_steps(tile: np.ndarray) -> tuple[float, float]:
    """(mean absolute step across the wrap edges, mean absolute step between neighbours inside)."""
    t = np.asarray(tile, dtype=np.float64)
    inner = np.concatenate([np.abs(np.diff(t, axis=1)).ravel(), np.abs(np.diff(t, axis=0)).ravel()]).mean()
    wrap = np.concatenate([np.abs(t[:, 0] - t[:, -1]).ravel(), np.abs(t[0] - t[-1]).ravel()]).mean()
    return float(wrap), float(inner)


def seam_ratio(tile: np.ndarray) -> float:
    wrap, inner = seam_steps(tile)
    return wrap / max(inner, 1e-12)


def pooled_seam_ratio(tiles: list[np.ndarray], control: bool = False) -> float:
    """Seam ratio over several tiles (wrap steps summed over inner steps summed): one tile's wrap edge is only 2 N
    pixel pairs, so its ratio scatters widely even where there is no seam. ``control``: the same statistic across
    the tiles' middle lines instead (tiles rolled by half), where no seam can be, for comparison."""
    steps = [seam_steps(np.roll(t, (t.shape[0] // 2, t.shape[1] // 2), (0, 1)) if control else t) for t in tiles]
    return float(sum(w for w, _ in steps) / max(sum(i for _, i in steps), 1e-12))


def wraps(tile: np.ndarray, slack: float = WRAP_SLACK) -> bool:
    """Whether a tile continues across its wrap edges: along each axis, the mean step from the last column (row)
    to the first is at most ``slack`` times the largest mean step between neighbouring columns (rows) inside. On a
    seamless tile the wrap column is one more sample of the same steps, so it is the largest with probability about
    1 / N (flat inks make column steps vary); a seam is several times larger. Robust for smooth tiles, where
    ``seam_ratio`` compares one edge's few samples with a tiny average. The steps out of the outermost row or column
    on each side are left out of the comparison: a border artefact (zero padding) spoils a band along the edge, and
    its steps inside that band are as large as the one across the wrap."""
    t = np.asarray(tile, dtype=np.float64)
    for axis in (0, 1):
        steps = np.abs(np.diff(t, axis=axis, append=t.take([0], axis=axis))).mean(axis=(1 - axis, 2))
        if steps[-1] > slack * steps[1:-2].max():
            return False
    return True


def flat_fraction(image: np.ndarray, step: float = FLAT_STEP, mask: np.ndarray | None = None) -> float:
    """Share of flat pixels; with an (H, W) bool ``mask``, of the pixels whose right and lower neighbours are in
    it too."""
    t = np.asarray(image, dtype=np.float64)
    dx = np.abs(t[:-1, 1:] - t[:-1, :-1]).max(-1)
    dy = np.abs(t[1:, :-1] - t[:-1, :-1]).max(-1)
    flat = np.maximum(dx, dy) < step
    if mask is not None:
        flat = flat[mask[:-1, :-1] & mask[:-1, 1:] & mask[1:, :-1]]
    return float(flat.mean())


def palette_error(image: np.ndarray, palette: np.ndarray) -> float:
    x = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    d2 = ((x[:, None] - np.asarray(palette, dtype=np.float64)[None]) ** 2).sum(-1)
    return float(np.sqrt(d2.min(1)).mean())


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1)))[None]


class RandomFeatures:
    """Random filters and a random network from ``seed``, for Gram and SIFID distances."""

    def __init__(self, seed: int, filters: int = 64, size: int = 5, width: int = 64) -> None:
        g = torch.Generator().manual_seed(int(seed))
        w = torch.randn(filters, 3, size, size, generator=g)
        self.filters = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (size * size * 3) ** 0.5
        self.net = [torch.randn(width, 3, 3, 3, generator=g) / 27 ** 0.5,
                    torch.randn(width, width, 3, 3, generator=g) / (9 * width) ** 0.5,
                    torch.randn(width, width, 3, 3, generator=g) / (9 * width) ** 0.5]

    def grams(self, image: np.ndarray | torch.Tensor, scales: int = 3) -> list[torch.Tensor]:
        """(filters, filters) Gram matrix of the rectified responses at each of ``scales`` octaves, pooled over
        the images of a (B, 3, H, W) tensor (one image: its own)."""
        x = image if isinstance(image, torch.Tensor) else _tensor(image)
        out = []
        for s in range(scales):
            r = F.relu(F.conv2d(x - 0.5, self.filters)).transpose(0, 1).flatten(1)  # (filters, B * positions)
            out.append(r @ r.T / r.shape[1])
            if s < scales - 1:
                x = F.avg_pool2d(x, 2)
        return out

    def gram(self, a: np.ndarray, b: np.ndarray) -> float:
        """Relative Gram distance, averaged over scales: ||G_a - G_b|| / ||G_b||."""
        return float(np.mean([float((ga - gb).norm() / gb.norm().clamp_min(1e-12))
                              for ga, gb in zip(self.grams(a), self.grams(b), strict=True)]))

    def _network(self, x: torch.Tensor) -> torch.Tensor:
        """(B * positions, width) the random network's last-layer features of ``x`` (B, 3, H, W) in [0, 1]
        (stride 2 after the first layer)."""
        x = F.relu(F.conv2d(x - 0.5, self.net[0], padding=1))
        x = F.relu(F.conv2d(x, self.net[1], stride=2, padding=1))
        return F.conv2d(x, self.net[2], padding=1).transpose(0, 1).flatten(1).T

    def batch_statistics(self, x: torch.Tensor, scales: int = 3) -> list[torch.Tensor]:
        """Differentiable statistics of a batch ``x`` (B, 3, H, W) in [0, 1], pooled over its images: ``grams``,
        then the random network's feature mean (width,) and covariance (width, width), the statistics ``gram``
        and ``sifid`` compare."""
        f = self._network(x)
        mean = f.mean(0)
        c = f - mean
        return [*self.grams(x, scales), mean, c.T @ c / max(f.shape[0] - 1, 1)]

    def statistics_distance(self, x: torch.Tensor, reference: list[torch.Tensor]) -> torch.Tensor:
        """Mean over ``batch_statistics`` of ||S_x - S_ref|| / ||S_ref|| (differentiable in ``x``), against the
        ``reference`` statistics (``batch_statistics`` of the real batch)."""
        return torch.stack([(a - b).norm() / b.norm().clamp_min(1e-12)
                            for a, b in zip(self.batch_statistics(x), reference, strict=True)]).mean()

    def features(self, image: np.ndarray) -> np.ndarray:
        """(positions, width) the random network's last-layer features (stride 2 after the first layer)."""
        return self._network(_tensor(image)).double().numpy()

    def sifid(self, a: np.ndarray, b: np.ndarray) -> float:
        return frechet(self.features(a), self.features(b))


def frechet(fa: np.ndarray, fb: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two (n, d) feature sets."""
    ma, mb = fa.mean(0), fb.mean(0)
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    # trace of sqrt(ca cb) from the eigenvalues of sqrt(ca) cb sqrt(ca) (symmetric, stable)
    wa, va = np.linalg.eigh(ca)
    sa = (va * np.sqrt(np.clip(wa, 0, None))) @ va.T
    ev = np.linalg.eigvalsh(sa @ cb @ sa)
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2.0 * np.sqrt(np.clip(ev, 0, None)).sum())


def patches(image: np.ndarray, size: int = 16, stride: int = 16) -> np.ndarray:
    """(n, size * size * 3) patches of an image on a grid of ``stride``."""
    x = _tensor(image)
    return F.unfold(x, size, stride=stride)[0].T.numpy()


def nearest_patch(image: np.ndarray, reference: np.ndarray, size: int = 16, ref_stride: int = 1) -> float:
    """Mean over the image's 16-pixel patches (on a 16-pixel grid) of the RMS distance to the nearest patch of
    ``reference`` (every ``ref_stride`` pixels; read in strips of rows to bound memory)."""
    a = torch.from_numpy(patches(image, size, size))
    ref = _tensor(reference)
    best = torch.full((a.shape[0],), float("inf"))
    rows = 32 * ref_stride
    for top in range(0, ref.shape[2] - size + 1, rows):
        strip = ref[:, :, top: top + rows + size - ref_stride]
        b = F.unfold(strip, size, stride=ref_stride)[0].T
        best = torch.minimum(best, torch.cdist(a, b).min(1).values)
    return float((best / np.sqrt(a.shape[1])).mean())
