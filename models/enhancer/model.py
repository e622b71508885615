"""RenderEnhancer: a half-resolution render plus full-resolution auxiliary passes -> the full-resolution image.

Radiance demodulation (as in neural supersampling, Xiao et al. 2020): the low-resolution colour divided by its
albedo is the lighting, which is smooth; it is upsampled bicubically and multiplied by the full-resolution albedo,
so texture detail comes from the albedo pass at full resolution. The network predicts a residual on top of that
estimate in display space (sRGB-encoded). It runs entirely at half resolution: the full-resolution passes and
estimates are folded 2 x 2 into channels (pixel-unshuffle), a trunk of residual blocks works on them and on the
low-resolution colour and lighting, and a head predicts, per half-resolution pixel, the residuals of its four
full-resolution pixels, unfolded by pixel-shuffle (so no wide tensor ever exists at full resolution). ``blend``:
the head also mixes the demodulated estimate with plain bicubic per pixel. ``aux=False`` is the same network on
the colour alone (plain bicubic as its estimate): the ablation that shows what the passes add.

Inputs (batch B, output H x W, low h = H/2, w = W/2), linear scene-referred colour composited over the
background: ``low`` (B, 3, h, w) colour; ``low_alpha`` (B, 1, h, w); ``low_albedo`` (B, 3, h, w);
``albedo`` (B, 3, H, W); ``normal`` (B, 3, H, W) camera space; ``depth`` (B, 1, H, W) relative depth in
[-1, 1]; ``alpha`` (B, 1, H, W). Output: (B, 3, H, W) display sRGB in [0, 1].
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common.colour import linear_to_srgb

EPS = 1e-2  # keeps the lighting finite where the albedo is black
LIGHT_MAX = 64.0  # lighting / albedo: bright light on dark skin reaches tens
EXTRA_KEYS = ("profile", "data_seed", "iterations")  # recorded beside the config by training
TILE = 384  # output pixels per tile: the working set stays in cache (1024^2: untiled 340-443 ms, tiled 247-281)
HALO = 12  # low-resolution pixels around a tile: more than the trunk's reach (7) plus bicubic's (2)


@dataclasses.dataclass
class EnhancerConfig:
    """``width`` channels and ``blocks`` residual blocks in the half-resolution trunk; ``head`` hidden channels
    of the full-resolution per-pixel head; ``aux``: use the auxiliary passes (False: colour only); ``blend``
    (with ``aux``): the head also sees plain bicubic and blends it with the demodulated estimate per pixel
    (demodulation is worse where subsurface and highlights dominate, as on faces)."""

    width: int = 16
    blocks: int = 3
    head: int = 12
    aux: bool = True
    blend: bool = False


def encode(x: torch.Tensor) -> torch.Tensor:
    """Linear -> sRGB-like display encoding (gamma 1/2.2), for values >= 0 (lighting may exceed 1)."""
    return x.clamp(min=0.0).add(1e-6).pow(1.0 / 2.2)


def decode(y: torch.Tensor) -> torch.Tensor:
    return y.clamp(min=0.0).pow(2.2)


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def effective_albedo(albedo: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Albedo with the background counted as white, so that off the body the lighting is the colour itself."""
    return albedo.clamp(min=0.0) + (1.0 - alpha.clamp(0.0, 1.0))


def demodulated_bicubic(low: torch.Tensor, low_albedo: torch.Tensor, low_alpha: torch.Tensor,
                        albedo: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(full-resolution linear estimate, low-resolution lighting): bicubic on colour / low-res albedo, times the
    full-res albedo."""
    light = (low / (effective_albedo(low_albedo, low_alpha) + EPS)).clamp(0.0, LIGHT_MAX)
    up = upsample(light, albedo.shape[-2:]).clamp(min=0.0)
    return up * (effective_albedo(albedo, alpha) + EPS), light


def weights_folder(weights_dir: Path | None = None) -> Path:
    """``weights_dir``, or the shipped ``models/weights/enhancer``."""
    return Path(weights_dir) if weights_dir else Path(__file__).resolve().parents[1] / "weights" / "enhancer"


def training_record(weights_dir: Path | None = None) -> dict:
    """What training recorded beside the weights' config: render profile, data seed, iterations."""
    import json

    raw = json.loads((weights_folder(weights_dir) / "config.json").read_text())
    return {k: raw[k] for k in EXTRA_KEYS if k in raw}


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x), inplace=True))


def plain_bicubic(low: torch.Tensor) -> torch.Tensor:
    """Bicubic x2 of the half-resolution colour (B, 3, h, w) -> (B, 3, 2h, 2w), linear, negatives clipped."""
    return upsample(low, (2 * low.shape[-2], 2 * low.shape[-1])).clamp(min=0.0)


class RenderEnhancer(nn.Module):
    """See the module docstring. ``forward`` returns display sRGB (B, 3, H, W)."""

    def __init__(self, cfg: EnhancerConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or EnhancerConfig()
        self.blend = cfg.aux and cfg.blend
        guide = 8 if cfg.aux else 0  # albedo 3, normal 3, depth 1, alpha 1
        estimates = 6 if self.blend else 3  # display-space estimates at full resolution
        low_in = 3 + (3 if cfg.aux else 0)  # colour, lighting
        z = low_in + 4 * (guide + estimates)  # half-resolution input channels
        out = 4 if self.blend else 3  # residual (+ the blend's logit) per full-resolution pixel
        self.inp = nn.Conv2d(z, cfg.width, 1)
        self.body = nn.Sequential(*[ResBlock(cfg.width) for _ in range(cfg.blocks)])
        self.up = nn.Conv2d(cfg.width, 4 * cfg.head, 3, padding=1)
        self.skip = nn.Conv2d(z, 4 * cfg.head, 1)  # the passes' own detail straight into the head
        self.head = nn.Conv2d(4 * cfg.head, 4 * out, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def estimate(self, low: torch.Tensor, low_albedo: torch.Tensor, low_alpha: torch.Tensor,
                 albedo: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the classical estimate the residual is added to, linear (B, 3, H, W); low-res lighting or colour)."""
        if self.cfg.aux:
            return demodulated_bicubic(low, low_albedo, low_alpha, albedo, alpha)
        return plain_bicubic(low), low

    def forward(self, low: torch.Tensor, low_albedo: torch.Tensor, low_alpha: torch.Tensor, albedo: torch.Tensor,
                normal: torch.Tensor, depth: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        base, light = self.estimate(low, low_albedo, low_alpha, albedo, alpha)
        base_d = linear_to_srgb(base)
        full = [base_d]
        feats = [encode(low)]
        if self.cfg.aux:
            feats.append(encode(light))
            full += [encode(effective_albedo(albedo, alpha)), normal, depth, alpha]
        if self.blend:
            plain_d = linear_to_srgb(plain_bicubic(low))
            full.append(plain_d)
        z = torch.cat([*feats, F.pixel_unshuffle(torch.cat(full, 1), 2)], 1)
        if self.up.weight.is_contiguous(memory_format=torch.channels_last):  # as ``load`` leaves it for CPU
            z = z.contiguous(memory_format=torch.channels_last)
        u = self.up(F.relu(self.body(self.inp(z))))
        u += self.skip(z)
        res = F.pixel_shuffle(self.head(F.relu(u, inplace=True)), 2)
        if self.blend:  # a fresh head: the mean of the two estimates
            base_d = plain_d + torch.sigmoid(res[:, 3:4]) * (base_d - plain_d)
            res = res[:, :3]
        return (base_d + res).clamp(0.0, 1.0)

    @torch.inference_mode()
    def infer(self, low: torch.Tensor, low_albedo: torch.Tensor, low_alpha: torch.Tensor, albedo: torch.Tensor,
              normal: torch.Tensor, depth: torch.Tensor, alpha: torch.Tensor, tile: int = TILE) -> torch.Tensor:
        """``forward`` for inference, in ``tile`` x ``tile`` output tiles: each tile sees ``HALO`` low-resolution
        pixels of its neighbours, more than the network and bicubic reach, so the result is the whole image's (up
        to float rounding), faster on CPU (the working set stays in cache). Inputs and output as ``forward``."""
        h, w = low.shape[-2:]
        t = max(1, tile // 2)
        out = torch.empty(low.shape[0], 3, 2 * h, 2 * w)
        for y0 in range(0, h, t):
            for x0 in range(0, w, t):
                y1, x1 = min(h, y0 + t), min(w, x0 + t)
                a0, b0, a1, b1 = max(0, y0 - HALO), max(0, x0 - HALO), min(h, y1 + HALO), min(w, x1 + HALO)
                lows = [v[..., a0:a1, b0:b1] for v in (low, low_albedo, low_alpha)]
                fulls = [v[..., 2 * a0:2 * a1, 2 * b0:2 * b1] for v in (albedo, normal, depth, alpha)]
                y = self(*(v.contiguous() for v in (*lows, *fulls)))
                oy, ox = 2 * (y0 - a0), 2 * (x0 - b0)
                out[..., 2 * y0:2 * y1, 2 * x0:2 * x1] = y[..., oy:oy + 2 * (y1 - y0), ox:ox + 2 * (x1 - x0)]
        return out

    def save(self, folder: Path, extra: dict | None = None) -> Path:
        from models.common.checkpoint import save_checkpoint

        return save_checkpoint(folder, "enhancer" if self.cfg.aux else "enhancer_colour_only", self, self.cfg,
                               extra=extra, half=True)

    @classmethod
    def load(cls, weights_dir: Path | None = None, aux: bool = True) -> RenderEnhancer:
        """The shipped enhancer (``aux=False``: its colour-only ablation) from ``models/weights/enhancer``."""
        from models.common.checkpoint import load_checkpoint

        folder = weights_folder(weights_dir)
        stem = "enhancer" if aux else "enhancer_colour_only"
        sub = folder if aux else folder / "colour_only"
        cfg, state = load_checkpoint(sub, stem, EnhancerConfig, check_body=False, extra_keys=EXTRA_KEYS)
        model = cls(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        return model.to(memory_format=torch.channels_last).eval()  # oneDNN's faster layout on CPU
