"""Colour transfer functions on torch tensors, as ``pipeline.core.colour`` has them for numpy arrays."""
from __future__ import annotations

import torch


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light (any shape) -> display sRGB (the exact piecewise curve), clipped to [0, 1] first."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-8) ** (1.0 / 2.4) - 0.055)
