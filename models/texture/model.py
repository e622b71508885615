"""TextureDecoder: a conditional per-texel network from a request's attributes, a seed's latent and the seed's
white noise to the avatar's three skin maps in the template's UV layout.

Inputs at every texel of a 512 x 512 grid: the template's fixed maps there (region weights, wrinkle guides, UV,
island mask, area-averaged from 1024; the same for every avatar), the seed's white noise at 512 and its noise at
256, 128 and 32 texels brought to 512 by bilinear upsampling (``data.noise_for_seed``, ``data.up``), and the
condition (``data.condition``: tone as ITA, melanin and sRGB, age, sex, hair, freckles) with the seed's latent
(``latent_dim`` normal values).

Layers (one small MLP shared by all texels, as matrix products over the texels, sized for 2 CPU cores):
- in: template, noise and condition -> ``hidden`` (the condition enters as a per-avatar bias, scales the
  template's and the noise's terms per avatar, and adds a per-avatar part to each template map's weights, so that
  an attribute can act on one region alone: the hair colour on the eyebrows, the tone on the palms), ReLU;
- mid (``depth`` times): ``hidden`` -> ``hidden``, scaled and shifted per avatar by a small network of the
  condition (feature-wise linear modulation, FiLM), ReLU;
- out: per texel, a value and a gain for the seed's 1024-texel noise of the albedo (sRGB, 3 each), a height and
  a roughness with its gain, plus a per-avatar bias from the condition and, on the albedo value, the requested
  tone's sRGB itself (a skip connection: the layers learn departures from the tone, not the tone):
  brought to 1024 by bilinear upsampling, value + gain x noise1024;
- spots (``spots`` units): sharp thresholds of the seed's noise at 1024. Unit k takes the first channel of the
  noise at one scale (512, 256, 128 texels) brought to 1024 by the same bilinear upsampling, and two more of the
  per-texel outputs above, a threshold and an sRGB colour change: albedo += colour x sigmoid(sharpness x (noise -
  threshold)), with a learned sharpness per unit. Small dark spots (freckles, moles, age spots) are thresholds of
  smooth noise; a per-texel layer at 512 followed by bilinear upsampling can only draw them blurred and faint;
- grain (``grain`` units): the same form on the second channel of the 512 noise, starting near linear
  (sharpness 2, threshold 0): texture that a soft threshold of 512 noise makes at 1024 (brow hairs), which the
  512 grid's bilinear upsampling draws too smooth;
- region colour: a per-avatar sRGB offset of the albedo per template map, from the condition's
  modulation network, so that a small region's colour (the mouth, the brows) can follow the attributes by a
  function of its own rather than through the shared per-texel layers;
- hair mix: two per-texel outputs, a mix value and a gain for the seed's 1024-texel noise, brought to 1024 and
  applied after the units: albedo += (value + gain x noise1024) x (hair - albedo), drawing the albedo toward the
  requested hair colour's sRGB, so that the brows take the hair's hue by a weight the layers learn per region
  instead of by a function of the condition they must learn per hue, and the beard's stubble is texel-scale noise
  in the hair's colour (``hair_mix_noise`` off: one mix at 512 before the upsampling, which darkens a beard evenly);
- normal: a fixed central-difference layer turns the 1024 height into tangent-space normal x, y (OpenGL, +Y
  along +v).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.common.colour import linear_to_srgb
from models.texture.data import HAIR_RGB, N_CONDITION, TONE, template_tensors, up
from models.texture.template import REGIONS, SIZE, WRINKLES

NAME = "texture"
GRID = SIZE // 2
N_TEMPLATE = len(REGIONS) + len(WRINKLES) + 3  # regions, wrinkle guides, u, v, inside
N_NOISE = 9  # n512 (3), n256 (2), n128 (2), n32 (2) at 512
N_BASE = 9  # albedo value (3) and gain (3), height, roughness value and gain
SPOT_NOISE = (("n512", 0), ("n256", 0), ("n128", 0))  # the noise channel of each spot unit
GRAIN_NOISE = (("n512", 1),)  # the noise channel of each grain unit


# options that came after weights were shipped without them, and their value in those weights
ADDED_OFF = {"hair_mix": False, "hair_mix_noise": False}


@dataclasses.dataclass
class TextureConfig:
    """Architecture. latent_dim: the seed's latent; hidden: features per texel; depth: modulated hidden layers;
    film: width of the condition's modulation network (input scale, mid scale and shift); spots: spot units
    (``SPOT_NOISE``'s first ones); grain: grain units (``GRAIN_NOISE``'s first ones); region_colour: a per-avatar
    sRGB offset of the albedo per template map, from the condition's modulation network; region_colour_latent:
    whether the seed's latent reaches those offsets (without it they are a function of the attributes alone);
    hair_mix: a per-texel output that mixes the albedo value toward the hair colour's sRGB; hair_mix_noise: the
    mix at 1024 instead, a value and a gain for the seed's 1024-texel noise (stubble is texel-scale)."""

    latent_dim: int = 8
    hidden: int = 32
    depth: int = 1
    film: int = 64
    spots: int = 3
    grain: int = 1
    region_colour: bool = True
    region_colour_latent: bool = True
    hair_mix: bool = True
    hair_mix_noise: bool = True

    @property
    def units(self) -> int:
        """Spot and grain units: each draws colour x sigmoid(sharpness x (noise - threshold)) at 1024."""
        return self.spots + self.grain

    @property
    def n_out(self) -> int:
        """Per-texel outputs at 512: the base 9, a threshold and a colour (3) per spot or grain unit, and the hair
        mix last."""
        return N_BASE + 4 * self.units + int(self.hair_mix) + int(self.hair_mix and self.hair_mix_noise)

    def unit_noise(self) -> tuple[tuple[str, int], ...]:
        """The noise channel of each unit, spot units first."""
        return SPOT_NOISE[:self.spots] + GRAIN_NOISE[:self.grain]


def template_input(size: int = GRID) -> torch.Tensor:
    """(1, N_TEMPLATE, size, size) the template's fixed maps at ``size`` (area-averaged down from 1024)."""
    t = template_tensors(SIZE)
    full = torch.cat([t["regions"], t["wrinkles"], t["uv"], t["inside"]], dim=1)
    return full if size == SIZE else F.adaptive_avg_pool2d(full, size)


def noise_input(noise: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, N_NOISE, 512, 512): the seed's noise at 512, 256, 128 and 32 texels brought to 512 (bilinear)."""
    return torch.cat([noise["n512"], up(noise["n256"], GRID), up(noise["n128"], GRID), up(noise["n32"], GRID)], 1)


def spot_input(noise: dict[str, torch.Tensor], cfg: TextureConfig) -> torch.Tensor:
    """(B, units, 1024, 1024): the spot and grain units' noise channels at 1024 (the bilinear ``up``)."""
    if not cfg.units:
        return torch.empty(noise["n1024"].shape[0], 0, SIZE, SIZE)
    return torch.cat([up(noise[k][:, c: c + 1], SIZE) for k, c in cfg.unit_noise()], dim=1)


def height_to_normal(height: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 1, H, W) height in texel units -> (B, 2, H, W) tangent-space normal x, y (central differences, +v up
    the image, edges replicated); written into ``out`` (B, 2, H, W) when given (no gradients)."""
    hp = F.pad(height, (1, 1, 1, 1), mode="replicate")
    dx = (hp[..., 1:-1, 2:] - hp[..., 1:-1, :-2]) * 0.5
    dy = (hp[..., :-2, 1:-1] - hp[..., 2:, 1:-1]) * 0.5
    inv = torch.rsqrt(1.0 + dx * dx + dy * dy)
    if out is None:
        return torch.cat([-dx * inv, -dy * inv], dim=1)
    torch.mul(dx, inv, out=out[:, 0:1]).neg_()
    torch.mul(dy, inv, out=out[:, 1:2]).neg_()
    return out


class TextureDecoder(nn.Module):
    """(condition (B, N_CONDITION), latent (B, L), noise dict) -> (B, 6, 1024, 1024): albedo sRGB (3), normal
    x, y, roughness."""

    def __init__(self, cfg: TextureConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or TextureConfig()
        n_cond = N_CONDITION + cfg.latent_dim
        h, n_out = cfg.hidden, cfg.n_out
        self.inp = nn.Linear(N_TEMPLATE + N_NOISE + n_cond, h)
        n_rc = 3 * N_TEMPLATE if cfg.region_colour else 0
        self.film = nn.Sequential(nn.Linear(n_cond, cfg.film), nn.ReLU(inplace=True),
                                  nn.Linear(cfg.film, n_rc + n_out + h + 2 * h * cfg.depth))
        self.region = nn.Linear(n_cond, h * N_TEMPLATE)  # per-avatar change of the template maps' weights
        self.mid = nn.ModuleList(nn.Linear(h, h) for _ in range(cfg.depth))
        self.out = nn.Linear(h, n_out)
        # spot units start with few texels above their threshold and no colour change, sharpness 10; grain units
        # at the noise's median, sharpness 2 (near linear: a texture, not spots)
        self.sharpness = nn.Parameter(torch.tensor([math.log(10.0)] * cfg.spots + [math.log(2.0)] * cfg.grain))
        with torch.no_grad():
            self.out.weight[N_BASE:] = 0.0
            self.out.bias[N_BASE:] = 0.0
            self.out.bias[N_BASE: N_BASE + 4 * cfg.spots: 4] = 2.0  # the spot thresholds
        nn.init.zeros_(self.film[-1].weight)
        nn.init.zeros_(self.film[-1].bias)
        nn.init.zeros_(self.region.weight)
        nn.init.zeros_(self.region.bias)
        self._template: torch.Tensor | None = None

    def template(self) -> torch.Tensor:
        if self._template is None:
            self._template = template_input(GRID).flatten(2)  # (1, N_TEMPLATE, 512 * 512)
        return self._template

    def forward(self, cond: torch.Tensor, latent: torch.Tensor, noise: dict[str, torch.Tensor],
                crop: tuple[int, int, int] | None = None, grid_noise: torch.Tensor | None = None,
                spot_noise: torch.Tensor | None = None, spot_outputs: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``crop`` (y0, x0, n) at 512 texels returns only that window (2n x 2n at 1024; training on crops, the
        normals' differences at the window's edge use replicated heights). ``grid_noise``: ``noise_input(noise)``
        and ``spot_noise``: ``spot_input(noise, cfg)`` when the caller has them. ``spot_outputs``: also
        return the units' outputs (B, 4 x units, n, n) at 512 texels, per unit a threshold and an sRGB colour
        change (3), spot units first (training supervises the spot units').

        The whole layout without gradients runs the per-texel layers over bands of 32 rows of the 512 grid, so
        that each layer's activations (hidden x 16,384 texels, 2 MB) stay in the CPU's cache instead of streaming
        33 MB per layer through memory (measured 2x faster for these layers on 2 cores)."""
        p = self._avatar_layers(cond, latent)
        g = noise_input(noise) if grid_noise is None else grid_noise
        n1024 = noise["n1024"]
        spot = spot_input(noise, self.cfg) if spot_noise is None else spot_noise
        n_out = self.cfg.n_out
        if crop is not None:
            y0, x0, side = crop
            t = self.template().view(1, N_TEMPLATE, GRID, GRID)[..., y0: y0 + side, x0: x0 + side].flatten(2)
            y = self._texels(p, t, g[..., y0: y0 + side, x0: x0 + side].flatten(2))
            n1024 = n1024[..., 2 * y0: 2 * (y0 + side), 2 * x0: 2 * (x0 + side)]
            spot = spot[..., 2 * y0: 2 * (y0 + side), 2 * x0: 2 * (x0 + side)]
        else:
            side, g, t = GRID, g.flatten(2), self.template()
            if torch.is_grad_enabled():
                y = self._texels(p, t, g)
            else:
                y = torch.empty(cond.shape[0], n_out, GRID * GRID)
                for a in range(0, GRID * GRID, 32 * GRID):
                    band = slice(a, a + 32 * GRID)
                    self._texels(p, t[..., band], g[..., band], out=y[..., band])
        # upsampled a few channels at a time: each group's 1024 maps stay in the CPU's cache while they are made
        # (all 21 at once: 48 ms; the base 9 and each unit's 4 apart: about a third of that)
        y = y.view(cond.shape[0], n_out, side, side)
        hair = linear_to_srgb(cond[:, HAIR_RGB])[:, :, None, None] if self.cfg.hair_mix else None
        if hair is not None and not self.cfg.hair_mix_noise:
            if torch.is_grad_enabled():
                y = torch.cat([torch.lerp(y[:, :3], hair.expand(-1, -1, side, side), y[:, -1:]), y[:, 3:]], dim=1)
            else:  # in place, as the units: a copy of all the 512 outputs costs more than the mix
                y[:, :3].lerp_(hair.expand(-1, -1, side, side), y[:, -1:])
        base = up(y[:, :N_BASE], 2 * side)
        # without gradients each map is made in its place in the output (no copy of the 6 maps at the end)
        maps = None if torch.is_grad_enabled() else torch.empty(cond.shape[0], 6, 2 * side, 2 * side)
        albedo = torch.addcmul(base[:, 0:3], base[:, 3:6], n1024, out=None if maps is None else maps[:, 0:3])
        sharp = self.sharpness.exp()
        for k in range(self.cfg.units):
            u = up(y[:, N_BASE + 4 * k: N_BASE + 4 * k + 4], 2 * side)  # threshold, colour (3)
            if torch.is_grad_enabled():
                albedo = albedo + u[:, 1:4] * torch.sigmoid((spot[:, k: k + 1] - u[:, 0:1]) * sharp[k])
            else:  # the same operations in place: 1024^2 temporaries cost more than the arithmetic
                albedo.addcmul_(u[:, 1:4], (spot[:, k: k + 1] - u[:, 0:1]).mul_(sharp[k]).sigmoid_())
        if hair is not None and self.cfg.hair_mix_noise:  # value + gain x noise1024, after the units
            m = up(y[:, -2:], 2 * side)
            mix = torch.addcmul(m[:, 0:1], m[:, 1:2], n1024)
            if torch.is_grad_enabled():
                albedo = torch.lerp(albedo, hair.expand_as(albedo), mix)
            else:
                albedo.lerp_(hair.expand_as(albedo), mix)
        if maps is None:
            maps = torch.cat([albedo, height_to_normal(base[:, 6:7]),
                              torch.addcmul(base[:, 7:8], base[:, 8:9], n1024)], dim=1)
        else:
            height_to_normal(base[:, 6:7], out=maps[:, 3:5])
            torch.addcmul(base[:, 7:8], base[:, 8:9], n1024, out=maps[:, 5:6])
        return (maps, y[:, N_BASE: N_BASE + 4 * self.cfg.units]) if spot_outputs else maps

    def _avatar_layers(self, cond: torch.Tensor, latent: torch.Tensor) -> dict:
        """Each avatar's layer parameters from its condition and latent: the input layer's template weights
        ``w_t`` (B, hidden, N_TEMPLATE), bias (B, hidden, 1) and noise weights (B, hidden, N_NOISE), both weights
        scaled per avatar; the mid layers' modulated (bias, weight); the output layer's per-avatar bias and its
        weight expanded over the batch; with ``region_colour`` each template map's sRGB albedo offset
        (B, 3, N_TEMPLATE), else None."""
        b, h = cond.shape[0], self.cfg.hidden
        cz = torch.cat([cond, latent], dim=1)
        w = self.inp.weight
        w_n, w_c = w[:, N_TEMPLATE: N_TEMPLATE + N_NOISE], w[:, N_TEMPLATE + N_NOISE:]
        film = self.film(cz)
        n_out = self.cfg.n_out
        region_colour = None
        if self.cfg.region_colour:
            rc = film if self.cfg.region_colour_latent else self.film(torch.cat([cond, torch.zeros_like(latent)], 1))
            region_colour = rc[:, :3 * N_TEMPLATE].reshape(b, 3, N_TEMPLATE)
            film = film[:, 3 * N_TEMPLATE:]
        out_bias = self.out.bias[None, :, None] + film[:, -n_out:, None]  # the condition straight to the maps
        # the requested tone's sRGB (condition inputs TONE) is the albedo value's starting point: the layers learn
        # the regions' and the detail's departures from it, and one sRGB level is about 1 degree of ITA
        out_bias = torch.cat([out_bias[:, :3] + cond[:, TONE, None], out_bias[:, 3:]], dim=1)
        film = film[:, :-n_out]
        scale = 1.0 + film[:, -h:, None]  # the input layer's per-avatar scale
        film = film[:, :-h].reshape(b, self.cfg.depth, 2, -1)
        w_t = (w[:, :N_TEMPLATE] + self.region(cz).view(b, h, N_TEMPLATE)) * scale
        return {"w_t": w_t, "bias": (self.inp.bias + cz @ w_c.T)[:, :, None], "w_noise": w_n * scale,
                "mids": [((layer.bias * (1.0 + film[:, k, 0]) + film[:, k, 1])[:, :, None],
                          layer.weight * (1.0 + film[:, k, 0])[:, :, None]) for k, layer in enumerate(self.mid)],
                "out": (out_bias, self.out.weight.expand(b, -1, -1)), "region_colour": region_colour}

    @staticmethod
    def _texels(p: dict, t: torch.Tensor, g: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The per-texel layers: template maps ``t`` (1, N_TEMPLATE, T) and noise ``g`` (B, N_NOISE, T) ->
        (B, n_out, T), written into ``out`` when given (no gradients then)."""
        x = torch.baddbmm(torch.baddbmm(p["bias"], p["w_t"], t.expand(g.shape[0], -1, -1)), p["w_noise"], g).relu_()
        for mid_b, mid_w in p["mids"]:
            x = torch.baddbmm(mid_b, mid_w, x).relu_()
        y = torch.baddbmm(*p["out"], x) if out is None else torch.baddbmm(*p["out"], x, out=out)
        if p["region_colour"] is not None:  # each template map's own sRGB offset for this avatar
            rc = torch.bmm(p["region_colour"], t.expand(g.shape[0], -1, -1))
            if out is None:
                y = torch.cat([y[:, :3] + rc, y[:, 3:]], dim=1)
            else:
                y[:, :3] += rc
        return y

    def save(self, folder: Path) -> None:
        """``texture.safetensors`` (float16: the maps are 8-bit) and ``config.json``."""
        from models.common.checkpoint import save_checkpoint

        save_checkpoint(folder, NAME, self, self.cfg, half=True)

    @classmethod
    def load(cls, folder: Path | str | None = None) -> TextureDecoder:
        from models.common.checkpoint import load_checkpoint
        from pipeline.core.resources import weights_dir

        cfg, state = load_checkpoint(Path(folder) if folder else weights_dir(NAME), NAME, TextureConfig,
                                     absent=ADDED_OFF)
        model = cls(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        model.eval()
        return model


def latent_for_seed(seed: int, dim: int) -> np.ndarray:
    """(dim,) float32 standard-normal latent drawn from the seed."""
    return np.random.default_rng([int(seed), 0x7E47]).standard_normal(dim).astype(np.float32)
