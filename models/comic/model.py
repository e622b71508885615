"""ComicTextureGAN: a tileable generator conditioned on a layout, and a spectral-norm PatchGAN discriminator.

Generator (every convolution pads circularly, so an N x N input on the torus gives an N x N output that wraps;
N a multiple of 4). Inputs at full resolution: the layout (``data.layout``: blurred colour and cel band, 4
channels), ``noise`` channels of white noise and 2 ``waves`` as sin and cos of learned plane waves (as in PSGAN,
Bergmann, Jetchev and Vollgraf 2017: the periodic part that halftone dots and hatching need; their wave vectors
are learned in cycles per pixel and, on a tile, rounded to whole cycles per tile so the tile stays periodic).
Layers: full-resolution stem -> two stride-2 convolutions -> white noise at 1/4 joins -> ``blocks`` residual
blocks -> nearest upsampling with skips back to full resolution -> RGB, added to the layout's colour (a residual
on the blurred image). That colour is then drawn in the inks of a given ``palette`` (the exemplar's own colours,
or an avatar albedo's): each pixel is the softmax-weighted mean of the palette's colours by their squared distance
to it over a temperature (a learned factor times the squared median spacing of the palette's colours, so a
palette of close skin tones is drawn as crisply as one of far-apart inks), so flat cel colours and exact inks come
from the head itself and the output cannot drift off its palette; where a real image has anti-aliased edges the
temperature lets colours mix.

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
MIN_SPACING = 0.01  # sRGB units


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
    temperature: float = 0.2  # initial palette-head temperature, in squared median spacings of the palette


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="circular")


def _wrapped(parts: list[torch.Tensor], p: int) -> torch.Tensor:
    """(B, sum C, H + 2p, W + 2p): the (B, C_i, H, W) ``parts`` stacked along channels and padded circularly by
    ``p``, in one allocation: the same values as ``F.pad(torch.cat(parts, 1), (p,) * 4, mode="circular")``
    without the concatenation's extra copy (full-resolution copies are a sizeable share of a tile's time)."""
    b, (h, w) = parts[0].shape[0], parts[0].shape[-2:]
    out = parts[0].new_empty(b, sum(t.shape[1] for t in parts), h + 2 * p, w + 2 * p)
    c = 0
    for t in parts:
        out[:, c: c + t.shape[1], p: p + h, p: p + w] = t
        c += t.shape[1]
    out[..., :p, p: p + w] = out[..., h: h + p, p: p + w]  # top margin: the last rows
    out[..., p + h:, p: p + w] = out[..., p: 2 * p, p: p + w]  # bottom margin: the first rows
    out[..., :p] = out[..., w: w + p]  # left margin (corners included): the last columns
    out[..., p + w:] = out[..., p: 2 * p]
    return out


def _apply(conv: nn.Conv2d, *parts: torch.Tensor) -> torch.Tensor:
    """``conv`` (circular padding) of its inputs ``parts`` stacked along channels, the padding done by
    ``_wrapped``: the same call as ``conv(torch.cat(parts, 1))``, which other padding modes still make."""
    if conv.padding_mode != "circular":
        return conv(torch.cat(parts, 1))
    x = _wrapped(list(parts), conv.padding[0])
    return F.conv2d(x, conv.weight, conv.bias, conv.stride)


class _Block(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a, self.b = _conv(ch, ch), _conv(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5 * _apply(self.b, F.leaky_relu(_apply(self.a, x), 0.2))


class ComicGenerator(nn.Module):
    """(B, N_LAYOUT, H, W) layout + (B, K, 3) palette + noise + wave phases -> (B, 3, H, W) comic image in
    [0, 1], every pixel a mix of the palette's colours."""

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
        self.log_temperature = nn.Parameter(torch.tensor(math.log(cfg.temperature)))

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

    def forward(self, layout: torch.Tensor, palette: torch.Tensor, noise_full: torch.Tensor,
                noise_low: torch.Tensor, phase: torch.Tensor, tile: bool = False,
                temperature_scale: float = 1.0) -> torch.Tensor:
        """layout (B, 4, H, W); palette (B, K, 3) sRGB in [0, 1]; noise_full (B, noise, H, W); noise_low
        (B, noise, H/4, W/4); phase (B, waves); temperature_scale: times the palette head's learned temperature
        (below 1: crisper, fewer mixed colours)."""
        h, w = layout.shape[-2:]
        x0 = F.leaky_relu(_apply(self.stem, layout, noise_full, self.waves_at(h, w, phase, tile)), 0.2)
        x1 = F.leaky_relu(_apply(self.down1, x0), 0.2)
        x2 = F.leaky_relu(_apply(self.down2, x1), 0.2)
        x2 = self.body(F.leaky_relu(_apply(self.join, x2, noise_low), 0.2))
        u = F.leaky_relu(_apply(self.up2, F.interpolate(x2, scale_factor=2.0, mode="nearest"), x1), 0.2)
        u = F.leaky_relu(_apply(self.up1, F.interpolate(u, scale_factor=2.0, mode="nearest"), x0), 0.2)
        return self.ink(layout[:, :3] + _apply(self.out, u), palette, temperature_scale)

    def ink(self, colour: torch.Tensor, palette: torch.Tensor, temperature_scale: float = 1.0) -> torch.Tensor:
        """(B, 3, H, W) colours drawn in the (B, K, 3) palette: the softmax(-|colour - p_k|^2 / T) weighted mean
        of its colours. |colour|^2 is the same for every k, so the logits are (2 p_k . colour - |p_k|^2) / T."""
        b, _, h, w = colour.shape
        t = temperature_scale * self.log_temperature.exp() * palette_spacing(palette) ** 2  # (B,)
        logits = torch.baddbmm(-(palette ** 2).sum(-1, keepdim=True), palette, colour.flatten(2), alpha=2.0)
        weights = torch.softmax(logits / t[:, None, None], dim=1)  # (B, K, H W)
        return torch.bmm(palette.transpose(1, 2), weights).view(b, 3, h, w)


def palette_spacing(palette: torch.Tensor) -> torch.Tensor:
    """(B,) median distance from each of a (B, K, 3) palette's colours to its nearest other colour, at least
    ``MIN_SPACING`` (a palette of one repeated colour still has a temperature)."""
    d = torch.cdist(palette, palette) + torch.eye(palette.shape[1]) * 1e3
    return d.min(-1).values.median(-1).values.clamp_min(MIN_SPACING)


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
