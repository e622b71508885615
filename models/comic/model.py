"""ComicTextureGAN: a tileable generator conditioned on a layout, and a spectral-norm PatchGAN discriminator.

Generator (every convolution pads circularly, so an N x N input on the torus gives an N x N output that wraps;
N a multiple of 4). Inputs at full resolution: the layout (``data.layout``: blurred colour and cel band, 4
channels), ``noise`` channels of white noise and 2 ``waves`` as sin and cos of learned plane waves (as in PSGAN,
Bergmann, Jetchev and Vollgraf 2017: the periodic part that halftone dots and hatching need; their wave vectors
are learned in cycles per pixel and, on a tile, rounded to whole cycles per tile so the tile stays periodic).
Layers: full-resolution stem -> two stride-2 convolutions -> white noise at 1/4 joins -> ``blocks`` residual
blocks -> nearest upsampling with skips back to full resolution -> RGB. It adds its output to the layout's
colour (a residual on the blurred image) and clamps to [0, 1].

Discriminators: the image (beside its layout, for the conditional one) through 4 x 4 convolutions (stride 2, 2,
1, 1; spectral normalisation, Miyato et al. 2018), a 34-pixel receptive field, one realness score per patch
(pix2pix's PatchGAN).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from models.comic.data import N_LAYOUT

NAME = "comic"


@dataclasses.dataclass
class ComicConfig:
    """Architecture and layout. width: features at full resolution (x2 at 1/2, x3 at 1/4); blocks: residual
    blocks at 1/4; noise: white-noise channels at full and at 1/4 resolution; waves: learned plane waves;
    sigma: layout blur in pixels; bands: cel bands of the layout's luminance; palette: colours of random layouts."""

    width: int = 16
    blocks: int = 3
    noise: int = 2
    waves: int = 2
    sigma: float = 4.0
    bands: int = 4
    palette: int = 8
    spot: int = 192


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="circular")


class _Block(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a, self.b = _conv(ch, ch), _conv(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5 * self.b(F.leaky_relu(self.a(x), 0.2))


class ComicGenerator(nn.Module):
    """(B, N_LAYOUT, H, W) layout + noise + wave phases -> (B, 3, H, W) comic image in [0, 1]."""

    def __init__(self, cfg: ComicConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        # plane waves: cycles per pixel, periods 4-16 px at start, spread over angles
        ang = torch.linspace(0.0, math.pi, cfg.waves + 1)[:-1] + math.pi / 4
        per = torch.linspace(5.0, 9.0, cfg.waves)
        self.wave = nn.Parameter(torch.stack([torch.cos(ang), torch.sin(ang)], 1) / per[:, None])
        self.stem = _conv(N_LAYOUT + cfg.noise + 2 * cfg.waves, w)
        self.down1 = _conv(w, 2 * w, 3, 2)
        self.down2 = _conv(2 * w, 3 * w, 3, 2)
        self.join = _conv(3 * w + cfg.noise, 3 * w)
        self.body = nn.Sequential(*[_Block(3 * w) for _ in range(cfg.blocks)])
        self.up2 = _conv(3 * w + 2 * w, 2 * w)
        self.up1 = _conv(2 * w + w, w)
        self.out = _conv(w, 3)
        nn.init.zeros_(self.out.weight)  # starts as the layout's colour: tone is right before drawing is learned
        nn.init.zeros_(self.out.bias)

    def waves_at(self, h: int, w: int, phase: torch.Tensor, tile: bool) -> torch.Tensor:
        """(B, 2 waves, h, w) sin and cos of the plane waves at each pixel, shifted by ``phase`` (B, waves)
        radians; on a ``tile`` the wave vectors are rounded to whole cycles across it."""
        k = self.wave
        if tile:
            k = torch.stack([torch.round(k[:, 0] * w) / w, torch.round(k[:, 1] * h) / h], 1)
        y = torch.arange(h, dtype=k.dtype)[:, None]
        x = torch.arange(w, dtype=k.dtype)[None, :]
        arg = 2 * math.pi * (k[:, 0, None, None] * x + k[:, 1, None, None] * y)  # (waves, h, w)
        arg = arg[None] + phase[:, :, None, None]
        return torch.cat([torch.sin(arg), torch.cos(arg)], 1)

    def forward(self, layout: torch.Tensor, noise_full: torch.Tensor, noise_low: torch.Tensor,
                phase: torch.Tensor, tile: bool = False) -> torch.Tensor:
        """layout (B, 4, H, W); noise_full (B, noise, H, W); noise_low (B, noise, H/4, W/4); phase (B, waves)."""
        h, w = layout.shape[-2:]
        x0 = F.leaky_relu(self.stem(torch.cat([layout, noise_full, self.waves_at(h, w, phase, tile)], 1)), 0.2)
        x1 = F.leaky_relu(self.down1(x0), 0.2)
        x2 = F.leaky_relu(self.down2(x1), 0.2)
        x2 = self.body(F.leaky_relu(self.join(torch.cat([x2, noise_low], 1)), 0.2))
        u = F.leaky_relu(self.up2(torch.cat([F.interpolate(x2, scale_factor=2.0, mode="nearest"), x1], 1)), 0.2)
        u = F.leaky_relu(self.up1(torch.cat([F.interpolate(u, scale_factor=2.0, mode="nearest"), x0], 1)), 0.2)
        return (layout[:, :3] + self.out(u)).clamp(0.0, 1.0)


class PatchDiscriminator(nn.Module):
    """(B, 3 [+ N_LAYOUT], H, W) image [and layout] -> (B, 1, ~H/4, ~W/4) realness per 34-pixel patch."""

    def __init__(self, width: int = 32, conditional: bool = True) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        cin = 3 + (N_LAYOUT if conditional else 0)
        self.layers = nn.ModuleList([
            sn(nn.Conv2d(cin, width, 4, 2, 1)), sn(nn.Conv2d(width, 2 * width, 4, 2, 1)),
            sn(nn.Conv2d(2 * width, 4 * width, 4, 1, 1)), sn(nn.Conv2d(4 * width, 1, 4, 1, 1))])

    def forward(self, image: torch.Tensor, layout: torch.Tensor | None = None) -> torch.Tensor:
        x = image * 2 - 1 if layout is None else torch.cat([image * 2 - 1, layout * 2 - 1], 1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x, 0.2)
        return x
