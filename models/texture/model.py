"""TextureDecoder: a conditional convolutional generator from a request's attributes, a seed's latent and the
seed's white noise to the avatar's three skin maps in the template's UV layout.

Inputs: the condition vector (``data.condition``: tone as ITA and melanin, age, sex, hair, freckles), a latent
from the seed (``latent_dim`` normal values), the seed's white noise at 1024, 512, 256, 128 and 32 texels
(``data.noise_for_seed``), and the template's fixed maps (region weights, wrinkle guides, UV coordinates, island
mask), the same for every avatar.

Two branches, sized for 2 CPU cores:
- coarse, at 128 x 128: the template maps, the condition and latent broadcast, the 32-texel noise -> features
  for the skin's low-frequency colour and its regional changes;
- fine, at 512 x 512: those features upsampled, the template maps at 512 and the noise at 512, 256 and 128
  -> per 2 x 2 texel block of the 1024 map: a base value and a gain for the 1024-texel noise for each of the six
  output channels (albedo sRGB, normal x and y, roughness), rearranged to 1024 (pixel shuffle).
Output = base + gain x noise1024: the network decides where grain goes (pores, stubble) and how strong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.texture.data import N_CONDITION, template_tensors, up
from models.texture.template import REGIONS, SIZE, WRINKLES

NAME = "texture"
N_TEMPLATE = len(REGIONS) + len(WRINKLES) + 3  # regions, wrinkle guides, u, v, inside


@dataclasses.dataclass
class TextureConfig:
    """Architecture. latent_dim: the seed's latent; coarse: channels at 128; fine: channels at 512."""

    latent_dim: int = 8
    coarse: int = 32
    fine_in: int = 24
    fine: int = 16


def template_input(size: int) -> torch.Tensor:
    """(1, N_TEMPLATE, size, size) the template's fixed maps at ``size`` (area-averaged down from 1024)."""
    t = template_tensors(SIZE)
    full = torch.cat([t["regions"], t["wrinkles"], t["uv"], t["inside"]], dim=1)
    if size == SIZE:
        return full
    return F.adaptive_avg_pool2d(full, size)


class TextureDecoder(nn.Module):
    """(condition (B, 10), latent (B, L), noise dict) -> (B, 6, 1024, 1024): albedo sRGB (3), normal x, y,
    roughness."""

    def __init__(self, cfg: TextureConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or TextureConfig()
        n_cond = N_CONDITION + cfg.latent_dim
        c = cfg.coarse
        self.coarse = nn.Sequential(
            nn.Conv2d(N_TEMPLATE + n_cond + 2, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 1),
        )
        self.fine_in = nn.Conv2d(c + N_TEMPLATE + 7 + n_cond, cfg.fine_in, 1)
        self.fine = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(cfg.fine_in, cfg.fine, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(cfg.fine, 12 * 4, 1),
        )
        self._templates: dict[int, torch.Tensor] = {}
        self._template_cache: tuple | None = None

    def _template(self, size: int) -> torch.Tensor:
        if size not in self._templates:
            self._templates[size] = template_input(size)
        return self._templates[size]

    def forward(self, cond: torch.Tensor, latent: torch.Tensor, noise: dict[str, torch.Tensor],
                crop: tuple[int, int, int] | None = None) -> torch.Tensor:
        """``crop`` (y0, x0, n) at 512 texels returns only that window (2n x 2n at 1024): training on crops."""
        b = cond.shape[0]
        cz = torch.cat([cond, latent], dim=1)
        t128 = self._template(128).expand(b, -1, -1, -1)
        x = torch.cat([t128, cz[:, :, None, None].expand(-1, -1, 128, 128), up(noise["n32"], 128)], dim=1)
        coarse = self.coarse(x)
        # the fine branch's first layer is 1 x 1 over [coarse features, template, noise, condition]: each part is
        # applied where it is cheapest (coarse features before upsampling, which commutes with a 1 x 1 layer; the
        # fixed template once per set of weights), the same function as concatenating at 512
        w = self.fine_in.weight[:, :, 0, 0]
        c = coarse.shape[1]
        w_feat, w_t = w[:, :c], w[:, c: c + N_TEMPLATE]
        w_n, w_c = w[:, c + N_TEMPLATE: c + N_TEMPLATE + 7], w[:, c + N_TEMPLATE + 7:]
        h = up(F.conv2d(coarse, w_feat[:, :, None, None]), 512)
        t = self._template_term(w_t)
        noise512 = torch.cat([noise["n512"], up(noise["n256"], 512), up(noise["n128"], 512)], dim=1)
        n1024 = noise["n1024"]
        if crop is not None:
            y0, x0, n = crop
            sl = (slice(None), slice(None), slice(y0, y0 + n), slice(x0, x0 + n))
            h, t, noise512 = h[sl], t[sl], noise512[sl]
            n1024 = n1024[:, :, 2 * y0: 2 * (y0 + n), 2 * x0: 2 * (x0 + n)]
        bias = self.fine_in.bias + cz @ w_c.T  # (B, fine_in): the condition as a per-avatar bias
        h = h + t + F.conv2d(noise512, w_n[:, :, None, None]) + bias[:, :, None, None]
        out = F.pixel_shuffle(self.fine(h), 2)  # (B, 12, 2 side, 2 side)
        return out[:, :6] + out[:, 6:] * n1024

    def _template_term(self, w_t: torch.Tensor) -> torch.Tensor:
        """(1, fine_in, 512, 512): the fine layer applied to the fixed template maps (cached when not training)."""
        if torch.is_grad_enabled() and w_t.requires_grad:
            return F.conv2d(self._template(512), w_t[:, :, None, None])
        key = (w_t.data_ptr(), w_t._version)
        if self._template_cache is None or self._template_cache[0] != key:
            self._template_cache = (key, F.conv2d(self._template(512), w_t[:, :, None, None]))
        return self._template_cache[1]

    def save(self, folder: Path) -> None:
        """``texture.safetensors`` (float16: the maps are 8-bit) and ``config.json``."""
        from models.common.checkpoint import save_checkpoint

        save_checkpoint(folder, NAME, self, self.cfg, half=True)

    @classmethod
    def load(cls, folder: Path | str | None = None) -> TextureDecoder:
        from models.common.checkpoint import load_checkpoint
        from pipeline.core.resources import weights_dir

        cfg, state = load_checkpoint(Path(folder) if folder else weights_dir(NAME), NAME, TextureConfig)
        model = cls(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        model.eval()
        return model


def latent_for_seed(seed: int, dim: int) -> np.ndarray:
    """(dim,) float32 standard-normal latent drawn from the seed."""
    return np.random.default_rng([int(seed), 0x7E47]).standard_normal(dim).astype(np.float32)
