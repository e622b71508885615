"""Colour transfer functions on torch tensors, as ``pipeline.core.colour`` has them for numpy arrays."""
from __future__ import annotations

import torch


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light (any shape) -> display sRGB (the exact piecewise curve), clipped to [0, 1] first."""
    x = x.clamp(0.0, 1.0)
    high = x.clamp_min(0.0031308).pow_(1.0 / 2.4).mul_(1.055).sub_(0.055)  # in place: one buffer, not three
    return torch.where(x <= 0.0031308, x * 12.92, high)
