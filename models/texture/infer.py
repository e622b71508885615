"""Skin maps for avatar requests through the TextureDecoder: the texture stage's model call.

``skin_request`` resolves a spec's tone, hair colour and freckles (defaults by tone and age), ``skin_maps`` runs
the network at 1024 x 1024 and converts its output to 8-bit maps at the asked size (area-averaged down, bicubic
up to 2048 with normals renormalised). What ships is the network's output: no pass after it changes colours or
adds detail.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from models.texture.data import SkinRequest, condition, default_freckles, hair_tuple, noise_for_seed, stack_noise
from models.texture.model import TextureDecoder, latent_for_seed
from pipeline.core.skin_tone import requested_ita
from pipeline.core.spec import AvatarRequest


@dataclasses.dataclass(frozen=True)
class SkinMaps:
    """albedo (S, S, 3) uint8 sRGB; normal (S, S, 3) uint8 tangent space (OpenGL); roughness (S, S) uint8."""

    albedo: np.ndarray
    normal: np.ndarray
    roughness: np.ndarray


def skin_request(req: AvatarRequest) -> SkinRequest:
    """The texture's inputs for a spec entry: ITA (from ``skin_ita``, ``fitzpatrick`` or the default), age,
    sex, hair colour and freckles (defaults by tone and age), the seed."""
    ita = requested_ita(req.skin_ita, req.fitzpatrick)
    age = float(req.age_years)
    freckles = default_freckles(ita, age) if req.freckles is None else float(req.freckles)
    return SkinRequest(ita=ita, age=age, sex=float(req.sex), hair=hair_tuple(req.hair_color, ita, age),
                       freckles=freckles, seed=int(req.seed))


# Some of torch's CPU kernels (bilinear upsampling among them) round differently with another thread count, so
# the network always runs on this many threads: the same maps whatever a batch run's workers and thread policy.
THREADS = 2


@contextlib.contextmanager
def fixed_threads(n: int = THREADS) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def network_output(model: TextureDecoder, reqs: list[SkinRequest]) -> torch.Tensor:
    """(B, 6, 1024, 1024) float: albedo sRGB 0-1, normal x, y, roughness (on ``THREADS`` threads)."""
    cond = torch.from_numpy(np.stack([condition(r) for r in reqs]))
    lat = torch.from_numpy(np.stack([latent_for_seed(r.seed, model.cfg.latent_dim) for r in reqs]))
    with fixed_threads():
        return model(cond, lat, stack_noise([noise_for_seed(r.seed) for r in reqs]))


@torch.inference_mode()
def to_maps(out: torch.Tensor, size: int = 1024) -> list[SkinMaps]:
    """Network output -> 8-bit maps at ``size`` (256, 512, 1024 or 2048).

    Each map is rounded in place and written once, straight into its (S, S, C) uint8 layout (a strided copy that
    converts and transposes in one pass): the maps are a few passes over 4-12 MB, not a chain of temporaries."""
    if size < out.shape[-1]:
        out = F.avg_pool2d(out, out.shape[-1] // size)
    elif size > out.shape[-1]:
        out = F.interpolate(out, size=(size, size), mode="bicubic", align_corners=False)
    b = out.shape[0]
    alb = torch.empty(b, size, size, 3, dtype=torch.uint8)
    alb.permute(0, 3, 1, 2).copy_(out[:, :3].mul(255.0).clamp_(0, 255).round_())
    nxy = out[:, 3:5].clamp(-0.99, 0.99)
    sq = nxy * nxy
    r2 = sq[:, :1] + sq[:, 1:]
    nz = torch.rsub(r2, 1.0).clamp_min_(1e-4)  # 1 - r2, then z = its square root
    inv = (r2 + nz).rsqrt_()  # elementwise: torch's norm over the channel axis costs ~60 ms at 1024
    n = torch.empty(b, 3, size, size)
    torch.mul(nxy, inv, out=n[:, :2])
    torch.mul(nz.sqrt_(), inv, out=n[:, 2:])
    nrm = torch.empty(b, size, size, 3, dtype=torch.uint8)
    nrm.permute(0, 3, 1, 2).copy_(n.mul_(127.5).add_(127.5).round_())
    rough = out[:, 5].mul(255.0).clamp_(0, 255).round_().to(torch.uint8)
    return [SkinMaps(alb[i].numpy(), nrm[i].numpy(), rough[i].numpy()) for i in range(b)]


def skin_maps(model: TextureDecoder, reqs: list[SkinRequest], size: int = 1024) -> list[SkinMaps]:
    """The three maps of each request at ``size``."""
    out = network_output(model, reqs)
    with fixed_threads():
        return to_maps(out, size)
