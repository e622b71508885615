"""Weight-free texture optimisers, the classical baselines of the comic model: each optimises the pixels of one
tile (circular, so it wraps) against the exemplar's training part for a fixed CPU time.

- ``gram_texture``: Gatys-style synthesis with random filters in place of VGG (Ustyuzhaninov et al. 2017):
  matches the Gram matrices of rectified random-filter responses at three octaves.
- ``sliced_wasserstein_texture``: matches the distributions of 7 x 7 colour patches at three octaves by the sliced
  Wasserstein distance (sorted projections on random directions, redrawn each step; Heitz et al. 2021 on raw
  patches instead of VGG features; Rabin et al. 2011).

Their random filters and directions are drawn from ``seed`` (the evaluation passes one that differs from the
metrics' seed, so no optimiser fits the filters it is judged with).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from models.comic.metrics import RandomFeatures


def _pixels(size: int, mean: np.ndarray, gen: torch.Generator) -> torch.Tensor:
    """(1, 3, size, size) logits of a start image: the exemplar's mean colour plus small noise."""
    m = torch.as_tensor(np.clip(mean, 0.02, 0.98), dtype=torch.float32)[None, :, None, None]
    return (torch.logit(m) + 0.5 * torch.randn(1, 3, size, size, generator=gen)).requires_grad_(True)


def _run(step, x: torch.Tensor, seconds: float, lr: float) -> tuple[np.ndarray, int]:
    opt = torch.optim.Adam([x], lr=lr)
    t0, it = time.process_time(), 0
    while time.process_time() - t0 < seconds:
        opt.zero_grad(set_to_none=True)
        step(torch.sigmoid(x)).backward()
        opt.step()
        it += 1
    return torch.sigmoid(x)[0].detach().permute(1, 2, 0).numpy().astype(np.float64), it


def _circular(x: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(x, (pad, pad, pad, pad), mode="circular")


def gram_texture(exemplar: np.ndarray, size: int, seconds: float, seed: int) -> tuple[np.ndarray, int]:
    """(size, size, 3) tile and iterations, optimised for ``seconds`` of process CPU time."""
    feats = RandomFeatures(seed)
    target = [g.detach() for g in feats.grams(exemplar)]
    gen = torch.Generator().manual_seed(seed)
    x = _pixels(size, exemplar.reshape(-1, 3).mean(0), gen)

    def loss(img: torch.Tensor) -> torch.Tensor:
        total = img.new_zeros(())
        y = img
        for s, tg in enumerate(target):
            r = F.relu(F.conv2d(_circular(y, 2) - 0.5, feats.filters)).flatten(2)[0]
            total = total + ((r @ r.T / r.shape[1] - tg) ** 2).sum() / (tg ** 2).sum()
            if s < len(target) - 1:
                y = F.avg_pool2d(y, 2)
        return total

    return _run(loss, x, seconds, lr=0.05)


def sliced_wasserstein_texture(exemplar: np.ndarray, size: int, seconds: float, seed: int,
                               patch: int = 7, directions: int = 64, octaves: int = 3) -> tuple[np.ndarray, int]:
    """(size, size, 3) tile and iterations, optimised for ``seconds`` of process CPU time."""
    gen = torch.Generator().manual_seed(seed)
    ex = torch.from_numpy(np.ascontiguousarray(exemplar.transpose(2, 0, 1), dtype=np.float32))[None]
    ex_patches = []
    for _ in range(octaves):
        ex_patches.append(F.unfold(ex, patch)[0].T)  # (n, 3 p^2)
        ex = F.avg_pool2d(ex, 2)
    x = _pixels(size, exemplar.reshape(-1, 3).mean(0), gen)

    def loss(img: torch.Tensor) -> torch.Tensor:
        total = img.new_zeros(())
        y = img
        for ref in ex_patches:
            p = F.unfold(_circular(y, patch // 2), patch)[0].T  # (m, 3 p^2)
            d = torch.randn(p.shape[1], directions, generator=gen)
            d = d / d.norm(dim=0, keepdim=True)
            pick = torch.randint(ref.shape[0], (p.shape[0],), generator=gen)
            a = torch.sort(p @ d, dim=0).values
            b = torch.sort(ref[pick] @ d, dim=0).values
            total = total + ((a - b) ** 2).mean()
            y = F.avg_pool2d(y, 2)
        return total

    return _run(loss, x, seconds, lr=0.05)
